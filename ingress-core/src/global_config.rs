//! The global configuration: ingress-nginx's ConfigMap (`--configmap NAMESPACE/NAME`), with
//! its key names, value syntax and defaults.
//!
//! A ConfigMap's `data` becomes one [`GlobalConfig`] through [`GlobalConfig::updated_from`].
//! It is part of the desired state ([`Change::UpsertGlobalConfig`](crate::Change)), so a
//! change to it is one atomic swap like any other, and the table built from it carries it
//! ([`RouteTable::global_config`](crate::RouteTable::global_config)).
//!
//! # Rules
//!
//! - A key that is **absent** takes ingress-nginx's default (the table below).
//! - A key with an **invalid value** keeps its *previous* value (the one last applied, not the
//!   default), so a bad edit changes nothing else; a
//!   [`ConfigValueInvalid`](crate::Diagnostic::ConfigValueInvalid) diagnostic names the
//!   ConfigMap, the key, the value and the reason.
//! - A key ingress-nginx documents that this engine does not implement, and a key ingress-nginx
//!   does not document at all (a typo), each get a Warning
//!   ([`ConfigKeyIgnored`](crate::Diagnostic::ConfigKeyIgnored)); the rest applies.
//! - A value taken only in part (a cipher or protocol rustls does not implement,
//!   `allow-snippet-annotations: "true"`) gets a Warning
//!   ([`ConfigValueAdjusted`](crate::Diagnostic::ConfigValueAdjusted)).
//!
//! Booleans use Go's `strconv.ParseBool` syntax (`true`, `false`, `1`, `0`, `t`, `f`, …);
//! timeouts are whole seconds as ingress-nginx writes them (`"60"`); sizes are nginx sizes
//! (`8k`, `1m`; `0` is unlimited); `upstream-keepalive-time` is an nginx time (`1h`).
//!
//! | key | default | here |
//! |---|---|---|
//! | `ssl-redirect` | `true` | redirect HTTP to HTTPS for hosts with a `tls` entry, unless the Ingress's annotation says otherwise (applied) |
//! | `force-ssl-redirect` | `false` | redirect HTTP to HTTPS even without a `tls` entry (applied) |
//! | `hsts` | `true` | `Strict-Transport-Security` on HTTPS responses (applied) |
//! | `hsts-max-age` | `31536000` | its `max-age` (applied) |
//! | `hsts-include-subdomains` | `true` | adds `includeSubDomains` (applied) |
//! | `hsts-preload` | `false` | adds `preload` (applied) |
//! | `use-forwarded-headers` | `false` | trust the client's `X-Forwarded-*` from `proxy-real-ip-cidr` peers (applied) |
//! | `enable-underscores-in-headers` | `false` | forward header names containing `_` (applied) |
//! | `ssl-protocols` | `TLSv1.2 TLSv1.3` | checked against rustls (TLS 1.2 and 1.3 only) (applied) |
//! | `ssl-ciphers` | ingress-nginx's ECDHE/DHE AES-GCM and CHACHA20 list | kept as written, checked against rustls's TLS 1.2 ciphers (applied) |
//! | `proxy-body-size` | `1m` | largest request body (`0`: unlimited) |
//! | `proxy-connect-timeout` | `5` | seconds to connect upstream |
//! | `proxy-read-timeout` | `60` | seconds between two reads from upstream |
//! | `proxy-send-timeout` | `60` | seconds between two writes to upstream (applied) |
//! | `proxy-next-upstream` | `error timeout` | when to try the next endpoint (nginx's conditions, or `off`) |
//! | `proxy-next-upstream-tries` | `3` | attempts in all (`0`: unlimited) |
//! | `proxy-next-upstream-timeout` | `0` | seconds for all attempts (`0`: unlimited) |
//! | `client-header-timeout` | `60` | seconds to read a request head (applied) |
//! | `client-body-timeout` | `60` | seconds between two reads of a request body (applied) |
//! | `keep-alive` | `75` | seconds a client connection may idle (`0`: no keep-alive) (applied) |
//! | `keep-alive-requests` | `1000` | requests per client connection (applied) |
//! | `upstream-keepalive-connections` | `320` | idle upstream connections kept (applied) |
//! | `upstream-keepalive-timeout` | `60` | seconds an upstream connection may idle (applied) |
//! | `upstream-keepalive-requests` | `10000` | requests per upstream connection (applied) |
//! | `upstream-keepalive-time` | `1h` | longest life of an upstream connection (applied) |
//! | `use-proxy-protocol` | `false` | connections begin with a PROXY protocol header (v1 or v2) naming the client (applied to connections accepted after a change) |
//! | `proxy-real-ip-cidr` | `0.0.0.0/0` | the peers trusted to name the client, scheme and port (applied) |
//! | `forwarded-for-header` | `X-Forwarded-For` | the header the client address is read from (applied) |
//! | `whitelist-source-range` | empty | clients allowed where an Ingress has no allow list (applied) |
//! | `denylist-source-range` | empty | clients refused where an Ingress has no deny list (applied) |
//! | `compute-full-forwarded-for` | `false` | `X-Forwarded-For` upstream: the client's list and the peer, rather than the client alone (applied) |
//! | `log-format-upstream` | ingress-nginx's access-log format | the access log's fields, nginx variables (applied to the text access log) |
//! | `global-auth-url`, `-method`, `-signin`, `-signin-redirect-param`, `-response-headers`, `-request-redirect`, `-cache-key`, `-cache-duration`, `-always-set-cookie` | empty | external authentication for every path without its own `auth-url` (annotation `enable-global-auth: "false"` opts out), read with the `auth-*` annotations' rules; invalid keys keep the earlier valid set, or deny (`503`) when there is none (applied) |
//! | `no-auth-locations` | `/.well-known/acme-challenge` | Ingress paths that begin with one of these are never authenticated (applied) |
//! | `custom-http-errors` | empty | status codes answered by the default backend |
//! | `allow-snippet-annotations` | `false` | always `false`; a Warning if set to true |
//! | `strict-validate-path-type` | `true` | accepted; `Exact`/`Prefix` paths are always literal here (see the README) |
//!
//! "Applied" marks what the bundled proxy honours from the ConfigMap today; the other keys are
//! parsed, validated and carried in the snapshot for the proxy's other phases.
//!
//! ```
//! use std::collections::BTreeMap;
//! use ingress_core::{Diagnostic, GlobalConfig, ObjectKey};
//!
//! let configmap = ObjectKey::new("ingress-nginx", "ingress-nginx-controller");
//! let data = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
//!     pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
//! };
//! let (first, diagnostics) = GlobalConfig::default()
//!     .updated_from(&configmap, &data(&[("hsts-max-age", "100"), ("use-forwarded-headers", "true")]));
//! assert_eq!((first.hsts_max_age, first.use_forwarded_headers), (100, true));
//! assert!(diagnostics.is_empty());
//!
//! // A bad edit: the invalid key keeps its previous value (100, not the default); a key removed
//! // from the ConfigMap goes back to ingress-nginx's default; a typo is a Warning.
//! let (second, diagnostics) = first
//!     .updated_from(&configmap, &data(&[("hsts-max-age", "a year"), ("hsts-max-ag", "5")]));
//! assert_eq!((second.hsts_max_age, second.use_forwarded_headers), (100, false));
//! assert_eq!(diagnostics.len(), 2);
//! assert!(matches!(&diagnostics[0], Diagnostic::ConfigKeyIgnored { key, .. } if &**key == "hsts-max-ag"));
//! assert!(matches!(&diagnostics[1], Diagnostic::ConfigValueInvalid { key, .. } if &**key == "hsts-max-age"));
//! ```

