//! The per-path policies the supported annotations ask for, parsed and validated, as they sit
//! in the route-table snapshot ([`MatchedRule::policy`](crate::MatchedRule::policy)).
//!
//! Each field's `None` means "not set on this Ingress": the global configuration's value
//! applies, and without one ingress-nginx's documented default (named on each field).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::auth::BasicAuthPolicy;
use super::balance::BalancePolicy;
use super::canary::CanaryPolicy;
use super::client_tls::ClientTlsPolicy;
use super::cors::CorsPolicy;
use super::limits::LimitPolicy;
use super::retry::NextUpstream;
use super::upstream_tls::UpstreamTlsPolicy;
use super::values::Reader;

/// What an Ingress's annotations ask of its paths (the part this engine implements). The
/// same value is shared by every path of the Ingress.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoutePolicy {
    /// `ssl-redirect`: redirect plain HTTP to HTTPS when the host has a `tls` entry. `None`
    /// means the global default (`true`, as ingress-nginx's `ssl-redirect` ConfigMap key).
    pub ssl_redirect: Option<bool>,
    /// `force-ssl-redirect`: redirect plain HTTP to HTTPS even without a `tls` entry (TLS
    /// terminated in front of the controller). `None` means the global default (`false`).
    pub force_ssl_redirect: Option<bool>,
    /// `use-regex`: this Ingress's `ImplementationSpecific` paths are regular expressions
    /// (see [`Rewrite`](super::Rewrite) and [`RoutePolicy::enforces_regex`]).
    pub use_regex: bool,
    /// `rewrite-target`: the path the upstream receives, with `$n` capture references.
    pub rewrite_target: Option<Arc<str>>,
    /// `app-root`: a request for `/` is redirected (`302`) to this path.
    pub app_root: Option<Arc<str>>,
    /// `x-forwarded-prefix`: sent upstream as the `X-Forwarded-Prefix` header.
    pub x_forwarded_prefix: Option<Arc<str>>,
    /// `temporal-redirect` or `permanent-redirect` (+ `-code`): every request is answered
    /// with this redirect instead of being proxied.
    pub redirect: Option<Redirect>,
    /// `proxy-body-size`: the largest request body, in bytes (`0`: unlimited); larger ones
    /// get `413`. `None`: the global value (ingress-nginx's default `1m`).
    pub proxy_body_size: Option<u64>,
    /// `proxy-connect-timeout` (ingress-nginx's default 5 s).
    pub connect_timeout: Option<Duration>,
    /// `proxy-read-timeout`: the longest wait for the upstream's response head and between
    /// two reads of its body (ingress-nginx's default 60 s).
    pub read_timeout: Option<Duration>,
    /// `proxy-send-timeout`: the longest stall between two writes of the request to the
    /// upstream (ingress-nginx's default 60 s).
    pub send_timeout: Option<Duration>,
    /// `upstream-vhost`: the `Host` header sent upstream instead of the client's.
    pub upstream_vhost: Option<Arc<str>>,
    /// `service-upstream`: send traffic to the Service's cluster IP and port instead of to
    /// its endpoints.
    pub service_upstream: bool,
    /// `backend-protocol`: how the proxy speaks to the endpoints.
    pub backend_protocol: Option<BackendProtocol>,
    /// `from-to-www-redirect`: requests for `www.HOST` (or for `HOST` without `www.`, when
    /// the rule names `www.HOST`) are redirected (`308`) to the rule's host.
    pub from_to_www_redirect: bool,
    /// `server-alias`: more host names for the hosts of this Ingress's rules (checked as
    /// hosts by validation).
    pub server_alias: Vec<Arc<str>>,
    /// `custom-http-errors`: upstream responses with these statuses are replaced by the
    /// error backend's answer (the `default-backend` annotation's Service, else the
    /// controller's default backend).
    pub custom_http_errors: Arc<[u16]>,
    /// `default-backend`: a Service of the Ingress's namespace that answers when the path's
    /// Service has no ready endpoints, and serves `custom-http-errors`.
    pub default_backend: Option<Arc<str>>,
    /// The `default-backend` Service's first port, as validation resolved it (ingress-nginx
    /// uses the first port); `None` without the annotation.
    pub default_backend_service: Option<crate::config::ServiceRef>,
    /// `proxy-next-upstream` (+`-tries`, `-timeout`): when a request goes on to another
    /// endpoint. `None`: the defaults (`error timeout`, 3 tries).
    pub next_upstream: Option<NextUpstream>,
    /// `affinity`, `upstream-hash-by`, `load-balance`: how an endpoint is chosen.
    pub balance: BalancePolicy,
    /// `canary: "true"` and its rules: this Ingress's paths are alternatives of the main
    /// Ingress's same paths, not routes of their own.
    pub canary: Option<Arc<CanaryPolicy>>,
    /// `allowlist-source-range` (or its older name `whitelist-source-range`): only clients in
    /// these ranges are served (`403` for the others); `None`: the global key's list.
    pub allow_source_range: Option<crate::CidrList>,
    /// `denylist-source-range`: clients in these ranges get `403`, before the allow list is
    /// consulted; `None`: the global key's list.
    pub deny_source_range: Option<crate::CidrList>,
    /// `enable-cors` and the `cors-*` annotations: `None` unless CORS is enabled.
    pub cors: Option<Arc<CorsPolicy>>,
    /// `auth-type: basic` with its Secret's users (`auth-secret`, `auth-secret-type`,
    /// `auth-realm`): `None` without `auth-type`.
    pub basic_auth: Option<Arc<BasicAuthPolicy>>,
    /// `auth-url` and its companions: a sub-request decides.
    pub external_auth: Option<Arc<super::ExternalAuthPolicy>>,
    /// `enable-global-auth: "false"`: the ConfigMap's `global-auth-url` does not apply to
    /// this Ingress's paths (it applies by default, to paths without their own `auth-url`).
    pub global_auth_disabled: bool,
    /// `ssl-passthrough`: TLS connections to the Ingress's hosts go to the Service of the
    /// host's `/` rule undecrypted (with `--enable-ssl-passthrough`).
    pub ssl_passthrough: bool,
    /// `limit-rps`, `limit-rpm`, `limit-connections` (+ `limit-burst-multiplier`,
    /// `limit-whitelist`): `None` unless one limit is above 0.
    pub limits: Option<Arc<LimitPolicy>>,
    /// `proxy-ssl-secret`, `proxy-ssl-verify` and the other `proxy-ssl-*` annotations: how
    /// TLS connections to the upstream are made; `None` when none is set (no verification,
    /// no SNI, as ingress-nginx).
    pub upstream_tls: Option<Arc<UpstreamTlsPolicy>>,
    /// `auth-tls-secret` and the other `auth-tls-*` annotations: client certificates (mTLS)
    /// for the hosts of this Ingress's rules (the oldest Ingress of a host decides, see
    /// [`RouteTable::client_tls`](crate::RouteTable::client_tls)); `None` without
    /// `auth-tls-secret`.
    pub client_tls: Option<Arc<ClientTlsPolicy>>,
    /// Set when an annotation's value is invalid: the Ingress's paths answer `503` (what
    /// ingress-nginx does for a location it denies), with this reason; other Ingresses are
    /// not affected.
    pub denied: Option<Arc<str>>,
}

