//! Client certificates (mTLS): `auth-tls-secret`, `auth-tls-verify-client`,
//! `auth-tls-verify-depth`, `auth-tls-error-page` and `auth-tls-pass-certificate-to-upstream`,
//! with ingress-nginx's syntax and defaults.
//!
//! - `auth-tls-secret` (`namespace/name`, the Ingress's own namespace): its `ca.crt` verifies
//!   client certificates. A Secret of either type (see [`CertificateSecret`]).
//! - `auth-tls-verify-client`: `on` (the default: a verified certificate is required), `off`
//!   (none is asked for), `optional` (one is asked for; when sent it must verify),
//!   `optional_no_ca` (one is asked for; any is accepted, its verification only reported).
//! - `auth-tls-verify-depth` (default `1`; `0` means the default): the longest chain, counted
//!   as OpenSSL counts (`1`: issued by a CA of `ca.crt` directly).
//! - `auth-tls-error-page`: where a client without a valid certificate is redirected (`302`)
//!   instead of getting `400`.
//! - `auth-tls-pass-certificate-to-upstream` (default `false`): send the client's certificate
//!   upstream in `ssl-client-cert` (URL-escaped PEM).
//! - `auth-tls-match-cn` (`CN=` and a regular expression): the certificate's subject (RFC
//!   2253, as `ssl-client-subject-dn`) must match it, else `403` (nginx's
//!   `$ssl_client_s_dn !~ "CN=…"`: case-sensitive, unanchored).
//!
//! As in ingress-nginx, the setting is the host's: the oldest Ingress of a host with
//! `auth-tls-secret` decides it for every path of that host (see
//! [`RouteTable::client_tls`](crate::RouteTable::client_tls)). Unlike ingress-nginx, which
//! ignores the other `auth-tls-*` annotations without a readable `auth-tls-secret` and falls
//! back to defaults on values it cannot use, an invalid value, or an `auth-tls-*` annotation
//! without `auth-tls-secret`, denies the Ingress's paths (`503`).
//!
//! ```
//! use std::collections::BTreeMap;
//! use ingress_core::annotations::{RoutePolicy, VerifyClient};
//!
//! let annotations = BTreeMap::from([
//!     ("nginx.ingress.kubernetes.io/auth-tls-secret".to_owned(), "shop/client-ca".to_owned()),
//!     ("nginx.ingress.kubernetes.io/auth-tls-verify-client".to_owned(), "optional".to_owned()),
//! ]);
//! let (policy, invalid) = RoutePolicy::parse(&annotations);
//! assert!(invalid.is_empty());
//! let tls = policy.client_tls.unwrap();
//! assert_eq!(tls.verify_client, VerifyClient::Optional);
//! assert_eq!(tls.verify_depth, 1);
//! assert!(!tls.pass_certificate);
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use super::certificate_secret::{CertificateSecret, is_secret_reference};
use super::policy::InvalidAnnotation;
use super::values::Reader;
use crate::model::{ObjectKey, OpaqueSecret, TlsSecret};

/// `auth-tls-verify-client`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VerifyClient {
    /// `on`: a certificate that verifies is required.
    On,
    /// `off`: no certificate is asked for.
    Off,
    /// `optional`: a certificate is asked for; one that is sent must verify.
    Optional,
    /// `optional_no_ca`: a certificate is asked for; any is accepted.
    OptionalNoCa,
}

/// What a host's `auth-tls-*` annotations ask of its clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTlsPolicy {
    /// The Ingress the setting comes from.
    pub ingress: Option<ObjectKey>,
    /// `auth-tls-secret`, as written.
    pub secret_name: Arc<str>,
    /// The Secret's certificates (its `ca.crt` is present), read when the routes were built.
    /// `None` when it could not be used: the host's requests are then refused, never served
    /// unverified.
    pub secret: Option<Arc<CertificateSecret>>,
    /// `auth-tls-verify-client`.
    pub verify_client: VerifyClient,
    /// `auth-tls-verify-depth`.
    pub verify_depth: u32,
    /// `auth-tls-error-page`.
    pub error_page: Option<Arc<str>>,
    /// `auth-tls-pass-certificate-to-upstream`.
    pub pass_certificate: bool,
    /// `auth-tls-match-cn`.
    pub match_cn: Option<SubjectPattern>,
}

/// `auth-tls-match-cn`: a regular expression (RE2 syntax) the subject must match.
#[derive(Clone)]
pub struct SubjectPattern(regex::Regex);

impl SubjectPattern {
    /// Compiles `CN=…` as ingress-nginx's `CommonNameAnnotationValidator` accepts it.
    pub fn new(pattern: &str) -> Result<SubjectPattern, String> {
        if !pattern.starts_with("CN=") {
            return Err("expected CN= and a regular expression".to_owned());
        }
        regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
            .map(SubjectPattern)
            .map_err(|error| error.to_string())
    }

    /// Whether a subject (RFC 2253) matches.
    pub fn is_match(&self, subject: &str) -> bool {
        self.0.is_match(subject)
    }
}

impl PartialEq for SubjectPattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for SubjectPattern {}

