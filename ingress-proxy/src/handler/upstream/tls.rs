//! TLS to upstreams (`HTTPS` and `GRPCS` backend protocols).
//!
//! Without `proxy-ssl-*` annotations, ingress-nginx's defaults: the connection is encrypted,
//! but the upstream's certificate is not checked against a CA (`proxy-ssl-verify: off`;
//! in-cluster certificates are usually self-signed), and no SNI is sent to an endpoint IP
//! address. The handshake itself is still verified: the server must prove it holds the key of
//! the certificate it presents.
//!
//! A route's [`UpstreamTlsPolicy`] gets a client of its own ([`TlsClient`]): the CA of its
//! `proxy-ssl-secret` (with `proxy-ssl-verify: on`), the client certificate it presents, the
//! name it verifies and sends, its protocol versions and ciphers. Clients are cached by the
//! identity of the Secret's buffers and the other settings, so rebuilt snapshots share them
//! and a rotated Secret (new buffers) gets a new one. A pooled connection is keyed by its
//! client ([`TlsClientKey`]): a connection made under one policy never serves another.

mod verify;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use ingress_core::annotations::{CertificatePem, UpstreamTlsPolicy};
use ingress_core::global_config::TlsProtocols;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::PeerKey;
use verify::{DepthLimited, HandshakeOnly};

/// Most cached clients before the cache is emptied (policies are per Ingress, so this is
/// reached only by churn; the clients in use are rebuilt on demand).
const MAX_CLIENTS: usize = 1024;

/// TLS clients for upstream connections: the default one, and one per distinct policy.
pub(crate) struct UpstreamTls {
    /// Without `proxy-ssl-*` annotations.
    default: TlsClientKey,
    /// Built clients, and policies that could not be built (reported once, when built).
    clients: Mutex<HashMap<PolicyKey, Result<TlsClientKey, Arc<TlsClientError>>>>,
}

/// One TLS client configuration, for HTTP/1.1 and HTTP/2 (they differ in ALPN).
pub(crate) struct TlsClient {
    http1: TlsConnector,
    http2: TlsConnector,
    /// `proxy-ssl-name`: the name verified and sent, instead of the peer's.
    name: Option<ServerName<'static>>,
}

/// A [`TlsClient`], compared by identity: part of an upstream pool key.
#[derive(Clone)]
pub(crate) struct TlsClientKey(Arc<TlsClient>);

/// What a [`TlsClient`] is built from: the policy's settings, and its Secret's buffers by
/// identity (the key holds them, so an address cannot be reused by other contents).
#[derive(Debug, Clone)]
struct PolicyKey {
    ca: Option<Arc<[u8]>>,
    certificate: Option<CertificatePem>,
    verify: bool,
    verify_depth: u32,
    name: Option<Arc<str>>,
    server_name: bool,
    protocols: TlsProtocols,
    ciphers: Option<Arc<str>>,
}

/// A policy whose client could not be built (a certificate rustls refuses).
#[derive(Debug, thiserror::Error)]
#[error("upstream TLS for Secret {secret}: {reason}")]
pub(crate) struct TlsClientError {
    secret: String,
    reason: String,
}

impl std::fmt::Debug for UpstreamTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamTls").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for TlsClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TlsClient({:p})", Arc::as_ptr(&self.0))
    }
}

