//! The admin listener over a minimal HTTP/1.1 exchange (one request per connection,
//! `Connection: close`): `GET /metrics` (Prometheus), `GET /api/status` (JSON: groups,
//! servers, listeners, VRRP; see [`crate::status`]) and, with `dashboard = true` in the
//! configuration, the read-only dashboard at `/dashboard` ([`dashboard`]). Anything else gets
//! `404`; a request that is not complete within 5 s or exceeds 8 KiB is dropped.

mod dashboard;

use std::borrow::Cow;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::server::Server;

const REQUEST_LIMIT: usize = 8 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves the admin listener until `cancel`.
pub(crate) async fn serve(
    listener: TcpListener,
    server: Server,
    cancel: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                let server = server.clone();
                let cancel = cancel.clone();
                tracker.spawn(async move {
                    tokio::select! {
                        () = cancel.cancelled() => {}
                        _ = tokio::time::timeout(REQUEST_TIMEOUT, respond(stream, &server)) => {}
                    }
                });
            }
            Err(error) => tracing::warn!(%error, "admin listener: accept failed"),
        }
    }
}

async fn respond(mut stream: TcpStream, server: &Server) -> std::io::Result<()> {
    let mut request = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !request.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut chunk).await?;
        if read == 0 || request.len() + read > REQUEST_LIMIT {
            return Ok(());
        }
        request.extend_from_slice(&chunk[..read]);
    }
    let line = request.split(|b| *b == b'\n').next().unwrap_or_default();
    let mut parts = line.split(|b| *b == b' ');
    let (method, target) = (parts.next(), parts.next());
    let target = target.map(|t| {
        let path = t.split(|b| *b == b'?').next().unwrap_or_default();
        String::from_utf8_lossy(path).into_owned()
    });
    let mut extra = "";
    let (status, content_type, body): (&str, &str, Cow<'static, str>) =
        match (method, target.as_deref()) {
            (Some(b"GET"), Some("/metrics")) => (
                "200 OK",
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                server.metrics_text().into(),
            ),
            (Some(b"GET"), Some("/api/status")) => (
                "200 OK",
                "application/json",
                crate::status::status(server).to_string().into(),
            ),
            (Some(b"GET"), Some(path)) if server.dashboard_enabled() && dashboard::serves(path) => {
                match dashboard::asset(path) {
                    Some((content_type, body)) => {
                        if content_type.starts_with("text/html") {
                            extra = dashboard::HTML_HEADERS;
                        }
                        ("200 OK", content_type, body.into())
                    }
                    None => ("404 Not Found", "text/plain", "not found\n".into()),
                }
            }
            (Some(b"GET"), _) => ("404 Not Found", "text/plain", "not found\n".into()),
            _ => (
                "405 Method Not Allowed",
                "text/plain",
                "method not allowed\n".into(),
            ),
        };
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nx-content-type-options: nosniff\r\n{extra}connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}
