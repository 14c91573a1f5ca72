//! ingress-nginx annotations (`nginx.ingress.kubernetes.io/*`): which ones this engine reads,
//! and a diagnostic for every other one — never silence.
//!
//! Supported so far: `ssl-redirect` and `force-ssl-redirect` ([`RoutePolicy`]). Every other
//! annotation under [`PREFIX`] on an Ingress this controller serves is looked up in
//! ingress-nginx's documented catalogue:
//!
//! - a **snippet** (`configuration-snippet`, `server-snippet`, `stream-snippet`,
//!   `auth-snippet`, `modsecurity-snippet`) is never applied — raw configuration from an
//!   Ingress is how the IngressNightmare class of vulnerabilities (CVE-2025-1974) starts;
//! - an annotation ingress-nginx documents that this engine does not implement (yet);
//! - a key ingress-nginx does not document at all (a typo, or a fork's extension).
//!
//! Each becomes a [`Diagnostic::AnnotationIgnored`](crate::Diagnostic::AnnotationIgnored) (a
//! Warning: logged once, a Kubernetes Event, listed by `ingress-proxy check` and the admin API).
//! The rest of the Ingress keeps working: an ignored annotation never rejects it.
//!
//! ```
//! use ingress_core::annotations::{Ignored, ignored_annotations};
//! use std::collections::BTreeMap;
//!
//! let annotations = BTreeMap::from([
//!     ("nginx.ingress.kubernetes.io/configuration-snippet".to_owned(), "more_set_headers x;".to_owned()),
//!     ("nginx.ingress.kubernetes.io/rewrite-target".to_owned(), "/$2".to_owned()),
//!     ("nginx.ingress.kubernetes.io/rewrite-targt".to_owned(), "/".to_owned()),
//!     ("cert-manager.io/cluster-issuer".to_owned(), "letsencrypt".to_owned()),
//! ]);
//! let ignored: Vec<_> = ignored_annotations(&annotations).collect();
//! assert_eq!(ignored, [
//!     ("nginx.ingress.kubernetes.io/configuration-snippet", Ignored::Snippet),
//!     ("nginx.ingress.kubernetes.io/rewrite-target", Ignored::NotImplemented),
//!     ("nginx.ingress.kubernetes.io/rewrite-targt", Ignored::Unknown),
//! ]);
//! ```

mod policy;

use std::collections::BTreeMap;
use std::fmt;

pub use policy::{InvalidAnnotation, RoutePolicy};

/// The annotation prefix ingress-nginx reads (its `--annotations-prefix` default).
pub const PREFIX: &str = "nginx.ingress.kubernetes.io/";

/// Why an annotation has no effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Ignored {
    /// A configuration snippet: never applied.
    Snippet,
    /// Documented by ingress-nginx, not implemented by this engine.
    NotImplemented,
    /// Not an annotation ingress-nginx documents.
    Unknown,
}

/// Snippet annotations: raw nginx configuration, never applied.
const SNIPPETS: &[&str] = &[
    "auth-snippet",
    "configuration-snippet",
    "modsecurity-snippet",
    "server-snippet",
    "stream-snippet",
];