/// A redirect answered instead of proxying (`temporal-redirect`, `permanent-redirect`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The `Location`, as written (an absolute `http`/`https` URL).
    pub location: Arc<str>,
    /// The status code.
    pub code: u16,
}

/// `backend-protocol` values (ingress-nginx's key names; `FCGI` is not supported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendProtocol {
    /// HTTP/1.1 (`HTTP`, the default).
    Http,
    /// HTTP/1.1 over TLS (`HTTPS`).
    Https,
    /// gRPC: HTTP/2 without TLS, prior knowledge (`GRPC`).
    Grpc,
    /// gRPC over TLS (`GRPCS`).
    Grpcs,
    /// The client's scheme: HTTPS upstream for HTTPS clients, else HTTP (`AUTO_HTTP`).
    AutoHttp,
}

/// An annotation whose value could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidAnnotation {
    /// The annotation key.
    pub annotation: String,
    /// Its value.
    pub value: String,
    /// Why it is invalid.
    pub reason: String,
}

/// The annotations [`RoutePolicy::parse`] reads (keys after the prefix).
pub(crate) const SUPPORTED: &[&str] = &[
    "affinity",
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
    "cors-allow-credentials",
    "cors-allow-headers",
    "cors-allow-methods",
    "cors-allow-origin",
    "cors-expose-headers",
    "cors-max-age",
    "custom-http-errors",
    "default-backend",
    "denylist-source-range",
    "enable-cors",
    "enable-global-auth",
    "force-ssl-redirect",
    "from-to-www-redirect",
    "limit-allowlist",
    "limit-burst-multiplier",
    "limit-connections",
    "limit-rpm",
    "limit-rps",
    "limit-whitelist",
    "load-balance",
    "permanent-redirect",
    "permanent-redirect-code",
    "preserve-trailing-slash",
    "proxy-body-size",
    "proxy-connect-timeout",
    "proxy-next-upstream",
    "proxy-next-upstream-timeout",
    "proxy-next-upstream-tries",
    "proxy-read-timeout",
    "proxy-send-timeout",
    "proxy-ssl-ciphers",
    "proxy-ssl-name",
    "proxy-ssl-protocols",
    "proxy-ssl-secret",
    "proxy-ssl-server-name",
    "proxy-ssl-verify",
    "proxy-ssl-verify-depth",
    "rewrite-target",
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
    "ssl-passthrough",
    "ssl-redirect",
    "temporal-redirect",
    "temporal-redirect-code",
    "upstream-hash-by",
    "upstream-vhost",
    "use-regex",
    "whitelist-source-range",
    "x-forwarded-prefix",
];

