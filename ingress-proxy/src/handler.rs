//! The per-request pipeline, one set of named phases whatever the transport on either side.
//! Each route annotation ([`route_policy`]) is applied in exactly one of them:
//!
//! 1. [`request_host`] and [`resolve`]: normalise host and path, route on one snapshot load;
//!    on the same snapshot, a canary's backend (`canary-*`), the `default-backend` for a
//!    Service without endpoints and the `custom-http-errors` backend ([`error_pages`]), the
//!    `from-to-www-redirect` twin host, and the global configuration ([`global`]);
//! 2. checks: [`check_request`] (`CONNECT`, a missing or repeated `Host`), [`host_redirect`],
//!    [`check_policy`] (an invalid annotation: `503`), `proxy-body-size` against a declared
//!    length, [`policy_redirect`] (`app-root`, `permanent-`/`temporal-redirect`), then the
//!    HTTP→HTTPS redirect ([`redirect_target`]), then the client certificate (`auth-tls-*`,
//!    [`client_certificate`]: `400`, `403`, `421` or the error page), then a CORS
//!    preflight (`enable-cors`, [`cors`]: `204`, its fields added to every allowed answer),
//!    then [`check_limits`] (`limit-connections`, `limit-rps`, `limit-rpm`, per client:
//!    [`limits`]), [`check_source`] (`*-source-range`: `403`), `auth-type: basic`
//!    ([`basic_auth`]: `401`) and `auth-url` ([`external_auth`]: a sub-request decides;
//!    `auth-response-headers` set on the request, the service's cookies on the response);
//! 3. [`forward`]: the endpoint strategy ([`endpoint_choice`]: affinity, `upstream-hash-by`,
//!    `load-balance`; `service-upstream`), passive health, the upstream protocol
//!    (`backend-protocol`, `appProtocol`) and timeouts;
//! 4. the upstream request: hop-by-hop and underscore fields removed, `X-Forwarded-*` decided
//!    ([`headers`]), origin-form target, `rewrite-target`, `x-forwarded-prefix`,
//!    `upstream-vhost`, the streamed body cut at `proxy-body-size`;
//! 5. [`attempts()`]: send through the upstream layer, which chooses the transport, and retry by
//!    the one policy ([`upstream::Failure::retry`]) within the route's `proxy-next-upstream`
//!    budget;
//! 6. [`respond`]: framing and hop-by-hop fields dropped, tunnels for upgrades, the streamed
//!    body with its read timeout and access record ([`ResponseBody`]); the affinity cookie,
//!    the error page and HSTS in [`handle`].
//!
//! A per-route policy belongs in one of these phases, once.

mod attempts;
mod auth_answers;
pub(crate) mod balance;
mod basic_auth;
mod checks;
mod client_certificate;
mod cors;
mod endpoint_choice;
mod error_pages;
mod external_auth;
mod global;
mod headers;
mod hsts;
mod labels;
mod limits;
mod pages;
mod response_body;
mod route_policy;
mod shared;
mod upgrade;
pub(crate) mod upstream;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use http::uri::PathAndQuery;
use http::{HeaderValue, Request, Response, StatusCode, Uri, Version, header};
use hyper::upgrade::OnUpgrade;
use ingress_core::{Backend, Endpoints, MatchedRule, ServiceRef, TableReader, Target};
use std::time::Instant;

use crate::access_log;
use crate::access_log::{AccessRecord, LogFields};
use crate::body::{BodyIdle, ClientBody, RequestBody};
use crate::config::UpstreamProtocol;
use crate::request_id;
use attempts::attempts;
use checks::{
    Answer, check_limits, check_policy, check_request, check_source, host_redirect,
    policy_redirect, redirect_target,
};
use cors::CorsAnswer;
use endpoint_choice::EndpointChoice;
use error_pages::{ErrorBackend, ErrorPageRequest};
pub(crate) use global::ClientSettings;
use headers::{Forwarded, ForwardedFields};
use pages::Failure;
pub(crate) use response_body::ResponseBody;
pub(crate) use shared::Shared;
use upstream::{Exchange, Outgoing, PeerKey, UpstreamBody};

/// What a request knows about the connection it arrived on (shared by its requests).
#[derive(Debug)]
pub(crate) struct ClientConnection {
    pub(crate) client: SocketAddr,
    pub(crate) https: bool,
    /// The listener's port (`$server_port`).
    local_port: u16,
    /// The `X-Forwarded-*` values for this connection, built once.
    forwarded: Forwarded,
    /// Timeouts and the request limit, from the snapshot current at accept.
    pub(crate) settings: ClientSettings,
    /// Responses begun on this connection.
    served: AtomicU32,
    /// What the TLS handshake established (server name, client certificate); set once, after
    /// the handshake, on HTTPS connections.
    client_tls: OnceLock<crate::tls::ClientTls>,
}

