//! The per-request flow, as named phases:
//! [`resolve`] (normalise host and path, route on one snapshot load) →
//! redirect check → [`pick`] (endpoint, passive health) → [`forward`] (upstream request,
//! retry on connect failure) → response (hop-by-hop headers, HSTS, streamed body, access log).

mod balance;
mod headers;
mod pages;
mod upgrade;
pub(crate) mod upstream;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::uri::PathAndQuery;
use http::{HeaderValue, Request, Response, StatusCode, Uri, Version, header};
use ingress_core::{Backend, Endpoints, MatchedRule, PortRef, TableReader, Target};
use std::time::Instant;

use crate::access_log::AccessRecord;
use crate::body::{ClientBody, RequestBody, ResponseBody};
use crate::coarse_timer::CoarseTimer;
use crate::config::{ProxyConfig, UpstreamProtocol};
use crate::error::ProxyError;
use crate::metrics::{Metrics, RouteLabels};
use balance::EndpointPicker;
use headers::{Forwarded, ForwardedFields};
use pages::Failure;
use upstream::{Exchange, PeerKey, Upstream};
pub(crate) use upstream::{Loan, WireBody, WireBodyError};

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
        })
    }

    /// The upstream connection pool (swept periodically by the server).
    pub(crate) fn upstream_pool(&self) -> Arc<upstream::Pool> {
        self.upstream.pool().clone()
    }

    fn labels(&self, resolved: &Resolved) -> RouteLabels {
        let service = match &resolved.destination {
            Destination::Service(backend) => Some(backend.service()),
            Destination::Resource | Destination::NotFound => None,
        };
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
    request: Request<ClientBody>,
) -> Result<Response<ResponseBody>, Infallible> {
    let start = Instant::now();
    let host = request_host(&request);
    let resolved = resolve(&shared.table, host.as_ref(), request.uri());
    let mut record = Box::new(AccessRecord {
        start,
        client: connection.client,
        method: request.method().clone(),
        host: host.clone(),
        uri: request.uri().clone(),
        labels: shared.labels(&resolved),
        rule: resolved
            .rule
            .as_ref()
            .map(|rule| (rule.rule_index, rule.path_index)),
        upstream: None,
        status: 0,
        request_body: None,
        bytes_out: 0,
        body_error: None,
        metrics: shared.metrics.clone(),
    });

    let mut response = match redirect_target(
        &shared,
        &connection,
        &resolved,
        host.as_ref(),
        request.uri(),
    ) {
        Some(location) => pages::redirect(location),
        None => match &resolved.destination {
            Destination::NotFound => Failure::NoRoute.response(),
            Destination::Resource => Failure::ResourceBackend.response(),
            Destination::Service(backend) => forward(
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
        },
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

/// HTTP→HTTPS: `Location` for a plain-HTTP request to a host with TLS, except ACME challenges.
fn redirect_target(
    shared: &Shared,
    connection: &ClientConnection,
    resolved: &Resolved,
    host: Option<&HeaderValue>,
    uri: &Uri,
) -> Option<HeaderValue> {
    if connection.https
        || !resolved.https_redirect
        || uri.path().starts_with("/.well-known/acme-challenge/")
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

/// Phases 3 and 4: pick an endpoint, forward, retry once on another endpoint if nothing of
/// the request was sent, and turn the upstream response into the client's.
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

    let upgrade =
        request.version() == Version::HTTP_11 && headers::is_upgrade_request(request.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut request));
    let (mut parts, incoming) = request.into_parts();
    headers::remove_hop_by_hop(&mut parts.headers, upgrade);
    let (body, cell) = RequestBody::new(incoming);
    // The inline client writes the forwarded fields into the request head itself.
    let inline = shared.config.inline_http1 && upstream::carries_inline(protocol, &body, upgrade);
    let forwarded = inline.then_some(ForwardedFields {
        forwarded: &connection.forwarded,
        host: host.as_ref(),
    });
    if !inline {
        headers::set_forwarded(&mut parts.headers, &connection.forwarded, host.as_ref());
    }
    if (parts.uri.authority().is_some() || !parts.headers.contains_key(header::HOST))
        && let Some(host) = &host
    {
        parts.headers.insert(header::HOST, host.clone());
    }
    record.request_body = cell.clone();
    let mut upstream_request = Request::new(body);
    *upstream_request.method_mut() = parts.method;
    *upstream_request.version_mut() = match protocol {
        UpstreamProtocol::H2c | UpstreamProtocol::H2 => Version::HTTP_2,
        UpstreamProtocol::Http1 | UpstreamProtocol::Https => Version::HTTP_11,
    };
    *upstream_request.uri_mut() = origin_form(parts.uri);
    *upstream_request.headers_mut() = parts.headers;

    record.upstream = first.address();
    let mut peer = first;
    let mut retried = false;
    // One `send` call site, so the request's future holds one attempt's state, not two.
    let result = loop {
        let mut result = shared
            .upstream
            .send(
                protocol,
                peer,
                upstream_request,
                cell.clone(),
                forwarded.as_ref(),
            )
            .await;
        let Err(failed) = &mut result else {
            break result;
        };
        let Some(unsent) = failed.unsent.take() else {
            break result;
        };
        // Nothing was sent (the body is unread): the endpoint is at fault (passive health),
        // and the request may go to another one, once.
        shared.metrics.upstream_connect_failures.inc();
        let now = Instant::now();
        let Some(pick) = pick.as_mut() else {
            break result;
        };
        pick.failed(now);
        let retry = if retried { None } else { pick.next(now) };
        match retry {
            Some(address) => {
                tracing::debug!(error = %failed.error, upstream = ?record.upstream, retry = %address, "upstream request not sent; retrying");
                shared.metrics.upstream_retries.inc();
                record.upstream = Some(address);
                retried = true;
                peer = PeerKey::Address(address);
                upstream_request = *unsent;
            }
            None => break result,
        }
    };
    let Exchange { mut response } = match result {
        Ok(exchange) => exchange,
        Err(failed) => {
            tracing::debug!(error = %failed.error, upstream = ?record.upstream, "upstream request failed");
            record.body_error = Some(failed.error.to_string());
            return Err(if failed.error.is_timeout() {
                Failure::UpstreamTimeout
            } else {
                Failure::UpstreamFailed
            });
        }
    };
    if let Some(pick) = &pick {
        pick.succeeded();
    }

    let switching = response.status() == StatusCode::SWITCHING_PROTOCOLS;
    if let (true, Some(client_upgrade)) = (switching, client_upgrade) {
        // The connection becomes a tunnel: it never goes back to the pool (dropping the body
        // drops its loan).
        let upstream_upgrade = hyper::upgrade::on(&mut response);
        upgrade::spawn_tunnel(client_upgrade, upstream_upgrade);
        let (mut parts, _) = response.into_parts();
        headers::remove_hop_by_hop(&mut parts.headers, true);
        return Ok(Response::from_parts(parts, ResponseBody::empty()));
    }
    let (mut parts, body) = response.into_parts();
    headers::remove_hop_by_hop(&mut parts.headers, false);
    Ok(Response::from_parts(
        parts,
        ResponseBody::upstream(body, shared.config.timeouts.read),
    ))
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
