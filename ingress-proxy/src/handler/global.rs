//! The global configuration a request uses, taken from the snapshot it was routed on, so a
//! ConfigMap change applies to the next request with the routes it came with.
//!
//! Rule: when the snapshot's [`GlobalConfig`] comes from a ConfigMap (`--configmap`, or a
//! `Change::UpsertGlobalConfig` from an embedder), its keys decide — ingress-nginx's defaults
//! for the keys it leaves out; without a ConfigMap, the embedder's [`ProxyConfig`] fields
//! decide (`use_forwarded_headers`, `enable_underscores_in_headers`, `hsts`), as before.
//! `ssl-redirect` and `force-ssl-redirect` have no `ProxyConfig` field: without a ConfigMap
//! they are ingress-nginx's defaults.

use std::net::IpAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use http::{HeaderMap, HeaderValue};

use ingress_core::annotations::NextUpstream;
use ingress_core::global_config::{DEFAULT_LOG_FORMAT_UPSTREAM, LogFormat};
use ingress_core::{CidrList, GlobalAuth, GlobalConfig, MatchedRule, RouteTable};

use crate::config::ProxyConfig;

/// One request's view of the global configuration.
#[derive(Debug, Clone)]
pub(super) struct GlobalSettings {
    config: Arc<GlobalConfig>,
}

impl GlobalSettings {
    /// The settings of `table`'s snapshot.
    pub(super) fn of(table: &RouteTable) -> Self {
        GlobalSettings {
            config: table.global_config().clone(),
        }
    }

    /// The ConfigMap's `global-auth-*` policy, if one is in force.
    pub(super) fn global_auth(&self) -> Option<&GlobalAuth> {
        self.config.global_auth.as_ref()
    }

    /// Whether authentication skips the Ingress path `path` (`no-auth-locations`).
    pub(super) fn skips_auth(&self, path: &str) -> bool {
        self.config.skips_auth(path)
    }

    /// The ConfigMap's configuration, if one is in force.
    pub(super) fn configmap(&self) -> Option<&GlobalConfig> {
        self.config.configmap.is_some().then_some(&*self.config)
    }

    /// `log-format-upstream` when a ConfigMap sets one other than ingress-nginx's default
    /// (the default is the built-in text format, written without a template).
    pub(super) fn log_format(&self) -> Option<Arc<LogFormat>> {
        let config = self.configmap()?;
        (*config.log_format_upstream != *DEFAULT_LOG_FORMAT_UPSTREAM)
            .then(|| config.log_format.clone())
    }

    /// The configuration that decides who may name the client: the ConfigMap's
    /// `use-forwarded-headers`, `proxy-real-ip-cidr`, `forwarded-for-header` and
    /// `compute-full-forwarded-for`; without one, the embedder's `use_forwarded_headers` with
    /// ingress-nginx's defaults for the rest.
    fn forwarding(&self, proxy: &ProxyConfig) -> &GlobalConfig {
        static TRUSTING: LazyLock<GlobalConfig> = LazyLock::new(|| {
            let mut config = GlobalConfig::default();
            config.use_forwarded_headers = true;
            config
        });
        match self.configmap() {
            Some(config) => config,
            None if proxy.use_forwarded_headers => &TRUSTING,
            None => &self.config,
        }
    }

    /// Whether `peer` may name the client, scheme and port (`use-forwarded-headers` and
    /// `proxy-real-ip-cidr`).
    pub(super) fn trusts(&self, proxy: &ProxyConfig, peer: IpAddr) -> bool {
        self.forwarding(proxy).trusts(peer)
    }

    /// `limit-req-status-code` (ingress-nginx's default `503` without a ConfigMap).
    pub(super) fn limit_req_status(&self) -> u16 {
        self.config.limit_req_status_code
    }

    /// `limit-conn-status-code` (ingress-nginx's default `503` without a ConfigMap).
    pub(super) fn limit_conn_status(&self) -> u16 {
        self.config.limit_conn_status_code
    }

    /// `whitelist-source-range` and `denylist-source-range`, when a ConfigMap is in force.
    pub(super) fn source_ranges(&self) -> Option<(&CidrList, &CidrList)> {
        let config = self.configmap()?;
        Some((
            &config.whitelist_source_range,
            &config.denylist_source_range,
        ))
    }

    /// `compute-full-forwarded-for`.
    pub(super) fn compute_full_forwarded_for(&self, proxy: &ProxyConfig) -> bool {
        self.forwarding(proxy).compute_full_forwarded_for
    }

    /// The client's address: `peer`, or the address a trusted peer names in
    /// `forwarded-for-header` (ingress-nginx's realip rules, see
    /// [`GlobalConfig::client_address`]).
    pub(super) fn client_address(
        &self,
        proxy: &ProxyConfig,
        peer: IpAddr,
        headers: &HeaderMap,
    ) -> IpAddr {
        let config = self.forwarding(proxy);
        if !config.trusts(peer) {
            return peer;
        }
        let values = headers
            .get_all(&*config.forwarded_for_header)
            .iter()
            .map(HeaderValue::as_bytes);
        config.client_address(peer, values)
    }

