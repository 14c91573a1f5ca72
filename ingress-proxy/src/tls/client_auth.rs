//! Client certificates on the shared HTTPS listener (`auth-tls-*`), per host.
//!
//! The handshake reads the ClientHello first ([`LazyConfigAcceptor`]); when the server name
//! it carries is a host whose `auth-tls-verify-client` is not `off`, the connection gets a
//! configuration that asks for a client certificate (naming the `ca.crt` subjects as
//! acceptable issuers, except for `optional_no_ca`). Every other host's handshake never asks.
//!
//! As nginx does, the handshake completes whatever the client sends: the client must prove
//! it holds the key of the certificate it sends, but whether the certificate verifies is
//! decided after the handshake ([`Verdict`]) and recorded with the connection
//! ([`ClientTls`]), so the request gets nginx's answers — `400` ("No required SSL certificate
//! was sent", "The SSL certificate error") or the `auth-tls-error-page` redirect — and the
//! upstream the `ssl-client-*` fields. The per-request decision is
//! `handler::client_certificate`'s.
//!
//! Configurations and CA verifiers are cached by the identity of the CA's PEM buffer (a
//! rotated Secret arrives as a new buffer); entries whose buffer no snapshot holds any more
//! are dropped when a new one is built.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, PoisonError};

use ingress_core::TableReader;
use ingress_core::annotations::{ClientTlsPolicy, VerifyClient};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{Acceptor, ServerConfig, WebPkiClientVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::server::TlsStream;

use super::TlsAcceptors;
use super::client_verdict::{ClientCa, Verdict};
use super::settings::{TlsChoice, server_config};

/// What a TLS connection's handshake established about its client.
#[derive(Debug)]
pub(crate) struct ClientTls {
    /// The server name the client sent (SNI), lower-case.
    pub(crate) server_name: Option<Arc<str>>,
    /// Set when the handshake asked for a client certificate: under which settings, and
    /// what the certificate proved.
    pub(crate) checked: Option<(ClientPolicyKey, Verdict)>,
}

/// The settings a client certificate was checked under: the CA buffer (by identity), the
/// depth and the mode. Equal keys mean the verdict holds for another request.
#[derive(Debug, Clone)]
pub(crate) struct ClientPolicyKey {
    ca: Arc<[u8]>,
    depth: u32,
    verify: VerifyClient,
}

/// Asks for a client certificate and accepts any, checking only the handshake signature;
/// the verdict on the certificate is taken after the handshake.
#[derive(Debug)]
struct AskForCertificate {
    hints: Vec<DistinguishedName>,
    provider: Arc<CryptoProvider>,
}

/// Parsed CAs and the configurations that ask for certificates they issued.
#[derive(Debug, Default)]
pub(crate) struct ClientAuthCache {
    entries: HashMap<usize, CaEntry>,
    /// The listener choice the entries' configurations were built for.
    choice: TlsChoice,
}

#[derive(Debug)]
struct CaEntry {
    /// Keeps the buffer (and so its address, the key) alive.
    ca: Arc<[u8]>,
    parsed: Result<Arc<ClientCa>, Arc<str>>,
    /// With the CA subjects as hints, and without (`optional_no_ca`).
    configs: [Option<Arc<ServerConfig>>; 2],
}

impl ClientPolicyKey {
    /// The key of a host's settings; `None` when the Secret could not be read.
    pub(crate) fn of(policy: &ClientTlsPolicy) -> Option<Self> {
        Some(ClientPolicyKey {
            ca: policy.ca_pem()?.clone(),
            depth: policy.verify_depth,
            verify: policy.verify_client,
        })
    }

    /// Whether `other` is the same settings (same CA buffer, depth and mode).
    pub(crate) fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.ca, &other.ca) && self.depth == other.depth && self.verify == other.verify
    }
}

