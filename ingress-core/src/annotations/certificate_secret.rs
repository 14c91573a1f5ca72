//! The Secret behind `proxy-ssl-secret` and `auth-tls-secret`: PEM certificates read from a
//! Secret of either type (`kubernetes.io/tls` or `Opaque`), as ingress-nginx accepts both.
//!
//! The keys are ingress-nginx's: `ca.crt` (the CA bundle that verifies the peer), and
//! `tls.crt` with `tls.key` (a certificate the proxy presents, for `proxy-ssl-secret`). The
//! PEM is decoded here so that a Secret that cannot be used denies the Ingress's paths with a
//! diagnostic, never a silent fallback; the data plane builds its verifiers from the same
//! buffers (their `Arc` identity keys its caches, so a rotated Secret is picked up).
//!
//! ```
//! # use std::collections::BTreeMap;
//! # use std::sync::Arc;
//! use ingress_core::annotations::CertificateSecret;
//! use ingress_core::{ObjectMeta, OpaqueSecret};
//!
//! let secret = OpaqueSecret {
//!     meta: ObjectMeta::new("shop", "upstream-ca", None),
//!     data: BTreeMap::from([("ca.crt".to_owned(), Arc::from(&b"not PEM"[..]))]),
//! };
//! let opaque = BTreeMap::from([(secret.meta.key(), secret)]);
//! let read = CertificateSecret::read("shop", "shop/upstream-ca", &BTreeMap::new(), &opaque);
//! assert!(read.unwrap_err().contains("ca.crt"));
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::model::{ObjectKey, OpaqueSecret, TlsSecret};

/// Certificates read from the Secret an annotation names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSecret {
    /// The Secret read.
    pub secret: ObjectKey,
    /// `ca.crt`: PEM CA certificates (at least one decodes), when the Secret has the key.
    pub ca_pem: Option<Arc<[u8]>>,
    /// `tls.crt` and `tls.key`, when the Secret has both.
    pub certificate: Option<CertificatePem>,
}

/// A certificate chain and its private key, PEM (both decoded when read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificatePem {
    /// `tls.crt`.
    pub chain_pem: Arc<[u8]>,
    /// `tls.key`.
    pub key_pem: Arc<[u8]>,
}

impl CertificateSecret {
    /// Reads the Secret `written` (`namespace/name`, or `name` in `namespace`) names from an
    /// Ingress in `namespace`, looking in both kinds of Secret. The error says why it cannot
    /// be used (missing, in another namespace, a key that does not decode).
    pub fn read(
        namespace: &str,
        written: &str,
        tls_secrets: &BTreeMap<ObjectKey, TlsSecret>,
        opaque_secrets: &BTreeMap<ObjectKey, OpaqueSecret>,
    ) -> Result<CertificateSecret, String> {
        let key = super::auth::secret_key(namespace, written)?;
        let (ca, chain, private_key) = if let Some(secret) = tls_secrets.get(&key) {
            (
                secret.ca_certificate_pem.clone(),
                Some(secret.certificate_chain_pem.clone()),
                Some(secret.private_key_pem.clone()),
            )
        } else if let Some(secret) = opaque_secrets.get(&key) {
            (
                secret.data.get("ca.crt").cloned(),
                secret.data.get("tls.crt").cloned(),
                secret.data.get("tls.key").cloned(),
            )
        } else {
            return Err(format!(
                "Secret {key} does not exist (or is neither of type kubernetes.io/tls nor Opaque)"
            ));
        };
        let fail = |field: &str, reason: String| format!("Secret {key}: key {field:?}: {reason}");
        if let Some(ca) = &ca {
            certificates(ca).map_err(|reason| fail("ca.crt", reason))?;
        }
        let certificate = match (chain, private_key) {
            (Some(chain), Some(private_key)) => {
                certificates(&chain).map_err(|reason| fail("tls.crt", reason))?;
                PrivateKeyDer::from_pem_slice(&private_key).map_err(|error| {
                    fail("tls.key", format!("no usable PEM private key: {error}"))
                })?;
                Some(CertificatePem {
                    chain_pem: chain,
                    key_pem: private_key,
                })
            }
            (None, Some(_)) => return Err(fail("tls.crt", "missing beside tls.key".to_owned())),
            (Some(_), None) => return Err(fail("tls.key", "missing beside tls.crt".to_owned())),
            (None, None) => None,
        };
        Ok(CertificateSecret {
            secret: key,
            ca_pem: ca,
            certificate,
        })
    }
}

impl super::RoutePolicy {
    /// Reads the Secrets `proxy-ssl-secret` and `auth-tls-secret` name, from either kind of
    /// Secret, in the namespace of `ingress`. A Secret that cannot be used denies the
    /// Ingress's paths (`503`) and is returned as an invalid annotation naming it: never a
    /// silent fallback to an unverified connection.
    pub(crate) fn resolve_certificate_secrets(
        &mut self,
        ingress: &ObjectKey,
        tls_secrets: &BTreeMap<ObjectKey, TlsSecret>,
        opaque_secrets: &BTreeMap<ObjectKey, OpaqueSecret>,
    ) -> Vec<super::InvalidAnnotation> {
        let mut invalid = Vec::new();
        if let Some(upstream_tls) = self.upstream_tls.as_mut()
            && let Err(error) =
                Arc::make_mut(upstream_tls).resolve(&ingress.namespace, tls_secrets, opaque_secrets)
        {
            invalid.push(error);
        }
        if let Some(client_tls) = self.client_tls.as_mut()
            && let Err(error) =
                Arc::make_mut(client_tls).resolve(ingress, tls_secrets, opaque_secrets)
        {
            invalid.push(error);
        }
        if self.denied.is_none()
            && let Some(first) = invalid.first()
        {
            self.denied = Some(
                format!(
                    "annotation {} {:?} cannot be used: {}",
                    first.annotation, first.value, first.reason
                )
                .into(),
            );
        }
        invalid
    }
}

/// Checks that `pem` holds at least one certificate and that every one decodes.
fn certificates(pem: &[u8]) -> Result<usize, String> {
    let mut count = 0usize;
    for certificate in CertificateDer::pem_slice_iter(pem) {
        certificate.map_err(|error| format!("PEM does not decode: {error}"))?;
        count = count.saturating_add(1);
    }
    match count {
        0 => Err("no PEM CERTIFICATE block".to_owned()),
        count => Ok(count),
    }
}

/// A Secret reference as ingress-nginx's `proxy-ssl-secret` and `auth-tls-secret` take it:
/// `namespace/name` (or `name`), of lowercase letters, digits, `-` and `.`.
pub(super) fn is_secret_reference(value: &str) -> bool {
    !value.is_empty()
        && value.split('/').count() <= 2
        && value.split('/').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        })
}
