//! The matched route's annotations ([`RoutePolicy`]) applied, each in the one pipeline phase
//! it belongs to, whatever the transport on either side:
//!
//! - **check** ([`body_too_large`]): `proxy-body-size` against a declared `Content-Length`
//!   (`413` before anything is sent); a body without a declared length is counted while it
//!   streams and cut with `413` when it passes the limit (`crate::body`);
//! - **redirect** ([`redirect`]): `temporal-redirect`/`permanent-redirect` answer every
//!   request; `app-root` answers a request for `/` with `302` to the application root;
//! - **upstream request** ([`rewrite`]): `rewrite-target` replaces the path (the query is
//!   kept), `x-forwarded-prefix` adds `X-Forwarded-Prefix`, `upstream-vhost` replaces `Host`;
//! - **attempts** ([`timeouts`], [`protocol`]): `proxy-connect-timeout` and
//!   `proxy-read-timeout`; `backend-protocol` (before the Service port's name);
//! - **retries** ([`NextAttempts`]): `proxy-next-upstream` (+`-tries`, `-timeout`) decides
//!   whether a failed attempt, or a response with a listed status, goes on to another endpoint;
//! - **resolve** ([`canary_backend`]): a canary Ingress's backend takes the request when its
//!   header, cookie or weight says so (ingress-nginx's order).

use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use std::sync::Arc;

use ingress_core::annotations::{BackendProtocol, RoutePolicy};
use std::time::Instant;

use ingress_core::annotations::NextUpstream;
use ingress_core::validate::BackendRef;
use ingress_core::{Backend, MatchedRule, RouteTable};

use super::global::GlobalSettings;
use super::upstream::AttemptTimeouts;
use crate::config::{ProxyConfig, UpstreamProtocol};

static X_FORWARDED_PREFIX: HeaderName = HeaderName::from_static("x-forwarded-prefix");

/// The body limit in force: the route's `proxy-body-size`, else the global one; `None` when
/// unlimited (`0`).
pub(crate) fn body_limit(
    rule: Option<&MatchedRule>,
    global: &GlobalSettings,
    config: &ProxyConfig,
) -> Option<u64> {
    let limit = rule
        .and_then(|rule| rule.policy.proxy_body_size)
        .unwrap_or_else(|| global.proxy_body_size(config));
    (limit != 0).then_some(limit)
}

/// Whether the request declares a body larger than `limit` (`413`, as nginx's
/// `client_max_body_size`).
pub(crate) fn body_too_large(headers: &HeaderMap, limit: Option<u64>) -> bool {
    let Some(limit) = limit else {
        return false;
    };
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .is_some_and(|length| length > limit)
}

/// A redirect the policy answers instead of proxying: the status and `Location`.
/// `scheme` and `host` are the request's (for `app-root`, as ingress-nginx's
/// `$scheme://$http_host$app_root`).
pub(crate) fn redirect(
    policy: &RoutePolicy,
    path: &str,
    scheme: &str,
    host: Option<&HeaderValue>,
) -> Option<(StatusCode, HeaderValue)> {
    if let Some(redirect) = &policy.redirect {
        let status = StatusCode::from_u16(redirect.code).ok()?;
        return Some((status, HeaderValue::from_str(&redirect.location).ok()?));
    }
    let root = policy.app_root.as_ref()?;
    if path != "/" {
        return None;
    }
    let host = host?.to_str().ok()?;
    let location = format!("{scheme}://{host}{root}");
    Some((StatusCode::FOUND, HeaderValue::from_str(&location).ok()?))
}

