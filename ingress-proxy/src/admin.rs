//! The admin listener: liveness, readiness (first snapshot published), Prometheus metrics,
//! the JSON API ([`api`], [`explain`]) and, when [`ProxyConfig::dashboard`] is on, the
//! read-only dashboard ([`dashboard`]) that draws the same JSON.
//!
//! [`ProxyConfig::dashboard`]: crate::ProxyConfig::dashboard

mod api;
mod dashboard;
mod diagnostic_ages;
mod explain;
mod policies;
mod query;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;

pub(crate) use diagnostic_ages::DiagnosticAges;

use crate::handler::ResponseBody;
use crate::handler::Shared;

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";

/// Answers `/healthz`, `/readyz`, `/metrics`, the `/api/…` endpoints and the dashboard;
/// anything else is `404`.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    let raw_query = request.uri().query();
    let (status, content_type, body): (StatusCode, &'static str, Bytes) =
        match request.uri().path() {
            "/healthz" => (StatusCode::OK, TEXT, Bytes::from_static(b"ok\n")),
            "/readyz" if shared.table.is_ready() => {
                (StatusCode::OK, TEXT, Bytes::from_static(b"ready\n"))
            }
            "/readyz" => (
                StatusCode::SERVICE_UNAVAILABLE,
                TEXT,
                Bytes::from_static(b"not ready: no route table published yet\n"),
            ),
            "/metrics" => {
                shared.metrics.refresh(&shared.table.load_full());
                (
                    StatusCode::OK,
                    "text/plain; version=0.0.4; charset=utf-8",
                    shared.metrics.encode().into(),
                )
            }
            "/api/traffic" => {
                let pairs = query::pairs(raw_query);
                let since = query::first(&pairs, "since")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                let value = api::traffic(&shared, since);
                (StatusCode::OK, JSON, value.to_string().into())
            }
            path @ ("/api/routes" | "/api/diagnostics" | "/api/backends" | "/api/certificates"
            | "/api/explain") => {
                let table = shared.table.load_full();
                let value = match path {
                    "/api/routes" => api::routes(&table),
                    "/api/diagnostics" => api::diagnostics(&shared, &table),
                    "/api/certificates" => api::certificates(&table),
                    "/api/explain" => explain::explain(&shared, &table, raw_query),
                    _ => api::backends(&shared, &table),
                };
                (StatusCode::OK, JSON, value.to_string().into())
            }
            path if shared.config.dashboard && dashboard::serves(path) => {
                match dashboard::asset(path) {
                    Some((content_type, body)) => (StatusCode::OK, content_type, body),
                    None => (
                        StatusCode::NOT_FOUND,
                        TEXT,
                        Bytes::from_static(b"404 Not Found: no such dashboard asset\n"),
                    ),
                }
            }
            _ => (
                StatusCode::NOT_FOUND,
                TEXT,
                Bytes::from_static(
                    b"404 Not Found: the admin listener serves /healthz, /readyz, /metrics, /api/routes, /api/diagnostics, /api/backends, /api/certificates, /api/traffic, /api/explain (and /dashboard when enabled)\n",
                ),
            ),
        };
    let mut response = Response::new(ResponseBody::full(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if content_type.starts_with("text/html") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(dashboard::CONTENT_SECURITY_POLICY),
        );
    }
    Ok(response)
}
