//! Idle upstream connections, kept per peer so the next request skips the TCP handshake.
//!
//! An HTTP/1.1 connection carries one exchange at a time: it is taken out of the pool for a
//! request, travels with the response body (as a [`Loan`] for hyper's client, inside the body
//! for the inline client), and comes back when that body has ended (and the request body was
//! sent whole), like nginx's `keepalive` upstream cache. Idle connections are reused newest
//! first; older ones age out after the idle timeout ([`Pool::sweep`] closes them even when no
//! request comes). Both HTTP/1.1 clients keep their connections in an [`IdleSet`] of their
//! own connection type. An HTTP/2 connection is shared by every request to its peer until it
//! closes or goes unused for the idle timeout.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use hyper::client::conn::{http1, http2};

use super::connection::Connection;
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

/// A connection that can wait in an [`IdleSet`].
pub(crate) trait Reusable {
    /// Whether the idle connection can still carry a request (the upstream has not closed it).
    fn is_usable(&mut self) -> bool;
}

/// The idle connections of one type, per peer, newest last.
#[derive(Debug)]
pub(crate) struct IdleSet<C> {
    peers: Mutex<PeerMap<Vec<Idle<C>>>>,
}

/// The idle connections of every peer.
#[derive(Debug)]
pub(crate) struct Pool {
    /// Connections of the inline client.
    pub(crate) inline: IdleSet<Connection>,
    /// Connections of hyper's HTTP/1.1 client.
    pub(crate) http1: IdleSet<Http1Sender>,
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

impl Reusable for Connection {
    fn is_usable(&mut self) -> bool {
        Connection::is_usable(self)
    }
}

impl Reusable for Http1Sender {
    fn is_usable(&mut self) -> bool {
        !self.is_closed()
    }
}

impl<C: Reusable> IdleSet<C> {
    fn new() -> Self {
        IdleSet {
            peers: Mutex::new(PeerMap::default()),
        }
    }

    /// The newest idle connection to `key` that is younger than `max_age` and usable; older
    /// or unusable ones on the way are closed.
    fn take(&self, key: &PoolKey, now: Instant, max_age: Duration) -> Option<C> {
        let mut peers = lock(&self.peers);
        let idle = peers.get_mut(key)?;
        while let Some(mut entry) = idle.pop() {
            if now.duration_since(entry.since) < max_age && entry.connection.is_usable() {
                return Some(entry.connection);
            }
        }
        None
    }

    /// Keeps `connection` for the next request; when `max_idle` wait already, the oldest is
    /// closed.
    fn put(&self, key: PoolKey, connection: C, now: Instant, max_idle: usize) {
        let mut peers = lock(&self.peers);
        let idle = peers.entry(key).or_default();
        if idle.len() >= max_idle {
            idle.remove(0);
        }
        idle.push(Idle {
            connection,
            since: now,
        });
    }

    /// Closes connections older than `max_age` or no longer usable.
    fn sweep(&self, now: Instant, max_age: Duration) {
        lock(&self.peers).retain(|_, idle| {
            idle.retain_mut(|entry| {
                now.duration_since(entry.since) < max_age && entry.connection.is_usable()
            });
            !idle.is_empty()
        });
    }
}

impl Pool {
    pub(crate) fn new(
        idle_timeout: Duration,
        max_idle_per_peer: usize,
        clock: CoarseTimer,
    ) -> Self {
        Pool {
            inline: IdleSet::new(),
            http1: IdleSet::new(),
            http2: Mutex::new(PeerMap::default()),
            idle_timeout,
            max_idle_per_peer,
            clock,
        }
    }

    /// The most recently used idle connection of `set` to `key` that is still usable.
    pub(crate) fn take<C: Reusable>(&self, set: &IdleSet<C>, key: &PoolKey) -> Option<C> {
        set.take(key, self.clock.coarse_now(), self.idle_timeout)
    }

    fn put<C: Reusable>(&self, set: &IdleSet<C>, key: PoolKey, mut connection: C) {
        if connection.is_usable() {
            let now = self.clock.coarse_now();
            set.put(key, connection, now, self.max_idle_per_peer);
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
        self.inline.sweep(now, self.idle_timeout);
        self.http1.sweep(now, self.idle_timeout);
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
            pool.put(&pool.http1, key, self.sender);
        }
    }
}

impl Home {
    /// Keeps an inline-client connection whose exchange has ended for the next request.
    pub(crate) fn put_inline(self, connection: Connection) {
        self.pool.put(&self.pool.inline, self.key, connection);
    }
}

/// Pool state stays consistent across a panic elsewhere (every update is a single operation).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
