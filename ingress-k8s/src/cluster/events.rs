//! Kubernetes Events for Ingresses: `Normal Sync` when applied, `Warning <reason>` when
//! rejected or losing a conflict. An event is sent once per distinct (Ingress generation,
//! type, reason, message), not on every commit.

use std::collections::{BTreeMap, BTreeSet};

use ingress_core::{ObjectKey, RouteTable};
use k8s_openapi::api::networking::v1 as net;
use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::{ObjectRef, Store};

/// One event as deduplicated: (generation, warning?, reason, message).
type Sent = (i64, bool, String, String);

/// Emits events for a table, remembering what it already said.
#[derive(Clone)]
pub(crate) struct Events {
    recorder: Recorder,
    /// What each Ingress was last told, so identical events are not re-sent.
    sent: BTreeMap<ObjectKey, BTreeSet<Sent>>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("sent", &self.sent.len())
            .finish_non_exhaustive()
    }
}

impl Events {
    pub(crate) fn new(recorder: Recorder) -> Self {
        Events {
            recorder,
            sent: BTreeMap::new(),
        }
    }

    /// Sends what is new in `table`; returns how many events were published.
    pub(crate) async fn publish(
        &mut self,
        table: &RouteTable,
        ingresses: &Store<net::Ingress>,
    ) -> usize {
        let mut wanted: BTreeMap<ObjectKey, BTreeSet<Sent>> = BTreeMap::new();
        for key in table.accepted_ingresses() {
            wanted.entry(key.clone()).or_default().insert((
                0,
                false,
                "Sync".to_owned(),
                "Scheduled for sync".to_owned(),
            ));
        }
        for diagnostic in table.diagnostics() {
            wanted
                .entry(diagnostic.object().clone())
                .or_default()
                .insert((
                    0,
                    true,
                    diagnostic.reason().to_owned(),
                    diagnostic.to_string(),
                ));
        }
        let mut count = 0;
        let mut sent = BTreeMap::new();
        for (key, events) in wanted {
            let Some(ingress) = ingresses.get(&ObjectRef::new(&key.name).within(&key.namespace))
            else {
                continue;
            };
            let generation = ingress.metadata.generation.unwrap_or(0);
            let reference = ingress.object_ref(&());
            let already = self.sent.remove(&key).unwrap_or_default();
            let mut now_sent = BTreeSet::new();
            for (_, warning, reason, message) in events {
                let entry = (generation, warning, reason, message);
                if !already.contains(&entry) {
                    let event = Event {
                        type_: if entry.1 {
                            EventType::Warning
                        } else {
                            EventType::Normal
                        },
                        reason: entry.2.clone(),
                        note: Some(truncate(&entry.3)),
                        action: if entry.1 { "Reject" } else { "Sync" }.to_owned(),
                        secondary: None,
                    };
                    match self.recorder.publish(&event, &reference).await {
                        Ok(()) => count += 1,
                        Err(error) => {
                            tracing::warn!(%error, ingress = %key, "publishing an Event failed");
                            continue;
                        }
                    }
                }
                now_sent.insert(entry);
            }
            sent.insert(key, now_sent);
        }
        self.sent = sent;
        count
    }
}

/// Event notes are limited to 1 kB.
fn truncate(note: &str) -> String {
    let mut end = note.len().min(1000);
    while !note.is_char_boundary(end) {
        end -= 1;
    }
    note[..end].to_owned()
}
