//! ingress-nginx annotations (`nginx.ingress.kubernetes.io/*`): which ones this engine reads,
//! and a diagnostic for every other one — never silence.
//!
//! Supported ([`RoutePolicy`], one field each): `ssl-redirect`, `force-ssl-redirect`,
//! `preserve-trailing-slash` (always in effect), `use-regex` and `rewrite-target` (regex paths
//! and rewriting: [`Rewrite`]), `app-root`, `x-forwarded-prefix`, `permanent-redirect` and
//! `temporal-redirect` (+ `-code`), `proxy-body-size`, `proxy-connect-timeout`,
//! `proxy-read-timeout`, `proxy-send-timeout`, `upstream-vhost`, `backend-protocol`, `canary` with its rules
//! ([`CanaryPolicy`]), and `affinity: cookie` with `affinity-mode` and the
//! `session-cookie-*` attributes, `upstream-hash-by` and `load-balance` ([`BalancePolicy`]),
//! `proxy-next-upstream` with `-tries` and `-timeout` ([`NextUpstream`]), `enable-cors` with
//! the `cors-*` annotations ([`CorsPolicy`]), `allowlist-source-range` (and
//! `whitelist-source-range`) and `denylist-source-range` ([`crate::CidrList`]), `limit-rps`,
//! `limit-rpm`, `limit-connections` with `limit-burst-multiplier` and `limit-whitelist`
//! ([`LimitPolicy`]), and `auth-type: basic` with `auth-secret`, `auth-secret-type` and
//! `auth-realm` ([`BasicAuthPolicy`], [`Credentials`]), `auth-url` with `auth-method`,
//! `auth-signin` (+ `-redirect-param`), `auth-response-headers`, `auth-request-redirect`,
//! `auth-cache-key`, `auth-cache-duration`, `auth-always-set-cookie` and the `auth-keepalive*`
//! tuning keys ([`ExternalAuthPolicy`], nginx variables as [`Template`]s), the `proxy-ssl-*`
//! annotations ([`UpstreamTlsPolicy`], with [`CertificateSecret`]), and the `auth-tls-*`
//! annotations ([`ClientTlsPolicy`]). An
//! invalid value of any of them denies the Ingress's own paths (`503`) with an
//! [`AnnotationInvalid`](crate::Diagnostic::AnnotationInvalid) diagnostic naming it. Every other
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
//!     ("nginx.ingress.kubernetes.io/mirror-target".to_owned(), "https://mirror.example/$request_uri".to_owned()),
//!     ("nginx.ingress.kubernetes.io/rewrite-targt".to_owned(), "/".to_owned()),
//!     ("cert-manager.io/cluster-issuer".to_owned(), "letsencrypt".to_owned()),
//! ]);
//! let ignored: Vec<_> = ignored_annotations(&annotations).collect();
//! assert_eq!(ignored, [
//!     ("nginx.ingress.kubernetes.io/configuration-snippet", Ignored::Snippet),
//!     ("nginx.ingress.kubernetes.io/mirror-target", Ignored::NotImplemented),
//!     ("nginx.ingress.kubernetes.io/rewrite-targt", Ignored::Unknown),
//! ]);
//! ```

mod auth;
mod balance;
mod canary;
mod certificate_secret;
mod client_tls;
mod cors;
pub(crate) mod external_auth;
mod limits;
mod policy;
mod retry;
mod rewrite;
mod upstream_tls;
mod values;
mod variables;

use std::collections::BTreeMap;
use std::fmt;

pub use auth::{AuthSecretType, BasicAuthPolicy, Credentials};
pub use balance::{
    Affinity, AffinityMode, BalancePolicy, HashKey, HashPart, LoadBalance, SameSite,
};
pub use canary::{CanaryPolicy, HeaderPattern};
pub use certificate_secret::{CertificatePem, CertificateSecret};
pub use client_tls::{ClientTlsPolicy, SubjectPattern, VerifyClient};
pub use cors::{CorsOrigins, CorsPolicy, OriginPattern};
pub use external_auth::{AuthCache, CacheValidity, DEFAULT_CACHE_DURATION, ExternalAuthPolicy};
pub use limits::{DEFAULT_BURST_MULTIPLIER, LimitPolicy, RequestRate};
pub use policy::{BackendProtocol, InvalidAnnotation, Redirect, RoutePolicy};
pub use retry::NextUpstream;
pub use rewrite::{PathRegex, Rewrite};
pub use upstream_tls::UpstreamTlsPolicy;
pub use variables::{RequestVariables, Template, Variable, escape_uri_component};

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
    /// `ssl-passthrough` without `--enable-ssl-passthrough`.
    NeedsFlag,
    /// `ssl-passthrough` on a rule it cannot apply to: a wildcard or host-less rule, or a host
    /// without a rule for the path `/` to a Service.
    NotApplicable,
}

/// Snippet annotations: raw nginx configuration, never applied.
const SNIPPETS: &[&str] = &[
    "auth-snippet",
    "configuration-snippet",
    "modsecurity-snippet",
    "server-snippet",
    "stream-snippet",
];

/// Every other annotation ingress-nginx documents, not implemented here (sorted, for the
/// binary search; the supported ones are `policy::SUPPORTED`).
const DOCUMENTED: &[&str] = &[
    "affinity-canary-behavior",
    "auth-proxy-set-headers",
    "client-body-buffer-size",
    "connection-proxy-header",
    "custom-headers",
    "enable-access-log",
    "enable-influxdb",
    "enable-modsecurity",
    "enable-opentelemetry",
    "enable-opentracing",
    "enable-owasp-core-rules",
    "enable-rewrite-log",
    "global-rate-limit",
    "global-rate-limit-ignored-cidrs",
    "global-rate-limit-key",
    "global-rate-limit-window",
    "http2-push-preload",
    "influxdb-host",
    "influxdb-measurement",
    "influxdb-port",
    "influxdb-server-name",
    "limit-rate",
    "limit-rate-after",
    "limit-req-status-code",
    "mirror-host",
    "mirror-request-body",
    "mirror-target",
    "modsecurity-transaction-id",
    "opentelemetry-operation-name",
    "opentelemetry-trust-incoming-span",
    "opentracing-trust-incoming-span",
    "proxy-buffer-size",
    "proxy-buffering",
    "proxy-buffers-number",
    "proxy-cookie-domain",
    "proxy-cookie-path",
    "proxy-http-version",
    "proxy-max-temp-file-size",
    "proxy-redirect-from",
    "proxy-redirect-to",
    "proxy-request-buffering",
    "satisfy",
    "ssl-ciphers",
    "ssl-prefer-server-ciphers",
    "upstream-hash-by-subset",
    "upstream-hash-by-subset-size",
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
            Ignored::NeedsFlag => {
                "the controller runs without --enable-ssl-passthrough; TLS to these hosts is terminated as usual"
            }
            Ignored::NotApplicable => {
                "passthrough needs a host (not a wildcard) with a rule for the path / to a Service; this host's TLS is terminated as usual"
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
                .chain(policy::SUPPORTED)
                .all(|s| DOCUMENTED.binary_search(s).is_err())
        );
    }
}
