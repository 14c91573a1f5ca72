//! Pure load-balancing policies and passive health, shared by `ingress-lb` (L4) and
//! `ingress-proxy` (L7).
//!
//! A [`Balancer<T>`] owns a group of peers of any type `T` (a socket address, an endpoint id…)
//! and chooses one per connection attempt with one of four [`Algorithm`]s, all written after
//! nginx's upstream modules so that an nginx `upstream` block translates line for line:
//!
//! | [`Algorithm`] | nginx | input it needs |
//! |---|---|---|
//! | [`RoundRobin`](Algorithm::RoundRobin) | default smooth weighted round-robin | nothing |
//! | [`LeastConn`](Algorithm::LeastConn) | `least_conn` | [`Balancer::begin`]/[`Balancer::end`] |
//! | [`PowerOfTwoChoices`](Algorithm::PowerOfTwoChoices) | `random two least_conn` | [`PickContext::random`] + begin/end |
//! | [`ConsistentHash`](Algorithm::ConsistentHash) | `hash $key consistent` | [`PickContext::hash_key`] |
//!
//! Rules common to every algorithm:
//! - A peer marked `down`, switched off by [`Balancer::set_reachable`] (active health checks), or
//!   ejected by passive health (`max_fails` within `fail_timeout`, see [`PeerOptions`]) is
//!   never chosen.
//! - Backup peers are chosen only when no primary peer can be: all are down, ejected, or
//!   already tried by this [`Attempt`].
//! - An [`Attempt`] remembers the peers tried for one client connection, so retrying after a
//!   connect failure (nginx's `proxy_next_upstream`) moves on to a different peer; `pick`
//!   returns `None` once every usable peer has been tried.
//! - As in nginx, a group holding exactly one peer ignores `max_fails`: that peer is never
//!   considered unavailable by passive health.
//!
//! The module is sans-IO: no clock (`now` is passed in), no randomness (the caller passes a
//! random `u64`), no locking (wrap the balancer in a mutex if threads share it).
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, Instant};
//! use ingress_core::balance::{Algorithm, Balancer, PeerOptions, PickContext};
//!
//! // upstream { server a weight=2; server b; server c backup; }
//! let mut balancer = Balancer::new(Algorithm::RoundRobin, [
//!     ("a", PeerOptions { weight: 2, ..PeerOptions::default() }),
//!     ("b", PeerOptions::default()),
//!     ("c", PeerOptions { backup: true, ..PeerOptions::default() }),
//! ]).unwrap();
//! let now = Instant::now();
//!
//! // Smooth weighted round-robin: the same sequence nginx produces.
//! let picks: Vec<&str> = (0..6)
//!     .map(|_| {
//!         let mut attempt = balancer.attempt();
//!         let id = balancer.pick(&mut attempt, &PickContext::at(now)).unwrap();
//!         *balancer.peer(id)
//!     })
//!     .collect();
//! assert_eq!(picks, ["a", "b", "a", "a", "b", "a"]);
//!
//! // A connect failure (max_fails=1 by default) ejects a peer; the retry goes elsewhere,
//! // and only when every primary is out is the backup used.
//! let mut attempt = balancer.attempt();
//! let first = balancer.pick(&mut attempt, &PickContext::at(now)).unwrap();
//! balancer.report_failure(first, now);
//! let second = balancer.pick(&mut attempt, &PickContext::at(now)).unwrap();
//! assert_ne!(first, second);
//! balancer.report_failure(second, now);
//! let third = balancer.pick(&mut attempt, &PickContext::at(now)).unwrap();
//! assert_eq!(*balancer.peer(third), "c");
//! // After fail_timeout (10 s by default) the primaries are probed again.
//! let later = now + Duration::from_secs(11);
//! let mut attempt = balancer.attempt();
//! let id = balancer.pick(&mut attempt, &PickContext::at(later)).unwrap();
//! assert!(!balancer.options(id).backup);
//! ```

use std::fmt;
use std::time::{Duration, Instant};

use self::health::PassiveHealth;
pub use self::health::{DEFAULT_FAIL_TIMEOUT, DEFAULT_MAX_FAILS};

mod health;
mod ketama;
mod least_conn;
mod smooth;
#[cfg(test)]
mod tests;
mod two_choices;

