//! The checks and answers the proxy makes itself before any upstream is involved: request
//! shape (phase 0), the route's invalid policy, and its redirects (`from-to-www-redirect`,
//! `app-root`, `permanent-redirect`/`temporal-redirect`, HTTP→HTTPS).

use std::net::IpAddr;

use http::uri::PathAndQuery;
use http::{HeaderValue, Method, Request, StatusCode, Version, header};

use super::limits::{ConnectionSlot, Exceeded};
use super::pages::Failure;
use super::{ClientConnection, Resolved, Shared, route_policy};

/// What the proxy answers itself, before any upstream is involved.
pub(super) enum Answer {
    Failure(Failure),
    Redirect(StatusCode, HeaderValue),
    /// An allowed CORS preflight (`enable-cors`): `204`, the fields added by the caller.
    Preflight,
    /// `auth-type: basic` without valid credentials: `401` with this `WWW-Authenticate`.
    Unauthorized(HeaderValue),
    /// The `auth-url` service refused the request (`401`, `403`, or `302` to `auth-signin`).
    AuthRefused(Box<super::external_auth::Refusal>),
    /// No valid client certificate and an `auth-tls-error-page`: `302` there.
    ClientCertificateRedirect(HeaderValue),
}

impl Answer {
    /// The access decision this answer reports, for `ingress_requests_denied_total{reason}`:
    /// `None` for answers that are not a refusal of access (redirects, preflights, malformed
    /// requests).
    pub(super) fn denial(&self) -> Option<&'static str> {
        match self {
            Answer::Failure(Failure::Forbidden) => Some("source_range"),
            Answer::Failure(Failure::Limited(_)) => Some("limit"),
            Answer::Failure(Failure::PolicyInvalid) => Some("invalid_annotation"),
            Answer::Failure(Failure::BodyTooLarge) => Some("body_size"),
            Answer::Unauthorized(_) => Some("basic_auth"),
            Answer::AuthRefused(_) => Some("external_auth"),
            Answer::Failure(Failure::AuthUnavailable) => Some("auth_unavailable"),
            Answer::Failure(
                Failure::ClientCertificateMissing
                | Failure::ClientCertificateInvalid
                | Failure::ClientCertificateForbidden
                | Failure::Misdirected,
            )
            | Answer::ClientCertificateRedirect(_) => Some("client_certificate"),
            Answer::Failure(_) | Answer::Redirect(..) | Answer::Preflight => None,
        }
    }
}

/// Phase 0: requests no route can serve. `CONNECT` asks for a tunnel to a named host (`405`);
/// an HTTP/1.1 request needs exactly one `Host`, an HTTP/1.0 one at most one (RFC 9112
/// §3.2: `400`). Checked here, once, for every server (inline or hyper's).
pub(super) fn check_request<B>(request: &Request<B>) -> Result<(), Answer> {
    if request.method() == Method::CONNECT {
        return Err(Answer::Failure(Failure::Connect));
    }
    let http1 = request.version() == Version::HTTP_11 || request.version() == Version::HTTP_10;
    if http1 {
        let mut hosts = request.headers().get_all(header::HOST).iter();
        let (first, second) = (hosts.next(), hosts.next());
        let required = request.version() == Version::HTTP_11;
        if second.is_some() || (required && first.is_none()) {
            return Err(Answer::Failure(Failure::BadHost));
        }
    }
    Ok(())
}

/// The matched rule's Ingress has an annotation with an invalid value: its paths answer `503`
/// (as ingress-nginx denies such a location), other Ingresses are not affected.
pub(super) fn check_policy(resolved: &Resolved) -> Result<(), Answer> {
    match resolved
        .rule
        .as_ref()
        .and_then(|rule| rule.policy.denied.as_ref())
    {
        Some(_) => Err(Answer::Failure(Failure::PolicyInvalid)),
        None => Ok(()),
    }
}

/// `from-to-www-redirect`: the request's host is the `www.` twin of a rule's host (or the
/// reverse): `308` to the same scheme, port and target on the rule's host.
pub(super) fn host_redirect<B>(
    connection: &ClientConnection,
    resolved: &Resolved,
    host: Option<&HeaderValue>,
    request: &Request<B>,
) -> Result<(), Answer> {
    let Some(to) = &resolved.host_redirect else {
        return Ok(());
    };
    let scheme = if connection.https { "https" } else { "http" };
    let port = host
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit_once(':'))
        .filter(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(String::new(), |(_, port)| format!(":{port}"));
    let target = request
        .uri()
        .path_and_query()
        .map_or("/", PathAndQuery::as_str);
    match HeaderValue::from_str(&format!("{scheme}://{to}{port}{target}")) {
        Ok(location) => Err(Answer::Redirect(StatusCode::PERMANENT_REDIRECT, location)),
        Err(_) => Ok(()),
    }
}