    /// `enable-underscores-in-headers`.
    pub(super) fn enable_underscores_in_headers(&self, proxy: &ProxyConfig) -> bool {
        self.configmap()
            .map_or(proxy.enable_underscores_in_headers, |c| {
                c.enable_underscores_in_headers
            })
    }

    /// `proxy-body-size` (`0`: unlimited), else the embedder's limit.
    pub(super) fn proxy_body_size(&self, proxy: &ProxyConfig) -> u64 {
        self.configmap()
            .map_or(proxy.limits.max_request_body_bytes, |c| c.proxy_body_size)
    }

    /// `proxy-connect-timeout`, `proxy-read-timeout` and `proxy-send-timeout`, else the
    /// embedder's.
    pub(super) fn upstream_timeouts(&self, proxy: &ProxyConfig) -> (Duration, Duration, Duration) {
        self.configmap().map_or(
            (
                proxy.timeouts.connect,
                proxy.timeouts.read,
                proxy.timeouts.send,
            ),
            |c| {
                (
                    c.proxy_connect_timeout,
                    c.proxy_read_timeout,
                    c.proxy_send_timeout,
                )
            },
        )
    }

    /// `proxy-next-upstream`, `-tries` and `-timeout`, when a ConfigMap is in force (parsed
    /// when the ConfigMap was read; an invalid list kept the previous value).
    pub(super) fn next_upstream(&self) -> Option<NextUpstream> {
        let config = self.configmap()?;
        Some(NextUpstream {
            tries: Some(config.proxy_next_upstream_tries),
            timeout_total: Some(config.proxy_next_upstream_timeout).filter(|t| !t.is_zero()),
            ..config.proxy_next_upstream.clone()
        })
    }

    /// Whether plain HTTP is redirected to HTTPS: the route's `ssl-redirect` and
    /// `force-ssl-redirect` annotations over the global keys. A request no path rule matched
    /// follows `ssl-redirect` only: ingress-nginx's default-server location carries no
    /// redirect flags, so a global `force-ssl-redirect` does not reach it.
    pub(super) fn redirects_to_https(
        &self,
        rule: Option<&MatchedRule>,
        host_has_tls: bool,
    ) -> bool {
        match rule {
            Some(rule) => rule.policy.redirects_to_https(host_has_tls, &self.config),
            None => host_has_tls && self.config.ssl_redirect,
        }
    }
}

/// A client connection's settings, taken from the snapshot current when it was accepted:
/// the ConfigMap's `client-header-timeout`, `keep-alive`, `keep-alive-requests` and
/// `client-body-timeout`; without one, the embedder's request-head timeout (for the idle wait
/// between requests too), no request limit and no body timeout, as before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientSettings {
    /// Time to receive a request head once it has begun (`client-header-timeout`); also the
    /// time to receive the first request of a connection.
    pub(crate) header_timeout: Duration,
    /// Idle time allowed between two requests (`keep-alive`); zero: one request per
    /// connection.
    pub(crate) keep_alive: Duration,
    /// Requests per connection (`keep-alive-requests`); zero: unlimited.
    pub(crate) keep_alive_requests: u32,
    /// Longest wait between two reads of a request body (`client-body-timeout`).
    pub(crate) body_timeout: Option<Duration>,
    /// The connection begins with a PROXY protocol header (`use-proxy-protocol`).
    pub(crate) proxy_protocol: bool,
}

impl ClientSettings {
    /// The settings of `table`'s snapshot, for the embedder's `proxy`.
    pub(crate) fn of(table: &RouteTable, proxy: &ProxyConfig) -> Self {
        let global = table.global_config();
        match global.configmap {
            Some(_) => ClientSettings {
                header_timeout: global.client_header_timeout,
                keep_alive: global.keep_alive,
                keep_alive_requests: global.keep_alive_requests,
                body_timeout: Some(global.client_body_timeout).filter(|t| !t.is_zero()),
                proxy_protocol: global.use_proxy_protocol,
            },
            None => ClientSettings {
                header_timeout: proxy.limits.request_header_timeout,
                keep_alive: proxy.limits.request_header_timeout,
                keep_alive_requests: 0,
                body_timeout: None,
                proxy_protocol: proxy.use_proxy_protocol,
            },
        }
    }

    /// Whether the connection closes after its `served`-th response.
    pub(crate) fn closes_after(&self, served: u32) -> bool {
        self.keep_alive.is_zero()
            || (self.keep_alive_requests != 0 && served >= self.keep_alive_requests)
    }
}