mod catalogue;
mod keys;
mod log_format;
mod real_ip;
mod state;
pub(crate) mod tls;
pub(crate) mod values;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::diagnostics::Diagnostic;
use crate::model::ObjectKey;

pub use log_format::{LogFormat, LogPart, LogVar};
pub use state::GlobalConfigState;
pub use tls::{RUSTLS_TLS12_CIPHERS, TlsProtocols};

/// ingress-nginx's default `ssl-ciphers`.
pub const DEFAULT_SSL_CIPHERS: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256";

/// ingress-nginx's default `log-format-upstream`.
pub const DEFAULT_LOG_FORMAT_UPSTREAM: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length $upstream_response_time $upstream_status $req_id"#;

/// ingress-nginx's global configuration, one field per supported ConfigMap key (named after
/// it); [`Default`] is ingress-nginx's defaults. See the [module docs](self) for the table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GlobalConfig {
    /// The ConfigMap these values come from; `None`: no ConfigMap is in force (all of
    /// ingress-nginx's defaults), so an embedder may apply its own settings instead.
    pub configmap: Option<ObjectKey>,
    /// `ssl-redirect`.
    pub ssl_redirect: bool,
    /// `force-ssl-redirect`.
    pub force_ssl_redirect: bool,
    /// `hsts`.
    pub hsts: bool,
    /// `hsts-max-age`, in seconds.
    pub hsts_max_age: u64,
    /// `hsts-include-subdomains`.
    pub hsts_include_subdomains: bool,
    /// `hsts-preload`.
    pub hsts_preload: bool,
    /// `ssl-protocols`.
    pub ssl_protocols: TlsProtocols,
    /// `ssl-ciphers`, as written (see [`RUSTLS_TLS12_CIPHERS`]).
    pub ssl_ciphers: Arc<str>,
    /// `proxy-body-size`, in bytes; `0` is unlimited.
    pub proxy_body_size: u64,
    /// `proxy-connect-timeout`.
    pub proxy_connect_timeout: Duration,
    /// `proxy-read-timeout`.
    pub proxy_read_timeout: Duration,
    /// `proxy-send-timeout`.
    pub proxy_send_timeout: Duration,
    /// `proxy-next-upstream`: nginx's conditions, parsed as the annotation's are (its
    /// `tries` and `timeout_total` stay unset: the two keys below hold them).
    pub proxy_next_upstream: crate::annotations::NextUpstream,
    /// `proxy-next-upstream-tries`; `0` is unlimited.
    pub proxy_next_upstream_tries: u32,
    /// `proxy-next-upstream-timeout`; zero is unlimited.
    pub proxy_next_upstream_timeout: Duration,
    /// `client-header-timeout`.
    pub client_header_timeout: Duration,
    /// `client-body-timeout`.
    pub client_body_timeout: Duration,
    /// `keep-alive`; zero disables client keep-alive.
    pub keep_alive: Duration,
    /// `keep-alive-requests`.
    pub keep_alive_requests: u32,
    /// `upstream-keepalive-connections`.
    pub upstream_keepalive_connections: u32,
    /// `upstream-keepalive-timeout`.
    pub upstream_keepalive_timeout: Duration,
    /// `upstream-keepalive-requests`.
    pub upstream_keepalive_requests: u32,
    /// `upstream-keepalive-time`.
    pub upstream_keepalive_time: Duration,
    /// `use-forwarded-headers`.
    pub use_forwarded_headers: bool,
    /// `use-proxy-protocol`: every HTTP and HTTPS connection starts with a PROXY protocol
    /// header naming the client.
    pub use_proxy_protocol: bool,
    /// `forwarded-for-header`.
    pub forwarded_for_header: Arc<str>,
    /// `proxy-real-ip-cidr`: the peers that may name the client (with
    /// `use-forwarded-headers`).
    pub proxy_real_ip_cidr: crate::CidrList,
    /// `whitelist-source-range`: clients outside these ranges get `403` on paths whose
    /// Ingress sets no allow list; empty: everyone.
    pub whitelist_source_range: crate::CidrList,
    /// `denylist-source-range`: clients in these ranges get `403` on paths whose Ingress
    /// sets no deny list.
    pub denylist_source_range: crate::CidrList,
    /// `compute-full-forwarded-for`.
    pub compute_full_forwarded_for: bool,
    /// `enable-underscores-in-headers`.
    pub enable_underscores_in_headers: bool,
    /// `log-format-upstream`, as written.
    pub log_format_upstream: Arc<str>,
    /// `log-format-upstream`, compiled.
    pub log_format: Arc<LogFormat>,
    /// `custom-http-errors`, sorted, without duplicates.
    pub custom_http_errors: Arc<[u16]>,
    /// `allow-snippet-annotations`: always `false` (snippets are never applied).
    pub allow_snippet_annotations: bool,
    /// `strict-validate-path-type`.
    pub strict_validate_path_type: bool,
    /// `limit-req-status-code`: the answer to a request over `limit-rps`/`limit-rpm`.
    pub limit_req_status_code: u16,
    /// `limit-conn-status-code`: the answer to a request over `limit-connections`.
    pub limit_conn_status_code: u16,
    /// `global-auth-url` and the other `global-auth-*` keys: external authentication for
    /// every path whose Ingress has no `auth-url` and does not set `enable-global-auth:
    /// "false"`.
    pub global_auth: Option<GlobalAuth>,
    /// `no-auth-locations`: paths (prefixes of an Ingress path) never authenticated.
    pub no_auth_locations: Arc<[Arc<str>]>,
}

