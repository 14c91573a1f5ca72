//! What the admin API and the certificate-expiry metric show of the certificates in force:
//! for every host a `tls` entry serves (and the configured default), the Secret, and the leaf
//! certificate's subject, issuer, serial number, DNS names and validity, read from `tls.crt`
//! with `x509-parser`. The private key is never read here, and nothing of a Secret's contents
//! but these public certificate fields is ever shown.

use std::sync::Arc;

use ingress_core::{RouteTable, TlsBinding};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};
use x509_parser::extensions::GeneralName;

/// The public fields of a leaf certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertificateDetails {
    /// `notBefore`, seconds since the Unix epoch.
    pub(crate) not_before: i64,
    /// `notAfter`, seconds since the Unix epoch.
    pub(crate) not_after: i64,
    /// The subject's distinguished name.
    pub(crate) subject: String,
    /// The issuer's distinguished name.
    pub(crate) issuer: String,
    /// The issuer's common name (empty when it has none).
    pub(crate) issuer_common_name: String,
    /// The serial number, in hexadecimal.
    pub(crate) serial: String,
    /// The subject alternative names of type DNS.
    pub(crate) dns_names: Vec<String>,
}

/// One host's certificate, as the table binds it.
#[derive(Debug)]
pub(crate) struct CertificateRow<'a> {
    /// The host (`*.suffix` for a wildcard entry; `_` for the configured default, as
    /// ingress-nginx names its catch-all server).
    pub(crate) host: Arc<str>,
    pub(crate) binding: &'a TlsBinding,
    /// The certificate's fields, or why they could not be read (missing Secret, bad PEM).
    pub(crate) details: Result<CertificateDetails, String>,
}

/// Reads the leaf (first) certificate of a `tls.crt` PEM chain.
pub(crate) fn describe(chain_pem: &[u8]) -> Result<CertificateDetails, String> {
    let leaf = CertificateDer::pem_slice_iter(chain_pem)
        .next()
        .ok_or_else(|| "tls.crt holds no CERTIFICATE block".to_owned())?
        .map_err(|error| format!("tls.crt: {error}"))?;
    let (_, certificate) = x509_parser::parse_x509_certificate(leaf.as_ref())
        .map_err(|error| format!("tls.crt: not an X.509 certificate: {error}"))?;
    let validity = certificate.validity();
    let dns_names = match certificate.subject_alternative_name() {
        Ok(Some(names)) => names
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                _ => None,
            })
            .collect(),
        Ok(None) | Err(_) => Vec::new(),
    };
    Ok(CertificateDetails {
        not_before: validity.not_before.timestamp(),
        not_after: validity.not_after.timestamp(),
        subject: certificate.subject().to_string(),
        issuer: certificate.issuer().to_string(),
        issuer_common_name: certificate
            .issuer()
            .iter_common_name()
            .next()
            .and_then(|name| name.as_str().ok())
            .unwrap_or("")
            .to_owned(),
        serial: certificate.raw_serial_as_string(),
        dns_names,
    })
}

/// Every certificate binding of `table`, sorted by host, the configured default last.
pub(crate) fn inventory(table: &RouteTable) -> Vec<CertificateRow<'_>> {
    let bound = table.certificates().into_iter();
    let default = table
        .default_certificate()
        .map(|binding| (Arc::<str>::from("_"), binding));
    bound
        .chain(default)
        .map(|(host, binding)| CertificateRow {
            host,
            binding,
            details: match &binding.data {
                Some(secret) => describe(&secret.certificate_chain_pem),
                None => Err("the Secret does not exist (the default certificate is served)".into()),
            },
        })
        .collect()
}

/// `/api/certificates`: one object per host, with days left counted from `now` (seconds since
/// the Unix epoch).
pub(crate) fn to_json(rows: &[CertificateRow<'_>], now: i64) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|row| {
            let secret = row.binding.secret.as_ref().map(ToString::to_string);
            let ingress =
                (!row.binding.ingress.name.is_empty()).then(|| row.binding.ingress.to_string());
            match &row.details {
                Ok(details) => json!({
                    "host": &*row.host,
                    "ingress": ingress,
                    "secret": secret,
                    "subject": details.subject,
                    "issuer": details.issuer,
                    "serial": details.serial,
                    "dns_names": details.dns_names,
                    "not_before": details.not_before,
                    "not_after": details.not_after,
                    "days_left": (details.not_after - now).div_euclid(86_400),
                    "expired": details.not_after <= now,
                }),
                Err(error) => json!({
                    "host": &*row.host,
                    "ingress": ingress,
                    "secret": secret,
                    "error": error,
                }),
            }
        })
        .collect();
    json!({ "certificates": rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_certificate_s_public_fields_are_read() {
        let mut params =
            rcgen::CertificateParams::new(vec!["a.example".to_owned(), "*.b.example".to_owned()])
                .expect("params");
        params.not_before = rcgen::date_time_ymd(2026, 1, 2);
        params.not_after = rcgen::date_time_ymd(2027, 3, 4);
        let key = rcgen::KeyPair::generate().expect("key");
        let certificate = params.self_signed(&key).expect("certificate");
        let details = describe(certificate.pem().as_bytes()).expect("details");
        assert_eq!(details.not_before, 1_767_312_000, "2026-01-02T00:00:00Z");
        assert_eq!(details.not_after, 1_804_118_400, "2027-03-04T00:00:00Z");
        assert_eq!(details.dns_names, ["a.example", "*.b.example"]);
        assert!(!details.serial.is_empty());
    }

    #[test]
    fn what_is_not_a_certificate_is_an_error_that_says_so() {
        assert!(describe(b"").unwrap_err().contains("no CERTIFICATE"));
        let garbage = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(describe(garbage).unwrap_err().contains("not an X.509"));
    }
}
