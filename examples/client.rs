//! A one-request HTTP/1.1 client over plain TCP or TLS (rustls, SNI set to the Host), as a
//! user's `curl` would send it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// What came back.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// `location` header, for redirects.
    pub location: Option<String>,
    /// `strict-transport-security` header.
    pub hsts: Option<String>,
    /// Body as text.
    pub body: String,
    /// DER of the server's leaf certificate (HTTPS only).
    pub certificate_der: Option<Vec<u8>>,
}

/// A client that trusts exactly one certificate (PEM), for HTTPS requests.
pub fn tls_trusting(certificate_pem: &[u8]) -> Result<TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(certificate_pem) {
        let certificate = certificate.map_err(|e| format!("certificate PEM: {e}"))?;
        roots
            .add(certificate)
            .map_err(|e| format!("trust anchor: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// `GET path` with `Host: host` to `address`, over TLS when `tls` is given (SNI = host).
/// Bounded by a 10 s timeout.
pub async fn get(
    address: SocketAddr,
    host: &str,
    path: &str,
    tls: Option<&TlsConnector>,
) -> Result<Answer, String> {
    get_from(None, address, host, path, tls).await
}

/// [`get`] from the loopback address `source` (a client distinct from the chain's own hops).
pub async fn get_from(
    source: Option<std::net::IpAddr>,
    address: SocketAddr,
    host: &str,
    path: &str,
    tls: Option<&TlsConnector>,
) -> Result<Answer, String> {
    tokio::time::timeout(
        Duration::from_secs(10),
        get_inner(source, address, host, path, tls),
    )
    .await
    .map_err(|_| format!("GET {host}{path} via {address}: timed out after 10 s"))?
}

async fn get_inner(
    source: Option<std::net::IpAddr>,
    address: SocketAddr,
    host: &str,
    path: &str,
    tls: Option<&TlsConnector>,
) -> Result<Answer, String> {
    let stream = match source {
        None => TcpStream::connect(address).await,
        Some(source) => {
            let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
            socket
                .bind(SocketAddr::new(source, 0))
                .map_err(|e| format!("bind {source}: {e}"))?;
            socket.connect(address).await
        }
    }
    .map_err(|e| format!("connect {address}: {e}"))?;
    let request = hyper::Request::get(path)
        .header("host", host)
        .header("user-agent", "walkthrough/1")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    match tls {
        None => send(TokioIo::new(stream), request, None).await,
        Some(connector) => {
            let name = ServerName::try_from(host.to_owned()).map_err(|e| e.to_string())?;
            let stream = connector
                .connect(name, stream)
                .await
                .map_err(|e| format!("TLS handshake with {host} via {address}: {e}"))?;
            let certificate = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.to_vec());
            send(TokioIo::new(stream), request, certificate).await
        }
    }
}

async fn send<T>(
    io: TokioIo<T>,
    request: hyper::Request<Empty<Bytes>>,
    certificate_der: Option<Vec<u8>>,
) -> Result<Answer, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (status, location, hsts) = (
        response.status().as_u16(),
        header("location"),
        header("strict-transport-security"),
    );
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    Ok(Answer {
        status,
        location,
        hsts,
        body: String::from_utf8_lossy(&body).into_owned(),
        certificate_der,
    })
}
