//! `auth-url` in the pipeline (the rules are
//! [`ingress_core::annotations::ExternalAuthPolicy`]'s): a sub-request to the authentication
//! service, through the same upstream layer (pool, TLS, timeouts) as every request, before
//! the request goes upstream.
//!
//! The sub-request is what ingress-nginx's `auth_request` location sends: `GET` (or
//! `auth-method`), no body, the client's fields (hop-by-hop, framing and forwarded fields
//! removed) and `Host` (the service's host), `X-Original-URL`, `X-Original-Method`,
//! `X-Sent-From: nginx-ingress-controller`, `X-Real-IP` and `X-Forwarded-For` (the client as
//! the realip rules resolved it), `X-Auth-Request-Redirect`, `X-Request-ID`; with
//! `auth-method`, `X-Original-URI` and `X-Scheme` too. It has the route's connect and read
//! timeouts. `2xx` lets the request through ([`Grant`]); `401`/`403` refuse it
//! ([`Refusal`]); any other status, or no answer, is `500` — never an allow.

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::Instant;

use base64::Engine as _;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::BodyExt as _;
use ingress_core::annotations::{ExternalAuthPolicy, RequestVariables, Variable};
use ingress_core::{GlobalAuth, MatchedRule};
use std::sync::Arc;

use super::auth_answers::AuthAnswer;
use super::headers::{self, ForwardedFields, Trust};
use super::pages::Failure;
use super::upstream::{Outgoing, PeerKey};
use super::{ClientConnection, Resolved, Shared, route_policy};
use crate::body::{ClientBody, RequestBody};
use crate::config::UpstreamProtocol;
use crate::handler::response_body::ResponseBody;

/// At most this much of an answer's body is read (to give its connection back); a longer
/// body closes the connection instead.
const DRAINED: usize = 64 * 1024;

/// Statuses nginx's `add_header` (without `always`) adds a field to.
const COOKIE_STATUSES: &[u16] = &[200, 201, 204, 206, 301, 302, 303, 304, 307, 308];

/// What an allowed request takes from the service's answer.
#[derive(Debug, Default)]
pub(super) struct Grant {
    /// `auth-response-headers`: each set from the answer, or removed when it lacks it.
    upstream: Vec<(HeaderName, Option<HeaderValue>)>,
    /// The answer's `Set-Cookie` fields, for the response.
    cookies: Vec<HeaderValue>,
    always_set_cookie: bool,
}

/// Why the service refused the request.
#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    location: Option<HeaderValue>,
    challenge: Option<HeaderValue>,
    cookies: Vec<HeaderValue>,
}

/// The authentication that applies to a matched path.
pub(super) enum Applies<'a> {
    /// The Ingress's `auth-url`, else the ConfigMap's `global-auth-url`.
    Policy(&'a MatchedRule, &'a ExternalAuthPolicy),
    /// The ConfigMap's `global-auth-*` keys are invalid (and no valid set came before).
    Invalid,
}

/// The matched rule's `auth-url`, else the ConfigMap's (unless the Ingress sets
/// `enable-global-auth: "false"`); none on `no-auth-locations` paths.
pub(super) fn policy(resolved: &Resolved) -> Option<Applies<'_>> {
    let rule = resolved.rule.as_deref()?;
    if resolved.global.skips_auth(&rule.path) {
        return None;
    }
    if let Some(auth) = rule.policy.external_auth.as_deref() {
        return Some(Applies::Policy(rule, auth));
    }
    if rule.policy.global_auth_disabled {
        return None;
    }
    Some(match resolved.global.global_auth()? {
        GlobalAuth::Policy(auth) => Applies::Policy(rule, auth),
        GlobalAuth::Invalid => Applies::Invalid,
    })
}

impl Grant {
    /// Sets the `auth-response-headers` fields on the upstream request.
    pub(super) fn apply_to_request(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.upstream {
            match value {
                Some(value) => headers.insert(name, value.clone()),
                None => headers.remove(name),
            };
        }
    }