impl std::fmt::Debug for SubjectPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SubjectPattern({:?})", self.0.as_str())
    }
}

const VERIFY_CLIENT: &[(&str, VerifyClient)] = &[
    ("on", VerifyClient::On),
    ("off", VerifyClient::Off),
    ("optional", VerifyClient::Optional),
    ("optional_no_ca", VerifyClient::OptionalNoCa),
];

/// The keys beside `auth-tls-secret`, after the prefix.
const OTHER_KEYS: &[&str] = &[
    "auth-tls-error-page",
    "auth-tls-match-cn",
    "auth-tls-pass-certificate-to-upstream",
    "auth-tls-verify-client",
    "auth-tls-verify-depth",
];

impl Reader<'_> {
    /// The `auth-tls-*` annotations: `None` without `auth-tls-secret`.
    pub(super) fn client_tls(&mut self) -> Option<ClientTlsPolicy> {
        let secret_name = self.parse_value(
            "auth-tls-secret",
            "expected a Secret as namespace/name",
            |value| is_secret_reference(value.trim()).then(|| Arc::from(value.trim())),
        );
        let verify_client = self
            .parse_value(
                "auth-tls-verify-client",
                "expected on, off, optional or optional_no_ca",
                |value| {
                    VERIFY_CLIENT
                        .iter()
                        .find(|(name, _)| *name == value.trim())
                        .map(|(_, verify)| *verify)
                },
            )
            .unwrap_or(VerifyClient::On);
        let verify_depth = self
            .parse_value(
                "auth-tls-verify-depth",
                "expected a whole number",
                |value| value.trim().parse::<u32>().ok(),
            )
            .filter(|depth| *depth > 0)
            .unwrap_or(1);
        let error_page = self.parse_value(
            "auth-tls-error-page",
            "expected an http:// or https:// URL, or a path",
            |value| is_error_page(value.trim()).then(|| Arc::from(value.trim())),
        );
        let pass_certificate = self
            .boolean("auth-tls-pass-certificate-to-upstream")
            .unwrap_or(false);
        let match_cn = self.parse_value(
            "auth-tls-match-cn",
            "expected CN= and a regular expression",
            |value| SubjectPattern::new(value).ok(),
        );
        if !self.is_set("auth-tls-secret") {
            if let Some(other) = OTHER_KEYS.iter().find(|key| self.is_set(key)) {
                self.missing(
                    "auth-tls-secret",
                    &format!("{other} needs auth-tls-secret (its ca.crt verifies clients)"),
                );
            }
            return None;
        }
        Some(ClientTlsPolicy {
            ingress: None,
            // An invalid name is recorded above; the policy stays, unusable, so the host is
            // still refused rather than served without verification.
            secret_name: secret_name.unwrap_or_else(|| Arc::from("")),
            secret: None,
            verify_client,
            verify_depth,
            error_page,
            pass_certificate,
            match_cn,
        })
    }
}

impl ClientTlsPolicy {
    /// Reads `auth-tls-secret` for the Ingress `ingress`; its `ca.crt` is required. The error
    /// (for the annotation `auth-tls-secret`) says why the Secret cannot be used.
    pub(super) fn resolve(
        &mut self,
        ingress: &ObjectKey,
        tls_secrets: &BTreeMap<ObjectKey, TlsSecret>,
        opaque_secrets: &BTreeMap<ObjectKey, OpaqueSecret>,
    ) -> Result<(), InvalidAnnotation> {
        self.ingress = Some(ingress.clone());
        if self.secret_name.is_empty() {
            // Already reported as an invalid value.
            return Ok(());
        }
        let read = CertificateSecret::read(
            &ingress.namespace,
            &self.secret_name,
            tls_secrets,
            opaque_secrets,
        )
        .and_then(|secret| match &secret.ca_pem {
            Some(_) => Ok(secret),
            None => Err(format!(
                "Secret {} has no key \"ca.crt\" (the CA that verifies client certificates)",
                secret.secret
            )),
        });
        match read {
            Ok(secret) => {
                self.secret = Some(Arc::new(secret));
                Ok(())
            }
            Err(reason) => Err(InvalidAnnotation {
                annotation: format!("{}auth-tls-secret", super::PREFIX),
                value: self.secret_name.to_string(),
                reason,
            }),
        }
    }

    /// The `ca.crt` PEM, when the Secret was read.
    pub fn ca_pem(&self) -> Option<&Arc<[u8]>> {
        self.secret.as_ref()?.ca_pem.as_ref()
    }
}

/// ingress-nginx's `auth-tls-error-page` syntax without named locations: an `http`/`https`
/// URL, or a path, of letters, digits and `- _ . / :`.
fn is_error_page(value: &str) -> bool {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    let valid_chars = |text: &str| {
        text.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:".contains(&b))
    };
    match rest {
        Some(rest) => !rest.is_empty() && !rest.starts_with('/') && valid_chars(rest),
        None => value.starts_with('/') && valid_chars(value),
    }
}

#[cfg(test)]
#[path = "client_tls_tests.rs"]
mod tests;
