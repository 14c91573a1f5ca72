//! What the leader keeps true in the cluster — Ingress status and Events — reconciled against
//! what the watches show, not remembered: a pass runs when the table changes, when leadership
//! changes, when an Ingress or Service changes (someone overwrote an address, an Ingress was
//! recreated), and again after a failed write, with backoff.

use std::collections::BTreeMap;
use std::time::Duration;

use ingress_core::{ObjectKey, RouteTable};
use kube::Client;

use super::PublishStatus;
use super::addresses;
use super::events::Events;
use super::status::{self, WrittenStatus};
use super::sync::Stores;

/// How often the controller pods' node addresses are looked at again.
const RECHECK: Duration = Duration::from_secs(30);

/// The leader's reconciler.
pub(crate) struct Reconciler {
    client: Client,
    publish: PublishStatus,
    events: Events,
    written: BTreeMap<ObjectKey, WrittenStatus>,
    backoff: Backoff,
}

impl Reconciler {
    pub(crate) fn new(client: Client, publish: PublishStatus, events: Events) -> Self {
        Reconciler {
            client,
            publish,
            events,
            written: BTreeMap::new(),
            backoff: Backoff::default(),
        }
    }

    /// One pass over `table`. Returns `None` when everything is as it should be, or how long
    /// to wait before the next pass because a write failed.
    pub(crate) async fn pass(&mut self, table: &RouteTable, stores: &Stores) -> Option<Duration> {
        let mut all_ok = true;
        let desired = match &self.publish {
            PublishStatus::ControllerPods {
                pod,
                internal_first,
            } => match addresses::controller_node_addresses(&self.client, pod, *internal_first)
                .await
            {
                Ok(addresses) => Some(status::entries(addresses)),
                Err(error) => {
                    tracing::warn!(%error, pod = %pod, "listing the controller's pods and nodes failed; retrying");
                    all_ok = false;
                    None
                }
            },
            publish => status::desired_addresses(publish, &stores.services),
        };
        if let Some(desired) = desired {
            let (_, ok) = status::write_statuses(
                &self.client,
                table,
                &stores.ingresses,
                &desired,
                &mut self.written,
            )
            .await;
            all_ok &= ok;
        }
        let (_, ok) = self.events.publish(table, &stores.ingresses).await;
        all_ok &= ok;
        if all_ok {
            self.backoff = Backoff::default();
            // Pods and nodes are not watched: look again, as ingress-nginx does periodically.
            matches!(self.publish, PublishStatus::ControllerPods { .. }).then_some(RECHECK)
        } else {
            Some(self.backoff.next())
        }
    }

    /// `--update-status-on-shutdown`: when this leader shuts down and no other controller pod
    /// is ready to take over, the addresses it published are removed from the Ingresses (as
    /// ingress-nginx). Only known in a cluster pod (`own_pod`).
    pub(crate) async fn clear_on_shutdown(
        &mut self,
        table: &RouteTable,
        stores: &Stores,
        own_pod: &ObjectKey,
    ) {
        if matches!(self.publish, PublishStatus::None) {
            return;
        }
        match addresses::ready_controller_pods(&self.client, own_pod).await {
            Ok(pods) => {
                let others = pods
                    .iter()
                    .any(|pod| pod.metadata.name.as_deref() != Some(&*own_pod.name));
                if others {
                    tracing::info!("other controller pods are ready: Ingress status left as is");
                    return;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot tell whether other controller pods run; Ingress status left as is");
                return;
            }
        }
        let (cleared, ok) = status::write_statuses(
            &self.client,
            table,
            &stores.ingresses,
            &[],
            &mut self.written,
        )
        .await;
        tracing::info!(cleared, complete = ok, "Ingress status cleared on shutdown");
    }

    /// Leadership was lost: a new term starts from what the cluster shows.
    pub(crate) fn forget(&mut self) {
        self.written.clear();
        self.backoff = Backoff::default();
    }
}

/// Retry delays after failed writes: 250 ms, doubling, at most 30 s.
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(250);
    const MAX: Duration = Duration::from_secs(30);

    fn next(&mut self) -> Duration {
        let delay = Self::FIRST
            .checked_mul(1u32 << self.failures.min(16))
            .map_or(Self::MAX, |d| d.min(Self::MAX));
        self.failures = self.failures.saturating_add(1);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_thirty_seconds() {
        let mut backoff = Backoff::default();
        let delays: Vec<u64> = (0..10).map(|_| backoff.next().as_millis() as u64).collect();
        assert_eq!(
            delays,
            [250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        for _ in 0..100 {
            assert_eq!(backoff.next(), Backoff::MAX);
        }
    }
}