    /// Adds the service's `Set-Cookie` fields to the response (`auth-always-set-cookie`: to
    /// every response; else to the statuses nginx's `add_header` covers).
    pub(super) fn apply_to_response(&self, response: &mut Response<ResponseBody>) {
        if self.always_set_cookie || COOKIE_STATUSES.contains(&response.status().as_u16()) {
            for cookie in &self.cookies {
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, cookie.clone());
            }
        }
    }
}

impl Refusal {
    /// The client's answer: `302` to `auth-signin`, else the service's `401` (with its
    /// `WWW-Authenticate`) or `403`.
    pub(crate) fn response(self) -> Response<ResponseBody> {
        let mut response = match self.location {
            Some(location) => super::pages::redirect(StatusCode::FOUND, location),
            None => {
                let text = match self.status {
                    StatusCode::FORBIDDEN => {
                        "403 Forbidden: the authentication service (auth-url) refused this request\n"
                    }
                    _ => {
                        "401 Unauthorized: the authentication service (auth-url) refused this request\n"
                    }
                };
                let mut response = Response::new(ResponseBody::full(text));
                *response.status_mut() = self.status;
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                if let Some(challenge) = self.challenge {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, challenge);
                }
                response
            }
        };
        for cookie in self.cookies {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        response
    }
}

/// Asks the service (or the remembered answer) whether `request` may go upstream.
pub(super) async fn check(
    shared: &Shared,
    connection: &ClientConnection,
    resolved: &Resolved,
    request: &Request<ClientBody>,
    client: IpAddr,
    host: Option<&HeaderValue>,
) -> Result<Grant, AuthError> {
    let (rule, auth) = match policy(resolved) {
        None => return Ok(Grant::default()),
        Some(Applies::Invalid) => return Err(AuthError::Invalid),
        Some(Applies::Policy(rule, auth)) => (rule, auth),
    };
    let trusted = resolved
        .global
        .trusts(&shared.config, connection.client.ip());
    let view = View {
        request,
        host,
        https: connection.https,
        trusted,
        client,
        port: connection.local_port,
    };
    let url = auth.url.render(&view);
    let cache_key = auth.cache.as_ref().map(|cache| {
        let path = &rule.path;
        let rule_host = rule.host.as_deref().unwrap_or("_");
        format!("{rule_host}\0{path}\0{url}\0{}", cache.key.render(&view))
    });
    let now = Instant::now();
    let remembered = cache_key
        .as_deref()
        .and_then(|key| shared.auth_answers.get(key, now));
    let answer = match remembered {
        Some(answer) => answer,
        None => {
            let answer = Arc::new(ask(shared, connection, resolved, auth, &view, &url).await?);
            if let (Some(key), Some(cache)) = (&cache_key, &auth.cache)
                && let Some(ttl) = cache.ttl_for(answer.status.as_u16())
            {
                shared.auth_answers.put(key, answer.clone(), ttl, now);
            }
            answer
        }
    };
    let cookies: Vec<HeaderValue> = answer
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .cloned()
        .collect();
    match answer.status {
        status if status.is_success() => Ok(Grant {
            upstream: auth
                .response_headers
                .iter()
                .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
                .map(|name| {
                    let value = answer.headers.get(&name).cloned();
                    (name, value)
                })
                .collect(),
            cookies,
            always_set_cookie: auth.always_set_cookie,
        }),
        StatusCode::UNAUTHORIZED if auth.signin.is_some() => {
            let location = auth
                .signin
                .as_ref()
                .map(|signin| signin.render(&view))
                .and_then(|location| HeaderValue::try_from(location).ok())
                .ok_or(AuthError::Unavailable)?;
            Err(AuthError::Refused(Refusal {
                status: StatusCode::FOUND,
                location: Some(location),
                challenge: None,
                cookies,
            }))
        }
        status @ (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
            Err(AuthError::Refused(Refusal {
                status,
                location: None,
                challenge: answer.headers.get(header::WWW_AUTHENTICATE).cloned(),
                cookies: if auth.always_set_cookie {
                    cookies
                } else {
                    Vec::new()
                },
            }))
        }
        status => {
            tracing::warn!(%url, %status, "auth-url answered an unexpected status: 500");
            Err(AuthError::Unavailable)
        }
    }
}

