//! The per-client state behind `limit-rps`, `limit-rpm` and `limit-connections` (the rules
//! are [`ingress_core::annotations::LimitPolicy`]'s): one value per (Ingress, client address)
//! in this replica, as ingress-nginx keeps one nginx zone per Ingress in each replica.
//!
//! **Bounded memory.** Request-rate state lives in [`SHARDS`] hash maps of at most
//! [`PER_SHARD`] entries each (allocated as clients arrive; a full shard's table is 2048
//! buckets of 41 bytes and never grows): [`CAPACITY`] clients at once across all Ingresses,
//! at most about 5 MiB, the size of the zone ingress-nginx gives each limit. A full shard
//! first drops the entries whose bucket has drained (forgetting them changes no decision, see
//! [`RequestRate::admit`]), at most once a second; if it is still full, an eighth of its
//! entries, arbitrary ones, are evicted (those clients start again with an empty bucket, as
//! with nginx's LRU eviction when a zone is exhausted) and `ingress_rate_limit_evictions_total`
//! counts them. Either way the shard's table is rebuilt at its fixed size rather than edited in
//! place, so removals never make it reallocate larger. So a flood of distinct addresses can
//! make the limit forgetful, never make the process grow. Connection counts
//! exist only while a client's requests are in progress (bounded by the open connections).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use foldhash::fast::RandomState;
use ingress_core::annotations::{LimitPolicy, RequestRate};

/// Shards of the request-rate state (lock contention stays low under load).
pub(crate) const SHARDS: usize = 64;
/// Entries a shard holds: 7/8 of 2048, so its table never grows past 2048 buckets.
pub(crate) const PER_SHARD: usize = 1792;
/// Entries evicted at once from a shard that is still full after dropping drained ones, so
/// that the inserts after it do not each rebuild the table.
const EVICTED_AT_ONCE: usize = PER_SHARD / 8;
/// Clients tracked at once, all Ingresses together.
#[cfg_attr(
    not(test),
    expect(dead_code, reason = "named by the docs, checked by the tests")
)]
pub(crate) const CAPACITY: usize = SHARDS * PER_SHARD;

/// Which limit a request went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exceeded {
    /// `limit-rps` or `limit-rpm` (`limit-req-status-code`).
    Rate,
    /// `limit-connections` (`limit-conn-status-code`).
    Connections,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct RateKey {
    /// The zone's hash (`namespace/name` and which limit).
    zone: u64,
    client: IpAddr,
}

#[derive(Debug)]
struct Shard {
    rates: HashMap<RateKey, u64, RandomState>,
    /// When drained entries were last dropped (nanoseconds since the limiter's epoch).
    swept_at: Option<u64>,
}

/// The limiter one proxy shares between its requests.
#[derive(Debug)]
pub(crate) struct Limiter {
    epoch: Instant,
    hasher: RandomState,
    shards: Box<[Mutex<Shard>]>,
    connections: Mutex<HashMap<RateKey, u32, RandomState>>,
    evictions: prometheus_client::metrics::counter::Counter,
}

