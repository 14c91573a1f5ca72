//! TLS access control through the real binary from a manifest directory: client certificates
//! (`auth-tls-secret`, `auth-tls-verify-client: on`) answered `400` without a certificate and
//! let through with one from the named CA, and `ssl-passthrough` (with
//! `--enable-ssl-passthrough`) handing a TLS stream, undecrypted, to a backend that terminates
//! it with its own certificate — all on the one HTTPS listener.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::binary_harness::{
    TempDir, backend, eventually, exchange_with, get, service, start_with,
};

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A self-signed certificate for `name`: (PEM, key PEM, DER, key DER).
fn self_signed(name: &str) -> (String, String, CertificateDer<'static>, Vec<u8>) {
    let generated = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
    (
        generated.cert.pem(),
        generated.signing_key.serialize_pem(),
        generated.cert.der().clone(),
        generated.signing_key.serialize_der(),
    )
}

/// A CA (PEM) and a client certificate it issued for `CN=alice` (DER chain, key DER).
fn client_ca() -> (String, CertificateDer<'static>, Vec<u8>) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "test client CA");
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca =
        rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap();
    let mut client = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    client
        .distinguished_name
        .push(rcgen::DnType::CommonName, "alice");
    client.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = rcgen::KeyPair::generate().unwrap();
    let issued = client.signed_by(&key, &ca).unwrap();
    (ca.pem(), issued.der().clone(), key.serialize_der())
}

/// A backend terminating TLS itself with `certificate`, answering `passed-through`.
async fn tls_backend(certificate: CertificateDer<'static>, key: Vec<u8>) -> SocketAddr {
    let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(key));
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certificate], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut chunk = [0u8; 4096];
                let mut head = Vec::new();
                while let Ok(n) = tls.read(&mut chunk).await {
                    if n == 0 {
                        return;
                    }
                    head.extend_from_slice(&chunk[..n]);
                    if head.windows(4).any(|w| w == b"\r\n\r\n") {
                        head.clear();
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 14\r\n\r\npassed-through";
                        if tls.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    address
}

/// A GET to `host` over TLS, trusting `root` only, with a client certificate when given:
/// (status, body, the server's certificate).
async fn get_tls(
    https: SocketAddr,
    host: &'static str,
    root: &CertificateDer<'static>,
    client: Option<(CertificateDer<'static>, Vec<u8>)>,
) -> (u16, String, CertificateDer<'static>) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some((chain, key)) => builder
            .with_client_auth_cert(vec![chain], PrivatePkcs8KeyDer::from(key).into())
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let tcp = TcpStream::connect(https).await.unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from(host).unwrap(), tcp)
        .await
        .unwrap();
    let served = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    let (status, _, body) = exchange_with(&mut tls, host, "/", "").await;
    (status, body, served)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_and_passthrough_work_through_the_binary() {
    let web = backend("web").await;
    let (server_pem, server_key_pem, server_der, _) = self_signed("mtls.test");
    let (_, _, backend_der, backend_key) = self_signed("pass.test");
    let secure = tls_backend(backend_der.clone(), backend_key).await;
    let (ca_pem, client_der, client_key) = client_ca();

    let dir = TempDir(
        std::env::temp_dir().join(format!("ingress-k8s-tls-access-{}", std::process::id())),
    );
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).unwrap();
    dir.write(
        "10-services.yaml",
        &format!("{}---\n{}", service("web", web), service("secure", secure)),
    );
    dir.write(
        "20-secrets.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: server-tls}}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: {}\n  tls.key: {}\n---\n\
             apiVersion: v1\nkind: Secret\nmetadata: {{name: client-ca}}\ntype: Opaque\ndata:\n  ca.crt: {}\n",
            b64(&server_pem),
            b64(&server_key_pem),
            b64(&ca_pem)
        ),
    );
    dir.write(
        "30-ingresses.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: mtls\n  annotations:\n    nginx.ingress.kubernetes.io/auth-tls-secret: default/client-ca\n    nginx.ingress.kubernetes.io/auth-tls-verify-client: \"on\"\nspec:\n  ingressClassName: nginx\n  tls: [{hosts: [mtls.test], secretName: server-tls}]\n  rules:\n  - host: mtls.test\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {name: http}}}}\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: pass\n  annotations:\n    nginx.ingress.kubernetes.io/ssl-passthrough: \"true\"\nspec:\n  ingressClassName: nginx\n  rules:\n  - host: pass.test\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: secure, port: {name: http}}}}\n",
    );

    let proxy = start_with(&dir.0, &["--enable-ssl-passthrough"]);
    let ready = eventually(Duration::from_secs(10), || async {
        get(proxy.admin, "admin", "/readyz").await.0 == 200
            && get(proxy.http, "mtls.test", "/").await.0 != 404
    })
    .await;
    assert!(ready, "the routes are served");

    // Client certificates: the handshake asks for one; without it the request gets nginx's 400.
    let (status, body, served) = get_tls(proxy.https, "mtls.test", &server_der, None).await;
    assert_eq!(served, server_der);
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("No required SSL certificate was sent"),
        "{body}"
    );
    let alice = Some((client_der, client_key));
    let (status, body, _) = get_tls(proxy.https, "mtls.test", &server_der, alice).await;
    assert_eq!((status, body.as_str()), (200, "web"));

    // Passthrough: the backend's own certificate, end to end, on the same listener.
    let (status, body, served) = get_tls(proxy.https, "pass.test", &backend_der, None).await;
    assert_eq!(served, backend_der);
    assert_eq!((status, body.as_str()), (200, "passed-through"));

    let (_, metrics) = get(proxy.admin, "admin", "/metrics").await;
    for series in [
        "ingress_requests_denied_total{reason=\"client_certificate\"} 1",
        "ingress_ssl_passthrough_connections_total{result=\"passed\"} 1",
    ] {
        assert!(metrics.contains(series), "{series} missing");
    }
}
