//! The admin listener: liveness, readiness (first snapshot published), Prometheus metrics,
//! and the JSON API ([`api`]).

mod api;

use std::convert::Infallible;
use std::sync::Arc;

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;

use crate::handler::ResponseBody;
use crate::handler::Shared;

/// Answers `/healthz`, `/readyz`, `/metrics` and the `/api/…` endpoints; anything else is
/// `404`.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    let (status, content_type, body) = match request.uri().path() {
        "/healthz" => (
            StatusCode::OK,
            "text/plain; charset=utf-8",
            "ok\n".to_owned(),
        ),
        "/readyz" if shared.table.is_ready() => (
            StatusCode::OK,
            "text/plain; charset=utf-8",
            "ready\n".to_owned(),
        ),
        "/readyz" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain; charset=utf-8",
            "not ready: no route table published yet\n".to_owned(),
        ),
        "/metrics" => {
            shared.metrics.refresh(&shared.table.load_full());
            (
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                shared.metrics.encode(),
            )
        }
        path @ ("/api/routes" | "/api/diagnostics" | "/api/backends" | "/api/certificates") => {
            let table = shared.table.load_full();
            let value = match path {
                "/api/routes" => api::routes(&table),
                "/api/diagnostics" => api::diagnostics(&table),
                "/api/certificates" => api::certificates(&table),
                _ => api::backends(&shared, &table),
            };
            (StatusCode::OK, "application/json", value.to_string())
        }
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "404 Not Found: the admin listener serves /healthz, /readyz, /metrics, /api/routes, /api/diagnostics, /api/backends and /api/certificates\n".to_owned(),
        ),
    };
    let mut response = Response::new(ResponseBody::full(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}