/// How a [`Balancer`] chooses among its available peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// nginx's smooth weighted round-robin (`current += effective; pick max; current -= total`).
    #[default]
    RoundRobin,
    /// nginx's `least_conn`: fewest outstanding connections per unit of weight; ties are broken
    /// by smooth weighted round-robin among the tied peers.
    LeastConn,
    /// Power of two choices: two distinct peers drawn from [`PickContext::random`], the one with
    /// fewer outstanding connections per unit of weight wins (the first drawn on a tie).
    PowerOfTwoChoices,
    /// nginx's `hash $key consistent`: a ketama ring with 160 points per unit of weight, points
    /// placed with nginx's CRC32 scheme (so the mapping equals nginx's for the same server
    /// names); an unavailable peer passes the key to the next point on the ring. Backups are not
    /// on the ring: they are chosen round-robin when no primary is available.
    ConsistentHash,
}

/// Static settings of one peer; the defaults are nginx's `server` defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerOptions {
    /// Relative share of picks (nginx `weight`, default 1, must be at least 1).
    pub weight: u32,
    /// Failures within `fail_timeout` that eject the peer (nginx `max_fails`, default 1;
    /// 0 disables passive health).
    pub max_fails: u32,
    /// Failure window and ejection length (nginx `fail_timeout`, default 10 s).
    pub fail_timeout: Duration,
    /// Used only when no primary peer is available (nginx `backup`).
    pub backup: bool,
    /// Never chosen (nginx `down`); kept in the group so hashing stays stable.
    pub down: bool,
}

/// Index of a peer inside one [`Balancer`] (the order peers were given to [`Balancer::new`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(usize);

/// The per-pick inputs the module cannot produce itself: the time, and for some algorithms a
/// random number or a hash key.
#[derive(Debug, Clone, Copy)]
pub struct PickContext<'a> {
    /// Current time, for passive health.
    pub now: Instant,
    /// Uniform random bits, used by [`Algorithm::PowerOfTwoChoices`].
    pub random: u64,
    /// Key hashed by [`Algorithm::ConsistentHash`] (e.g. the client address as text).
    pub hash_key: &'a [u8],
}

/// The peers already tried for one client connection (nginx's `tried` bitmap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    tried: Vec<u64>,
}

/// Why a [`Balancer`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// The peer at this position has `weight = 0`.
    ZeroWeight {
        /// Position of the peer in the list given to [`Balancer::new`].
        index: usize,
    },
}

/// A group of peers and the state of its balancing algorithm and passive health.
#[derive(Debug, Clone)]
pub struct Balancer<T> {
    targets: Vec<T>,
    states: Vec<PeerState>,
    algorithm: Algorithm,
    /// Only filled for [`Algorithm::ConsistentHash`].
    ring: ketama::Ring,
    /// nginx ignores `max_fails` when the group has a single server.
    single: bool,
}

/// Mutable per-peer state shared by all algorithms.
#[derive(Debug, Clone)]
pub(crate) struct PeerState {
    options: PeerOptions,
    /// nginx `effective_weight`: lowered by failures, recovers by one per selection round.
    effective_weight: i64,
    /// nginx `current_weight`.
    current_weight: i64,
    /// Connections begun and not yet ended.
    outstanding: u32,
    /// Verdict of an active health check; `false` makes the peer unavailable.
    reachable: bool,
    health: PassiveHealth,
}

impl Default for PeerOptions {
    fn default() -> Self {
        Self {
            weight: 1,
            max_fails: DEFAULT_MAX_FAILS,
            fail_timeout: DEFAULT_FAIL_TIMEOUT,
            backup: false,
            down: false,
        }
    }
}

impl PeerId {
    /// Position of the peer in the list given to [`Balancer::new`].
    pub fn index(self) -> usize {
        self.0
    }
}

impl<'a> PickContext<'a> {
    /// A context at `now` with no randomness and an empty hash key.
    pub fn at(now: Instant) -> Self {
        Self {
            now,
            random: 0,
            hash_key: b"",
        }
    }

    /// Sets the random bits used by [`Algorithm::PowerOfTwoChoices`].
    pub fn with_random(self, random: u64) -> Self {
        Self { random, ..self }
    }