impl ClientConnection {
    pub(crate) fn new(
        client: SocketAddr,
        local_port: u16,
        https: bool,
        settings: ClientSettings,
    ) -> Self {
        ClientConnection {
            client,
            https,
            local_port,
            forwarded: Forwarded::new(client.ip(), https, local_port),
            settings,
            served: AtomicU32::new(0),
            client_tls: OnceLock::new(),
        }
    }

    /// Records what the TLS handshake established (once; later calls are ignored).
    pub(crate) fn set_client_tls(&self, client_tls: crate::tls::ClientTls) {
        let _ = self.client_tls.set(client_tls);
    }

    /// Responses begun on this connection so far.
    pub(crate) fn served(&self) -> u32 {
        self.served.load(Ordering::Relaxed)
    }

    /// Whether the connection ends after the response in flight (`keep-alive: 0`, or the
    /// `keep-alive-requests`-th response).
    pub(crate) fn closing(&self) -> bool {
        self.settings.closes_after(self.served())
    }
}

/// The route, resolved to owned values so no snapshot guard lives across an `.await`.
#[derive(Debug)]
enum Destination {
    Service(Arc<Backend>),
    Resource,
    NotFound,
}

#[derive(Debug)]
struct Resolved {
    destination: Destination,
    rule: Option<Arc<MatchedRule>>,
    https_redirect: bool,
    /// The route's `custom-http-errors` backend, chosen on the same snapshot.
    error_backend: Option<ErrorBackend>,
    /// `from-to-www-redirect`: the host this request's host redirects to.
    host_redirect: Option<Arc<str>>,
    /// `auth-tls-*`: the client-certificate settings of the request's host.
    client_tls: Option<Arc<ingress_core::annotations::ClientTlsPolicy>>,
    global: global::GlobalSettings,
}

