//! Idle upstream connections, kept per peer so the next request skips the TCP handshake.
//!
//! HTTP/1.1 connections carry one exchange at a time: a connection is taken out of the pool
//! for a request, travels with the response body as a [`Loan`], and comes back when that body
//! has ended (and the request body was sent whole), like nginx's `keepalive` upstream cache.
//! Idle connections are reused newest first; older ones age out after the idle timeout
//! ([`Pool::sweep`] closes them even when no request comes). An HTTP/2 connection is shared by
//! every request to its peer until it closes or goes unused for the idle timeout.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use hyper::client::conn::{http1, http2};

use super::h1::Connection;
use crate::body::{BodyCell, RequestBody};
use crate::coarse_timer::CoarseTimer;

/// Where an upstream connection goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum PeerKey {
    /// An endpoint address (the usual case).
    Address(SocketAddr),
    /// An `ExternalName` Service's host name and port.
    Name(Arc<str>, u16),
}

/// A pool key: the peer, and whether connections to it use TLS.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PoolKey {
    pub(crate) peer: PeerKey,
    pub(crate) tls: bool,
}

pub(crate) type Http1Sender = http1::SendRequest<RequestBody>;
pub(crate) type Http2Sender = http2::SendRequest<RequestBody>;

type PeerMap<V> = HashMap<PoolKey, V, foldhash::fast::RandomState>;

/// The idle connections of every peer.
#[derive(Debug)]
pub(crate) struct Pool {
    /// Connections of the inline client (`h1`), for requests without a body.
    wire: Mutex<PeerMap<Vec<Idle<Connection>>>>,
    /// Connections of hyper's HTTP/1.1 client, for requests with a body or an upgrade.
    http1: Mutex<PeerMap<Vec<Idle<Http1Sender>>>>,
    /// Shared HTTP/2 connections, with when each was last used.
    http2: Mutex<PeerMap<Idle<Http2Sender>>>,
    idle_timeout: Duration,
    max_idle_per_peer: usize,
    /// Ages of idle connections need no precision: the coarse clock costs no clock read.
    clock: CoarseTimer,
}

#[derive(Debug)]
struct Idle<C> {
    connection: C,
    since: Instant,
}

/// Where a connection lent to one exchange goes back to once that exchange has ended.
#[derive(Debug)]
pub(crate) struct Home {
    pub(crate) pool: Arc<Pool>,
    pub(crate) key: PoolKey,
}

/// A hyper HTTP/1.1 connection lent to one exchange; [`Loan::give_back`] returns it.
#[derive(Debug)]
pub(crate) struct Loan {
    sender: Http1Sender,
    home: Home,
    /// The request body, if there was one: the connection is reusable only once it was sent
    /// whole (an upstream may answer before reading everything).
    request_body: Option<Arc<BodyCell>>,
}

impl Pool {
    pub(crate) fn new(
        idle_timeout: Duration,
        max_idle_per_peer: usize,
        clock: CoarseTimer,
    ) -> Self {
        Pool {
            wire: Mutex::new(PeerMap::default()),
            http1: Mutex::new(PeerMap::default()),
            http2: Mutex::new(PeerMap::default()),
            idle_timeout,
            max_idle_per_peer,
            clock,
        }
    }

    /// The most recently used idle inline-client connection to `key` that is still usable.
    pub(crate) fn take_wire(&self, key: &PoolKey) -> Option<Connection> {
        let now = self.clock.coarse_now();
        take(&self.wire, key, |entry| {
            now.duration_since(entry.since) < self.idle_timeout && entry.connection.is_usable()
        })
    }

    /// The most recently used idle HTTP/1.1 connection to `key` that is still open.
    pub(crate) fn take_http1(&self, key: &PoolKey) -> Option<Http1Sender> {
        let now = self.clock.coarse_now();
        take(&self.http1, key, |entry| {
            !entry.connection.is_closed() && now.duration_since(entry.since) < self.idle_timeout
        })
    }