    /// Sets the key hashed by [`Algorithm::ConsistentHash`].
    pub fn with_hash_key(self, hash_key: &'a [u8]) -> Self {
        Self { hash_key, ..self }
    }
}

impl Attempt {
    fn contains(&self, index: usize) -> bool {
        self.tried
            .get(index / 64)
            .is_some_and(|word| word & (1 << (index % 64)) != 0)
    }

    fn insert(&mut self, index: usize) {
        if let Some(word) = self.tried.get_mut(index / 64) {
            *word |= 1 << (index % 64);
        }
    }

    /// How many peers this attempt has tried.
    pub fn tried(&self) -> usize {
        self.tried
            .iter()
            .map(|word| word.count_ones() as usize)
            .sum()
    }
}

impl PeerState {
    fn new(options: PeerOptions) -> Self {
        let health = PassiveHealth::new(options.max_fails, options.fail_timeout);
        Self {
            effective_weight: i64::from(options.weight),
            current_weight: 0,
            outstanding: 0,
            reachable: true,
            health,
            options,
        }
    }

    fn weight(&self) -> i64 {
        i64::from(self.options.weight)
    }
}

impl<T> Balancer<T> {
    /// Builds a group; peers keep the order given (that order is their [`PeerId`]).
    pub fn new(
        algorithm: Algorithm,
        peers: impl IntoIterator<Item = (T, PeerOptions)>,
    ) -> Result<Self, BuildError>
    where
        T: fmt::Display,
    {
        let mut targets = Vec::new();
        let mut states = Vec::new();
        for (index, (target, options)) in peers.into_iter().enumerate() {
            if options.weight == 0 {
                return Err(BuildError::ZeroWeight { index });
            }
            targets.push(target);
            states.push(PeerState::new(options));
        }
        let ring = if algorithm == Algorithm::ConsistentHash {
            ketama::Ring::build(targets.iter().zip(&states).map(|(target, state)| {
                (
                    target.to_string(),
                    state.options.weight,
                    !state.options.backup,
                )
            }))
        } else {
            ketama::Ring::default()
        };
        let single = targets.len() == 1;
        Ok(Self {
            targets,
            states,
            algorithm,
            ring,
            single,
        })
    }

    /// A fresh [`Attempt`] for one client connection.
    pub fn attempt(&self) -> Attempt {
        Attempt {
            tried: vec![0; self.states.len().div_ceil(64)],
        }
    }

    /// Chooses a peer not yet tried by `attempt` and records it there; `None` when no usable
    /// peer is left (every peer down, ejected, unreachable or tried).
    pub fn pick(&mut self, attempt: &mut Attempt, context: &PickContext<'_>) -> Option<PeerId> {
        let now = context.now;
        let single = self.single;
        for backup in [false, true] {
            let eligible = |index: usize, state: &PeerState| {
                state.options.backup == backup
                    && !state.options.down
                    && state.reachable
                    && !attempt.contains(index)
                    && (single || state.health.is_available(now))
            };
            let chosen = match (self.algorithm, backup) {
                (Algorithm::RoundRobin, _) | (Algorithm::ConsistentHash, true) => {
                    smooth::pick(&mut self.states, eligible)
                }
                (Algorithm::LeastConn, _) => least_conn::pick(&mut self.states, eligible),
                (Algorithm::PowerOfTwoChoices, _) => {
                    two_choices::pick(&self.states, context.random, eligible)
                }
                (Algorithm::ConsistentHash, false) => self
                    .ring
                    .lookup(context.hash_key, |index| {
                        eligible(index, &self.states[index])
                    })
                    .or_else(|| smooth::pick(&mut self.states, eligible)),
            };
            if let Some(index) = chosen {
                self.states[index].health.on_pick(now);
                attempt.insert(index);
                return Some(PeerId(index));
            }
        }
        None
    }

    /// Chooses `preferred` when it is usable for `attempt` (a primary or backup peer that is
    /// not down, unreachable, ejected or already tried), else as [`Balancer::pick`] does: a
    /// session bound to one peer (persistent affinity) keeps it while it can serve.
    pub fn pick_preferred(
        &mut self,
        attempt: &mut Attempt,
        preferred: PeerId,
        context: &PickContext<'_>,
    ) -> Option<PeerId> {
        let index = preferred.0;
        let now = context.now;
        let usable = self.states.get(index).is_some_and(|state| {
            !state.options.down
                && state.reachable
                && !attempt.contains(index)
                && (self.single || state.health.is_available(now))
        });
        if !usable {
            return self.pick(attempt, context);
        }
        self.states[index].health.on_pick(now);
        attempt.insert(index);
        Some(preferred)
    }

