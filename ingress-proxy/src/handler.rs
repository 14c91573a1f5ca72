//! The per-request pipeline, one set of named phases whatever the transport on either side:
//!
//! 1. [`request_host`] and [`resolve`]: normalise host and path, route on one snapshot load;
//! 2. [`check_request`]: requests no route can serve (`CONNECT`, a missing or repeated
//!    `Host`), then the HTTP→HTTPS redirect;
//! 3. [`forward`]: pick an endpoint (passive health);
//! 4. the upstream request: hop-by-hop and underscore fields removed, `X-Forwarded-*` decided
//!    ([`headers`]), origin-form target;
//! 5. [`attempts`]: send through the upstream layer, which chooses the transport, and retry by
//!    the one policy ([`upstream::Failure::retry`]);
//! 6. [`respond`]: framing and hop-by-hop fields dropped, tunnels for upgrades, the streamed
//!    body with its read timeout and access record ([`ResponseBody`]); HSTS in [`handle`].
//!
//! A per-route policy belongs in one of these phases, once.

pub(crate) mod balance;
mod headers;
mod pages;
mod response_body;
mod upgrade;
pub(crate) mod upstream;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::uri::PathAndQuery;
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri, Version, header};
use hyper::upgrade::OnUpgrade;
use ingress_core::{Backend, Endpoints, MatchedRule, PortRef, ServiceRef, TableReader, Target};
use std::time::Instant;

use crate::access_log::{AccessLogSink, AccessRecord, LogFields};
use crate::body::{ClientBody, RequestBody};
use crate::coarse_timer::CoarseTimer;
use crate::config::{ProxyConfig, UpstreamProtocol};
use crate::error::ProxyError;
use crate::metrics::{Metrics, RouteLabels};
use crate::request_id;
use balance::{EndpointPicker, Pick};
use headers::{Forwarded, ForwardedFields};
use pages::Failure;
pub(crate) use response_body::ResponseBody;
use upstream::{Exchange, FailureKind, Outgoing, PeerKey, Retry, Upstream, UpstreamBody};

/// State shared by every connection of every listener.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Source of the current route table.
    pub(crate) table: TableReader,
    pub(crate) config: ProxyConfig,
    pub(crate) metrics: Arc<Metrics>,
    upstream: Upstream,
    picker: EndpointPicker,
    /// Pre-built `Strict-Transport-Security` value (checked once at start).
    hsts: Option<HeaderValue>,
    /// Label value for "none".
    none: Arc<str>,
    /// The access log's queue; `None` when it is off.
    access_log: Option<AccessLogSink>,
}

/// What a request knows about the connection it arrived on (shared by its requests).
#[derive(Debug)]
pub(crate) struct ClientConnection {
    pub(crate) client: SocketAddr,
    pub(crate) https: bool,
    /// The `X-Forwarded-*` values for this connection, built once.
    forwarded: Forwarded,
}

impl ClientConnection {
    pub(crate) fn new(client: SocketAddr, local_port: u16, https: bool) -> Self {
        ClientConnection {
            client,
            https,
            forwarded: Forwarded::new(client.ip(), https, local_port),
        }
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
}

impl Shared {
    pub(crate) fn new(
        table: TableReader,
        config: ProxyConfig,
        metrics: Arc<Metrics>,
        timer: CoarseTimer,
        access_log: Option<AccessLogSink>,
    ) -> Result<Self, ProxyError> {
        let hsts = config.hsts.as_deref().and_then(|value| match HeaderValue::from_str(value) {
            Ok(value) => Some(value),
            Err(error) => {
                tracing::warn!(%error, "config field hsts is not a valid header value; HSTS disabled");
                None
            }
        });
        Ok(Shared {
            upstream: Upstream::new(&config, timer).map_err(ProxyError::UpstreamTls)?,
            picker: EndpointPicker::new(config.passive_health_ejection),
            table,
            config,
            metrics,
            hsts,
            none: Arc::from("-"),
            access_log,
        })
    }