    fn put_http1(&self, key: PoolKey, sender: Http1Sender, now: Instant) {
        if !sender.is_closed() {
            put(&self.http1, key, sender, now, self.max_idle_per_peer);
        }
    }

    /// The shared HTTP/2 connection to `key`, if one is open.
    pub(crate) fn http2(&self, key: &PoolKey) -> Option<Http2Sender> {
        let now = self.clock.coarse_now();
        let mut peers = lock(&self.http2);
        match peers.get_mut(key) {
            Some(entry) if !entry.connection.is_closed() => {
                entry.since = now;
                Some(entry.connection.clone())
            }
            Some(_) => {
                peers.remove(key);
                None
            }
            None => None,
        }
    }

    /// Makes `sender` the shared HTTP/2 connection to `key`.
    pub(crate) fn set_http2(&self, key: PoolKey, sender: Http2Sender) {
        let entry = Idle {
            connection: sender,
            since: self.clock.coarse_now(),
        };
        lock(&self.http2).insert(key, entry);
    }

    /// Forgets the shared HTTP/2 connection to `key` (it failed).
    pub(crate) fn remove_http2(&self, key: &PoolKey) {
        lock(&self.http2).remove(key);
    }

    /// Closes idle connections older than the idle timeout and forgets closed ones. An HTTP/2
    /// connection no request used for that long is let go: hyper closes it once the streams
    /// still open on it (a long response, say) have ended.
    pub(crate) fn sweep(&self) {
        let now = self.clock.coarse_now();
        lock(&self.wire).retain(|_, idle| {
            idle.retain_mut(|entry| {
                now.duration_since(entry.since) < self.idle_timeout && entry.connection.is_usable()
            });
            !idle.is_empty()
        });
        lock(&self.http1).retain(|_, idle| {
            idle.retain(|entry| {
                !entry.connection.is_closed() && now.duration_since(entry.since) < self.idle_timeout
            });
            !idle.is_empty()
        });
        lock(&self.http2).retain(|_, entry| {
            !entry.connection.is_closed() && now.duration_since(entry.since) < self.idle_timeout
        });
    }
}

impl Loan {
    pub(crate) fn new(
        sender: Http1Sender,
        home: Home,
        request_body: Option<Arc<BodyCell>>,
    ) -> Self {
        Loan {
            sender,
            home,
            request_body,
        }
    }

    /// Returns the connection to the pool; call only once the response body has ended.
    pub(crate) fn give_back(self) {
        if self
            .request_body
            .as_ref()
            .is_none_or(|cell| cell.is_finished())
        {
            let Home { pool, key } = self.home;
            let now = pool.clock.coarse_now();
            pool.put_http1(key, self.sender, now);
        }
    }
}

impl Home {
    /// Keeps an inline-client connection whose exchange has ended for the next request.
    pub(crate) fn put_wire(self, connection: Connection) {
        let now = self.pool.clock.coarse_now();
        put(
            &self.pool.wire,
            self.key,
            connection,
            now,
            self.pool.max_idle_per_peer,
        );
    }
}

/// The newest idle connection to `key` that passes `usable`; older unusable ones are closed.
fn take<C>(
    peers: &Mutex<PeerMap<Vec<Idle<C>>>>,
    key: &PoolKey,
    mut usable: impl FnMut(&mut Idle<C>) -> bool,
) -> Option<C> {
    let mut peers = lock(peers);
    let idle = peers.get_mut(key)?;
    while let Some(mut entry) = idle.pop() {
        if usable(&mut entry) {
            return Some(entry.connection);
        }
    }
    None
}

fn put<C>(
    peers: &Mutex<PeerMap<Vec<Idle<C>>>>,
    key: PoolKey,
    connection: C,
    now: Instant,
    max_idle: usize,
) {
    let mut peers = lock(peers);
    let idle = peers.entry(key).or_default();
    if idle.len() >= max_idle {
        // Full: the oldest connection is the one to close.
        idle.remove(0);
    }
    idle.push(Idle {
        connection,
        since: now,
    });
}

/// Pool state stays consistent across a panic elsewhere (every update is a single operation).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