/// The ConfigMap's external authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobalAuth {
    /// The policy every eligible path uses.
    Policy(Arc<crate::annotations::ExternalAuthPolicy>),
    /// The `global-auth-*` keys are invalid and no earlier valid set is in force: eligible
    /// paths answer `503` rather than go unauthenticated.
    Invalid,
}

impl GlobalConfig {
    /// Whether authentication (`auth-url`, the global one, basic) skips `path`, an Ingress
    /// path (`no-auth-locations`: a path that begins with one of them).
    pub fn skips_auth(&self, path: &str) -> bool {
        self.no_auth_locations
            .iter()
            .any(|location| path.starts_with(&**location))
    }
}

impl GlobalConfig {
    /// The configuration a ConfigMap's `data` asks for, given `self`, the one in force: absent
    /// keys take ingress-nginx's default, invalid values keep `self`'s value. Returns it with
    /// one diagnostic per ignored key, invalid value or partly applied value, in key order.
    pub fn updated_from(
        &self,
        configmap: &ObjectKey,
        data: &BTreeMap<String, String>,
    ) -> (GlobalConfig, Vec<Diagnostic>) {
        let mut next = self.clone();
        next.configmap = Some(configmap.clone());
        let mut diagnostics = Vec::new();
        for spec in keys::KEYS {
            if !data.contains_key(spec.key) {
                // Defaults are valid by construction (a test parses every one); a note on a
                // default (the DHE ciphers of ingress-nginx's list) is not the user's doing.
                let _ = (spec.set)(&mut next, spec.default);
            }
        }
        for (key, value) in data {
            let Some(spec) = keys::spec(key) else {
                let reason = if catalogue::is_documented(key) {
                    "documented by ingress-nginx, not implemented by this engine"
                } else {
                    "not a key ingress-nginx documents"
                };
                diagnostics.push(Diagnostic::ConfigKeyIgnored {
                    configmap: configmap.clone(),
                    key: key.as_str().into(),
                    reason: reason.into(),
                });
                continue;
            };
            match (spec.set)(&mut next, value) {
                Ok(None) => {}
                Ok(Some(note)) => diagnostics.push(Diagnostic::ConfigValueAdjusted {
                    configmap: configmap.clone(),
                    key: key.as_str().into(),
                    value: value.as_str().into(),
                    reason: note.into(),
                }),
                // A failed parse leaves the field as it was in `self` (present keys are not
                // reset to their default above): the previous value stays in force.
                Err(reason) => {
                    diagnostics.push(Diagnostic::ConfigValueInvalid {
                        configmap: configmap.clone(),
                        key: key.as_str().into(),
                        value: value.as_str().into(),
                        reason: reason.into(),
                    });
                }
            }
        }
        // The `global-auth-*` keys are one policy, read together with the annotations' rules.
        match crate::annotations::external_auth::global_policy(data) {
            None => next.global_auth = None,
            Some(Ok(policy)) => next.global_auth = Some(GlobalAuth::Policy(Arc::new(policy))),
            Some(Err(invalid)) => {
                for invalid in invalid {
                    diagnostics.push(Diagnostic::ConfigValueInvalid {
                        configmap: configmap.clone(),
                        key: invalid.annotation.into(),
                        value: invalid.value.into(),
                        reason: invalid.reason.into(),
                    });
                }
                // The earlier valid policy stays; without one, deny rather than allow.
                if !matches!(self.global_auth, Some(GlobalAuth::Policy(_))) {
                    next.global_auth = Some(GlobalAuth::Invalid);
                }
            }
        }
        (next, diagnostics)
    }
}

