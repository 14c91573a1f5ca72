//! Upstream certificate verifiers: [`HandshakeOnly`] (`proxy-ssl-verify: off`) and
//! [`DepthLimited`] (`on`: webpki's verification against `ca.crt`, then
//! `proxy-ssl-verify-depth`).

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

/// Accepts any certificate chain, but checks the handshake signatures with the provider's
/// algorithms (so the peer holds the certificate's private key).
#[derive(Debug)]
pub(super) struct HandshakeOnly(pub(super) Arc<CryptoProvider>);

/// webpki's verification against the `ca.crt` roots, and nginx's `proxy_ssl_verify_depth`
/// counted on the chain the upstream sends: with depth `d`, at most `d - 1` certificates
/// between the upstream's own and a root of `ca.crt` (`1`: issued by a root directly).
/// Certificates the upstream sends that are roots themselves are not counted; extra
/// certificates it sends that the path would not need are (stricter than OpenSSL there).
#[derive(Debug)]
pub(super) struct DepthLimited {
    inner: Arc<WebPkiServerVerifier>,
    anchors: Vec<CertificateDer<'static>>,
    depth: u32,
}

impl DepthLimited {
    pub(super) fn new(
        inner: Arc<WebPkiServerVerifier>,
        anchors: Vec<CertificateDer<'static>>,
        depth: u32,
    ) -> Self {
        DepthLimited {
            inner,
            anchors,
            depth,
        }
    }
}

impl ServerCertVerifier for DepthLimited {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        let between = intermediates
            .iter()
            .filter(|certificate| !self.anchors.iter().any(|anchor| anchor == *certificate))
            .count();
        if u32::try_from(between).unwrap_or(u32::MAX) >= self.depth {
            return Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                rustls::OtherError(Arc::new(DepthExceeded(self.depth))),
            )));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The chain is longer than `proxy-ssl-verify-depth` allows.
#[derive(Debug, thiserror::Error)]
#[error("certificate chain longer than proxy-ssl-verify-depth {0}")]
struct DepthExceeded(u32);

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