impl TlsAcceptors {
    /// Runs the TLS handshake with the configuration the client's server name calls for,
    /// chosen on the snapshot current when the ClientHello arrives.
    pub(crate) async fn accept<IO>(
        &self,
        table: &TableReader,
        stream: IO,
    ) -> io::Result<(TlsStream<IO>, ClientTls)>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let start = LazyConfigAcceptor::new(Acceptor::default(), stream).await?;
        let server_name: Option<Arc<str>> = start
            .client_hello()
            .server_name()
            .map(|name| name.to_ascii_lowercase().into());
        let (config, asked) = {
            let snapshot = table.load();
            let (choice, base) = self.base(&snapshot);
            let key = server_name
                .as_deref()
                .and_then(|name| snapshot.client_tls(name))
                .filter(|policy| policy.verify_client != VerifyClient::Off)
                .and_then(|policy| ClientPolicyKey::of(policy));
            match key {
                // No client certificate for this host, or its Secret is unusable (its
                // requests are refused).
                None => (base, None),
                Some(key) => match self.client_auth_config(choice, &key) {
                    Ok((config, ca)) => (config, Some((key, Ok(ca)))),
                    Err(reason) => (base, Some((key, Err(reason)))),
                },
            }
        };
        let stream = start.into_stream(config).await?;
        let checked = asked.map(|(key, ca)| {
            let verdict = match ca {
                Ok(ca) => Verdict::of(stream.get_ref().1.peer_certificates(), &ca, key.depth),
                Err(reason) => Verdict::Unusable(reason),
            };
            (key, verdict)
        });
        Ok((
            stream,
            ClientTls {
                server_name,
                checked,
            },
        ))
    }

    /// The configuration asking for certificates of `key`'s CA under `choice`, and the CA.
    fn client_auth_config(
        &self,
        choice: TlsChoice,
        key: &ClientPolicyKey,
    ) -> Result<(Arc<ServerConfig>, Arc<ClientCa>), Arc<str>> {
        let mut cache = self
            .client_auth
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if cache.choice != choice {
            cache.choice = choice.clone();
            for entry in cache.entries.values_mut() {
                entry.configs = [None, None];
            }
        }
        let address = Arc::as_ptr(&key.ca).cast::<u8>() as usize;
        if !cache.entries.contains_key(&address) {
            // A rotated Secret: drop the CAs only the cache still holds.
            cache
                .entries
                .retain(|_, entry| Arc::strong_count(&entry.ca) > 1);
            let parsed = parse_ca(&key.ca).map(Arc::new).map_err(|reason| {
                tracing::error!(%reason, "auth-tls-secret's ca.crt unusable; its hosts' requests are refused");
                Arc::<str>::from(reason)
            });
            cache.entries.insert(
                address,
                CaEntry {
                    ca: key.ca.clone(),
                    parsed,
                    configs: [None, None],
                },
            );
        }
        let entry = cache
            .entries
            .get_mut(&address)
            .ok_or_else(|| Arc::<str>::from("CA cache entry missing"))?;
        let ca = entry.parsed.clone()?;
        let hinted = key.verify != VerifyClient::OptionalNoCa;
        let slot = &mut entry.configs[usize::from(hinted)];
        if let Some(config) = slot {
            return Ok((config.clone(), ca));
        }
        let verifier = Arc::new(AskForCertificate {
            hints: if hinted {
                ca.verifier.root_hint_subjects().to_vec()
            } else {
                Vec::new()
            },
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        });
        let config = server_config(self.resolver.clone(), choice.as_ref(), Some(verifier))
            .map(Arc::new)
            .map_err(|error| Arc::<str>::from(error.to_string()))?;
        *slot = Some(config.clone());
        Ok((config, ca))
    }
}

/// The verifier of a `ca.crt` bundle.
fn parse_ca(pem: &[u8]) -> Result<ClientCa, String> {
    let mut store = RootCertStore::empty();
    let mut roots = Vec::new();
    for certificate in CertificateDer::pem_slice_iter(pem) {
        let certificate = certificate.map_err(|error| format!("ca.crt: {error}"))?;
        store
            .add(certificate.clone())
            .map_err(|error| format!("ca.crt: {error}"))?;
        roots.push(certificate);
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(
        Arc::new(store),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .map_err(|error| format!("ca.crt: {error}"))?;
    Ok(ClientCa { verifier, roots })
}

impl ClientCertVerifier for AskForCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        // Without a certificate the handshake completes; the request gets nginx's `400`.
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Decided after the handshake (`Verdict::of`), so the request can be answered.
        Ok(ClientCertVerified::assertion())
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
