//! The validating webhook's HTTPS listener (`--validating-webhook ADDR`, ingress-nginx's flag):
//! the API server posts `AdmissionReview`s to `/networking/v1/ingresses` (ingress-nginx's
//! path); each is answered by the cluster source's current state ([`AdmissionHandle`], see
//! [`crate::admission`] for the verdicts).
//!
//! It is a listener of its own, separate from the data plane and the admin port, with its own
//! certificate (`--validating-webhook-certificate`, `--validating-webhook-key`: PEM files, the
//! Secret `ingress-proxy certgen create` writes, mounted). Bodies are read up to 3 MiB (an
//! object in etcd is at most 1.5 MiB), each review is answered within 10 s or refused, and the
//! listener never runs, renders or stores anything from the request.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::cluster::AdmissionHandle;

/// The largest review body read.
const MAX_BODY: usize = 3 * 1024 * 1024;
/// How long one review may take.
const REVIEW_TIMEOUT: Duration = Duration::from_secs(10);
/// The paths reviews are posted to: ingress-nginx's, and a short one.
const PATHS: [&str; 2] = ["/networking/v1/ingresses", "/validate"];

/// Where and with which certificate the webhook listens.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// `--validating-webhook`.
    pub addr: SocketAddr,
    /// `--validating-webhook-certificate`: the serving certificate chain, PEM.
    pub certificate: PathBuf,
    /// `--validating-webhook-key`: its private key, PEM.
    pub key: PathBuf,
}

/// Why the webhook could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// A certificate or key file could not be read or parsed.
    #[error("webhook certificate {path}: {reason}")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The address could not be bound.
    #[error("webhook listener {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

/// Binds the listener; the returned future serves until dropped.
pub async fn bind(
    config: &WebhookConfig,
    reviews: AdmissionHandle,
) -> Result<(SocketAddr, impl Future<Output = ()> + use<>), WebhookError> {
    let tls = Arc::new(server_config(config)?);
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|source| WebhookError::Bind {
            addr: config.addr,
            source,
        })?;
    let local = listener.local_addr().map_err(|source| WebhookError::Bind {
        addr: config.addr,
        source,
    })?;
    tracing::info!(addr = %local, "validating webhook listening");
    Ok((local, serve(listener, TlsAcceptor::from(tls), reviews)))
}

fn server_config(config: &WebhookConfig) -> Result<ServerConfig, WebhookError> {
    let failed = |path: &PathBuf, reason: String| WebhookError::Certificate {
        path: path.clone(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(&config.certificate)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| failed(&config.certificate, e.to_string()))?;
    if chain.is_empty() {
        return Err(failed(&config.certificate, "no certificate".to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(&config.key)
        .map_err(|e| failed(&config.key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| failed(&config.certificate, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| failed(&config.key, e.to_string()))
}

async fn serve(listener: TcpListener, tls: TlsAcceptor, reviews: AdmissionHandle) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "webhook accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (tls, reviews) = (tls.clone(), reviews.clone());
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(REVIEW_TIMEOUT, tls.accept(stream)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    tracing::debug!(%error, %peer, "webhook TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let service = hyper::service::service_fn(move |request| {
                let reviews = reviews.clone();
                async move { Ok::<_, std::convert::Infallible>(answer(request, &reviews).await) }
            });
            let served = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(error) = served {
                tracing::debug!(%error, %peer, "webhook connection ended with an error");
            }
        });
    }
}

async fn answer(request: Request<Incoming>, reviews: &AdmissionHandle) -> Response<Full<Bytes>> {
    if request.method() != Method::POST || !PATHS.contains(&request.uri().path()) {
        return plain(
            StatusCode::NOT_FOUND,
            "POST AdmissionReviews to /networking/v1/ingresses\n",
        );
    }
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return plain(StatusCode::PAYLOAD_TOO_LARGE, "review too large or cut\n"),
    };
    let document: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(document) => document,
        Err(error) => {
            return plain(StatusCode::BAD_REQUEST, &format!("not JSON: {error}\n"));
        }
    };
    match tokio::time::timeout(REVIEW_TIMEOUT, reviews.review(document)).await {
        Ok(Some(review)) => {
            let mut response = Response::new(Full::new(Bytes::from(review.to_string())));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            response
        }
        Ok(None) => plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "the controller is stopping\n",
        ),
        Err(_) => plain(StatusCode::SERVICE_UNAVAILABLE, "review timed out\n"),
    }
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text.to_owned())));
    *response.status_mut() = status;
    response
}