/// Serves one request. Never fails: every problem becomes a small error page.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    connection: Arc<ClientConnection>,
    mut request: Request<ClientBody>,
) -> Result<Response<ResponseBody>, Infallible> {
    let start = Instant::now();
    let served = connection
        .served
        .fetch_add(1, Ordering::Relaxed)
        .saturating_add(1);
    let http1 = matches!(request.version(), Version::HTTP_10 | Version::HTTP_11);
    request_id::ensure(request.headers_mut());
    let host = request_host(&request);
    let mut resolved = resolve(&shared.table, host.as_ref(), &request);
    // The client: the peer, or the address a trusted peer names (realip rules).
    let client = SocketAddr::new(
        resolved
            .global
            .client_address(&shared.config, connection.client.ip(), request.headers()),
        connection.client.port(),
    );
    let mut record = Box::new(AccessRecord {
        start,
        client,
        labels: shared.labels(&resolved),
        upstream: None,
        status: 0,
        request_body: None,
        bytes_out: 0,
        body_error: None,
        metrics: shared.metrics.clone(),
        log: LogFields::capture(
            shared.access_log.as_ref(),
            &request,
            host.as_ref(),
            resolved.rule.is_none(),
            resolved.service(),
            resolved.global.log_format().map(|format| {
                let ingress = resolved.rule.as_ref().map(|rule| rule.ingress.name.clone());
                (format, ingress)
            }),
        ),
        nginx: shared.nginx_labels(&resolved, request.method()),
        head_length: access_log::head_length(&request),
        upstream_started: None,
        hold: None,
        denied: None,
    });

    let body_limit =
        route_policy::body_limit(resolved.rule.as_deref(), &resolved.global, &shared.config);
    let cors = CorsAnswer::decide(&resolved, &request);
    // `limit-connections`: held until the response is finished (in the access record).
    let mut connection_slot = None;
    let checked = check_request(&request)
        .and_then(|()| host_redirect(&connection, &resolved, host.as_ref(), &request))
        .and_then(|()| check_policy(&resolved))
        .and_then(
            |()| match route_policy::body_too_large(request.headers(), body_limit) {
                true => Err(Answer::Failure(Failure::BodyTooLarge)),
                false => Ok(()),
            },
        )
        .and_then(|()| policy_redirect(&connection, &resolved, host.as_ref(), &request))
        .and_then(|()| {
            match redirect_target(&shared, &connection, &resolved, host.as_ref(), &request) {
                Some(location) => Err(Answer::Redirect(StatusCode::PERMANENT_REDIRECT, location)),
                None => Ok(()),
            }
        })
        // After the HTTPS redirect, so plain HTTP to a client-certificate host is redirected
        // rather than refused.
        .and_then(|()| {
            client_certificate::check(
                &connection,
                resolved.client_tls.as_deref(),
                request.headers_mut(),
            )
        })
        .and_then(
            |()| match cors.as_ref().is_some_and(CorsAnswer::is_preflight) {
                true => Err(Answer::Preflight),
                false => Ok(()),
            },
        )
        // nginx's preaccess (limits) and access (source ranges) phases come after its rewrite
        // phase's redirects and returns.
        .and_then(|()| {
            connection_slot = check_limits(&shared, &resolved, client.ip())?;
            Ok(())
        })
        .and_then(|()| check_source(&resolved, client.ip()));
    // nginx's access phase ends with authentication, after the source ranges.
    let checked = match (checked, basic_auth::policy(&resolved)) {
        (Ok(()), Some(policy)) => basic_auth::check(&shared.auth_cache, policy, request.headers())
            .await
            .map_err(|basic_auth::Refusal::Unauthorized(challenge)| {
                Answer::Unauthorized(challenge)
            }),
        (checked, _) => checked,
    };
    // Then `auth-url`: a sub-request decides (after the local checks, which cost nothing).
    let (checked, grant) = match checked {
        Ok(()) if external_auth::policy(&resolved).is_some() => {
            match external_auth::check(
                &shared,
                &connection,
                &resolved,
                &request,
                client.ip(),
                host.as_ref(),
            )
            .await
            {
                Ok(grant) => (Ok(()), Some(grant)),
                Err(refused) => (Err(refused.into_answer()), None),
            }
        }
        checked => (checked, None),
    };
    if let Some(grant) = &grant {
        grant.apply_to_request(request.headers_mut());
    }
    if let Err(answer) = &checked
        && let Some(reason) = answer.denial()
    {
        shared.metrics.count_denial(reason);
        record.denied = Some(reason);
    }
    let mut response = match (checked, &resolved.destination) {
        (Err(Answer::Failure(failure)), _) => failure.response(),
        (Err(Answer::Redirect(status, location)), _) => pages::redirect(status, location),
        (Err(Answer::Preflight), _) => pages::no_content(),
        (Err(Answer::Unauthorized(challenge)), _) => pages::unauthorized(challenge),
        (Err(Answer::AuthRefused(refusal)), _) => refusal.response(),
        (Err(Answer::ClientCertificateRedirect(location)), _) => {
            pages::redirect(StatusCode::FOUND, location)
        }
        (Ok(()), Destination::NotFound) => Failure::NoRoute.response(),
        (Ok(()), Destination::Resource) => Failure::ResourceBackend.response(),
        (Ok(()), Destination::Service(backend)) => {
            let error_page = resolved
                .error_backend
                .take()
                .map(|error| ErrorPageRequest::capture(error, &request, backend));
            let response = forward(
                &shared,
                &connection,
                backend,
                (resolved.rule.as_deref(), &resolved.global),
                host.clone(),
                (request, body_limit),
                start,
                &mut record,
            )
            .await
            .unwrap_or_else(Failure::response);
            match error_page {
                Some(page) if page.replaces(response.status().as_u16()) => {
                    let (backend, request) =
                        page.request(response.status().as_u16(), host.as_ref());
                    drop(response);
                    forward(
                        &shared,
                        &connection,
                        &backend,
                        (None, &resolved.global),
                        host,
                        (request, None),
                        start,
                        &mut record,
                    )
                    .await
                    .unwrap_or_else(Failure::response)
                }
                _ => response,
            }
        }
    };
    hsts::add(
        &mut response,
        connection.https && resolved.https_redirect,
        &resolved.global,
        shared.hsts.as_ref(),
    );
    if let Some(grant) = &grant {
        grant.apply_to_response(&mut response);
    }
    if let Some(cors) = &cors {
        cors.apply(response.headers_mut());
    }
    // `keep-alive: 0` or the `keep-alive-requests`-th response: this one closes the connection
    // (hyper's server honours the field; the inline server asks `ClientConnection::closing`).
    if http1 && connection.settings.closes_after(served) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    record.status = response.status().as_u16();
    record.hold =
        connection_slot.map(|slot| Box::new(slot) as Box<dyn std::fmt::Debug + Send + Sync>);
    response.body_mut().set_record(record);
    Ok(response)
}

