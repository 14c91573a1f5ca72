//! A test upstream: reports what it received, echoes, streams, upgrades, and can be held.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub type TestBody = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// A running backend.
#[derive(Debug, Clone)]
pub struct Backend {
    pub address: SocketAddr,
    /// Requests received.
    pub requests: Arc<AtomicUsize>,
    /// Releases requests to `/hold` (one permit each).
    pub release: Arc<Notify>,
    /// Signalled when a request to `/hold` arrived.
    pub held: Arc<Notify>,
}

/// Starts a backend answering with `name`; `http2_only` makes it an h2c-only server.
pub async fn start(name: &'static str, http2_only: bool) -> Backend {
    start_with(name, http2_only, None).await
}

/// Starts a backend behind TLS (a fresh self-signed certificate, ALPN `h2` and `http/1.1`).
pub async fn start_tls(name: &'static str) -> Backend {
    let generated =
        rcgen::generate_simple_self_signed(vec!["backend.test".to_owned()]).expect("rcgen");
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(generated.signing_key.serialize_der());
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![generated.cert.der().clone()], key.into())
        .expect("certificate");
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    start_with(
        name,
        false,
        Some(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config))),
    )
    .await
}

/// A TLS backend with the given server configuration (its certificate, client auth).
#[allow(dead_code)] // not every test binary needs one
pub async fn start_tls_with(name: &'static str, config: rustls::ServerConfig) -> Backend {
    start_with(
        name,
        false,
        Some(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config))),
    )
    .await
}

async fn start_with(
    name: &'static str,
    http2_only: bool,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Backend {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind backend");
    let backend = Backend {
        address: listener.local_addr().expect("backend address"),
        requests: Arc::new(AtomicUsize::new(0)),
        release: Arc::new(Notify::new()),
        held: Arc::new(Notify::new()),
    };
    let state = backend.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let state = state.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| respond(name, state.clone(), request));
                let mut builder = auto::Builder::new(TokioExecutor::new());
                if http2_only {
                    builder = builder.http2_only();
                }
                let _ = match tls {
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(stream) => {
                            builder
                                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                                .await
                        }
                        Err(_) => return,
                    },
                    None => {
                        builder
                            .serve_connection_with_upgrades(TokioIo::new(stream), service)
                            .await
                    }
                };
            });
        }
    });
    backend
}

fn full(text: impl Into<Bytes>) -> TestBody {
    Full::new(text.into())
        .map_err(|never| match never {})
        .boxed()
}

async fn respond(
    name: &'static str,
    state: Backend,
    mut request: Request<Incoming>,
) -> Result<Response<TestBody>, Infallible> {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let path = request.uri().path().to_owned();
    let mut seen = Vec::new();
    seen.push((
        "x-seen-version".to_owned(),
        format!("{:?}", request.version()),
    ));
    seen.push((
        "x-seen-target".to_owned(),
        request
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
    ));
    for name in [
        "host",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-forwarded-port",
        "x-real-ip",
        "x-secret",
        "keep-alive",
        "x_underscore",
        "x-request-id",
        "x-forwarded-prefix",
        "x-code",
        "x-original-uri",
        "x-ingress-name",
        "x-service-name",
        "x-format",
        "x-auth-request-user",
        "ssl-client-verify",
        "ssl-client-subject-dn",
        "ssl-client-issuer-dn",
        "ssl-client-cert",
    ] {
        let value = request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        seen.push((format!("x-seen-{name}"), value));
    }
    let body: TestBody = if request.headers().contains_key(http::header::UPGRADE) {
        let upgrade = hyper::upgrade::on(&mut request);
        tokio::spawn(async move {
            if let Ok(upgraded) = upgrade.await {
                let mut io = TokioIo::new(upgraded);
                let mut buffer = [0u8; 1024];
                // Echo until the client closes (bounded by the test's own timeouts).
                while let Ok(n) = io.read(&mut buffer).await {
                    if n == 0 || io.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
            }
        });
        let mut response = Response::new(full(""));
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        response
            .headers_mut()
            .insert("connection", HeaderValue::from_static("upgrade"));
        response
            .headers_mut()
            .insert("upgrade", HeaderValue::from_static("websocket"));
        return Ok(response);
    } else if path == "/echo" {
        request.into_body().map_err(|e| Box::new(e) as _).boxed()
    } else if let Some(size) = path.strip_prefix("/download/") {
        let size: usize = size.parse().unwrap_or(0);
        generated(size)
    } else if path == "/hold" {
        state.held.notify_one();
        state.release.notified().await;
        full(name)
    } else if path.strip_prefix("/unavailable-on/") == Some(name) {
        let mut response = Response::new(full(name));
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        response
            .headers_mut()
            .insert("x-backend", HeaderValue::from_static(name));
        return Ok(response);
    } else if path == "/stall" {
        tokio::time::sleep(Duration::from_secs(30)).await;
        full(name)
    } else {
        full(name)
    };
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert("x-backend", HeaderValue::from_static(name));
    response
        .headers_mut()
        .insert("connection", HeaderValue::from_static("x-hop"));
    response
        .headers_mut()
        .insert("x-hop", HeaderValue::from_static("1"));
    for (name, value) in seen {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    Ok(response)
}

/// A lazily generated body of `size` bytes in 64 KiB chunks.
pub fn generated(size: usize) -> TestBody {
    const CHUNK: usize = 64 * 1024;
    let chunk = Bytes::from(vec![b'x'; CHUNK]);
    let stream = futures::stream::iter((0..size.div_ceil(CHUNK)).map(move |i| {
        let len = CHUNK.min(size - i * CHUNK);
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Frame::data(chunk.slice(..len)))
    }));
    StreamBody::new(stream).boxed()
}

#[allow(dead_code)]
pub async fn body_text(body: Incoming) -> String {
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}
