//! TLS to the upstream (`backend-protocol: HTTPS` or `GRPCS`): `proxy-ssl-secret`,
//! `proxy-ssl-verify`, `proxy-ssl-verify-depth`, `proxy-ssl-name`, `proxy-ssl-server-name`,
//! `proxy-ssl-protocols` and `proxy-ssl-ciphers`, with ingress-nginx's syntax and defaults.
//!
//! - `proxy-ssl-secret` (`namespace/name`, the Ingress's own namespace): `ca.crt` verifies the
//!   upstream's certificate; `tls.crt` + `tls.key`, when present, is the client certificate
//!   the proxy presents. A Secret of either type (see [`CertificateSecret`]).
//! - `proxy-ssl-verify` (`on`/`off`, default `off`): upstream certificates stay unchecked by
//!   default, as in ingress-nginx. `on` needs a `ca.crt`.
//! - `proxy-ssl-verify-depth` (default `1`; `0` means the default, as ingress-nginx reads it):
//!   the longest chain accepted, counted as OpenSSL counts (`1`: the upstream's certificate is
//!   issued by a CA of `ca.crt` directly).
//! - `proxy-ssl-name`: the name the certificate is verified against and sent as SNI. Without
//!   it the peer's host: the `ExternalName` Service's name, or the endpoint's IP address (an
//!   IP address is never sent as SNI).
//! - `proxy-ssl-server-name` (`on`/`off`, default `off`): send SNI.
//! - `proxy-ssl-protocols` (space-separated, default `TLSv1.2 TLSv1.3`): rustls implements
//!   TLS 1.2 and 1.3 only; other names are dropped, a value naming neither is invalid.
//! - `proxy-ssl-ciphers`: colon-separated OpenSSL names of TLS 1.2 ciphers (TLS 1.3 suites are
//!   not restricted, as with nginx); `DEFAULT` (ingress-nginx's default) means every suite.
//!
//! Unlike ingress-nginx, which applies these annotations only beside a readable
//! `proxy-ssl-secret` and falls back to defaults on a value it cannot use, an invalid value
//! here denies the Ingress's paths (`503`), and `proxy-ssl-name`, `-server-name` and
//! `-protocols` apply without a Secret.
//!
//! ```
//! use std::collections::BTreeMap;
//! use ingress_core::annotations::RoutePolicy;
//!
//! let annotations = BTreeMap::from([
//!     ("nginx.ingress.kubernetes.io/proxy-ssl-secret".to_owned(), "shop/upstream-ca".to_owned()),
//!     ("nginx.ingress.kubernetes.io/proxy-ssl-verify".to_owned(), "on".to_owned()),
//!     ("nginx.ingress.kubernetes.io/proxy-ssl-name".to_owned(), "api.shop.svc".to_owned()),
//! ]);
//! let (policy, invalid) = RoutePolicy::parse(&annotations);
//! assert!(invalid.is_empty());
//! let tls = policy.upstream_tls.unwrap();
//! assert!(tls.verify);
//! assert_eq!(tls.verify_depth, 1);
//! assert_eq!(tls.name.as_deref(), Some("api.shop.svc"));
//! assert!(!tls.server_name);
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use super::certificate_secret::{CertificateSecret, is_secret_reference};
use super::policy::InvalidAnnotation;
use super::values::Reader;
use crate::global_config::TlsProtocols;
use crate::model::{ObjectKey, OpaqueSecret, TlsSecret};

/// What the `proxy-ssl-*` annotations ask of TLS connections to the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamTlsPolicy {
    /// `proxy-ssl-secret`, as written.
    pub secret_name: Option<Arc<str>>,
    /// The Secret's certificates, read when the routes were built (`None` without
    /// `proxy-ssl-secret`; a Secret that cannot be used denies the paths instead).
    pub secret: Option<Arc<CertificateSecret>>,
    /// `proxy-ssl-verify: on`.
    pub verify: bool,
    /// `proxy-ssl-verify-depth`.
    pub verify_depth: u32,
    /// `proxy-ssl-name`.
    pub name: Option<Arc<str>>,
    /// `proxy-ssl-server-name: on`.
    pub server_name: bool,
    /// `proxy-ssl-protocols`, the versions rustls implements.
    pub protocols: TlsProtocols,
    /// `proxy-ssl-ciphers`, as written; `None` for every suite (`DEFAULT`).
    pub ciphers: Option<Arc<str>>,
}