impl Resolved {
    fn service(&self) -> Option<&ServiceRef> {
        match &self.destination {
            Destination::Service(backend) => Some(backend.service()),
            Destination::Resource | Destination::NotFound => None,
        }
    }
}

/// Phase 1: the host to route on — the absolute-form/`:authority` authority, else `Host`.
fn request_host<B>(request: &Request<B>) -> Option<HeaderValue> {
    match request.uri().authority() {
        Some(authority) => HeaderValue::from_str(authority.as_str()).ok(),
        None => request.headers().get(header::HOST).cloned(),
    }
}

/// Phase 2: route on one lock-free snapshot load (a canary's backend chosen on the same
/// snapshot); the guard is dropped before returning.
fn resolve<B>(table: &TableReader, host: Option<&HeaderValue>, request: &Request<B>) -> Resolved {
    let host = host.and_then(|value| value.to_str().ok());
    let snapshot = table.load();
    let route = snapshot.route(host, request.uri().path());
    let canary = route
        .rule
        .and_then(|rule| route_policy::canary_backend(&snapshot, rule, request.headers()));
    let mut destination = match (canary, route.target) {
        (Some(canary), _) => Destination::Service(canary),
        (None, Target::Service(backend)) => Destination::Service(backend.clone()),
        (None, Target::Resource(_)) => Destination::Resource,
        (None, Target::NotFound) => Destination::NotFound,
    };
    if let (Destination::Service(backend), Some(rule)) = (&destination, route.rule)
        && rule.policy.default_backend_service.is_some()
        && !matches!(&*backend.endpoints(), Endpoints::Ready(ready) if !ready.is_empty())
        && let Some(fallback) = ErrorBackend::fallback(&snapshot, rule)
    {
        destination = Destination::Service(fallback);
    }
    let error_backend = route
        .rule
        .and_then(|rule| ErrorBackend::of(&snapshot, rule));
    let host_redirect = host.and_then(|h| snapshot.host_redirect(h)).cloned();
    // The host's (nginx's `server`), else, for a request without a host, the matched rule's.
    let client_tls = host
        .and_then(|h| snapshot.client_tls(h))
        .or_else(|| route.rule.and_then(|rule| rule.policy.client_tls.as_ref()))
        .cloned();
    Resolved {
        destination,
        rule: route.rule.cloned(),
        https_redirect: route.https_redirect,
        error_backend,
        host_redirect,
        client_tls,
        global: global::GlobalSettings::of(&snapshot),
    }
}

