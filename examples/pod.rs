//! A small "tomcat" pod: an HTTP/1.1 server that answers with its own name and the forwarding
//! headers it received, so the walkthrough can print every hop a request took.

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The headers a pod reports back (the proxy sets them).
pub const REPORTED_HEADERS: [&str; 5] = [
    "host",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-real-ip",
];

/// Binds `address` and serves until the task is aborted. The response body is one line:
/// `pod=NAME addr=ADDRESS method=GET path=/p host=... x-forwarded-for=...`.
pub async fn spawn(name: &'static str, address: SocketAddr) -> std::io::Result<JoinHandle<()>> {
    let listener = TcpListener::bind(address).await?;
    Ok(tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = service_fn(move |request: Request<Incoming>| async move {
                let mut line = format!(
                    "pod={name} addr={address} method={} path={}",
                    request.method(),
                    request.uri()
                );
                for header in REPORTED_HEADERS {
                    let value = request
                        .headers()
                        .get(header)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    line.push_str(&format!(" {header}={value}"));
                }
                line.push('\n');
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(line))))
            });
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }))
}

/// Parses a pod's answer into `(key, value)` pairs.
pub fn parse_report(body: &str) -> Vec<(&str, &str)> {
    body.split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .collect()
}

/// One field of a pod's answer.
pub fn field<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    parse_report(body)
        .into_iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}