const PROTOCOLS: &[(&str, BackendProtocol)] = &[
    ("HTTP", BackendProtocol::Http),
    ("HTTPS", BackendProtocol::Https),
    ("GRPC", BackendProtocol::Grpc),
    ("GRPCS", BackendProtocol::Grpcs),
    ("AUTO_HTTP", BackendProtocol::AutoHttp),
];

impl RoutePolicy {
    /// Parses the supported annotations of one Ingress. Each invalid value is returned, and
    /// makes the policy [`denied`](Self::denied).
    pub fn parse(annotations: &BTreeMap<String, String>) -> (RoutePolicy, Vec<InvalidAnnotation>) {
        let mut read = Reader::new(annotations);
        // `preserve-trailing-slash` is read for its syntax only: redirects here always keep
        // the request's path as sent, trailing slash included.
        let _ = read.boolean("preserve-trailing-slash");
        let policy = RoutePolicy {
            ssl_redirect: read.boolean("ssl-redirect"),
            force_ssl_redirect: read.boolean("force-ssl-redirect"),
            use_regex: read.boolean("use-regex").unwrap_or(false),
            rewrite_target: read.path("rewrite-target"),
            app_root: read.path("app-root"),
            x_forwarded_prefix: read.path("x-forwarded-prefix"),
            redirect: redirect(&mut read),
            proxy_body_size: read.size("proxy-body-size"),
            connect_timeout: read.seconds("proxy-connect-timeout"),
            read_timeout: read.seconds("proxy-read-timeout"),
            send_timeout: read.seconds("proxy-send-timeout"),
            upstream_vhost: read.host("upstream-vhost"),
            service_upstream: read.boolean("service-upstream").unwrap_or(false),
            backend_protocol: read.choice("backend-protocol", PROTOCOLS),
            from_to_www_redirect: read.boolean("from-to-www-redirect").unwrap_or(false),
            server_alias: read.name_list("server-alias"),
            custom_http_errors: read
                .status_list("custom-http-errors")
                .unwrap_or_default()
                .into(),
            default_backend: read.token("default-backend"),
            default_backend_service: None,
            next_upstream: read.next_upstream(),
            balance: read.balance(),
            canary: None,
            cors: CorsPolicy::parse(&mut read).map(Arc::new),
            allow_source_range: read
                .cidr_list("allowlist-source-range")
                .or_else(|| read.cidr_list("whitelist-source-range")),
            deny_source_range: read.cidr_list("denylist-source-range"),
            limits: read.limits().map(Arc::new),
            basic_auth: read.basic_auth().map(Arc::new),
            external_auth: read.external_auth().map(Arc::new),
            global_auth_disabled: !read.boolean("enable-global-auth").unwrap_or(true),
            ssl_passthrough: read.boolean("ssl-passthrough").unwrap_or(false),
            upstream_tls: read.upstream_tls().map(Arc::new),
            client_tls: read.client_tls().map(Arc::new),
            denied: None,
        };
        let (canary, canary_invalid) = CanaryPolicy::parse(annotations);
        let mut invalid = read.invalid;
        invalid.extend(canary_invalid);
        let policy = RoutePolicy {
            canary: canary.map(Arc::new),
            ..policy
        };
        let denied = invalid.first().map(|first| {
            format!(
                "annotation {} has an invalid value {:?}: {}",
                first.annotation, first.value, first.reason
            )
            .into()
        });
        (RoutePolicy { denied, ..policy }, invalid)
    }

