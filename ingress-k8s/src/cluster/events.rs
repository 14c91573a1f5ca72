//! Kubernetes Events for Ingresses: `Normal Sync` when applied, `Warning <reason>` for each
//! diagnostic (rejected, losing a conflict, an ignored or invalid annotation…); and for the
//! global configuration's ConfigMap, `Warning <reason>` for each ignored or invalid key. An event is sent once per distinct (Ingress uid and
//! generation, type, reason, message), not on every commit: an Ingress recreated under the
//! same name (`kubectl replace --force`) is a new object and hears again; an event that could
//! not be published is tried again on the next pass.

use std::collections::{BTreeMap, BTreeSet};

use ingress_core::{Diagnostic, ObjectKey, RouteTable};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::networking::v1 as net;
use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::{ObjectRef, Store};

/// The kind an Event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Regarding {
    Ingress,
    /// The global configuration (`--configmap`): its invalid or ignored keys.
    ConfigMap,
}

/// One event wanted now: (warning?, reason, message).
type Wanted = (bool, String, String);

/// One event as deduplicated: (uid, generation, warning?, reason, message).
type Sent = (String, i64, bool, String, String);

/// Emits events for a table, remembering what it already said.
#[derive(Clone)]
pub(crate) struct Events {
    recorder: Recorder,
    /// What each Ingress was last told, so identical events are not re-sent.
    sent: BTreeMap<(Regarding, ObjectKey), BTreeSet<Sent>>,
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

    /// Sends what is new in `table`; returns how many events were published, and whether
    /// every one could be.
    pub(crate) async fn publish(
        &mut self,
        table: &RouteTable,
        ingresses: &Store<net::Ingress>,
    ) -> (usize, bool) {
        let mut all_ok = true;
        let mut wanted: BTreeMap<(Regarding, ObjectKey), BTreeSet<Wanted>> = BTreeMap::new();
        for key in table.accepted_ingresses() {
            wanted
                .entry((Regarding::Ingress, key.clone()))
                .or_default()
                .insert((false, "Sync".to_owned(), "Scheduled for sync".to_owned()));
        }
        for diagnostic in table.diagnostics() {
            let regarding = match diagnostic {
                Diagnostic::ConfigKeyIgnored { .. }
                | Diagnostic::ConfigValueInvalid { .. }
                | Diagnostic::ConfigValueAdjusted { .. } => Regarding::ConfigMap,
                _ => Regarding::Ingress,
            };
            wanted
                .entry((regarding, diagnostic.object().clone()))
                .or_default()
                .insert((true, diagnostic.reason().to_owned(), diagnostic.to_string()));
        }
        let mut count = 0;
        let mut sent = BTreeMap::new();
        for ((regarding, key), events) in wanted {
            let (reference, uid, generation) = match regarding {
                Regarding::Ingress => {
                    let Some(ingress) =
                        ingresses.get(&ObjectRef::new(&key.name).within(&key.namespace))
                    else {
                        continue;
                    };
                    (
                        ingress.object_ref(&()),
                        ingress.metadata.uid.clone().unwrap_or_default(),
                        ingress.metadata.generation.unwrap_or(0),
                    )
                }
                // The global configuration's ConfigMap is not kept; a reference by name does.
                Regarding::ConfigMap => (
                    ObjectReference {
                        api_version: Some("v1".to_owned()),
                        kind: Some("ConfigMap".to_owned()),
                        namespace: Some(key.namespace.to_string()),
                        name: Some(key.name.to_string()),
                        ..ObjectReference::default()
                    },
                    String::new(),
                    0,
                ),
            };
            let key = (regarding, key);
            let already = self.sent.remove(&key).unwrap_or_default();
            let mut now_sent = BTreeSet::new();
            for (warning, reason, message) in events {
                let entry = (uid.clone(), generation, warning, reason, message);
                if !already.contains(&entry) {
                    let event = Event {
                        type_: if entry.2 {
                            EventType::Warning
                        } else {
                            EventType::Normal
                        },
                        reason: entry.3.clone(),
                        note: Some(truncate(&entry.4)),
                        action: if entry.2 { "Reject" } else { "Sync" }.to_owned(),
                        secondary: None,
                    };
                    match self.recorder.publish(&event, &reference).await {
                        Ok(()) => count += 1,
                        Err(error) => {
                            tracing::warn!(%error, object = %key.1, kind = ?key.0, "publishing an Event failed; retrying");
                            all_ok = false;
                            continue;
                        }
                    }
                }
                now_sent.insert(entry);
            }
            sent.insert(key, now_sent);
        }
        self.sent = sent;
        (count, all_ok)
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
