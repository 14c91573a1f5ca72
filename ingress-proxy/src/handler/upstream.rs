//! The forwarding client: pooled keep-alive connections to upstream endpoints.

use std::error::Error as _;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::body::RequestBody;
use crate::config::{ProxyConfig, UpstreamProtocol};

/// Pooled clients, one per upstream protocol; pools are keyed by endpoint address.
#[derive(Debug)]
pub(crate) struct Upstream {
    http1: Client<HttpConnector, RequestBody>,
    h2c: Client<HttpConnector, RequestBody>,
    /// Time allowed for the response head once the connection is established.
    read_timeout: Duration,
}

/// Why an upstream attempt failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    /// No connection could be made; nothing of the request was sent, so it may be retried.
    #[error("connecting to the upstream: {0}")]
    Connect(#[source] hyper_util::client::legacy::Error),
    /// The upstream did not send a response head within the read timeout.
    #[error("no response head within {0:?}")]
    ReadTimeout(Duration),
    /// The connection failed after the request was (possibly) sent.
    #[error("upstream request: {0}")]
    Failed(#[source] hyper_util::client::legacy::Error),
}

impl UpstreamError {
    /// Whether the failure is a timeout (connect or read): the client gets `504`, else `502`.
    pub(crate) fn is_timeout(&self) -> bool {
        match self {
            UpstreamError::ReadTimeout(_) => true,
            UpstreamError::Connect(error) | UpstreamError::Failed(error) => {
                let mut source = error.source();
                while let Some(cause) = source {
                    if cause
                        .downcast_ref::<std::io::Error>()
                        .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
                    {
                        return true;
                    }
                    source = cause.source();
                }
                false
            }
        }
    }
}

impl Upstream {
    pub(crate) fn new(config: &ProxyConfig) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(config.timeouts.connect));
        connector.set_nodelay(true);
        connector.enforce_http(true);
        let builder = |http2_only: bool| {
            let mut builder = Client::builder(TokioExecutor::new());
            builder
                .pool_timer(TokioTimer::new())
                .timer(TokioTimer::new())
                .pool_idle_timeout(config.timeouts.upstream_idle)
                .http2_only(http2_only)
                // Keep the client's Host header (the upstream gets the original Host).
                .set_host(true)
                // A pooled connection that closed before the request went out is retried
                // on a fresh connection to the same endpoint.
                .retry_canceled_requests(true);
            builder.build(connector.clone())
        };
        Upstream {
            http1: builder(false),
            h2c: builder(true),
            read_timeout: config.timeouts.read,
        }
    }

    /// Sends one attempt and waits for the response head.
    pub(crate) async fn send(
        &self,
        protocol: UpstreamProtocol,
        request: Request<RequestBody>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let client = match protocol {
            UpstreamProtocol::H2c => &self.h2c,
            UpstreamProtocol::Http1 => &self.http1,
        };
        match tokio::time::timeout(self.read_timeout, client.request(request)).await {
            Err(_elapsed) => Err(UpstreamError::ReadTimeout(self.read_timeout)),
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) if error.is_connect() => Err(UpstreamError::Connect(error)),
            Ok(Err(error)) => Err(UpstreamError::Failed(error)),
        }
    }
}
