//! The single writer and its cheap readers.

use std::collections::BTreeSet;

use crate::FastMap;
use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};

use crate::config::TableConfig;
use crate::model::ObjectKey;
use crate::ready::{ReadyGate, UntilReady};
use crate::state::{Change, ClusterState, Touched};
use crate::table::RouteTable;

/// State shared by the writer and every reader.
#[derive(Debug)]
struct Shared {
    current: ArcSwap<RouteTable>,
    /// Its own `Arc`: an [`UntilReady`] holds the gate alone, not the table.
    ready: Arc<ReadyGate>,
}

/// The one writer of a route table: holds the desired state, buffers changes, and publishes a
/// new snapshot on [`commit`](TableWriter::commit). Not `Clone`, so there is exactly one.
#[derive(Debug)]
pub struct TableWriter {
    shared: Arc<Shared>,
    config: TableConfig,
    state: ClusterState,
    pending: Touched,
    /// Service → its EndpointSlices, so an endpoint update reads only that Service's slices.
    slices_by_service: FastMap<ObjectKey, BTreeSet<ObjectKey>>,
    generation: u64,
}

/// A cheap, cloneable, lock-free view of the current snapshot.
#[derive(Debug, Clone)]
pub struct TableReader {
    shared: Arc<Shared>,
}

/// What a [`TableWriter::commit`] did.
#[derive(Debug, Clone)]
pub struct Commit {
    /// The published snapshot's generation.
    pub generation: u64,
    /// Whether routes were rebuilt (anything but EndpointSlices changed).
    pub rebuilt: bool,
    /// Backends whose endpoints were updated in place.
    pub endpoint_updates: usize,
    /// The snapshot now published.
    pub table: Arc<RouteTable>,
}

/// Creates a table: its one writer and a first reader. Readers see an empty table (everything
/// goes to the controller default) and [`TableReader::is_ready`] is false until the first
/// [`TableWriter::commit`].
pub fn table(config: TableConfig) -> (TableWriter, TableReader) {
    let empty = RouteTable::build(&ClusterState::default(), &config);
    let shared = Arc::new(Shared {
        current: ArcSwap::from_pointee(empty),
        ready: Arc::default(),
    });
    let writer = TableWriter {
        shared: shared.clone(),
        config,
        state: ClusterState::default(),
        pending: Touched {
            routes: true,
            ..Touched::default()
        },
        slices_by_service: FastMap::default(),
        generation: 0,
    };
    (writer, TableReader { shared })
}

impl TableWriter {
    /// Buffers one change; nothing is visible to readers until [`commit`](Self::commit).
    pub fn apply(&mut self, change: Change) {
        match &change {
            crate::state::Change::UpsertEndpointSlice(slice) => {
                let key = slice.meta.key();
                self.unindex_slice(&key);
                self.slices_by_service
                    .entry(ObjectKey::new(&slice.meta.namespace, &slice.service_name))
                    .or_default()
                    .insert(key);
            }
            crate::state::Change::DeleteEndpointSlice(key) => self.unindex_slice(key),
            _ => {}
        }
        self.state.apply_tracking(change, &mut self.pending);
    }

    /// Replaces the whole desired state (a relist, or a re-read manifest directory).
    pub fn replace(&mut self, state: ClusterState) {
        self.slices_by_service.clear();
        for (key, slice) in &state.endpoint_slices {
            self.slices_by_service
                .entry(ObjectKey::new(&slice.meta.namespace, &slice.service_name))
                .or_default()
                .insert(key.clone());
        }
        // The new state's ConfigMap is parsed on top of the configuration in force, so an
        // invalid value keeps its previous value across a whole-state replacement too.
        let global_config = self.state.global_config.succeeded_by(&state.global_config);
        self.state = state;
        self.state.global_config = global_config;
        self.pending.routes = true;
    }

    /// Publishes the buffered changes with one atomic store, and opens readiness.
    ///
    /// If anything but EndpointSlices changed, a new snapshot is built off to the side and
    /// swapped in. If only EndpointSlices changed, the routes stay and only the backends of the
    /// affected Services recompute their endpoints (cost proportional to those endpoints).
    pub fn commit(&mut self) -> Commit {
        let pending = std::mem::take(&mut self.pending);
        let mut endpoint_updates = 0;
        if pending.routes {
            self.generation += 1;
            let table =
                RouteTable::build(&self.state, &self.config).with_generation(self.generation);
            self.shared.current.store(Arc::new(table));
        } else {
            let table = self.shared.current.load();
            for service in &pending.endpoints_of {
                let slices: Vec<_> = self
                    .slices_by_service
                    .get(service)
                    .into_iter()
                    .flatten()
                    .filter_map(|k| self.state.endpoint_slices.get(k))
                    .collect();
                for backend in table.backends_of(service) {
                    endpoint_updates += usize::from(backend.refresh(slices.iter().copied()));
                }
            }
        }
        self.shared.ready.open();
        Commit {
            generation: self.generation,
            rebuilt: pending.routes,
            endpoint_updates,
            table: self.shared.current.load_full(),
        }
    }

    /// The desired state as of the last change.
    pub fn state(&self) -> &ClusterState {
        &self.state
    }

    /// The configuration snapshots are built with.
    pub fn config(&self) -> &TableConfig {
        &self.config
    }

    /// Another reader of this table.
    pub fn reader(&self) -> TableReader {
        TableReader {
            shared: self.shared.clone(),
        }
    }

    fn unindex_slice(&mut self, key: &ObjectKey) {
        if let Some(old) = self.state.endpoint_slices.get(key) {
            let service = ObjectKey::new(&old.meta.namespace, &old.service_name);
            if let Some(set) = self.slices_by_service.get_mut(&service) {
                set.remove(key);
                if set.is_empty() {
                    self.slices_by_service.remove(&service);
                }
            }
        }
    }
}

impl TableReader {
    /// The current snapshot: one lock-free load. Drop the guard before any `.await`.
    pub fn load(&self) -> Guard<Arc<RouteTable>> {
        self.shared.current.load()
    }

    /// The current snapshot as an owned `Arc`.
    pub fn load_full(&self) -> Arc<RouteTable> {
        self.shared.current.load_full()
    }

    /// Whether the first complete snapshot has been published.
    pub fn is_ready(&self) -> bool {
        self.shared.ready.is_open()
    }

    /// Resolves once the first complete snapshot has been published (any async runtime).
    pub fn wait_until_ready(&self) -> UntilReady {
        UntilReady::new(self.shared.ready.clone())
    }
}
