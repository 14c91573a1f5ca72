//! The HTTPS listener's protocol versions and TLS 1.2 cipher suites: the ConfigMap's
//! `ssl-protocols` and `ssl-ciphers` when one is in force, else TLS 1.2 and 1.3 with every
//! suite of the ring provider. rustls fixes both per `ServerConfig`, so there is one acceptor
//! per distinct pair, built when a connection first needs it after a change (the certificate
//! resolver is shared). As with nginx's `ssl_ciphers`, the list does not restrict TLS 1.3.

use std::sync::{Arc, Mutex, PoisonError};

use ingress_core::RouteTable;
use ingress_core::global_config::TlsProtocols;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::ClientCertVerifier;
use rustls::{CipherSuite, ServerConfig, SupportedCipherSuite};

use super::CertificateResolver;
use crate::error::ProxyError;

/// OpenSSL's names (what `ssl-ciphers` takes) of the TLS 1.2 suites rustls implements.
const OPENSSL_NAMES: &[(&str, CipherSuite)] = &[
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// What a `ServerConfig` is built for: `None` is the default (no ConfigMap).
pub(super) type TlsChoice = Option<(TlsProtocols, Arc<str>)>;

/// The HTTPS listener's configurations, one per [`TlsChoice`] (the newest kept), and those
/// that ask for client certificates ([`super::client_auth`]).
pub(crate) struct TlsAcceptors {
    pub(super) resolver: Arc<CertificateResolver>,
    default: Arc<ServerConfig>,
    current: Mutex<Option<(TlsChoice, Arc<ServerConfig>)>>,
    /// Configurations with a client-certificate request, per CA and [`TlsChoice`].
    pub(super) client_auth: Mutex<super::client_auth::ClientAuthCache>,
}

impl std::fmt::Debug for TlsAcceptors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptors").finish_non_exhaustive()
    }
}

impl TlsAcceptors {
    pub(crate) fn new(resolver: Arc<CertificateResolver>) -> Result<Self, ProxyError> {
        let default = Arc::new(server_config(resolver.clone(), None, None)?);
        Ok(TlsAcceptors {
            resolver,
            default,
            current: Mutex::new(None),
            client_auth: Mutex::default(),
        })
    }

    /// The configuration for `table`'s `ssl-protocols` and `ssl-ciphers`, and that choice.
    pub(super) fn base(&self, table: &RouteTable) -> (TlsChoice, Arc<ServerConfig>) {
        let global = table.global_config();
        if global.configmap.is_none() {
            return (None, self.default.clone());
        }
        let choice: TlsChoice = Some((global.ssl_protocols, global.ssl_ciphers.clone()));
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((built_for, config)) = &*current
            && *built_for == choice
        {
            return (choice, config.clone());
        }
        match server_config(self.resolver.clone(), choice.as_ref(), None) {
            Ok(config) => {
                let config = Arc::new(config);
                *current = Some((choice.clone(), config.clone()));
                (choice, config)
            }
            Err(error) => {
                // The core accepts only values rustls can offer; should that ever fail, the
                // listener keeps serving with its defaults, loudly.
                tracing::error!(%error, "ssl-protocols/ssl-ciphers not applicable; TLS defaults in use");
                (None, self.default.clone())
            }
        }
    }
}

/// The rustls server configuration: the ring provider's suites (TLS 1.2 ones limited to
/// `choice`'s ciphers, in its order), its protocol versions, ALPN `h2` then `http/1.1`,
/// certificates from `resolver`.
pub(crate) fn server_config(
    resolver: Arc<CertificateResolver>,
    choice: Option<&(TlsProtocols, Arc<str>)>,
    client_auth: Option<Arc<dyn ClientCertVerifier>>,
) -> Result<ServerConfig, ProxyError> {
    let ring = rustls::crypto::ring::default_provider();
    let (versions, suites) = match choice {
        None => (
            vec![&rustls::version::TLS13, &rustls::version::TLS12],
            ring.cipher_suites.clone(),
        ),
        Some((protocols, ciphers)) => {
            let mut versions = Vec::new();
            if protocols.tls13 {
                versions.push(&rustls::version::TLS13);
            }
            if protocols.tls12 {
                versions.push(&rustls::version::TLS12);
            }
            (versions, suites_for(&ring.cipher_suites, ciphers))
        }
    };
    let provider = Arc::new(CryptoProvider {
        cipher_suites: suites,
        ..ring
    });
    let builder = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(ProxyError::Tls)?;
    let builder = match client_auth {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Every TLS 1.3 suite, then the TLS 1.2 suites `ciphers` names (colon-separated OpenSSL
/// names), in its order; names rustls does not implement are skipped (the core warned).
pub(crate) fn suites_for(all: &[SupportedCipherSuite], ciphers: &str) -> Vec<SupportedCipherSuite> {
    let mut suites: Vec<SupportedCipherSuite> = all
        .iter()
        .filter(|suite| matches!(suite, SupportedCipherSuite::Tls13(_)))
        .copied()
        .collect();
    for name in ciphers.split(':').map(str::trim) {
        let Some((_, id)) = OPENSSL_NAMES.iter().find(|(known, _)| *known == name) else {
            continue;
        };
        if let Some(suite) = all.iter().find(|suite| suite.suite() == *id)
            && !suites.contains(suite)
        {
            suites.push(*suite);
        }
    }
    suites
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_the_core_accepts_maps_to_a_ring_suite() {
        let ring = rustls::crypto::ring::default_provider();
        for name in ingress_core::global_config::RUSTLS_TLS12_CIPHERS {
            let suites = suites_for(&ring.cipher_suites, name);
            let tls12: Vec<_> = suites
                .iter()
                .filter(|s| matches!(s, SupportedCipherSuite::Tls12(_)))
                .collect();
            assert_eq!(tls12.len(), 1, "{name}");
        }
    }

    #[test]
    fn the_listed_order_is_kept_and_tls13_suites_stay() {
        let ring = rustls::crypto::ring::default_provider();
        let suites = suites_for(
            &ring.cipher_suites,
            "ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256",
        );
        let tls12: Vec<CipherSuite> = suites
            .iter()
            .filter(|s| matches!(s, SupportedCipherSuite::Tls12(_)))
            .map(SupportedCipherSuite::suite)
            .collect();
        assert_eq!(
            tls12,
            [
                CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
                CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
            ]
        );
        assert!(
            suites
                .iter()
                .any(|s| matches!(s, SupportedCipherSuite::Tls13(_)))
        );
    }
}
