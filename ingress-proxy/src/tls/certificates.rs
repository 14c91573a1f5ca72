//! PEM → `CertifiedKey` parsing, the parse cache, and the self-signed fallback certificate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ingress_core::{TlsBinding, TlsSecret};
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::ProxyError;
use crate::metrics::{Metrics, SecretLabels};

/// Identity of a Secret's contents: the addresses of its two PEM buffers. The entry keeps both
/// `Arc`s alive, so an address cannot be reused by other contents while the entry exists.
type ContentKey = (usize, usize);

/// One parsed (or unparseable) Secret.
#[derive(Debug)]
struct Entry {
    chain: Arc<[u8]>,
    key: Arc<[u8]>,
    /// `None`: the PEM did not parse; it was reported once, and its hosts get the default.
    parsed: Option<Arc<CertifiedKey>>,
}

/// Parsed certificates keyed by the identity of their PEM buffers.
#[derive(Debug)]
pub(super) struct CertificateCache {
    entries: Mutex<Cache>,
    metrics: Arc<Metrics>,
    provider: CryptoProvider,
}

#[derive(Debug, Default)]
struct Cache {
    entries: HashMap<ContentKey, Entry>,
    /// Generation at the last prune: entries unused by newer snapshots are dropped once per
    /// generation change, so a rotated Secret's old certificate does not stay in memory.
    generation: u64,
}

impl CertificateCache {
    pub(super) fn new(metrics: Arc<Metrics>) -> Self {
        CertificateCache {
            entries: Mutex::new(Cache::default()),
            metrics,
            provider: rustls::crypto::ring::default_provider(),
        }
    }

    /// Drops entries whose buffers only the cache still holds when the table has moved on.
    pub(super) fn note_generation(&self, generation: u64) {
        let mut cache = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.generation == generation {
            return;
        }
        cache.generation = generation;
        self.metrics.table_generation.set(generation);
        cache.entries.retain(|_, entry| {
            Arc::strong_count(&entry.chain) > 1 || Arc::strong_count(&entry.key) > 1
        });
    }

    /// The parsed certificate of a binding; `None` if its Secret is missing or does not parse.
    pub(super) fn certified_key(&self, binding: &TlsBinding) -> Option<Arc<CertifiedKey>> {
        let secret = binding.data.as_ref()?;
        let content = (
            Arc::as_ptr(&secret.certificate_chain_pem).cast::<u8>() as usize,
            Arc::as_ptr(&secret.private_key_pem).cast::<u8>() as usize,
        );
        let mut cache = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = cache.entries.get(&content) {
            return entry.parsed.clone();
        }
        let parsed = match parse_secret(secret, &self.provider) {
            Ok(key) => Some(Arc::new(key)),
            Err(error) => {
                let name = secret.meta.key().to_string();
                tracing::warn!(secret = %name, %error, "TLS Secret unusable; its hosts get the default certificate");
                self.metrics
                    .tls_secret_errors
                    .get_or_create(&SecretLabels { secret: name })
                    .inc();
                None
            }
        };
        cache.entries.insert(
            content,
            Entry {
                chain: secret.certificate_chain_pem.clone(),
                key: secret.private_key_pem.clone(),
                parsed: parsed.clone(),
            },
        );
        parsed
    }
}

/// Parses a `kubernetes.io/tls` Secret and checks that its key matches its certificate.
pub(crate) fn parse_secret(
    secret: &TlsSecret,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, ProxyError> {
    let name = secret.meta.key();
    let chain = CertificateDer::pem_slice_iter(&secret.certificate_chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| ProxyError::Certificate {
            secret: name.to_string(),
            field: "tls.crt",
            reason: error.to_string(),
        })?;
    if chain.is_empty() {
        return Err(ProxyError::Certificate {
            secret: name.to_string(),
            field: "tls.crt",
            reason: "no CERTIFICATE block".to_owned(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(&secret.private_key_pem).map_err(|error| {
        ProxyError::Certificate {
            secret: name.to_string(),
            field: "tls.key",
            reason: error.to_string(),
        }
    })?;
    CertifiedKey::from_der(chain, key, provider).map_err(|error| ProxyError::Certificate {
        secret: name.to_string(),
        field: "tls.key",
        reason: error.to_string(),
    })
}

/// A self-signed certificate generated at start, served when no configured one applies
/// (ingress-nginx's "fake certificate").
pub(crate) fn self_signed() -> Result<Arc<CertifiedKey>, ProxyError> {
    let generated = rcgen::generate_simple_self_signed(vec!["ingress.local".to_owned()])
        .map_err(|error| ProxyError::SelfSigned(error.to_string()))?;
    let key = PrivateKeyDer::try_from(generated.signing_key.serialize_der())
        .map_err(|error| ProxyError::SelfSigned(error.to_owned()))?;
    let provider = rustls::crypto::ring::default_provider();
    let certified = CertifiedKey::from_der(vec![generated.cert.der().clone()], key, &provider)
        .map_err(|error| ProxyError::SelfSigned(error.to_string()))?;
    Ok(Arc::new(certified))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ingress_core::ObjectMeta;

    fn secret(chain: &str, key: &str) -> TlsSecret {
        TlsSecret {
            meta: ObjectMeta::new("default", "tls", None),
            certificate_chain_pem: Arc::from(chain.as_bytes()),
            private_key_pem: Arc::from(key.as_bytes()),
            ca_certificate_pem: None,
        }
    }

    #[test]
    fn a_generated_secret_parses() {
        let generated =
            rcgen::generate_simple_self_signed(vec!["a.example".to_owned()]).expect("rcgen");
        let parsed = parse_secret(
            &secret(
                &generated.cert.pem(),
                &generated.signing_key.serialize_pem(),
            ),
            &rustls::crypto::ring::default_provider(),
        )
        .expect("valid secret");
        assert_eq!(parsed.cert.len(), 1);
    }

    #[test]
    fn broken_pem_names_the_secret_and_field() {
        let generated =
            rcgen::generate_simple_self_signed(vec!["a.example".to_owned()]).expect("rcgen");
        let error = parse_secret(
            &secret("not a pem", &generated.signing_key.serialize_pem()),
            &rustls::crypto::ring::default_provider(),
        )
        .expect_err("broken chain");
        assert!(error.to_string().contains("default/tls"), "{error}");
        assert!(error.to_string().contains("tls.crt"), "{error}");
    }

    #[test]
    fn a_key_for_another_certificate_is_rejected() {
        let one = rcgen::generate_simple_self_signed(vec!["a.example".to_owned()]).expect("rcgen");
        let other =
            rcgen::generate_simple_self_signed(vec!["b.example".to_owned()]).expect("rcgen");
        let error = parse_secret(
            &secret(&one.cert.pem(), &other.signing_key.serialize_pem()),
            &rustls::crypto::ring::default_provider(),
        )
        .expect_err("mismatched key");
        assert!(error.to_string().contains("tls.key"), "{error}");
    }
}