    /// Resolves `default-backend` in the Ingress's namespace against the Services of the
    /// desired state: the Service's first port (port 80 while the Service does not exist; a
    /// Service change rebuilds the routes).
    pub(crate) fn resolve_default_backend(
        &mut self,
        namespace: &str,
        services: &std::collections::BTreeMap<crate::model::ObjectKey, crate::model::Service>,
    ) {
        let Some(name) = &self.default_backend else {
            return;
        };
        let port = services
            .get(&crate::model::ObjectKey::new(namespace, name))
            .and_then(|service| service.ports.first())
            .and_then(|port| u16::try_from(port.port).ok())
            .unwrap_or(80);
        self.default_backend_service = Some(crate::config::ServiceRef {
            namespace: namespace.into(),
            name: name.clone(),
            port: crate::config::PortRef::Number(port),
        });
    }

    /// Reads the users of `auth-type: basic` from the Secret `auth-secret` names, in the
    /// Ingress's namespace. A missing Secret, a missing key or a line that cannot be used
    /// denies the Ingress's paths (`503`) and is returned as an invalid `auth-secret`; it
    /// never lets a request through unchecked.
    pub(crate) fn resolve_basic_auth(
        &mut self,
        namespace: &str,
        secrets: &BTreeMap<crate::model::ObjectKey, crate::model::OpaqueSecret>,
    ) -> Option<InvalidAnnotation> {
        let auth = self.basic_auth.as_mut()?;
        let written = auth.secret_name.clone();
        let read = super::auth::secret_key(namespace, &written).and_then(|key| {
            let secret = secrets
                .get(&key)
                .ok_or_else(|| format!("Secret {key} does not exist (or is not of type Opaque)"))?;
            super::auth::credentials_of(secret, auth.secret_type)
                .map_err(|reason| format!("Secret {key}: {reason}"))
        });
        match read {
            Ok(credentials) => {
                Arc::make_mut(auth).credentials = Some(Arc::new(credentials));
                None
            }
            Err(reason) => {
                if self.denied.is_none() {
                    self.denied = Some(
                        format!("annotation auth-secret {written:?} cannot be used: {reason}")
                            .into(),
                    );
                }
                Some(InvalidAnnotation {
                    annotation: format!("{}auth-secret", super::PREFIX),
                    value: written.to_string(),
                    reason,
                })
            }
        }
    }

    /// Names the zone of this Ingress's `limit-*` state after the Ingress (`namespace/name`).
    pub(crate) fn name_limit_zone(&mut self, ingress: &crate::model::ObjectKey) {
        if let Some(limits) = &mut self.limits {
            Arc::make_mut(limits).zone = format!("{}/{}", ingress.namespace, ingress.name).into();
        }
    }

    /// Whether a plain-HTTP request is redirected to HTTPS: `host_has_tls` (the host has a
    /// `tls` entry) and `ssl-redirect` not turned off (the annotation, else `global`'s key),
    /// or `force-ssl-redirect` (the annotation, else `global`'s key: an Ingress's `"false"`
    /// turns a global `"true"` off for its paths, as in ingress-nginx).
    pub fn redirects_to_https(&self, host_has_tls: bool, global: &crate::GlobalConfig) -> bool {
        self.force_ssl_redirect.unwrap_or(global.force_ssl_redirect)
            || (host_has_tls && self.ssl_redirect.unwrap_or(global.ssl_redirect))
    }

    /// Whether this Ingress makes the paths of its hosts regular expressions: `use-regex`,
    /// or a `rewrite-target` (ingress-nginx enforces the regex location modifier for both).
    pub fn enforces_regex(&self) -> bool {
        self.use_regex || self.rewrite_target.is_some()
    }
}

/// `temporal-redirect` (+`-code`, default `302`, taken when outside 300–307) wins over
/// `permanent-redirect` (+`-code`, default `301`, taken when outside 300–308), as in
/// ingress-nginx.
fn redirect(read: &mut Reader<'_>) -> Option<Redirect> {
    let code = |read: &mut Reader<'_>, name: &str, max: i64, default: u16| {
        read.integer(name)
            .filter(|code| (300..=max).contains(code))
            .and_then(|code| u16::try_from(code).ok())
            .unwrap_or(default)
    };
    let temporal = read.url("temporal-redirect");
    let temporal_code = code(read, "temporal-redirect-code", 307, 302);
    let permanent = read.url("permanent-redirect");
    let permanent_code = code(read, "permanent-redirect-code", 308, 301);
    match (temporal, permanent) {
        (Some(location), _) => Some(Redirect {
            location,
            code: temporal_code,
        }),
        (None, Some(location)) => Some(Redirect {
            location,
            code: permanent_code,
        }),
        (None, None) => None,
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
