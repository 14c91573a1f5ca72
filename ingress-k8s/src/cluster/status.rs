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
    /// `--publish-service`: the addresses of this Service (its load-balancer ingress, else its
    /// external IPs).
    Service(ObjectKey),
}

/// The addresses to publish now; `None` when they cannot be known yet (the Service is not
/// listed) or nothing is to be published.
pub(crate) fn desired_addresses(
    publish: &PublishStatus,
    services: &Store<core::Service>,
) -> Option<Vec<net::IngressLoadBalancerIngress>> {
    let addresses: Vec<String> = match publish {
        PublishStatus::None => return None,
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
            if addresses.is_empty() {
                addresses = service
                    .spec
                    .as_ref()
                    .and_then(|s| s.external_ips.clone())
                    .unwrap_or_default();
            }
            addresses
        }
    };
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
    Some(entries)
}

/// Writes the addresses to every accepted Ingress whose status differs. Returns how many were
/// written. Failures are logged and retried on the next publish.
pub(crate) async fn write_statuses(
    client: &Client,
    table: &RouteTable,
    ingresses: &Store<net::Ingress>,
    desired: &[net::IngressLoadBalancerIngress],
    written: &mut BTreeMap<ObjectKey, Vec<net::IngressLoadBalancerIngress>>,
) -> usize {
    let mut count = 0;
    for key in table.accepted_ingresses() {
        let current = ingresses
            .get(&ObjectRef::new(&key.name).within(&key.namespace))
            .and_then(|ingress| ingress.status.clone())
            .and_then(|status| status.load_balancer)
            .and_then(|lb| lb.ingress)
            .unwrap_or_default();
        // Compare with what the cluster shows and with our last write (the watch may lag).
        if current == desired || written.get(key).is_some_and(|w| w == desired) {
            continue;
        }
        let api: Api<net::Ingress> = Api::namespaced(client.clone(), &key.namespace);
        let patch = serde_json::json!({ "status": { "loadBalancer": { "ingress": desired } } });
        match api
            .patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {
                written.insert(key.clone(), desired.to_vec());
                count += 1;
            }
            Err(error) => tracing::warn!(%error, ingress = %key, "writing Ingress status failed"),
        }
    }
    written.retain(|key, _| table.accepted_ingresses().contains(key));
    count
}