/// Phases 3 to 5: pick an endpoint, ready the upstream request, run the attempts, and turn
/// the upstream response into the client's.
#[allow(
    clippy::too_many_arguments,
    reason = "the phases' inputs, each used once; a struct would only rename them"
)]
async fn forward(
    shared: &Shared,
    connection: &ClientConnection,
    backend: &Arc<Backend>,
    (rule, global): (Option<&MatchedRule>, &global::GlobalSettings),
    host: Option<HeaderValue>,
    (mut request, body_limit): (Request<ClientBody>, Option<u64>),
    start: Instant,
    record: &mut AccessRecord,
) -> Result<Response<ResponseBody>, Failure> {
    let endpoints = backend.endpoints();
    let protocol =
        route_policy::protocol(rule, connection.https).unwrap_or_else(|| shared.protocol(backend));
    let timeouts = route_policy::timeouts(rule, global, &shared.config);
    let tls = route_policy::upstream_tls(shared, rule, protocol)?;
    let choice = EndpointChoice::of(rule, &request, record.client, connection.https);
    let service_upstream = rule
        .filter(|rule| rule.policy.service_upstream)
        .and_then(|_| backend.cluster_address());
    let (mut pick, first) = match (&*endpoints, service_upstream) {
        // `service-upstream`: one address, kube-proxy balances behind it.
        (_, Some(address)) => (None, PeerKey::Address(address)),
        (Endpoints::Ready(addresses), None) if !addresses.is_empty() => {
            let mut pick = shared.picker.start(
                backend,
                &endpoints,
                addresses,
                choice.strategy,
                choice.hash_key.clone(),
            );
            let first = pick
                .next(start, choice.preferred(addresses))
                .ok_or(Failure::NoEndpoints)?;
            (Some(pick), PeerKey::Address(first))
        }
        (Endpoints::External { host, port }, None) => (None, PeerKey::Name(host.clone(), *port)),
        (Endpoints::Ready(_) | Endpoints::Unavailable(_), None) => {
            return Err(Failure::NoEndpoints);
        }
    };

    // Phase 4: the upstream request, the same for every transport.
    let upgrade =
        request.version() == Version::HTTP_11 && headers::is_upgrade_request(request.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut request));
    let (mut parts, incoming) = request.into_parts();
    let client_forwarded = headers::prepare_request(
        &mut parts.headers,
        upgrade,
        global.enable_underscores_in_headers(&shared.config),
    );
    let peer = connection.client.ip();
    let trust = headers::Trust {
        trusted: global.trusts(&shared.config, peer),
        full_list: global.compute_full_forwarded_for(&shared.config),
        client: Some(record.client.ip()).filter(|client| *client != peer),
    };
    let forwarded = ForwardedFields::new(
        &connection.forwarded,
        host.as_ref(),
        client_forwarded,
        trust,
    );
    if (parts.uri.authority().is_some() || !parts.headers.contains_key(header::HOST))
        && let Some(host) = &host
    {
        parts.headers.insert(header::HOST, host.clone());
    }
    if let Some(rule) = rule {
        route_policy::rewrite(rule, &mut parts.uri, &mut parts.headers);
    }
    let body_idle = connection
        .settings
        .body_timeout
        .map(|timeout| BodyIdle::new(timeout, shared.timer.clone()));
    let (body, cell) = RequestBody::new(incoming, body_limit, body_idle);
    record.request_body = cell.clone();
    let outgoing = Outgoing {
        forwarded,
        request_body: cell,
        timeouts,
        tls,
    };
    let mut upstream_request = Request::new(body);
    *upstream_request.method_mut() = parts.method;
    *upstream_request.version_mut() = match protocol {
        UpstreamProtocol::H2c | UpstreamProtocol::H2 => Version::HTTP_2,
        UpstreamProtocol::Http1 | UpstreamProtocol::Https => Version::HTTP_11,
    };
    *upstream_request.uri_mut() = origin_form(parts.uri);
    *upstream_request.headers_mut() = parts.headers;

    let first_address = first.address();
    let idempotent = upstream_request.method().is_idempotent();
    let next_attempts = route_policy::NextAttempts::new(rule, global, idempotent, start);
    let Exchange { response } = attempts(
        shared,
        protocol,
        pick.as_mut(),
        first,
        upstream_request,
        &outgoing,
        next_attempts,
        record,
    )
    .await?;
    let mut response = respond(shared, response, client_upgrade, timeouts.read);
    let moved = record.upstream != first_address;
    if let Some(cookie) = choice.set_cookie(record.upstream, moved, connection.https) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Phase 5: the upstream's response for the client — framing and hop-by-hop fields are this
/// hop's; a `101` to an upgrade request becomes a tunnel.
fn respond(
    shared: &Shared,
    mut response: Response<UpstreamBody>,
    client_upgrade: Option<OnUpgrade>,
    read_timeout: std::time::Duration,
) -> Response<ResponseBody> {
    let switching = response.status() == StatusCode::SWITCHING_PROTOCOLS;
    if let (true, Some(client_upgrade)) = (switching, client_upgrade) {
        // The connection becomes a tunnel: it never goes back to the pool (dropping the body
        // drops its loan).
        let upstream_upgrade = hyper::upgrade::on(&mut response);
        upgrade::spawn_tunnel(
            client_upgrade,
            upstream_upgrade,
            shared.config.timeouts.effective_tunnel_idle(),
        );
        let (mut parts, _) = response.into_parts();
        headers::prepare_response(&mut parts.headers, true);
        return Response::from_parts(parts, ResponseBody::empty());
    }
    let (mut parts, body) = response.into_parts();
    headers::prepare_response(&mut parts.headers, false);
    Response::from_parts(parts, ResponseBody::upstream(body, read_timeout))
}

impl PeerKey {
    fn address(&self) -> Option<SocketAddr> {
        match self {
            PeerKey::Address(address) => Some(*address),
            PeerKey::Name(..) => None,
        }
    }
}

/// The request target as an upstream HTTP/1.1 request line needs it: path and query only
/// (an absolute-form or HTTP/2 request names its host in `Host`, set by the caller).
fn origin_form(uri: Uri) -> Uri {
    if uri.scheme().is_none() && uri.authority().is_none() {
        return uri;
    }
    let path = uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    Uri::from(path)
}