    /// Records a failed attempt (e.g. connect error or timeout) at `now`; returns true when this
    /// failure ejects the peer for `fail_timeout`.
    pub fn report_failure(&mut self, peer: PeerId, now: Instant) -> bool {
        if self.single {
            return false;
        }
        let Some(state) = self.states.get_mut(peer.0) else {
            return false;
        };
        let max_fails = state.health.max_fails();
        if max_fails != 0 {
            let weight = state.weight();
            state.effective_weight =
                (state.effective_weight - weight / i64::from(max_fails)).max(0);
        }
        state.health.on_failure(now)
    }

    /// Records a successful attempt.
    pub fn report_success(&mut self, peer: PeerId) {
        if let Some(state) = self.states.get_mut(peer.0) {
            state.health.on_success();
        }
    }

    /// Counts a connection as outstanding (for [`Algorithm::LeastConn`] and
    /// [`Algorithm::PowerOfTwoChoices`]); pair with [`Balancer::end`].
    pub fn begin(&mut self, peer: PeerId) {
        if let Some(state) = self.states.get_mut(peer.0) {
            state.outstanding = state.outstanding.saturating_add(1);
        }
    }

    /// Ends a connection counted by [`Balancer::begin`].
    pub fn end(&mut self, peer: PeerId) {
        if let Some(state) = self.states.get_mut(peer.0) {
            state.outstanding = state.outstanding.saturating_sub(1);
        }
    }

    /// Applies an active health check's verdict: an unreachable peer is skipped like a `down`
    /// one until it is marked reachable again.
    pub fn set_reachable(&mut self, peer: PeerId, reachable: bool) {
        if let Some(state) = self.states.get_mut(peer.0) {
            state.reachable = reachable;
        }
    }

    /// Whether `pick` could choose this peer at `now` (ignoring the tried set and tiers).
    pub fn is_available(&self, peer: PeerId, now: Instant) -> bool {
        self.states.get(peer.0).is_some_and(|state| {
            !state.options.down
                && state.reachable
                && (self.single || state.health.is_available(now))
        })
    }

    /// While passive health ejects the peer (`max_fails` failures within `fail_timeout`): how
    /// long until a pick may probe it again. `None` when it is not ejected (a `down` or
    /// unreachable peer is unavailable for another reason; a lone peer is never ejected).
    pub fn ejected_for(&self, peer: PeerId, now: Instant) -> Option<Duration> {
        let state = self.states.get(peer.0)?;
        if self.single || state.options.down || !state.reachable {
            return None;
        }
        state.health.ejected_for(now)
    }

    /// The peer's target.
    ///
    /// # Panics
    /// If `peer` comes from another balancer with more peers.
    pub fn peer(&self, peer: PeerId) -> &T {
        &self.targets[peer.0]
    }

    /// The peer's static options.
    ///
    /// # Panics
    /// If `peer` comes from another balancer with more peers.
    pub fn options(&self, peer: PeerId) -> &PeerOptions {
        &self.states[peer.0].options
    }

    /// Outstanding connections counted by begin/end.
    pub fn outstanding(&self, peer: PeerId) -> u32 {
        self.states.get(peer.0).map_or(0, |state| state.outstanding)
    }

    /// Failures counted by passive health since its last reset.
    pub fn fails(&self, peer: PeerId) -> u32 {
        self.states
            .get(peer.0)
            .map_or(0, |state| state.health.fails())
    }

    /// All peers with their ids, in configuration order.
    pub fn peers(&self) -> impl ExactSizeIterator<Item = (PeerId, &T)> {
        self.targets
            .iter()
            .enumerate()
            .map(|(index, target)| (PeerId(index), target))
    }

    /// Number of peers (primaries and backups).
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether the group has no peers.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The algorithm this group uses.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroWeight { index } => write!(f, "peer #{index}: `weight` must be at least 1"),
        }
    }
}

impl std::error::Error for BuildError {}