    /// Passive health of `backend`'s endpoints (see [`EndpointPicker::health`]).
    pub(crate) fn endpoint_health(
        &self,
        backend: &Arc<Backend>,
    ) -> Option<Vec<balance::EndpointHealth>> {
        self.picker.health(backend, Instant::now())
    }

    /// The upstream connection pool (swept periodically by the server).
    pub(crate) fn upstream_pool(&self) -> Arc<upstream::Pool> {
        self.upstream.pool().clone()
    }

    fn labels(&self, resolved: &Resolved) -> RouteLabels {
        let service = resolved.service();
        RouteLabels {
            namespace: resolved
                .rule
                .as_ref()
                .map(|rule| rule.ingress.namespace.clone())
                .or_else(|| service.map(|s| s.namespace.clone()))
                .unwrap_or_else(|| self.none.clone()),
            ingress: resolved
                .rule
                .as_ref()
                .map_or_else(|| self.none.clone(), |rule| rule.ingress.name.clone()),
            service: service.map_or_else(|| self.none.clone(), |s| s.name.clone()),
        }
    }

    fn protocol(&self, backend: &Backend) -> UpstreamProtocol {
        let service = backend.service();
        if !self.config.upstream_protocols.is_empty() {
            let key = format!("{}/{}", service.namespace, service.name);
            if let Some(protocol) = self.config.upstream_protocols.get(&key) {
                return *protocol;
            }
        }
        match &service.port {
            PortRef::Name(name) => UpstreamProtocol::from_port_name(name).unwrap_or_default(),
            PortRef::Number(_) => UpstreamProtocol::Http1,
        }
    }
}

/// Serves one request. Never fails: every problem becomes a small error page.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    connection: Arc<ClientConnection>,
    mut request: Request<ClientBody>,
) -> Result<Response<ResponseBody>, Infallible> {
    let start = Instant::now();
    request_id::ensure(request.headers_mut());
    let host = request_host(&request);
    let resolved = resolve(&shared.table, host.as_ref(), request.uri());
    let mut record = Box::new(AccessRecord {
        start,
        client: connection.client,
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
        ),
    });

    let checked = check_request(&request)
        .and_then(|()| check_policy(&resolved))
        .and_then(|()| {
            match redirect_target(&shared, &connection, &resolved, host.as_ref(), &request) {
                Some(location) => Err(Answer::Redirect(location)),
                None => Ok(()),
            }
        });
    let mut response = match (checked, &resolved.destination) {
        (Err(Answer::Failure(failure)), _) => failure.response(),
        (Err(Answer::Redirect(location)), _) => pages::redirect(location),
        (Ok(()), Destination::NotFound) => Failure::NoRoute.response(),
        (Ok(()), Destination::Resource) => Failure::ResourceBackend.response(),
        (Ok(()), Destination::Service(backend)) => forward(
            &shared,
            &connection,
            backend,
            host,
            request,
            start,
            &mut record,
        )
        .await
        .unwrap_or_else(Failure::response),
    };
    if connection.https
        && resolved.https_redirect
        && let Some(hsts) = &shared.hsts
    {
        response
            .headers_mut()
            .insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
    }
    record.status = response.status().as_u16();
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

/// What the proxy answers itself, before any upstream is involved.
enum Answer {
    Failure(Failure),
    Redirect(HeaderValue),
}