/// The route's own redirects (`app-root`, then `temporal-redirect`/`permanent-redirect`), as
/// ingress-nginx's server and location `return`s come before its HTTPS redirect.
pub(super) fn policy_redirect<B>(
    connection: &ClientConnection,
    resolved: &Resolved,
    host: Option<&HeaderValue>,
    request: &Request<B>,
) -> Result<(), Answer> {
    let Some(rule) = &resolved.rule else {
        return Ok(());
    };
    let scheme = if connection.https { "https" } else { "http" };
    match route_policy::redirect(&rule.policy, request.uri().path(), scheme, host) {
        Some((status, location)) => Err(Answer::Redirect(status, location)),
        None => Ok(()),
    }
}

/// HTTP→HTTPS: `Location` for a plain-HTTP request to a host with TLS (`ssl-redirect`, on by
/// default) or to a path with `force-ssl-redirect`, except ACME challenges and requests a
/// trusted balancer says arrived over HTTPS.
pub(super) fn redirect_target<B>(
    shared: &Shared,
    connection: &ClientConnection,
    resolved: &Resolved,
    host: Option<&HeaderValue>,
    request: &Request<B>,
) -> Option<HeaderValue> {
    let uri = request.uri();
    let wanted = resolved
        .global
        .redirects_to_https(resolved.rule.as_deref(), resolved.https_redirect);
    if connection.https || !wanted || uri.path().starts_with("/.well-known/acme-challenge/") {
        return None;
    }
    // Behind a TLS-terminating balancer whose forwarded fields are trusted, the request did
    // arrive over HTTPS: redirecting it again would loop.
    if resolved
        .global
        .trusts(&shared.config, connection.client.ip())
        && request
            .headers()
            .get("x-forwarded-proto")
            .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"))
    {
        return None;
    }
    let host = host?.to_str().ok()?;
    let name = strip_port(host);
    let path = uri.path_and_query().map_or("/", PathAndQuery::as_str);
    let location = match shared.config.https_redirect_port {
        Some(port) if port != 443 => format!("https://{name}:{port}{path}"),
        _ => format!("https://{name}{path}"),
    };
    HeaderValue::from_str(&location).ok()
}

fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(']') || host.starts_with('[') => {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                name
            } else {
                host
            }
        }
        _ => host,
    }
}

/// `denylist-source-range`, then `allowlist-source-range` (each the route's annotation, else
/// the ConfigMap's key): a client in the deny list, or outside a non-empty allow list, gets
/// `403` (nginx's `deny` rules before `allow … ; deny all`). `client` is the address the
/// realip rules resolved.
pub(super) fn check_source(resolved: &Resolved, client: IpAddr) -> Result<(), Answer> {
    let policy = resolved.rule.as_ref().map(|rule| &rule.policy);
    let global = resolved.global.source_ranges();
    let deny = policy
        .and_then(|p| p.deny_source_range.as_ref())
        .or(global.map(|(_, deny)| deny));
    let allow = policy
        .and_then(|p| p.allow_source_range.as_ref())
        .or(global.map(|(allow, _)| allow));
    let denied = deny.is_some_and(|list| list.contains(client))
        || allow.is_some_and(|list| !list.is_empty() && !list.contains(client));
    match denied {
        true => Err(Answer::Failure(Failure::Forbidden)),
        false => Ok(()),
    }
}

/// `limit-connections`, `limit-rps`, `limit-rpm` (nginx's preaccess phase: after the
/// redirects, before the source ranges): over a limit, the ConfigMap's status code. On
/// success, the `limit-connections` slot to hold until the response is finished.
pub(super) fn check_limits(
    shared: &Shared,
    resolved: &Resolved,
    client: IpAddr,
) -> Result<Option<ConnectionSlot>, Answer> {
    let Some(policy) = resolved
        .rule
        .as_ref()
        .and_then(|rule| rule.policy.limits.as_ref())
    else {
        return Ok(None);
    };
    shared.limiter.check(policy, client).map_err(|exceeded| {
        let code = match exceeded {
            Exceeded::Rate => resolved.global.limit_req_status(),
            Exceeded::Connections => resolved.global.limit_conn_status(),
        };
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        Answer::Failure(Failure::Limited(status))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_stripped_from_host_names_only() {
        assert_eq!(strip_port("a.example:8080"), "a.example");
        assert_eq!(strip_port("a.example"), "a.example");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
    }
}