/// Why a request does not go upstream.
#[derive(Debug)]
pub(super) enum AuthError {
    /// The service answered `401` or `403`.
    Refused(Refusal),
    /// No usable answer: `500`.
    Unavailable,
    /// The ConfigMap's `global-auth-*` keys are invalid: `503`, as an invalid annotation.
    Invalid,
}

impl AuthError {
    pub(super) fn into_answer(self) -> super::checks::Answer {
        match self {
            AuthError::Refused(refusal) => super::checks::Answer::AuthRefused(Box::new(refusal)),
            AuthError::Unavailable => super::checks::Answer::Failure(Failure::AuthUnavailable),
            AuthError::Invalid => super::checks::Answer::Failure(Failure::PolicyInvalid),
        }
    }
}

/// One sub-request to the service at `url`.
async fn ask(
    shared: &Shared,
    connection: &ClientConnection,
    resolved: &Resolved,
    auth: &ExternalAuthPolicy,
    view: &View<'_>,
    url: &str,
) -> Result<AuthAnswer, AuthError> {
    let unavailable = |why: &dyn std::fmt::Display| {
        tracing::warn!(%url, reason = %why, "auth-url could not be asked: 500");
        AuthError::Unavailable
    };
    let target = Uri::try_from(url).map_err(|error| unavailable(&error))?;
    let (protocol, default_port) = match target.scheme_str() {
        Some("https") => (UpstreamProtocol::Https, 443),
        Some("http") => (UpstreamProtocol::Http1, 80),
        _ => return Err(unavailable(&"not an http:// or https:// URL")),
    };
    let host = target
        .host()
        .filter(|host| !host.is_empty())
        .ok_or_else(|| unavailable(&"the URL has no host"))?;
    let port = target.port_u16().unwrap_or(default_port);
    let peer = PeerKey::Name(
        host.trim_start_matches('[').trim_end_matches(']').into(),
        port,
    );

    let request = view.request;
    let mut fields = request.headers().clone();
    let underscores = resolved
        .global
        .enable_underscores_in_headers(&shared.config);
    let client_forwarded = headers::prepare_request(&mut fields, false, underscores);
    for name in [
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::EXPECT,
    ] {
        fields.remove(name);
    }
    let trust = Trust {
        trusted: view.trusted,
        full_list: resolved.global.compute_full_forwarded_for(&shared.config),
        client: Some(view.client).filter(|client| *client != connection.client.ip()),
    };
    let forwarded =
        ForwardedFields::new(&connection.forwarded, None, client_forwarded, trust).for_auth();
    let request_uri = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            fields.insert(HeaderName::from_static(name), value);
        }
    };
    set("host", host);
    let http_host = view.value(&Variable::HttpHost).unwrap_or_default();
    set(
        "x-original-url",
        &format!("{}://{http_host}{request_uri}", view.scheme()),
    );
    set("x-original-method", request.method().as_str());
    set("x-sent-from", "nginx-ingress-controller");
    set(
        "x-auth-request-redirect",
        auth.request_redirect.as_deref().unwrap_or(request_uri),
    );
    let method = match &auth.method {
        Some(method) => {
            set("x-original-uri", request_uri);
            set("x-scheme", view.pass_access_scheme());
            Method::from_bytes(method.as_bytes()).map_err(|error| unavailable(&error))?
        }
        None => Method::GET,
    };
    let mut sub_request = Request::new(RequestBody::empty());
    *sub_request.method_mut() = method;
    *sub_request.uri_mut() = target
        .path_and_query()
        .cloned()
        .map_or_else(|| Uri::from_static("/"), Uri::from);
    *sub_request.headers_mut() = fields;
    // TLS as ingress-nginx's auth location: SNI (the URL's host name), certificate unchecked.
    let tls = match protocol {
        UpstreamProtocol::Https => Some(
            shared
                .upstream
                .tls_client(None)
                .map_err(|error| unavailable(&error))?,
        ),
        _ => None,
    };
    let outgoing = Outgoing {
        forwarded,
        request_body: None,
        timeouts: route_policy::timeouts(
            resolved.rule.as_deref(),
            &resolved.global,
            &shared.config,
        ),
        tls,
    };
    let exchange = shared
        .upstream
        .send(protocol, peer, sub_request, &outgoing, false)
        .await
        .map_err(|failure| unavailable(&failure.error))?;
    let (parts, mut body) = exchange.response.into_parts();
    // Read a short body through, so the connection goes back to the pool.
    let mut read = 0usize;
    let drain = async {
        while let Some(Ok(frame)) = body.frame().await {
            read = read.saturating_add(frame.data_ref().map_or(0, |data| data.len()));
            if read > DRAINED {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(outgoing.timeouts.read, drain).await;
    Ok(AuthAnswer {
        status: parts.status,
        headers: parts.headers,
    })
}

/// The request as the annotation's nginx variables see it.
struct View<'a> {
    request: &'a Request<ClientBody>,
    host: Option<&'a HeaderValue>,
    https: bool,
    /// The peer may set `X-Forwarded-Proto` (`$pass_access_scheme`).
    trusted: bool,
    client: IpAddr,
    port: u16,
}

impl View<'_> {
    fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }

    fn pass_access_scheme(&self) -> &str {
        let forwarded = self
            .request
            .headers()
            .get("x-forwarded-proto")
            .and_then(|proto| proto.to_str().ok())
            .filter(|_| self.trusted);
        forwarded.unwrap_or(self.scheme())
    }
}