/// Parses `proxy-next-upstream` with the annotation's parser (the same conditions).
fn next_upstream(value: &str) -> Result<crate::annotations::NextUpstream, values::Reason> {
    if value.trim().is_empty() {
        return Err(
            "expected nginx proxy_next_upstream conditions (error timeout http_502 … or off)",
        );
    }
    crate::annotations::NextUpstream::parse_conditions(value).map_err(
        |_| "expected nginx proxy_next_upstream conditions (error timeout http_502 … or off)",
    )
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            configmap: None,
            ssl_redirect: true,
            force_ssl_redirect: false,
            hsts: true,
            hsts_max_age: 31_536_000,
            hsts_include_subdomains: true,
            hsts_preload: false,
            ssl_protocols: TlsProtocols {
                tls12: true,
                tls13: true,
            },
            ssl_ciphers: DEFAULT_SSL_CIPHERS.into(),
            proxy_body_size: 1 << 20,
            proxy_connect_timeout: Duration::from_secs(5),
            proxy_read_timeout: Duration::from_secs(60),
            proxy_send_timeout: Duration::from_secs(60),
            proxy_next_upstream: crate::annotations::NextUpstream::default(),
            proxy_next_upstream_tries: 3,
            proxy_next_upstream_timeout: Duration::ZERO,
            client_header_timeout: Duration::from_secs(60),
            client_body_timeout: Duration::from_secs(60),
            keep_alive: Duration::from_secs(75),
            keep_alive_requests: 1000,
            upstream_keepalive_connections: 320,
            upstream_keepalive_timeout: Duration::from_secs(60),
            upstream_keepalive_requests: 10_000,
            upstream_keepalive_time: Duration::from_secs(3600),
            use_forwarded_headers: false,
            use_proxy_protocol: false,
            forwarded_for_header: "X-Forwarded-For".into(),
            // ingress-nginx's default (IPv4 only): parsed from a literal, so never empty.
            proxy_real_ip_cidr: crate::CidrList::parse("0.0.0.0/0").unwrap_or_default(),
            whitelist_source_range: crate::CidrList::default(),
            denylist_source_range: crate::CidrList::default(),
            compute_full_forwarded_for: false,
            enable_underscores_in_headers: false,
            log_format_upstream: DEFAULT_LOG_FORMAT_UPSTREAM.into(),
            log_format: Arc::new(LogFormat::compile(DEFAULT_LOG_FORMAT_UPSTREAM).0),
            custom_http_errors: Arc::from([]),
            allow_snippet_annotations: false,
            strict_validate_path_type: true,
            limit_req_status_code: 503,
            limit_conn_status_code: 503,
            global_auth: None,
            no_auth_locations: Arc::from([Arc::from("/.well-known/acme-challenge")]),
        }
    }
}

#[cfg(test)]
mod tests;