impl UpstreamTls {
    pub(crate) fn new() -> Result<Self, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let unverified = |alpn: &[u8]| -> Result<TlsConnector, rustls::Error> {
            let mut config = ClientConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(HandshakeOnly(provider.clone())))
                .with_no_client_auth();
            config.alpn_protocols = vec![alpn.to_vec()];
            Ok(TlsConnector::from(Arc::new(config)))
        };
        let default = TlsClient {
            http1: unverified(b"http/1.1")?,
            http2: unverified(b"h2")?,
            name: None,
        };
        Ok(UpstreamTls {
            default: TlsClientKey(Arc::new(default)),
            clients: Mutex::new(HashMap::new()),
        })
    }

    /// The client without `proxy-ssl-*` annotations.
    pub(crate) fn default_client(&self) -> TlsClientKey {
        self.default.clone()
    }

    /// The client for a route's policy (`None`: the default), built on first use.
    pub(crate) fn client(
        &self,
        policy: Option<&UpstreamTlsPolicy>,
    ) -> Result<TlsClientKey, Arc<TlsClientError>> {
        let Some(policy) = policy else {
            return Ok(self.default_client());
        };
        let key = PolicyKey::of(policy);
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = clients.get(&key) {
            return client.clone();
        }
        let client = self
            .build(&key, policy)
            .map(|client| TlsClientKey(Arc::new(client)))
            .map_err(|error| {
                tracing::error!(%error, "upstream TLS policy unusable; its routes answer 503");
                Arc::new(error)
            });
        // Rotated Secrets: drop the clients whose buffers only the cache still holds.
        clients.retain(|key, _| !key.is_orphan());
        if clients.len() >= MAX_CLIENTS {
            clients.clear();
        }
        clients.insert(key, client.clone());
        client
    }

    fn build(
        &self,
        key: &PolicyKey,
        policy: &UpstreamTlsPolicy,
    ) -> Result<TlsClient, TlsClientError> {
        let secret = policy
            .secret
            .as_ref()
            .map_or_else(String::new, |secret| secret.secret.to_string());
        let fail = |reason: String| TlsClientError {
            secret: secret.clone(),
            reason,
        };
        let ring = rustls::crypto::ring::default_provider();
        let suites = match &key.ciphers {
            Some(ciphers) => crate::tls::suites_for(&ring.cipher_suites, ciphers),
            None => ring.cipher_suites.clone(),
        };
        let provider = Arc::new(CryptoProvider {
            cipher_suites: suites,
            ..ring
        });
        let mut versions = Vec::new();
        if key.protocols.tls13 {
            versions.push(&rustls::version::TLS13);
        }
        if key.protocols.tls12 {
            versions.push(&rustls::version::TLS12);
        }
        let verifier: Arc<dyn rustls::client::danger::ServerCertVerifier> =
            match (&key.ca, key.verify) {
                (Some(ca), true) => {
                    let mut roots = RootCertStore::empty();
                    let mut anchors = Vec::new();
                    for certificate in CertificateDer::pem_slice_iter(ca) {
                        let certificate =
                            certificate.map_err(|error| fail(format!("ca.crt: {error}")))?;
                        roots
                            .add(certificate.clone())
                            .map_err(|error| fail(format!("ca.crt: {error}")))?;
                        anchors.push(certificate);
                    }
                    let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
                        Arc::new(roots),
                        provider.clone(),
                    )
                    .build()
                    .map_err(|error| fail(format!("ca.crt: {error}")))?;
                    Arc::new(DepthLimited::new(inner, anchors, key.verify_depth))
                }
                // The core refuses `proxy-ssl-verify: on` without a `ca.crt`.
                _ => Arc::new(HandshakeOnly(provider.clone())),
            };
        let config = |alpn: &[u8]| -> Result<TlsConnector, TlsClientError> {
            let builder = ClientConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(&versions)
                .map_err(|error| fail(error.to_string()))?
                .dangerous()
                .with_custom_certificate_verifier(verifier.clone());
            let mut config = match &key.certificate {
                Some(certificate) => {
                    let chain = CertificateDer::pem_slice_iter(&certificate.chain_pem)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|error| fail(format!("tls.crt: {error}")))?;
                    let private_key = PrivateKeyDer::from_pem_slice(&certificate.key_pem)
                        .map_err(|error| fail(format!("tls.key: {error}")))?;
                    builder
                        .with_client_auth_cert(chain, private_key)
                        .map_err(|error| fail(format!("tls.crt/tls.key: {error}")))?
                }
                None => builder.with_no_client_auth(),
            };
            config.alpn_protocols = vec![alpn.to_vec()];
            config.enable_sni = key.server_name;
            Ok(TlsConnector::from(Arc::new(config)))
        };
        let name = match &key.name {
            Some(name) => Some(
                ServerName::try_from(name.to_string())
                    .map_err(|error| fail(format!("proxy-ssl-name: {error}")))?,
            ),
            None => None,
        };
        Ok(TlsClient {
            http1: config(b"http/1.1")?,
            http2: config(b"h2")?,
            name,
        })
    }
}

impl TlsClientKey {
    /// Runs the TLS handshake on a connected stream, offering HTTP/2 or HTTP/1.1 by ALPN.
    /// The name verified (and sent as SNI, when enabled) is `proxy-ssl-name`, else the peer's.
    pub(crate) async fn handshake(
        &self,
        peer: &PeerKey,
        http2: bool,
        stream: TcpStream,
    ) -> io::Result<TlsStream<TcpStream>> {
        let client = &self.0;
        let name = match (&client.name, peer) {
            (Some(name), _) => name.clone(),
            // An IP address as the server name: rustls sends no SNI.
            (None, PeerKey::Address(address)) => ServerName::IpAddress(address.ip().into()),
            (None, PeerKey::Name(host, _)) => ServerName::try_from(host.to_string())
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?,
        };
        let connector = if http2 { &client.http2 } else { &client.http1 };
        connector.connect(name, stream).await
    }
}

