//! The per-request flow, as named phases:
//! [`resolve`] (normalise host and path, route on one snapshot load) →
//! redirect check → [`pick`] (endpoint, passive health) → [`forward`] (upstream request,
//! retry on connect failure) → response (hop-by-hop headers, HSTS, streamed body, access log).

mod balance;
mod headers;
mod pages;
mod upgrade;
mod upstream;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri, Version, header};
use hyper::body::Incoming;
use ingress_core::{Backend, Endpoints, MatchedRule, PortRef, TableReader, Target};
use tokio::time::Instant;

use crate::access_log::AccessRecord;
use crate::body::{RequestBody, ResponseBody};
use crate::config::{ProxyConfig, UpstreamProtocol};
use crate::metrics::{Metrics, RouteLabels};
use balance::EndpointPicker;
use headers::Forwarded;
use pages::Failure;
use upstream::{Upstream, UpstreamError};

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

/// What a request knows about the connection it arrived on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientConnection {
    pub(crate) client: SocketAddr,
    pub(crate) local_port: u16,
    pub(crate) https: bool,
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

/// Where one attempt goes.
#[derive(Debug, Clone, Copy)]
enum Peer<'a> {
    Endpoint(SocketAddr),
    External(&'a str, u16),
}

impl Shared {
    pub(crate) fn new(table: TableReader, config: ProxyConfig, metrics: Arc<Metrics>) -> Self {
        let hsts = config.hsts.as_deref().and_then(|value| match HeaderValue::from_str(value) {
            Ok(value) => Some(value),
            Err(error) => {
                tracing::warn!(%error, "config field hsts is not a valid header value; HSTS disabled");
                None
            }
        });
        Shared {
            upstream: Upstream::new(&config),
            picker: EndpointPicker::new(config.passive_health_ejection),
            table,
            config,
            metrics,
            hsts,
            none: Arc::from("-"),
        }
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
    connection: ClientConnection,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    let start = Instant::now();
    let host = request_host(&request);
    let resolved = resolve(&shared.table, host.as_ref(), request.uri());
    let mut record = AccessRecord {
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
    };

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
            Destination::Service(backend) => {
                forward(&shared, connection, backend, host, request, &mut record)
                    .await
                    .unwrap_or_else(Failure::response)
            }
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

/// Phases 3 and 4: pick an endpoint, forward, retry once on another endpoint if the
/// connection could not be made, and turn the upstream response into the client's.
async fn forward(
    shared: &Shared,
    connection: ClientConnection,
    backend: &Arc<Backend>,
    host: Option<HeaderValue>,
    mut request: Request<Incoming>,
    record: &mut AccessRecord,
) -> Result<Response<ResponseBody>, Failure> {
    let endpoints = backend.endpoints();
    let protocol = shared.protocol(backend);
    let ready: &[SocketAddr] = match &*endpoints {
        Endpoints::Ready(addresses) if !addresses.is_empty() => addresses,
        Endpoints::External { .. } => &[],
        Endpoints::Ready(_) | Endpoints::Unavailable(_) => return Err(Failure::NoEndpoints),
    };
    let now = std::time::Instant::now();
    let mut pick = match &*endpoints {
        Endpoints::Ready(addresses) => Some(shared.picker.start(backend, &endpoints, addresses)),
        Endpoints::External { .. } | Endpoints::Unavailable(_) => None,
    };
    let first = match &*endpoints {
        Endpoints::External { host, port } => Peer::External(host, *port),
        _ => Peer::Endpoint(
            pick.as_mut()
                .and_then(|pick| pick.next(now))
                .ok_or(Failure::NoEndpoints)?,
        ),
    };

    let upgrade =
        request.version() == Version::HTTP_11 && headers::is_upgrade_request(request.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut request));
    let (mut parts, incoming) = request.into_parts();
    headers::remove_hop_by_hop(&mut parts.headers, upgrade);
    let forwarded = Forwarded {
        client: connection.client.ip(),
        https: connection.https,
        local_port: connection.local_port,
    };
    headers::set_forwarded(&mut parts.headers, forwarded, host.as_ref());
    if (parts.uri.authority().is_some() || !parts.headers.contains_key(header::HOST))
        && let Some(host) = &host
    {
        parts.headers.insert(header::HOST, host.clone());
    }
    let version = match protocol {
        UpstreamProtocol::H2c => Version::HTTP_2,
        UpstreamProtocol::Http1 => Version::HTTP_11,
    };
    let path = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    let (body, cell) = RequestBody::new(incoming);
    let size_hint = http_body::Body::size_hint(&body);
    record.request_body = cell.clone();

    let can_retry = ready.len() > 1;
    let retry_template = can_retry.then(|| (parts.method.clone(), parts.headers.clone()));
    let first_request = upstream_request(parts.method, version, parts.headers, &path, first, body)?;
    record.upstream = first.address();
    let mut retried = false;
    let result = match shared.upstream.send(protocol, first_request).await {
        Err(UpstreamError::Connect(error)) => {
            shared.metrics.upstream_connect_failures.inc();
            let now = std::time::Instant::now();
            if let Some(pick) = &pick {
                pick.failed(now);
            }
            let second = retry_template
                .filter(|_| cell.as_ref().is_none_or(|cell| cell.is_unsent()))
                .and_then(|template| Some((template, pick.as_mut()?.next(now)?)));
            match second {
                Some(((method, headers), address)) => {
                    tracing::debug!(%error, upstream = ?record.upstream, retry = %address, "upstream connect failed; retrying");
                    shared.metrics.upstream_retries.inc();
                    record.upstream = Some(address);
                    retried = true;
                    let body = RequestBody::retry(cell.as_ref(), size_hint);
                    let retry = upstream_request(
                        method,
                        version,
                        headers,
                        &path,
                        Peer::Endpoint(address),
                        body,
                    )?;
                    shared.upstream.send(protocol, retry).await
                }
                None => Err(UpstreamError::Connect(error)),
            }
        }
        other => other,
    };
    let mut response = match result {
        Ok(response) => response,
        Err(error) => {
            if let (UpstreamError::Connect(_), Some(pick), true) = (&error, &pick, retried) {
                pick.failed(std::time::Instant::now());
                shared.metrics.upstream_connect_failures.inc();
            }
            tracing::debug!(%error, upstream = ?record.upstream, "upstream request failed");
            record.body_error = Some(error.to_string());
            return Err(if error.is_timeout() {
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

impl Peer<'_> {
    fn address(self) -> Option<SocketAddr> {
        match self {
            Peer::Endpoint(address) => Some(address),
            Peer::External(..) => None,
        }
    }
}

/// Builds one attempt's request: the original target and headers, sent to `peer`.
fn upstream_request(
    method: Method,
    version: Version,
    headers: HeaderMap,
    path: &PathAndQuery,
    peer: Peer<'_>,
    body: RequestBody,
) -> Result<Request<RequestBody>, Failure> {
    let authority = match peer {
        Peer::Endpoint(address) => Authority::try_from(address.to_string()),
        Peer::External(host, port) => Authority::try_from(format!("{host}:{port}")),
    }
    .map_err(|_| Failure::BadRequest)?;
    let uri = Uri::builder()
        .scheme(Scheme::HTTP)
        .authority(authority)
        .path_and_query(path.clone())
        .build()
        .map_err(|_| Failure::BadRequest)?;
    let mut request = Request::new(body);
    *request.method_mut() = method;
    *request.version_mut() = version;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    Ok(request)
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
