//! TLS to upstreams (`HTTPS` and `GRPCS` backend protocols), with ingress-nginx's defaults:
//! the connection is encrypted, but the upstream's certificate is not checked against a CA
//! (`proxy-ssl-verify: off`; in-cluster certificates are usually self-signed), and no SNI is
//! sent to an endpoint IP address (`proxy-ssl-server-name: off`). The handshake itself is still
//! verified: the server must prove it holds the key of the certificate it presents.

use std::io;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::PeerKey;

/// TLS client settings for HTTP/1.1 and HTTP/2 upstreams (they differ in ALPN).
#[derive(Clone)]
pub(crate) struct UpstreamTls {
    http1: TlsConnector,
    http2: TlsConnector,
}

impl std::fmt::Debug for UpstreamTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamTls").finish_non_exhaustive()
    }
}

impl UpstreamTls {
    pub(crate) fn new() -> Result<Self, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = |alpn: &[u8]| -> Result<TlsConnector, rustls::Error> {
            let mut config = ClientConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(HandshakeOnly(provider.clone())))
                .with_no_client_auth();
            config.alpn_protocols = vec![alpn.to_vec()];
            Ok(TlsConnector::from(Arc::new(config)))
        };
        Ok(UpstreamTls {
            http1: config(b"http/1.1")?,
            http2: config(b"h2")?,
        })
    }

    /// Runs the TLS handshake on a connected stream, offering HTTP/2 or HTTP/1.1 by ALPN.
    pub(crate) async fn handshake(
        &self,
        peer: &PeerKey,
        http2: bool,
        stream: TcpStream,
    ) -> io::Result<TlsStream<TcpStream>> {
        let name = match peer {
            // An IP address as the server name: rustls sends no SNI.
            PeerKey::Address(address) => ServerName::IpAddress(address.ip().into()),
            PeerKey::Name(host, _) => ServerName::try_from(host.to_string())
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?,
        };
        let connector = if http2 { &self.http2 } else { &self.http1 };
        connector.connect(name, stream).await
    }
}

/// Accepts any certificate chain, but checks the handshake signatures with the provider's
/// algorithms (so the peer holds the certificate's private key).
#[derive(Debug)]
struct HandshakeOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for HandshakeOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
