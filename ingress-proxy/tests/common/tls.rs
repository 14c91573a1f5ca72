//! A TLS test client that accepts any certificate and reports the one it was given.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::Answer;

/// Accepts every certificate: these tests check *which* certificate is served, not trust.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
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

/// Connects with TLS; `sni: None` sends no SNI. Returns the stream and the served leaf cert.
pub async fn connect(
    address: SocketAddr,
    sni: Option<&str>,
    alpn: &[&[u8]],
    tls12_only: bool,
) -> (TlsStream<TcpStream>, CertificateDer<'static>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] = if tls12_only {
        &[&rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .expect("protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let name = match sni {
        Some(name) => ServerName::try_from(name.to_owned()).expect("server name"),
        None => ServerName::IpAddress(address.ip().into()),
    };
    let tcp = TcpStream::connect(address).await.expect("connect https");
    let stream = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("TLS handshake");
    let leaf = stream
        .get_ref()
        .1
        .peer_certificates()
        .expect("peer certificates")[0]
        .clone()
        .into_owned();
    (stream, leaf)
}

/// Tries a handshake offering only `versions` and, when given, only the TLS 1.2 suite
/// `tls12_suite` (TLS 1.3 suites stay): the negotiated version and suite, or the error.
#[allow(dead_code)] // not every test binary checks protocol settings
pub async fn handshake(
    address: SocketAddr,
    versions: &[&'static rustls::SupportedProtocolVersion],
    tls12_suite: Option<rustls::CipherSuite>,
) -> Result<(rustls::ProtocolVersion, rustls::CipherSuite), String> {
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(wanted) = tls12_suite {
        provider.cipher_suites.retain(|suite| {
            matches!(suite, rustls::SupportedCipherSuite::Tls13(_)) || suite.suite() == wanted
        });
    }
    let provider = Arc::new(provider);
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    let tcp = TcpStream::connect(address)
        .await
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from("a.example").expect("server name");
    let stream = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let session = stream.get_ref().1;
    Ok((
        session.protocol_version().expect("version"),
        session.negotiated_cipher_suite().expect("suite").suite(),
    ))
}

/// Sends one request over an established TLS stream, HTTP/2 if ALPN chose `h2`.
pub async fn request(stream: TlsStream<TcpStream>, request: Request<Full<Bytes>>) -> Answer {
    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
    let io = TokioIo::new(stream);
    let response = if h2 {
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                .await
                .expect("h2 handshake");
        tokio::spawn(connection);
        sender.send_request(request).await.expect("h2 response")
    } else {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .expect("h1 handshake");
        tokio::spawn(connection);
        sender.send_request(request).await.expect("h1 response")
    };
    let (parts, body) = response.into_parts();
    let body = http_body_util::BodyExt::collect(body)
        .await
        .expect("body")
        .to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// A self-signed certificate for `names`: (chain PEM, key PEM, DER).
pub fn certificate(names: &[&str]) -> (String, String, CertificateDer<'static>) {
    let generated = rcgen::generate_simple_self_signed(
        names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>(),
    )
    .expect("rcgen");
    (
        generated.cert.pem(),
        generated.signing_key.serialize_pem(),
        generated.cert.der().clone(),
    )
}

/// A test certificate authority: issues server and client certificates.
#[allow(dead_code)] // not every test binary needs a CA
pub struct TestCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    /// For an intermediate CA: its own certificate, sent after the certificates it issues.
    intermediate: Option<(String, CertificateDer<'static>)>,
}

/// A certificate issued by a [`TestCa`].
#[allow(dead_code)]
pub struct Issued {
    pub chain_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
    key_der: Vec<u8>,
    /// The issuing intermediate CA's certificate, if any (also at the end of `chain_pem`).
    intermediate: Option<CertificateDer<'static>>,
}

#[allow(dead_code)]
impl TestCa {
    /// A self-signed CA whose subject's common name is `name`.
    pub fn new(name: &str) -> Self {
        let (params, key) = Self::ca_params(name);
        TestCa {
            issuer: rcgen::CertifiedIssuer::self_signed(params, key).expect("CA"),
            intermediate: None,
        }
    }

    /// An intermediate CA issued by this one.
    pub fn intermediate(&self, name: &str) -> TestCa {
        let (params, key) = Self::ca_params(name);
        let issuer = rcgen::CertifiedIssuer::signed_by(params, key, &self.issuer).expect("CA");
        let own = (issuer.pem(), issuer.der().clone());
        TestCa {
            issuer,
            intermediate: Some(own),
        }
    }

    fn ca_params(name: &str) -> (rcgen::CertificateParams, rcgen::KeyPair) {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        (params, rcgen::KeyPair::generate().expect("key"))
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for `names`.
    pub fn server(&self, names: &[&str]) -> Issued {
        self.issue(names, None, rcgen::ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate whose subject's common name is `common_name`.
    pub fn client(&self, common_name: &str) -> Issued {
        self.issue(
            &[],
            Some(common_name),
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        )
    }

    fn issue(
        &self,
        names: &[&str],
        common_name: Option<&str>,
        usage: rcgen::ExtendedKeyUsagePurpose,
    ) -> Issued {
        let mut params = rcgen::CertificateParams::new(
            names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>(),
        )
        .expect("params");
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(common_name) = common_name {
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, common_name);
        }
        params.extended_key_usages = vec![usage];
        let key = rcgen::KeyPair::generate().expect("key");
        let certificate = params.signed_by(&key, &self.issuer).expect("issue");
        let mut chain_pem = certificate.pem();
        if let Some((pem, _)) = &self.intermediate {
            chain_pem.push_str(pem);
        }
        Issued {
            chain_pem,
            key_pem: key.serialize_pem(),
            der: certificate.der().clone(),
            key_der: key.serialize_der(),
            intermediate: self.intermediate.as_ref().map(|(_, der)| der.clone()),
        }
    }
}

#[allow(dead_code)]
impl Issued {
    /// The certificate and its key, as rustls takes them.
    pub fn rustls(
        &self,
    ) -> (
        Vec<CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
    ) {
        (
            std::iter::once(self.der.clone())
                .chain(self.intermediate.clone())
                .collect(),
            rustls::pki_types::PrivatePkcs8KeyDer::from(self.key_der.clone()).into(),
        )
    }
}

/// A TLS backend's server configuration: `certificate`, and when `client_ca` is given, a
/// client certificate from that CA is required.
#[allow(dead_code)]
pub fn backend_config(certificate: &Issued, client_ca: Option<&TestCa>) -> rustls::ServerConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions");
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca.issuer.der().clone()).expect("root");
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let (chain, key) = certificate.rustls();
    let mut config = builder.with_single_cert(chain, key).expect("certificate");
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

/// Presents a client certificate when the server asks for one, and records whether it did.
#[derive(Debug)]
struct RecordingClientCertificate {
    certified: Option<Arc<rustls::sign::CertifiedKey>>,
    asked: Arc<std::sync::atomic::AtomicBool>,
}

impl rustls::client::ResolvesClientCert for RecordingClientCertificate {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.asked.store(true, std::sync::atomic::Ordering::SeqCst);
        self.certified.clone()
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// A TLS connection (HTTP/1.1 by ALPN) with `sni` (`None`: no SNI), presenting `client` when
/// asked; also says whether the server asked for a client certificate.
#[allow(dead_code)]
pub async fn connect_with_client_certificate(
    address: SocketAddr,
    sni: Option<&str>,
    client: Option<&Issued>,
) -> (TlsStream<TcpStream>, bool) {
    connect_with_client_certificate_alpn(address, sni, client, b"http/1.1").await
}

/// As [`connect_with_client_certificate`], offering `alpn` (`h2` for HTTP/2).
#[allow(dead_code)]
pub async fn connect_with_client_certificate_alpn(
    address: SocketAddr,
    sni: Option<&str>,
    client: Option<&Issued>,
    alpn: &[u8],
) -> (TlsStream<TcpStream>, bool) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certified = client.map(|issued| {
        let (chain, key) = issued.rustls();
        Arc::new(rustls::sign::CertifiedKey::from_der(chain, key, &provider).expect("client key"))
    });
    let asked = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_client_cert_resolver(Arc::new(RecordingClientCertificate {
            certified,
            asked: asked.clone(),
        }));
    config.alpn_protocols = vec![alpn.to_vec()];
    let name = match sni {
        Some(name) => ServerName::try_from(name.to_owned()).expect("server name"),
        None => ServerName::IpAddress(address.ip().into()),
    };
    let tcp = TcpStream::connect(address).await.expect("connect https");
    let stream = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("TLS handshake");
    let asked = asked.load(std::sync::atomic::Ordering::SeqCst);
    (stream, asked)
}
