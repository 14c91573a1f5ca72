//! What a client's certificate proves, decided once per connection at the handshake: the
//! verification against the host's `auth-tls-secret` CA and `auth-tls-verify-depth`, and the
//! values nginx gives `$ssl_client_verify`, `$ssl_client_s_dn`, `$ssl_client_i_dn` and
//! `$ssl_client_escaped_cert` (which ingress-nginx sends upstream as the `ssl-client-*`
//! header fields).

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::ClientCertVerifier;
use rustls::{CertificateError, Error};
use x509_parser::x509::X509Name;

/// The outcome for one connection's client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// No certificate was sent (`NONE`).
    NoCertificate,
    /// It verified (`SUCCESS`).
    Verified(CertificateFacts),
    /// It did not verify (`FAILED:reason`).
    Failed(Arc<str>, CertificateFacts),
    /// The host's `ca.crt` could not be turned into a verifier: its requests are refused.
    Unusable(Arc<str>),
}

/// The client certificate as the `ssl-client-*` fields carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertificateFacts {
    /// `$ssl_client_s_dn`: the subject, RFC 2253 (as nginx prints it).
    pub(crate) subject_dn: Arc<str>,
    /// `$ssl_client_i_dn`: the issuer, RFC 2253.
    pub(crate) issuer_dn: Arc<str>,
    /// `$ssl_client_escaped_cert`: the leaf certificate's PEM, URL-escaped.
    pub(crate) escaped_pem: Arc<str>,
}

/// A CA bundle's verifier and its roots (certificates sent as such are not counted by the
/// depth limit).
#[derive(Debug)]
pub(crate) struct ClientCa {
    pub(crate) verifier: Arc<dyn ClientCertVerifier>,
    pub(crate) roots: Vec<CertificateDer<'static>>,
}

impl Verdict {
    /// Verifies the certificates a client sent (leaf first) against `ca`, with nginx's
    /// `ssl_verify_depth` (`depth`: at most `depth - 1` certificates between the client's and
    /// a root).
    pub(crate) fn of(
        certificates: Option<&[CertificateDer<'_>]>,
        ca: &ClientCa,
        depth: u32,
    ) -> Self {
        let Some((leaf, intermediates)) = certificates.and_then(<[_]>::split_first) else {
            return Verdict::NoCertificate;
        };
        let facts = CertificateFacts::of(leaf);
        let verified = ca
            .verifier
            .verify_client_cert(leaf, intermediates, UnixTime::now());
        let between = intermediates
            .iter()
            .filter(|certificate| !ca.roots.iter().any(|root| root == *certificate))
            .count();
        match verified {
            Err(error) => Verdict::Failed(reason(&error).into(), facts),
            Ok(_) if u32::try_from(between).unwrap_or(u32::MAX) >= depth => {
                Verdict::Failed("certificate chain too long".into(), facts)
            }
            Ok(_) => Verdict::Verified(facts),
        }
    }

    /// `$ssl_client_verify`.
    pub(crate) fn status(&self) -> String {
        match self {
            Verdict::NoCertificate | Verdict::Unusable(_) => "NONE".to_owned(),
            Verdict::Verified(_) => "SUCCESS".to_owned(),
            Verdict::Failed(reason, _) => format!("FAILED:{reason}"),
        }
    }

    /// The certificate's facts, when one was sent.
    pub(crate) fn facts(&self) -> Option<&CertificateFacts> {
        match self {
            Verdict::NoCertificate | Verdict::Unusable(_) => None,
            Verdict::Verified(facts) | Verdict::Failed(_, facts) => Some(facts),
        }
    }
}

/// OpenSSL's wording (`X509_verify_cert_error_string`) for the common failures, so that
/// `ssl-client-verify` reads as with nginx; rustls's own for the rest.
fn reason(error: &Error) -> String {
    let text = match error {
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "unable to get local issuer certificate"
        }
        Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "certificate has expired",
        Error::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        ) => "certificate is not yet valid",
        Error::InvalidCertificate(CertificateError::BadSignature) => {
            "certificate signature failure"
        }
        Error::InvalidCertificate(CertificateError::Revoked) => "certificate revoked",
        Error::InvalidCertificate(
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. },
        ) => "unsupported certificate purpose",
        other => return other.to_string(),
    };
    text.to_owned()
}

impl CertificateFacts {
    fn of(leaf: &CertificateDer<'_>) -> Self {
        let (subject_dn, issuer_dn) = match x509_parser::parse_x509_certificate(leaf.as_ref()) {
            Ok((_, certificate)) => (
                rfc2253(certificate.subject()),
                rfc2253(certificate.issuer()),
            ),
            // webpki refuses it too: the verdict says why; the names stay empty.
            Err(_) => (String::new(), String::new()),
        };
        CertificateFacts {
            subject_dn: subject_dn.into(),
            issuer_dn: issuer_dn.into(),
            escaped_pem: escape_component(&pem(leaf)).into(),
        }
    }
}

/// A distinguished name as OpenSSL prints it with `XN_FLAG_RFC2253` (nginx's `$ssl_client_s_dn`
/// since 1.11.6): the last RDN first, `,` between RDNs, `+` inside one, special characters
/// escaped with `\`.
pub(crate) fn rfc2253(name: &X509Name<'_>) -> String {
    let registry = x509_parser::objects::oid_registry();
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|attribute| {
                    let oid = attribute.attr_type();
                    let key = match x509_parser::objects::oid2abbrev(oid, registry) {
                        Ok("Email") => "emailAddress".to_owned(),
                        Ok(abbreviation) => abbreviation.to_owned(),
                        Err(_) => oid.to_id_string(),
                    };
                    let value = match attribute.as_str() {
                        Ok(text) => escape_dn_value(text),
                        Err(_) => format!("#{}", hex(attribute.attr_value().data)),
                    };
                    format!("{key}={value}")
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// RFC 2253 §2.4 escaping of an attribute value.
fn escape_dn_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (index, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (index == 0 && matches!(c, '#' | ' '))
            || (index == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The certificate's PEM (64-character Base64 lines).
fn pem(der: &CertificateDer<'_>) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// nginx's `ngx_escape_uri(NGX_ESCAPE_URI_COMPONENT)`, as `$ssl_client_escaped_cert` uses it:
/// everything but letters, digits and `-._~` is `%XX`-escaped.
fn escape_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len().saturating_mul(3));
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_is_escaped_as_nginx_escapes_it() {
        let escaped = escape_component("-----BEGIN CERTIFICATE-----\nab+/=\n");
        assert_eq!(escaped, "-----BEGIN%20CERTIFICATE-----%0Aab%2B%2F%3D%0A");
    }

    #[test]
    fn dn_values_escape_rfc2253_specials() {
        assert_eq!(escape_dn_value("a,b+c"), "a\\,b\\+c");
        assert_eq!(escape_dn_value(" #lead "), "\\ #lead\\ ");
        assert_eq!(escape_dn_value("#x"), "\\#x");
        assert_eq!(escape_dn_value("plain"), "plain");
    }

    #[test]
    fn names_print_last_rdn_first() {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Shop, Inc");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "client");
        let key = rcgen::KeyPair::generate().expect("key");
        let certificate = params.self_signed(&key).expect("certificate");
        let facts = CertificateFacts::of(certificate.der());
        assert_eq!(&*facts.subject_dn, "CN=client,O=Shop\\, Inc");
        assert_eq!(facts.subject_dn, facts.issuer_dn);
        assert!(
            facts
                .escaped_pem
                .starts_with("-----BEGIN%20CERTIFICATE-----%0A")
        );
    }
}