impl RequestVariables for View<'_> {
    fn value(&self, variable: &Variable) -> Option<Cow<'_, str>> {
        let headers = self.request.headers();
        Some(match variable {
            Variable::Host => {
                let host = self.host?.to_str().ok()?;
                let name = match host.rsplit_once(':') {
                    Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
                    _ => host,
                };
                Cow::Owned(name.to_ascii_lowercase())
            }
            Variable::HttpHost => text(self.host?)?,
            Variable::Scheme => Cow::Borrowed(self.scheme()),
            Variable::PassAccessScheme => Cow::Borrowed(self.pass_access_scheme()),
            Variable::RequestUri | Variable::EscapedRequestUri => {
                Cow::Borrowed(self.request.uri().path_and_query()?.as_str())
            }
            Variable::Uri => Cow::Borrowed(self.request.uri().path()),
            Variable::Args => Cow::Borrowed(self.request.uri().query()?),
            Variable::RequestMethod => Cow::Borrowed(self.request.method().as_str()),
            Variable::RemoteAddr => Cow::Owned(self.client.to_string()),
            Variable::RemoteUser => Cow::Owned(basic_user(headers)?),
            Variable::ServerPort => Cow::Owned(self.port.to_string()),
            Variable::RequestId => text(headers.get("x-request-id")?)?,
            Variable::Header(name) => text(headers.get(&**name)?)?,
            Variable::Cookie(name) => headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|value| value.split(';'))
                .filter_map(|pair| pair.trim().split_once('='))
                .find(|(key, _)| key == &&**name)
                .map(|(_, value)| Cow::Borrowed(value))?,
            Variable::Arg(name) => self
                .request
                .uri()
                .query()?
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| Cow::Borrowed(value))?,
            _ => return None,
        })
    }
}

fn text(value: &HeaderValue) -> Option<Cow<'_, str>> {
    value.to_str().ok().map(Cow::Borrowed)
}

/// The user name of a Basic `Authorization` field (`$remote_user`).
fn basic_user(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    Some(decoded.split_once(':')?.0.to_owned())
}
