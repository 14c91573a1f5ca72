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
use super::send_timeout::WriteLimit;
use super::tls::TlsClientKey;
use crate::body::{BodyCell, RequestBody};
use crate::coarse_timer::CoarseTimer;
use ingress_core::TableReader;

/// Where an upstream connection goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum PeerKey {
    /// An endpoint address (the usual case).
    Address(SocketAddr),
    /// An `ExternalName` Service's host name and port.
    Name(Arc<str>, u16),
}

/// A pool key: the peer, and the TLS client its connections were made with (`None`: plain).
/// A connection made under one route's `proxy-ssl-*` policy never serves another's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PoolKey {
    pub(crate) peer: PeerKey,
    pub(crate) tls: Option<TlsClientKey>,
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
    /// The embedder's settings, used while no ConfigMap is in force.
    embedder: PoolSettings,
    /// The route table, whose ConfigMap's `upstream-keepalive-*` keys decide when present.
    table: TableReader,
    /// Ages of idle connections need no precision: the coarse clock costs no clock read.
    clock: CoarseTimer,
}

/// How long and how often upstream connections are reused: ingress-nginx's
/// `upstream-keepalive-timeout`, `-connections`, `-requests` and `-time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PoolSettings {
    /// An idle connection is closed after this.
    pub(crate) idle_timeout: Duration,
    /// Idle connections kept per peer (`0`: none is reused).
    pub(crate) max_idle_per_peer: usize,
    /// Exchanges a connection carries before it is closed; `0`: no limit.
    pub(crate) max_requests: u32,
    /// The longest a connection is reused after it was opened; `None`: no limit.
    pub(crate) max_lifetime: Option<Duration>,
}

#[derive(Debug)]
struct Idle<C> {
    connection: C,
    since: Instant,
    age: Age,
}

/// A connection's history: when it was opened and how many exchanges it carried; and the
/// handle of its `proxy-send-timeout`, set by each exchange.
#[derive(Debug, Clone)]
pub(crate) struct Age {
    born: Instant,
    uses: u32,
    write_limit: WriteLimit,
}

impl Age {
    /// The connection's send-timeout handle.
    pub(crate) fn write_limit(&self) -> WriteLimit {
        self.write_limit.clone()
    }
}

/// Where a connection lent to one exchange goes back to once that exchange has ended.
#[derive(Debug)]
pub(crate) struct Home {
    pub(crate) pool: Arc<Pool>,
    pub(crate) key: PoolKey,
    /// The connection's history (fresh ones: [`Pool::fresh`]).
    pub(crate) age: Age,
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
    fn take(&self, key: &PoolKey, now: Instant, max_age: Duration) -> Option<(C, Age)> {
        let mut peers = lock(&self.peers);
        let idle = peers.get_mut(key)?;
        while let Some(mut entry) = idle.pop() {
            if now.duration_since(entry.since) < max_age && entry.connection.is_usable() {
                return Some((entry.connection, entry.age));
            }
        }
        None
    }

    /// Keeps `connection` for the next request; when `max_idle` wait already, the oldest is
    /// closed (with `max_idle` zero, `connection` itself).
    fn put(&self, key: PoolKey, connection: C, now: Instant, age: Age, max_idle: usize) {
        if max_idle == 0 {
            return;
        }
        let mut peers = lock(&self.peers);
        let idle = peers.entry(key).or_default();
        while idle.len() >= max_idle {
            idle.remove(0);
        }
        idle.push(Idle {
            connection,
            since: now,
            age,
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
    pub(crate) fn new(embedder: PoolSettings, table: TableReader, clock: CoarseTimer) -> Self {
        Pool {
            inline: IdleSet::new(),
            http1: IdleSet::new(),
            http2: Mutex::new(PeerMap::default()),
            embedder,
            table,
            clock,
        }
    }

    /// The settings in force: the ConfigMap's `upstream-keepalive-*` keys when one is, else
    /// the embedder's.
    pub(crate) fn settings(&self) -> PoolSettings {
        let table = self.table.load();
        let global = table.global_config();
        match global.configmap {
            Some(_) => PoolSettings {
                idle_timeout: global.upstream_keepalive_timeout,
                max_idle_per_peer: usize::try_from(global.upstream_keepalive_connections)
                    .unwrap_or(usize::MAX),
                max_requests: global.upstream_keepalive_requests,
                max_lifetime: Some(global.upstream_keepalive_time).filter(|t| !t.is_zero()),
            },
            None => self.embedder,
        }
    }

    /// The history of a connection opened now.
    pub(crate) fn fresh(&self) -> Age {
        Age {
            born: self.clock.coarse_now(),
            uses: 0,
            write_limit: WriteLimit::default(),
        }
    }

    /// The most recently used idle connection of `set` to `key` that is still usable.
    pub(crate) fn take<C: Reusable>(&self, set: &IdleSet<C>, key: &PoolKey) -> Option<(C, Age)> {
        set.take(key, self.clock.coarse_now(), self.settings().idle_timeout)
    }

    /// Keeps a connection whose exchange has ended, unless it has carried
    /// `upstream-keepalive-requests` exchanges or lived `upstream-keepalive-time` (then it is
    /// dropped, which closes it).
    fn put<C: Reusable>(&self, set: &IdleSet<C>, key: PoolKey, mut connection: C, age: Age) {
        let settings = self.settings();
        let now = self.clock.coarse_now();
        let age = Age {
            uses: age.uses.saturating_add(1),
            ..age
        };
        let worn = settings.max_requests != 0 && age.uses >= settings.max_requests;
        let old = settings
            .max_lifetime
            .is_some_and(|limit| now.duration_since(age.born) >= limit);
        if !worn && !old && connection.is_usable() {
            set.put(key, connection, now, age, settings.max_idle_per_peer);
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
            age: self.fresh(),
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
        let idle_timeout = self.settings().idle_timeout;
        self.inline.sweep(now, idle_timeout);
        self.http1.sweep(now, idle_timeout);
        lock(&self.http2).retain(|_, entry| {
            !entry.connection.is_closed() && now.duration_since(entry.since) < idle_timeout
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
            let Home { pool, key, age } = self.home;
            pool.put(&pool.http1, key, self.sender, age);
        }
    }
}

impl Home {
    /// Keeps an inline-client connection whose exchange has ended for the next request.
    pub(crate) fn put_inline(self, connection: Connection) {
        self.pool
            .put(&self.pool.inline, self.key, connection, self.age);
    }
}

/// Pool state stays consistent across a panic elsewhere (every update is a single operation).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
