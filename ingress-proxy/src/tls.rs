//! TLS termination: a certificate resolver that reads the current route table per handshake.
//!
//! The resolver asks the snapshot which Secret serves the SNI name (exact, then wildcard, then
//! the configured default), and turns the Secret's PEM into a rustls `CertifiedKey` through a
//! cache keyed by the PEM buffers' `Arc` identity: a rotated Secret arrives as new buffers and
//! is parsed once, while rebuilt snapshots that keep a Secret share its buffers and its parse.
//!
//! The listener's configuration is chosen per connection from the ClientHello
//! ([`TlsAcceptors::accept`]): the ConfigMap's `ssl-protocols`/`ssl-ciphers`, and for a host
//! with `auth-tls-*` a request for a client certificate, whose verdict the connection keeps
//! ([`ClientTls`]).

mod certificates;
mod client_auth;
mod client_verdict;
pub(crate) mod inventory;
mod settings;

use std::sync::Arc;

use ingress_core::TableReader;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::metrics::Metrics;

use certificates::CertificateCache;
pub(crate) use certificates::self_signed;
pub(crate) use client_auth::{ClientPolicyKey, ClientTls};
pub(crate) use client_verdict::Verdict;
pub(crate) use inventory::{CertificateRow, inventory};
pub(crate) use settings::{TlsAcceptors, suites_for};

/// Chooses the certificate for each handshake from the current route table.
#[derive(Debug)]
pub(crate) struct CertificateResolver {
    /// Where the current snapshot is loaded from, once per handshake.
    table: TableReader,
    /// Served when neither the SNI name nor the configured default has a usable Secret.
    self_signed: Arc<CertifiedKey>,
    /// Parsed Secrets, so handshakes do not parse PEM.
    cache: CertificateCache,
}

impl CertificateResolver {
    pub(crate) fn new(
        table: TableReader,
        self_signed: Arc<CertifiedKey>,
        metrics: Arc<Metrics>,
    ) -> Self {
        CertificateResolver {
            table,
            self_signed,
            cache: CertificateCache::new(metrics),
        }
    }

    /// The certificate for an SNI name (`None`: no SNI, e.g. a client connecting by IP).
    pub(crate) fn certificate_for(&self, server_name: Option<&str>) -> Arc<CertifiedKey> {
        let table = self.table.load();
        self.cache.note_generation(table.generation());
        let chosen = table
            .certificate(server_name)
            .and_then(|binding| self.cache.certified_key(binding));
        if let Some(key) = chosen {
            return key;
        }
        table
            .default_certificate()
            .and_then(|binding| self.cache.certified_key(binding))
            .unwrap_or_else(|| self.self_signed.clone())
    }
}

impl ResolvesServerCert for CertificateResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.certificate_for(client_hello.server_name()))
    }
}