/// Phase 0: requests no route can serve. `CONNECT` asks for a tunnel to a named host (`405`);
/// an HTTP/1.1 request needs exactly one `Host`, an HTTP/1.0 one at most one (RFC 9112
/// §3.2: `400`). Checked here, once, for every server (inline or hyper's).
fn check_request<B>(request: &Request<B>) -> Result<(), Answer> {
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

/// Phase 1: the host to route on — the absolute-form/`:authority` authority, else `Host`.
fn request_host<B>(request: &Request<B>) -> Option<HeaderValue> {
    match request.uri().authority() {
        Some(authority) => HeaderValue::from_str(authority.as_str()).ok(),
        None => request.headers().get(header::HOST).cloned(),
    }
}

/// Phase 2: route on one lock-free snapshot load; the guard is dropped before returning.
fn resolve(table: &TableReader, host: Option<&HeaderValue>, uri: &Uri) -> Resolved {
    let host = host.and_then(|value| value.to_str().ok());
    let snapshot = table.load();
    let route = snapshot.route(host, uri.path());
    let destination = match route.target {
        Target::Service(backend) => Destination::Service(backend.clone()),
        Target::Resource(_) => Destination::Resource,
        Target::NotFound => Destination::NotFound,
    };
    Resolved {
        destination,
        rule: route.rule.cloned(),
        https_redirect: route.https_redirect,
    }
}

/// The matched rule's Ingress has an annotation with an invalid value: its paths answer `503`
/// (as ingress-nginx denies such a location), other Ingresses are not affected.
fn check_policy(resolved: &Resolved) -> Result<(), Answer> {
    match resolved
        .rule
        .as_ref()
        .and_then(|rule| rule.policy.denied.as_ref())
    {
        Some(_) => Err(Answer::Failure(Failure::PolicyInvalid)),
        None => Ok(()),
    }
}

/// HTTP→HTTPS: `Location` for a plain-HTTP request to a host with TLS (`ssl-redirect`, on by
/// default) or to a path with `force-ssl-redirect`, except ACME challenges and requests a
/// trusted balancer says arrived over HTTPS.
fn redirect_target<B>(
    shared: &Shared,
    connection: &ClientConnection,
    resolved: &Resolved,
    host: Option<&HeaderValue>,
    request: &Request<B>,
) -> Option<HeaderValue> {
    let uri = request.uri();
    let wanted = match &resolved.rule {
        Some(rule) => rule.policy.redirects_to_https(resolved.https_redirect),
        None => resolved.https_redirect,
    };
    if connection.https || !wanted || uri.path().starts_with("/.well-known/acme-challenge/") {
        return None;
    }
    // Behind a TLS-terminating balancer whose forwarded fields are trusted, the request did
    // arrive over HTTPS: redirecting it again would loop.
    if shared.config.use_forwarded_headers
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

/// Phases 3 to 5: pick an endpoint, ready the upstream request, run the attempts, and turn
/// the upstream response into the client's.
async fn forward(
    shared: &Shared,
    connection: &ClientConnection,
    backend: &Arc<Backend>,
    host: Option<HeaderValue>,
    mut request: Request<ClientBody>,
    start: Instant,
    record: &mut AccessRecord,
) -> Result<Response<ResponseBody>, Failure> {
    let endpoints = backend.endpoints();
    let protocol = shared.protocol(backend);
    let (mut pick, first) = match &*endpoints {
        Endpoints::Ready(addresses) if !addresses.is_empty() => {
            let mut pick = shared.picker.start(backend, &endpoints, addresses);
            let first = pick.next(start).ok_or(Failure::NoEndpoints)?;
            (Some(pick), PeerKey::Address(first))
        }
        Endpoints::External { host, port } => (None, PeerKey::Name(host.clone(), *port)),
        Endpoints::Ready(_) | Endpoints::Unavailable(_) => return Err(Failure::NoEndpoints),
    };

    // Phase 4: the upstream request, the same for every transport.
    let upgrade =
        request.version() == Version::HTTP_11 && headers::is_upgrade_request(request.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut request));
    let (mut parts, incoming) = request.into_parts();
    let client_forwarded = headers::prepare_request(
        &mut parts.headers,
        upgrade,
        shared.config.enable_underscores_in_headers,
    );
    let forwarded = ForwardedFields::new(
        &connection.forwarded,
        host.as_ref(),
        client_forwarded,
        shared.config.use_forwarded_headers,
    );
    if (parts.uri.authority().is_some() || !parts.headers.contains_key(header::HOST))
        && let Some(host) = &host
    {
        parts.headers.insert(header::HOST, host.clone());
    }
    let (body, cell) = RequestBody::new(incoming);
    record.request_body = cell.clone();
    let outgoing = Outgoing {
        forwarded,
        request_body: cell,
    };
    let mut upstream_request = Request::new(body);
    *upstream_request.method_mut() = parts.method;
    *upstream_request.version_mut() = match protocol {
        UpstreamProtocol::H2c | UpstreamProtocol::H2 => Version::HTTP_2,
        UpstreamProtocol::Http1 | UpstreamProtocol::Https => Version::HTTP_11,
    };
    *upstream_request.uri_mut() = origin_form(parts.uri);
    *upstream_request.headers_mut() = parts.headers;

    let Exchange { response } = attempts(
        shared,
        protocol,
        pick.as_mut(),
        first,
        upstream_request,
        &outgoing,
        record,
    )
    .await?;
    Ok(respond(shared, response, client_upgrade))
}

/// The attempt loop: sends, and after a failure asks the one retry policy
/// ([`upstream::Failure::retry`]) whether to go again, on the same endpoint (a stale pooled
/// connection) or on another (nothing was sent). Passive health hears of endpoints that
/// could not take the request, and of the one that answered.
async fn attempts(
    shared: &Shared,
    protocol: UpstreamProtocol,
    mut pick: Option<&mut Pick>,
    first: PeerKey,
    mut request: Request<RequestBody>,
    outgoing: &Outgoing,
    record: &mut AccessRecord,
) -> Result<Exchange, Failure> {
    let idempotent = request.method().is_idempotent();
    let (mut peer, mut fresh, mut retried) = (first, false, false);
    let attempts_started = Instant::now();
    record.upstream = peer.address();
    // One `send` call site, so the request's future holds one attempt's state, not two.
    loop {
        let failed = match shared
            .upstream
            .send(protocol, peer.clone(), request, outgoing, fresh)
            .await
        {
            Ok(exchange) => {
                record.upstream_responded(exchange.response.status(), attempts_started);
                if let Some(pick) = &pick {
                    pick.succeeded();
                }
                return Ok(exchange);
            }
            Err(failed) => failed,
        };
        let now = Instant::now();
        if failed.endpoint_unreachable() {
            shared.metrics.upstream_connect_failures.inc();
            if let Some(pick) = pick.as_deref() {
                pick.failed(now);
            }
        }
        let next = match failed.retry(idempotent, retried) {
            Retry::SameEndpoint => {
                fresh = true;
                Some(peer.clone())
            }
            Retry::OtherEndpoint => {
                fresh = false;
                retried = true;
                pick.as_deref_mut()
                    .and_then(|pick| pick.next(now))
                    .map(PeerKey::Address)
            }
            Retry::No => None,
        };
        match (next, failed.request) {
            (Some(next), Some(unsent)) => {
                tracing::debug!(error = %failed.error, upstream = ?record.upstream, retry = ?next, "upstream attempt failed; retrying");
                if next != peer {
                    shared.metrics.upstream_retries.inc();
                }
                peer = next;
                record.upstream = peer.address();
                request = *unsent;
            }
            _ => {
                tracing::debug!(error = %failed.error, upstream = ?record.upstream, "upstream request failed");
                record.body_error = Some(failed.error.to_string());
                return Err(match failed.error.kind() {
                    FailureKind::ClientBody => Failure::BadRequestBody,
                    _ if failed.error.status() == StatusCode::GATEWAY_TIMEOUT => {
                        Failure::UpstreamTimeout
                    }
                    _ => Failure::UpstreamFailed,
                });
            }
        }
    }
}

/// Phase 5: the upstream's response for the client — framing and hop-by-hop fields are this
/// hop's; a `101` to an upgrade request becomes a tunnel.
fn respond(
    shared: &Shared,
    mut response: Response<UpstreamBody>,
    client_upgrade: Option<OnUpgrade>,
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
    Response::from_parts(
        parts,
        ResponseBody::upstream(body, shared.config.timeouts.read),
    )
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
