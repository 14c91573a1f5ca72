//! TLS passthrough routed by SNI (`ssl_preread`), with a real rustls client and TLS backends.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use common::*;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS backend that, after the handshake, writes its name and closes.
async fn tls_backend(
    name: &'static str,
    certificate: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> SocketAddr {
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![certificate], key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = bind().await;
    let address = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let _ = tls.write_all(name.as_bytes()).await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    address
}

/// Connects through the balancer with TLS for `server_name` and returns what the backend said.
async fn tls_greeting(
    address: SocketAddr,
    server_name: &'static str,
    root: &CertificateDer<'static>,
) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).expect("root");
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let stream = TcpStream::connect(address).await.expect("connect");
    let name = ServerName::try_from(server_name).expect("server name");
    let mut tls = tokio::time::timeout(WAIT, connector.connect(name, stream))
        .await
        .expect("handshake in time")
        .expect("handshake");
    let mut said = String::new();
    let _ = tokio::time::timeout(WAIT, tls.read_to_string(&mut said))
        .await
        .expect("in time");
    said
}

#[tokio::test]
async fn server_name_selects_the_group_and_tls_passes_through() {
    let certified = rcgen::generate_simple_self_signed(vec![
        "a.example.test".to_string(),
        "*.example.test".to_string(),
    ])
    .expect("certificate");
    let certificate = certified.cert.der().clone();
    let key = || {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ))
    };
    let a = tls_backend("group-a", certificate.clone(), key()).await;
    let b = tls_backend("group-b", certificate.clone(), key()).await;
    let wild = tls_backend("group-wild", certificate.clone(), key()).await;
    let toml = format!(
        r#"
[upstreams.a]
servers = [{{ address = "{a}" }}]
[upstreams.b]
servers = [{{ address = "{b}" }}]
[upstreams.wild]
servers = [{{ address = "{wild}" }}]

[[listeners]]
address = "127.0.0.1:0"
upstream = "b"
ssl_preread = true
server_names = {{ "a.example.test" = "a", "*.example.test" = "wild" }}
"#
    );
    let lb = Running::start(&toml).await;
    let cases = [
        ("a.example.test", "group-a"),
        ("x.example.test", "group-wild"),
        ("A.Example.Test", "group-a"),
    ];
    for (server_name, want) in cases {
        assert_eq!(
            tls_greeting(lb.address, server_name, &certificate).await,
            want,
            "{server_name}"
        );
    }
    // A client that is not TLS at all goes to the default group.
    let mut plain = TcpStream::connect(lb.address).await.expect("connect");
    plain
        .write_all(b"GET / HTTP/1.1\r\n\r\n")
        .await
        .expect("write");
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(WAIT, plain.read_to_end(&mut reply))
        .await
        .expect("in time");
    drop(plain);
    eventually("the default group to be logged", || async {
        lb.metrics()
            .await
            .contains("ingress_lb_bytes_total{group=\"b\",direction=\"to_upstream\"} 18")
    })
    .await;
    lb.stop().await;
}