impl PartialEq for TlsClientKey {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for TlsClientKey {}

impl Hash for TlsClientKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.0).hash(state);
    }
}

impl PolicyKey {
    fn of(policy: &UpstreamTlsPolicy) -> Self {
        let secret = policy.secret.as_deref();
        PolicyKey {
            ca: secret.and_then(|secret| secret.ca_pem.clone()),
            certificate: secret.and_then(|secret| secret.certificate.clone()),
            verify: policy.verify,
            verify_depth: policy.verify_depth,
            name: policy.name.clone(),
            server_name: policy.server_name,
            protocols: policy.protocols,
            ciphers: policy.ciphers.clone(),
        }
    }

    /// Whether no snapshot holds this key's Secret buffers any more (only the cache does).
    fn is_orphan(&self) -> bool {
        self.ca
            .as_ref()
            .is_some_and(|ca| Arc::strong_count(ca) == 1)
            || self
                .certificate
                .as_ref()
                .is_some_and(|certificate| Arc::strong_count(&certificate.chain_pem) == 1)
    }

    fn buffers(&self) -> (Option<*const u8>, Option<*const u8>) {
        (
            self.ca.as_ref().map(|ca| Arc::as_ptr(ca).cast::<u8>()),
            self.certificate
                .as_ref()
                .map(|certificate| Arc::as_ptr(&certificate.chain_pem).cast::<u8>()),
        )
    }

    fn settings(&self) -> (bool, u32, Option<&str>, bool, TlsProtocols, Option<&str>) {
        (
            self.verify,
            self.verify_depth,
            self.name.as_deref(),
            self.server_name,
            self.protocols,
            self.ciphers.as_deref(),
        )
    }
}

impl PartialEq for PolicyKey {
    fn eq(&self, other: &Self) -> bool {
        self.buffers() == other.buffers() && self.settings() == other.settings()
    }
}

impl Eq for PolicyKey {}

impl Hash for PolicyKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.buffers().hash(state);
        self.settings().hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ingress_core::ObjectKey;
    use ingress_core::annotations::CertificateSecret;

    fn policy(name: &str, ca: Option<Arc<[u8]>>) -> UpstreamTlsPolicy {
        UpstreamTlsPolicy {
            secret_name: ca.as_ref().map(|_| Arc::from("shop/ca")),
            secret: ca.map(|ca| {
                Arc::new(CertificateSecret {
                    secret: ObjectKey::new("shop", "ca"),
                    ca_pem: Some(ca),
                    certificate: None,
                })
            }),
            verify: true,
            verify_depth: 1,
            name: Some(name.into()),
            server_name: false,
            protocols: TlsProtocols {
                tls12: true,
                tls13: true,
            },
            ciphers: None,
        }
    }

    #[test]
    fn equal_policies_share_a_client_and_a_rotated_secret_gets_a_new_one() {
        let tls = UpstreamTls::new().expect("upstream TLS");
        let default = tls.client(None).expect("default");
        assert!(default == tls.client(None).expect("default"));
        let ca = rcgen::generate_simple_self_signed(vec!["ca.example".to_owned()]).expect("rcgen");
        let pem: Arc<[u8]> = Arc::from(ca.cert.pem().as_bytes());
        let first = tls
            .client(Some(&policy("a.svc", Some(pem.clone()))))
            .expect("first");
        let again = tls
            .client(Some(&policy("a.svc", Some(pem.clone()))))
            .expect("again");
        assert!(
            first == again,
            "rebuilt snapshots keep the Secret's buffer: same client"
        );
        assert!(first != default);
        let renamed = tls
            .client(Some(&policy("b.svc", Some(pem.clone()))))
            .expect("renamed");
        assert!(renamed != first, "another proxy-ssl-name is another client");
        let rotated: Arc<[u8]> = Arc::from(ca.cert.pem().as_bytes());
        let rotated = tls
            .client(Some(&policy("a.svc", Some(rotated))))
            .expect("rotated");
        assert!(
            rotated != first,
            "a new Secret buffer is a new client, even with equal bytes"
        );
    }

    #[test]
    fn a_ca_rustls_refuses_is_an_error_naming_the_secret() {
        let tls = UpstreamTls::new().expect("upstream TLS");
        let junk = "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";
        let error = tls
            .client(Some(&policy("a.svc", Some(Arc::from(junk.as_bytes())))))
            .expect_err("not a certificate");
        assert!(error.to_string().contains("shop/ca"), "{error}");
        assert!(error.to_string().contains("ca.crt"), "{error}");
    }
}
