//! The desired state a table is built from, and the changes sources feed into it.

use std::collections::{BTreeMap, BTreeSet};

use crate::global_config::GlobalConfigState;
use crate::model::{
    EndpointSlice, Ingress, IngressClass, ObjectKey, OpaqueSecret, Service, TlsSecret,
};

/// Every object the route table depends on, keyed by `namespace/name` (IngressClasses have
/// an empty namespace). Sources keep one of these up to date through [`Change`]s.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterState {
    /// Ingresses of every class (class selection happens at build time).
    pub ingresses: BTreeMap<ObjectKey, Ingress>,
    /// IngressClasses.
    pub ingress_classes: BTreeMap<ObjectKey, IngressClass>,
    /// Services.
    pub services: BTreeMap<ObjectKey, Service>,
    /// EndpointSlices, keyed by the slice's own name.
    pub endpoint_slices: BTreeMap<ObjectKey, EndpointSlice>,
    /// `kubernetes.io/tls` Secrets.
    pub tls_secrets: BTreeMap<ObjectKey, TlsSecret>,
    /// `Opaque` Secrets (read by `auth-secret`).
    pub opaque_secrets: BTreeMap<ObjectKey, OpaqueSecret>,
    /// The global configuration (ingress-nginx's ConfigMap), parsed.
    pub global_config: GlobalConfigState,
}

/// One object created, updated or deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// An Ingress was created or updated.
    UpsertIngress(Ingress),
    /// An Ingress was deleted.
    DeleteIngress(ObjectKey),
    /// An IngressClass was created or updated.
    UpsertIngressClass(IngressClass),
    /// An IngressClass was deleted.
    DeleteIngressClass(ObjectKey),
    /// A Service was created or updated.
    UpsertService(Service),
    /// A Service was deleted.
    DeleteService(ObjectKey),
    /// An EndpointSlice was created or updated.
    UpsertEndpointSlice(EndpointSlice),
    /// An EndpointSlice was deleted.
    DeleteEndpointSlice(ObjectKey),
    /// A TLS Secret was created or updated.
    UpsertTlsSecret(TlsSecret),
    /// A TLS Secret was deleted.
    DeleteTlsSecret(ObjectKey),
    /// An `Opaque` Secret was created or updated.
    UpsertOpaqueSecret(OpaqueSecret),
    /// An `Opaque` Secret was deleted.
    DeleteOpaqueSecret(ObjectKey),
    /// The global configuration's ConfigMap was created or updated (its `data`).
    UpsertGlobalConfig {
        /// The ConfigMap (`--configmap`).
        source: ObjectKey,
        /// Its `data`.
        data: BTreeMap<String, String>,
    },
    /// The global configuration's ConfigMap was deleted: every key takes its default.
    DeleteGlobalConfig,
}

/// What a set of changes touched: whether routes must be rebuilt, and which Services' endpoints
/// changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Touched {
    pub(crate) routes: bool,
    pub(crate) endpoints_of: BTreeSet<ObjectKey>,
}

impl ClusterState {
    /// Applies one change.
    pub fn apply(&mut self, change: Change) {
        let mut touched = Touched::default();
        self.apply_tracking(change, &mut touched);
    }

    fn receive_global_config(
        &mut self,
        source: Option<(ObjectKey, BTreeMap<String, String>)>,
        touched: &mut Touched,
    ) {
        if let Some(next) = self.global_config.received(source) {
            self.global_config = next;
            touched.routes = true;
        }
    }

    pub(crate) fn apply_tracking(&mut self, change: Change, touched: &mut Touched) {
        match change {
            Change::UpsertIngress(i) => {
                touched.routes |=
                    self.ingresses.insert(i.meta.key(), i.clone()).as_ref() != Some(&i);
            }
            Change::DeleteIngress(k) => touched.routes |= self.ingresses.remove(&k).is_some(),
            Change::UpsertIngressClass(c) => {
                touched.routes |= self
                    .ingress_classes
                    .insert(c.meta.key(), c.clone())
                    .as_ref()
                    != Some(&c);
            }
            Change::DeleteIngressClass(k) => {
                touched.routes |= self.ingress_classes.remove(&k).is_some()
            }
            Change::UpsertService(s) => {
                touched.routes |=
                    self.services.insert(s.meta.key(), s.clone()).as_ref() != Some(&s);
            }
            Change::DeleteService(k) => touched.routes |= self.services.remove(&k).is_some(),
            Change::UpsertTlsSecret(s) => {
                touched.routes |=
                    self.tls_secrets.insert(s.meta.key(), s.clone()).as_ref() != Some(&s);
            }
            Change::DeleteTlsSecret(k) => touched.routes |= self.tls_secrets.remove(&k).is_some(),
            Change::UpsertOpaqueSecret(s) => {
                touched.routes |=
                    self.opaque_secrets.insert(s.meta.key(), s.clone()).as_ref() != Some(&s);
            }
            Change::DeleteOpaqueSecret(k) => {
                touched.routes |= self.opaque_secrets.remove(&k).is_some()
            }
            Change::UpsertGlobalConfig { source, data } => {
                self.receive_global_config(Some((source, data)), touched)
            }
            Change::DeleteGlobalConfig => self.receive_global_config(None, touched),
            Change::UpsertEndpointSlice(s) => {
                let key = s.meta.key();
                let service = ObjectKey::new(&s.meta.namespace, &s.service_name);
                if let Some(old) = self.endpoint_slices.insert(key, s.clone()) {
                    if old == s {
                        return;
                    }
                    touched
                        .endpoints_of
                        .insert(ObjectKey::new(&old.meta.namespace, &old.service_name));
                }
                touched.endpoints_of.insert(service);
            }
            Change::DeleteEndpointSlice(k) => {
                if let Some(old) = self.endpoint_slices.remove(&k) {
                    touched
                        .endpoints_of
                        .insert(ObjectKey::new(&old.meta.namespace, &old.service_name));
                }
            }
        }
    }
}