const ON_OFF: &[(&str, bool)] = &[("on", true), ("off", false)];

/// The keys, after the prefix.
const KEYS: &[&str] = &[
    "proxy-ssl-ciphers",
    "proxy-ssl-name",
    "proxy-ssl-protocols",
    "proxy-ssl-secret",
    "proxy-ssl-server-name",
    "proxy-ssl-verify",
    "proxy-ssl-verify-depth",
];

impl Reader<'_> {
    /// The `proxy-ssl-*` annotations: `None` when none is set.
    pub(super) fn upstream_tls(&mut self) -> Option<UpstreamTlsPolicy> {
        let secret_name = self.parse_value(
            "proxy-ssl-secret",
            "expected a Secret as namespace/name",
            |value| is_secret_reference(value.trim()).then(|| Arc::from(value.trim())),
        );
        let verify = self.choice("proxy-ssl-verify", ON_OFF).unwrap_or(false);
        let verify_depth = self
            .parse_value(
                "proxy-ssl-verify-depth",
                "expected a whole number",
                |value| value.trim().parse::<u32>().ok(),
            )
            .filter(|depth| *depth > 0)
            .unwrap_or(1);
        let name = self.parse_value("proxy-ssl-name", "expected a DNS name", |value| {
            is_server_name(value.trim()).then(|| Arc::from(value.trim()))
        });
        let server_name = self
            .choice("proxy-ssl-server-name", ON_OFF)
            .unwrap_or(false);
        let protocols = self
            .parse_value(
                "proxy-ssl-protocols",
                "expected space-separated protocols including TLSv1.2 or TLSv1.3 (the versions rustls implements)",
                |value| crate::global_config::tls::protocols(value).ok().map(|(p, _)| p),
            )
            .unwrap_or(TlsProtocols {
                tls12: true,
                tls13: true,
            });
        let ciphers = self
            .parse_value(
                "proxy-ssl-ciphers",
                "expected colon-separated OpenSSL names including a TLS 1.2 cipher rustls implements (ECDHE with AES-GCM or CHACHA20-POLY1305), or DEFAULT",
                |value| match value.trim() {
                    "DEFAULT" => Some(None),
                    value => crate::global_config::tls::ciphers(value)
                        .ok()
                        .map(|(c, _)| Some(c)),
                },
            )
            .flatten();
        if !KEYS.iter().any(|key| self.is_set(key)) {
            return None;
        }
        if verify && !self.is_set("proxy-ssl-secret") {
            self.missing(
                "proxy-ssl-secret",
                "proxy-ssl-verify: on needs proxy-ssl-secret (its ca.crt verifies the upstream)",
            );
        }
        Some(UpstreamTlsPolicy {
            secret_name,
            secret: None,
            verify,
            verify_depth,
            name,
            server_name,
            protocols,
            ciphers,
        })
    }
}

impl UpstreamTlsPolicy {
    /// Reads `proxy-ssl-secret` for an Ingress in `namespace`. The error (for the annotation
    /// `proxy-ssl-secret`) says why the Secret cannot be used; `proxy-ssl-verify: on` needs
    /// its `ca.crt`.
    pub(super) fn resolve(
        &mut self,
        namespace: &str,
        tls_secrets: &BTreeMap<ObjectKey, TlsSecret>,
        opaque_secrets: &BTreeMap<ObjectKey, OpaqueSecret>,
    ) -> Result<(), InvalidAnnotation> {
        let Some(written) = self.secret_name.clone() else {
            return Ok(());
        };
        let read = CertificateSecret::read(namespace, &written, tls_secrets, opaque_secrets)
            .and_then(|secret| match (&secret.ca_pem, self.verify) {
                (None, true) => Err(format!(
                    "Secret {} has no key \"ca.crt\" (proxy-ssl-verify: on)",
                    secret.secret
                )),
                _ => Ok(secret),
            });
        match read {
            Ok(secret) => {
                self.secret = Some(Arc::new(secret));
                Ok(())
            }
            Err(reason) => Err(InvalidAnnotation {
                annotation: format!("{}proxy-ssl-secret", super::PREFIX),
                value: written.to_string(),
                reason,
            }),
        }
    }
}

/// ingress-nginx's `ValidateServerName`: a DNS name, letters, digits, `-`, `.` (and `_`).
fn is_server_name(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 253
        && value.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
#[path = "upstream_tls_tests.rs"]
mod tests;
