//! The addresses of the nodes running this controller, as ingress-nginx publishes them when
//! neither `--publish-service` nor `--publish-status-address` is given: the pods with this
//! pod's labels in its namespace that are Running and Ready, and for each its node's
//! `ExternalIP`, else its `InternalIP` (the reverse with `--report-node-internal-ip-address`),
//! else the node's name. With `hostNetwork: true` on two nodes, `kubectl get ingress` shows
//! the two node addresses, as in the tutorial.

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::ListParams;
use kube::{Api, Client};

use ingress_core::ObjectKey;

/// The Running and Ready pods like `own` (same namespace, same labels), `own` included when
/// it is ready.
pub(crate) async fn ready_controller_pods(
    client: &Client,
    own: &ObjectKey,
) -> Result<Vec<Pod>, kube::Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &own.namespace);
    let me = pods.get(&own.name).await?;
    let selector = me
        .metadata
        .labels
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",");
    if selector.is_empty() {
        // Without labels there is no way to tell the replicas: this pod alone.
        return Ok(Some(me).filter(is_running_and_ready).into_iter().collect());
    }
    let listed = pods.list(&ListParams::default().labels(&selector)).await?;
    Ok(listed
        .items
        .into_iter()
        .filter(is_running_and_ready)
        .collect())
}

/// The addresses to publish: one per node running a ready controller pod, sorted, without
/// duplicates.
pub(crate) async fn controller_node_addresses(
    client: &Client,
    own: &ObjectKey,
    internal_first: bool,
) -> Result<Vec<String>, kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let mut addresses = Vec::new();
    for pod in ready_controller_pods(client, own).await? {
        let Some(node_name) = pod.spec.and_then(|spec| spec.node_name) else {
            continue;
        };
        let node = nodes.get(&node_name).await?;
        addresses.push(preferred_address(&node, internal_first).unwrap_or(node_name));
    }
    addresses.sort();
    addresses.dedup();
    Ok(addresses)
}

/// `status.phase == Running` and the `Ready` condition true.
fn is_running_and_ready(pod: &Pod) -> bool {
    let Some(status) = &pod.status else {
        return false;
    };
    status.phase.as_deref() == Some("Running")
        && status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// The node's `ExternalIP`, else its `InternalIP` (`internal_first`: the other way round).
fn preferred_address(node: &Node, internal_first: bool) -> Option<String> {
    let addresses = node.status.as_ref()?.addresses.as_ref()?;
    let of = |kind: &str| {
        addresses
            .iter()
            .find(|a| a.type_ == kind && !a.address.is_empty())
            .map(|a| a.address.clone())
    };
    match internal_first {
        false => of("ExternalIP").or_else(|| of("InternalIP")),
        true => of("InternalIP").or_else(|| of("ExternalIP")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(addresses: &[(&str, &str)]) -> Node {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n"},
            "status": {"addresses": addresses.iter()
                .map(|(t, a)| serde_json::json!({"type": t, "address": a}))
                .collect::<Vec<_>>()}
        }))
        .expect("node")
    }

    fn pod(phase: &str, ready: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p"},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": ready}]}
        }))
        .expect("pod")
    }

    #[test]
    fn external_ip_first_then_internal_as_ingress_nginx() {
        let both = node(&[("InternalIP", "10.0.0.5"), ("ExternalIP", "203.0.113.5")]);
        assert_eq!(
            preferred_address(&both, false).as_deref(),
            Some("203.0.113.5")
        );
        assert_eq!(preferred_address(&both, true).as_deref(), Some("10.0.0.5"));
        let internal = node(&[("InternalIP", "10.0.0.6"), ("Hostname", "k8s-node1")]);
        assert_eq!(
            preferred_address(&internal, false).as_deref(),
            Some("10.0.0.6")
        );
        assert_eq!(preferred_address(&node(&[("Hostname", "x")]), false), None);
    }

    #[test]
    fn only_running_and_ready_pods_count() {
        assert!(is_running_and_ready(&pod("Running", "True")));
        assert!(!is_running_and_ready(&pod("Running", "False")));
        assert!(!is_running_and_ready(&pod("Pending", "True")));
    }
}