/// One request in progress counted against `limit-connections`; released on drop.
#[derive(Debug)]
pub(crate) struct ConnectionSlot {
    limiter: Arc<Limiter>,
    key: RateKey,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut counts = lock(&self.limiter.connections);
        if let Some(count) = counts.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves counts, not broken invariants: keep using them.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Limiter {
    pub(crate) fn new(evictions: prometheus_client::metrics::counter::Counter) -> Self {
        // Seeded per process: clients cannot choose addresses that crowd one shard.
        let hasher = RandomState::default();
        Limiter {
            epoch: Instant::now(),
            hasher: hasher.clone(),
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        rates: HashMap::with_hasher(hasher.clone()),
                        swept_at: None,
                    })
                })
                .collect(),
            connections: Mutex::new(HashMap::with_hasher(hasher.clone())),
            evictions,
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn zone(&self, policy: &LimitPolicy, which: &str) -> u64 {
        self.hasher.hash_one((&*policy.zone, which))
    }

    /// Applies `policy` to one request from `client`: `limit-connections` first, then
    /// `limit-rps`, then `limit-rpm` (ingress-nginx's order). On success, the slot to hold
    /// until the response is finished (when `limit-connections` is set).
    pub(crate) fn check(
        self: &Arc<Self>,
        policy: &LimitPolicy,
        client: IpAddr,
    ) -> Result<Option<ConnectionSlot>, Exceeded> {
        if !policy.applies_to(client) {
            return Ok(None);
        }
        let slot = match policy.connections {
            Some(limit) => Some(self.acquire(policy, limit, client)?),
            None => None,
        };
        for (which, rate) in [("rps", policy.rps), ("rpm", policy.rpm)] {
            if let Some(rate) = rate
                && !self.admit(self.zone(policy, which), &rate, client)
            {
                return Err(Exceeded::Rate);
            }
        }
        Ok(slot)
    }

    fn acquire(
        self: &Arc<Self>,
        policy: &LimitPolicy,
        limit: u32,
        client: IpAddr,
    ) -> Result<ConnectionSlot, Exceeded> {
        let key = RateKey {
            zone: self.zone(policy, "conn"),
            client,
        };
        let mut counts = lock(&self.connections);
        let count = counts.entry(key).or_insert(0);
        if *count >= limit {
            if *count == 0 {
                counts.remove(&key);
            }
            return Err(Exceeded::Connections);
        }
        *count += 1;
        Ok(ConnectionSlot {
            limiter: Arc::clone(self),
            key,
        })
    }

    /// One request against one rate: admitted or not, the state updated within the bound.
    fn admit(&self, zone: u64, rate: &RequestRate, client: IpAddr) -> bool {
        let key = RateKey { zone, client };
        let now = self.now();
        // The shard from the high bits (the map itself uses the low ones).
        let hash = self.hasher.hash_one(key);
        let index = usize::try_from(hash >> 58).unwrap_or(0) % SHARDS;
        let mut shard = lock(&self.shards[index]);
        let stored = shard.rates.get(&key).copied();
        let Some(next) = rate.admit(stored, now) else {
            return false;
        };
        if stored.is_none() && shard.rates.len() >= PER_SHARD {
            shard.make_room(now, &self.evictions);
        }
        shard.rates.insert(key, next);
        true
    }

    /// The largest table of any shard, in entries it can hold without growing.
    #[cfg(test)]
    pub(crate) fn largest_table(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| lock(shard).rates.capacity())
            .max()
            .unwrap_or(0)
    }

    /// Request-rate entries held now (all shards).
    #[cfg(test)]
    pub(crate) fn tracked(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| lock(shard).rates.len())
            .sum()
    }
}

impl Shard {
    /// Makes room in a full shard, in a new table of [`PER_SHARD`] entries: drained entries
    /// are dropped (at most once a second), and if the shard is still full,
    /// [`EVICTED_AT_ONCE`] arbitrary ones too (counted). Rebuilding, rather than removing in
    /// place, leaves no deleted slots behind: with them the table would reallocate at twice
    /// its size on a later insert, breaking the bound.
    fn make_room(&mut self, now: u64, evictions: &prometheus_client::metrics::counter::Counter) {
        const SWEEP_EVERY: u64 = 1_000_000_000;
        let sweep = self
            .swept_at
            .is_none_or(|at| now.saturating_sub(at) >= SWEEP_EVERY);
        if sweep {
            self.swept_at = Some(now);
        }
        let live = |tat: &u64| !sweep || *tat > now;
        let alive = self.rates.values().filter(|tat| live(tat)).count();
        let keep = if alive < PER_SHARD {
            alive
        } else {
            PER_SHARD - EVICTED_AT_ONCE
        };
        let mut fresh = HashMap::with_capacity_and_hasher(PER_SHARD, self.rates.hasher().clone());
        for (key, tat) in self.rates.drain() {
            if live(&tat) && fresh.len() < keep {
                fresh.insert(key, tat);
            }
        }
        evictions.inc_by(u64::try_from(alive - keep).unwrap_or(u64::MAX));
        self.rates = fresh;
    }
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
