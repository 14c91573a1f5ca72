//! `status.loadBalancer.ingress` of our Ingresses: the addresses `kubectl get ingress` shows.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ingress_core::{ObjectKey, RouteTable};
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::networking::v1 as net;
use kube::api::{Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client};

/// Where the published addresses come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PublishStatus {
    /// Do not write Ingress status.
    #[default]
    None,
    /// `--publish-status-address`: these IPs or host names.
    Addresses(Vec<String>),
    /// `--publish-service`: the addresses of this Service (its load-balancer ingress and its
    /// external IPs; an `ExternalName` Service's name), as ingress-nginx.
    Service(ObjectKey),
    /// Neither flag, in a cluster (ingress-nginx's default): the addresses of the nodes
    /// running ready pods like this one (`pod`, the same labels in its namespace): each
    /// node's `ExternalIP`, else its `InternalIP`. Rechecked every 30 s.
    ControllerPods {
        /// This pod (`POD_NAMESPACE`/`POD_NAME`).
        pod: ObjectKey,
        /// `--report-node-internal-ip-address`: the node's `InternalIP` before its
        /// `ExternalIP`.
        internal_first: bool,
    },
}

/// The addresses to publish now; `None` when they cannot be known yet (the Service is not
/// listed) or nothing is to be published.
pub(crate) fn desired_addresses(
    publish: &PublishStatus,
    services: &Store<core::Service>,
) -> Option<Vec<net::IngressLoadBalancerIngress>> {
    let addresses: Vec<String> = match publish {
        PublishStatus::None | PublishStatus::ControllerPods { .. } => return None,
        PublishStatus::Addresses(addresses) => addresses.clone(),
        PublishStatus::Service(key) => {
            let service = services.get(&ObjectRef::new(&key.name).within(&key.namespace))?;
            let mut addresses: Vec<String> = service
                .status
                .as_ref()
                .and_then(|s| s.load_balancer.as_ref())
                .and_then(|lb| lb.ingress.as_ref())
                .into_iter()
                .flatten()
                .filter_map(|ingress| ingress.ip.clone().or_else(|| ingress.hostname.clone()))
                .collect();
            // Both, as ingress-nginx: a NodePort or ClusterIP Service without external IPs
            // publishes nothing.
            addresses.extend(
                service
                    .spec
                    .as_ref()
                    .and_then(|s| s.external_ips.clone())
                    .unwrap_or_default(),
            );
            let external_name = service
                .spec
                .as_ref()
                .filter(|s| s.type_.as_deref() == Some("ExternalName"))
                .and_then(|s| s.external_name.clone());
            if let Some(name) = external_name {
                addresses = vec![name];
            }
            addresses
        }
    };
    Some(entries(addresses))
}

/// Status entries for addresses: an IP in `ip`, a host name in `hostname`; sorted, without
/// duplicates.
pub(crate) fn entries(addresses: Vec<String>) -> Vec<net::IngressLoadBalancerIngress> {
    let mut entries: Vec<net::IngressLoadBalancerIngress> = addresses
        .into_iter()
        .map(|address| {
            let is_ip = address.parse::<IpAddr>().is_ok();
            net::IngressLoadBalancerIngress {
                ip: is_ip.then(|| address.clone()),
                hostname: (!is_ip).then_some(address),
                ports: None,
            }
        })
        .collect();
    entries.sort_by(|a, b| (&a.ip, &a.hostname).cmp(&(&b.ip, &b.hostname)));
    entries.dedup();
    entries
}

/// What the leader last wrote to one Ingress's status, and the `resourceVersion` it wrote
/// over: while the watch still shows that version, our write is not visible yet (lag), not
/// undone.
#[derive(Debug, Clone)]
pub(crate) struct WrittenStatus {
    addresses: Vec<net::IngressLoadBalancerIngress>,
    over_version: Option<String>,
}

/// Reconciles the status of every Ingress with the cluster as the watch shows it: each
/// accepted Ingress whose addresses differ from `desired` is written (an address someone else
/// overwrote, an Ingress recreated under the same name, a write that failed before), and an
/// Ingress this leader wrote that is no longer ours is cleared. Returns how many were written
/// and whether every write succeeded (the caller retries with backoff otherwise).
pub(crate) async fn write_statuses(
    client: &Client,
    table: &RouteTable,
    ingresses: &Store<net::Ingress>,
    desired: &[net::IngressLoadBalancerIngress],
    written: &mut BTreeMap<ObjectKey, WrittenStatus>,
) -> (usize, bool) {
    let (mut count, mut all_ok) = (0, true);
    let accepted = table.accepted_ingresses();
    let stale: Vec<ObjectKey> = written
        .keys()
        .filter(|key| !accepted.contains(*key))
        .cloned()
        .collect();
    let wanted = accepted
        .iter()
        .map(|key| (key.clone(), desired))
        .chain(stale.into_iter().map(|key| (key, &[][..])));
    for (key, addresses) in wanted {
        let Some(ingress) = ingresses.get(&ObjectRef::new(&key.name).within(&key.namespace)) else {
            written.remove(&key);
            continue;
        };
        let current = ingress
            .status
            .clone()
            .and_then(|status| status.load_balancer)
            .and_then(|lb| lb.ingress)
            .unwrap_or_default();
        let version = ingress.metadata.resource_version.clone();
        let pending = written
            .get(&key)
            .is_some_and(|w| w.addresses == addresses && w.over_version == version);
        if current == addresses || pending {
            if addresses.is_empty() {
                written.remove(&key);
            }
            continue;
        }
        let api: Api<net::Ingress> = Api::namespaced(client.clone(), &key.namespace);
        let patch = serde_json::json!({ "status": { "loadBalancer": { "ingress": addresses } } });
        let params = PatchParams {
            field_manager: Some(super::FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        match api
            .patch_status(&key.name, &params, &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {
                count += 1;
                if addresses.is_empty() {
                    written.remove(&key);
                } else {
                    let status = WrittenStatus {
                        addresses: addresses.to_vec(),
                        over_version: version,
                    };
                    written.insert(key, status);
                }
            }
            Err(error) => {
                all_ok = false;
                tracing::warn!(%error, ingress = %key, "writing Ingress status failed; retrying");
            }
        }
    }
    (count, all_ok)
}