/// Applies `rewrite-target`, `x-forwarded-prefix` and `upstream-vhost` to the upstream
/// request's target and header fields.
pub(crate) fn rewrite(rule: &MatchedRule, uri: &mut Uri, headers: &mut HeaderMap) {
    if let Some(rewrite) = &rule.rewrite
        && let Some(path) = rewrite.apply(&ingress_core::normalize::path(uri.path()))
    {
        let target = match uri.query() {
            // nginx appends the original arguments when the replacement has none of its own.
            Some(query) if !path.contains('?') => format!("{path}?{query}"),
            _ => path,
        };
        if let Ok(target) = PathAndQuery::try_from(escape_target(&target)) {
            *uri = Uri::from(target);
        }
    }
    let policy = &rule.policy;
    if let Some(prefix) = &policy.x_forwarded_prefix
        && let Ok(value) = HeaderValue::from_str(prefix)
    {
        headers.insert(X_FORWARDED_PREFIX.clone(), value);
    }
    if let Some(vhost) = &policy.upstream_vhost
        && let Ok(value) = HeaderValue::from_str(vhost)
    {
        headers.insert(header::HOST, value);
    }
}

/// Percent-encodes what may not appear in a request target (a rewritten path is built from
/// the normalised, partly decoded path): controls, space, `"`, `<`, `>`, `\`, `^`, `` ` ``,
/// `{`, `|`, `}` and non-ASCII bytes.
fn escape_target(target: &str) -> String {
    let mut out = String::with_capacity(target.len());
    for byte in target.bytes() {
        let plain = byte.is_ascii_graphic() && !b"\"<>\\^`{|}".contains(&byte);
        if plain {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The attempts' timeouts: the route's, else the global ones.
pub(crate) fn timeouts(
    rule: Option<&MatchedRule>,
    global: &GlobalSettings,
    config: &ProxyConfig,
) -> AttemptTimeouts {
    let policy = rule.map(|rule| &*rule.policy);
    let (connect, read, send) = global.upstream_timeouts(config);
    AttemptTimeouts {
        connect: policy.and_then(|p| p.connect_timeout).unwrap_or(connect),
        read: policy.and_then(|p| p.read_timeout).unwrap_or(read),
        send: policy.and_then(|p| p.send_timeout).unwrap_or(send),
    }
}

/// The upstream protocol `backend-protocol` asks for, if the route sets it; `AUTO_HTTP`
/// follows the client's scheme.
pub(crate) fn protocol(rule: Option<&MatchedRule>, client_https: bool) -> Option<UpstreamProtocol> {
    Some(match rule?.policy.backend_protocol? {
        BackendProtocol::Http => UpstreamProtocol::Http1,
        BackendProtocol::Https => UpstreamProtocol::Https,
        BackendProtocol::Grpc => UpstreamProtocol::H2c,
        BackendProtocol::Grpcs => UpstreamProtocol::H2,
        BackendProtocol::AutoHttp if client_https => UpstreamProtocol::Https,
        BackendProtocol::AutoHttp => UpstreamProtocol::Http1,
    })
}

/// The TLS client for a TLS upstream (`proxy-ssl-*`; the default without them), `None` for
/// plain HTTP. A policy rustls cannot build a client for (a certificate that passed the core's
/// PEM check but that rustls refuses, logged once when first built) denies the request
/// (`503`, as an unusable Secret does): never an unverified connection instead.
pub(crate) fn upstream_tls(
    shared: &super::Shared,
    rule: Option<&MatchedRule>,
    protocol: UpstreamProtocol,
) -> Result<Option<super::upstream::TlsClientKey>, super::pages::Failure> {
    if !matches!(protocol, UpstreamProtocol::Https | UpstreamProtocol::H2) {
        return Ok(None);
    }
    let policy = rule.and_then(|rule| rule.policy.upstream_tls.as_deref());
    match shared.upstream.tls_client(policy) {
        Ok(client) => Ok(Some(client)),
        Err(_) => Err(super::pages::Failure::PolicyInvalid),
    }
}

/// ingress-nginx's default `proxy-next-upstream`, for routes that do not set one.
static DEFAULT_NEXT_UPSTREAM: std::sync::LazyLock<NextUpstream> =
    std::sync::LazyLock::new(NextUpstream::default);

/// One request's retry budget on other endpoints.
#[derive(Debug)]
pub(crate) struct NextAttempts<'a> {
    policy: std::borrow::Cow<'a, NextUpstream>,
    started: Instant,
    /// Attempts made on distinct endpoints so far.
    made: u32,
    idempotent: bool,
}

impl<'a> NextAttempts<'a> {
    /// The route's `proxy-next-upstream*`, else the ConfigMap's, else ingress-nginx's
    /// defaults.
    pub(crate) fn new(
        rule: Option<&'a MatchedRule>,
        global: &GlobalSettings,
        idempotent: bool,
        started: Instant,
    ) -> Self {
        let policy = match rule.and_then(|rule| rule.policy.next_upstream.as_ref()) {
            Some(route) => std::borrow::Cow::Borrowed(route),
            None => global.next_upstream().map_or(
                std::borrow::Cow::Borrowed(&*DEFAULT_NEXT_UPSTREAM),
                std::borrow::Cow::Owned,
            ),
        };
        NextAttempts {
            policy,
            started,
            made: 1,
            idempotent,
        }
    }

    fn budget_left(&self, now: Instant) -> bool {
        self.made < self.policy.max_attempts()
            && self
                .policy
                .timeout_total
                .is_none_or(|limit| now.saturating_duration_since(self.started) < limit)
    }

    /// Whether a failure that sent nothing may go on to another endpoint: `timeout` for a
    /// connect timeout, `error` for the rest, within the budget.
    pub(crate) fn after_failure(&self, connect_timeout: bool, now: Instant) -> bool {
        let condition = if connect_timeout {
            self.policy.timeout
        } else {
            self.policy.error
        };
        condition && self.budget_left(now)
    }

    /// Whether a response with `status` is discarded for another endpoint: a listed status,
    /// a request without a body (it can be sent again), idempotent unless `non_idempotent`.
    pub(crate) fn after_status(&self, status: u16, bodiless: bool, now: Instant) -> bool {
        self.policy.retries_status(status)
            && bodiless
            && (self.idempotent || self.policy.non_idempotent)
            && self.budget_left(now)
    }

    /// Whether any response status is retried (only then is a copy of the request kept).
    pub(crate) fn retries_statuses(&self) -> bool {
        !self.policy.statuses.is_empty()
    }

    /// An attempt went to another endpoint.
    pub(crate) fn moved_on(&mut self) {
        self.made = self.made.saturating_add(1);
    }
}

/// The canary's backend, when the rule has a canary and it selects this request.
pub(crate) fn canary_backend(
    snapshot: &RouteTable,
    rule: &MatchedRule,
    headers: &HeaderMap,
) -> Option<Arc<Backend>> {
    let canary = rule.canary.as_ref()?;
    let policy = &canary.policy;
    let header = policy
        .header
        .as_ref()
        .and_then(|name| headers.get(&**name))
        .and_then(|value| value.to_str().ok());
    let cookie = policy
        .cookie
        .as_ref()
        .and_then(|name| cookie_value(headers, name));
    let total = policy.weight_total.max(1);
    if !policy.selects(header, cookie, || rand::random_range(1..=total)) {
        return None;
    }
    match &canary.backend {
        BackendRef::Service(service) => snapshot.backend(service).cloned(),
        BackendRef::Resource(_) => None,
    }
}

/// The value of cookie `name` in the request's `Cookie` fields (RFC 6265 §5.4: `; `-separated
/// `name=value` pairs, possibly over several fields).
pub(crate) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_in_any_cookie_field() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; canary=always"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie_value(&headers, "canary"), Some("always"));
        assert_eq!(cookie_value(&headers, "b"), Some("2"));
        assert_eq!(cookie_value(&headers, "can"), None);
    }

    #[test]
    fn targets_are_escaped_only_where_they_must_be() {
        assert_eq!(escape_target("/a/b?c=d&e"), "/a/b?c=d&e");
        assert_eq!(escape_target("/a b/\"x\"/é"), "/a%20b/%22x%22/%C3%A9");
    }

    #[test]
    fn declared_lengths_over_the_limit_are_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("1048577"));
        assert!(body_too_large(&headers, Some(1 << 20)));
        assert!(!body_too_large(&headers, Some(2 << 20)));
        assert!(!body_too_large(&headers, None));
        assert!(!body_too_large(&HeaderMap::new(), Some(1)));
    }
}