/// Every other annotation ingress-nginx documents (sorted, for the binary search).
const DOCUMENTED: &[&str] = &[
    "affinity",
    "affinity-canary-behavior",
    "affinity-mode",
    "allowlist-source-range",
    "app-root",
    "auth-always-set-cookie",
    "auth-cache-duration",
    "auth-cache-key",
    "auth-keepalive",
    "auth-keepalive-requests",
    "auth-keepalive-share-vars",
    "auth-keepalive-timeout",
    "auth-method",
    "auth-proxy-set-headers",
    "auth-realm",
    "auth-request-redirect",
    "auth-response-headers",
    "auth-secret",
    "auth-secret-type",
    "auth-signin",
    "auth-signin-redirect-param",
    "auth-tls-error-page",
    "auth-tls-match-cn",
    "auth-tls-pass-certificate-to-upstream",
    "auth-tls-secret",
    "auth-tls-verify-client",
    "auth-tls-verify-depth",
    "auth-type",
    "auth-url",
    "backend-protocol",
    "canary",
    "canary-by-cookie",
    "canary-by-header",
    "canary-by-header-pattern",
    "canary-by-header-value",
    "canary-weight",
    "canary-weight-total",
    "client-body-buffer-size",
    "connection-proxy-header",
    "cors-allow-credentials",
    "cors-allow-headers",
    "cors-allow-methods",
    "cors-allow-origin",
    "cors-expose-headers",
    "cors-max-age",
    "custom-headers",
    "custom-http-errors",
    "default-backend",
    "denylist-source-range",
    "enable-access-log",
    "enable-cors",
    "enable-global-auth",
    "enable-influxdb",
    "enable-modsecurity",
    "enable-opentelemetry",
    "enable-opentracing",
    "enable-owasp-core-rules",
    "enable-rewrite-log",
    "force-ssl-redirect",
    "from-to-www-redirect",
    "global-rate-limit",
    "global-rate-limit-ignored-cidrs",
    "global-rate-limit-key",
    "global-rate-limit-window",
    "http2-push-preload",
    "influxdb-host",
    "influxdb-measurement",
    "influxdb-port",
    "influxdb-server-name",
    "limit-allowlist",
    "limit-burst-multiplier",
    "limit-connections",
    "limit-rate",
    "limit-rate-after",
    "limit-req-status-code",
    "limit-rpm",
    "limit-rps",
    "limit-whitelist",
    "load-balance",
    "mirror-host",
    "mirror-request-body",
    "mirror-target",
    "modsecurity-transaction-id",
    "opentelemetry-operation-name",
    "opentelemetry-trust-incoming-span",
    "opentracing-trust-incoming-span",
    "permanent-redirect",
    "permanent-redirect-code",
    "preserve-trailing-slash",
    "proxy-body-size",
    "proxy-buffer-size",
    "proxy-buffering",
    "proxy-buffers-number",
    "proxy-connect-timeout",
    "proxy-cookie-domain",
    "proxy-cookie-path",
    "proxy-http-version",
    "proxy-max-temp-file-size",
    "proxy-next-upstream",
    "proxy-next-upstream-timeout",
    "proxy-next-upstream-tries",
    "proxy-read-timeout",
    "proxy-redirect-from",
    "proxy-redirect-to",
    "proxy-request-buffering",
    "proxy-send-timeout",
    "proxy-ssl-ciphers",
    "proxy-ssl-name",
    "proxy-ssl-protocols",
    "proxy-ssl-secret",
    "proxy-ssl-server-name",
    "proxy-ssl-verify",
    "proxy-ssl-verify-depth",
    "rewrite-target",
    "satisfy",
    "server-alias",
    "service-upstream",
    "session-cookie-change-on-failure",
    "session-cookie-conditional-samesite-none",
    "session-cookie-domain",
    "session-cookie-expires",
    "session-cookie-max-age",
    "session-cookie-name",
    "session-cookie-path",
    "session-cookie-samesite",
    "session-cookie-secure",
    "ssl-ciphers",
    "ssl-passthrough",
    "ssl-prefer-server-ciphers",
    "ssl-redirect",
    "temporal-redirect",
    "temporal-redirect-code",
    "upstream-hash-by",
    "upstream-hash-by-subset",
    "upstream-hash-by-subset-size",
    "upstream-vhost",
    "use-regex",
    "whitelist-source-range",
    "x-forwarded-prefix",
];

/// The annotations of `annotations` that have no effect here, and why, in key order.
pub fn ignored_annotations(
    annotations: &BTreeMap<String, String>,
) -> impl Iterator<Item = (&str, Ignored)> {
    annotations.keys().filter_map(|key| {
        let name = key.strip_prefix(PREFIX)?;
        if policy::SUPPORTED.contains(&name) {
            return None;
        }
        let why = if SNIPPETS.contains(&name) {
            Ignored::Snippet
        } else if DOCUMENTED.binary_search(&name).is_ok() {
            Ignored::NotImplemented
        } else {
            Ignored::Unknown
        };
        Some((key.as_str(), why))
    })
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ignored::Snippet => {
                "configuration snippets are never applied (raw configuration from an Ingress is the IngressNightmare attack surface)"
            }
            Ignored::NotImplemented => {
                "this ingress-nginx annotation is not implemented by this controller; it has no effect (see the README's migration table)"
            }
            Ignored::Unknown => {
                "ingress-nginx documents no such annotation (a typo?); it has no effect"
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_sorted_and_disjoint() {
        assert!(
            DOCUMENTED.windows(2).all(|w| w[0] < w[1]),
            "sorted, no duplicates"
        );
        assert!(
            SNIPPETS
                .iter()
                .all(|s| DOCUMENTED.binary_search(s).is_err())
        );
    }
}
