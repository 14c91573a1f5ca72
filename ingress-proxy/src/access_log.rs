//! One structured access-log line per request, and its metrics, written when the response ends.

use std::net::SocketAddr;
use std::sync::Arc;

use http::{HeaderValue, Method, Uri};
use std::time::Instant;

use crate::body::BodyCell;
use crate::metrics::{Metrics, RouteLabels};

/// What is known about a request by the time its response body is done.
///
/// Created when the response head is ready, carried by the response body, and written on drop:
/// only then are the bytes sent and the full duration known (also for aborted streams).
#[derive(Debug)]
pub(crate) struct AccessRecord {
    pub(crate) start: Instant,
    pub(crate) client: SocketAddr,
    pub(crate) method: Method,
    pub(crate) host: Option<HeaderValue>,
    pub(crate) uri: Uri,
    pub(crate) labels: RouteLabels,
    /// `rule/path` indices of the matched rule, `-` for default backends.
    pub(crate) rule: Option<(usize, usize)>,
    pub(crate) upstream: Option<SocketAddr>,
    pub(crate) status: u16,
    /// Counts request body bytes while the upstream reads them.
    pub(crate) request_body: Option<Arc<BodyCell>>,
    pub(crate) bytes_out: u64,
    /// Set when the response body ended with an error (upstream reset, read timeout).
    pub(crate) body_error: Option<String>,
    pub(crate) metrics: Arc<Metrics>,
}

impl Drop for AccessRecord {
    fn drop(&mut self) {
        let elapsed = self.start.elapsed();
        let bytes_in = self.request_body.as_ref().map_or(0, |cell| cell.bytes());
        self.metrics.record_request(
            &self.labels,
            self.status,
            elapsed.as_secs_f64(),
            bytes_in,
            self.bytes_out,
        );
        if !tracing::enabled!(target: "ingress_proxy::access", tracing::Level::INFO) {
            return;
        }
        let host = self
            .host
            .as_ref()
            .and_then(|h| h.to_str().ok())
            .unwrap_or("-");
        let path = self.uri.path_and_query().map_or("-", |p| p.as_str());
        let rule = match self.rule {
            Some((rule, path)) => format!("{rule}/{path}"),
            None => "-".to_owned(),
        };
        let upstream = match self.upstream {
            Some(address) => address.to_string(),
            None => "-".to_owned(),
        };
        tracing::info!(
            target: "ingress_proxy::access",
            client = %self.client.ip(),
            method = %self.method,
            host,
            path,
            namespace = %self.labels.namespace,
            ingress = %self.labels.ingress,
            rule,
            service = %self.labels.service,
            upstream,
            status = self.status,
            bytes_in,
            bytes_out = self.bytes_out,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            error = self.body_error.as_deref().unwrap_or("-"),
            "request"
        );
    }
}
