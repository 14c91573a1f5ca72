//! One access-log line per connection through `tracing` (target `ingress_lb::access`), the
//! counterpart of nginx's stream `access_log`.
//!
//! Fields: `client`, `listener`, `group`, `upstream` (the server that served, or `-`),
//! `tries` (servers tried), `to_upstream` / `to_client` (bytes), `duration_ms`, and `ending`:
//! `closed`, `idle_timeout`, `client_error`, `upstream_error`, `no_live_upstreams`,
//! `connection_limit`, `preread_failed`, `shutdown`.

use std::net::SocketAddr;
use std::time::Duration;

use crate::forward::Transferred;

/// Everything the access-log line reports.
#[derive(Debug)]
pub(crate) struct AccessRecord<'a> {
    pub(crate) client: SocketAddr,
    pub(crate) listener: &'a str,
    pub(crate) group: &'a str,
    pub(crate) upstream: Option<SocketAddr>,
    pub(crate) tries: usize,
    pub(crate) transferred: Transferred,
    pub(crate) duration: Duration,
    pub(crate) ending: &'static str,
}

/// Emits the line.
pub(crate) fn access(record: &AccessRecord<'_>) {
    let upstream = record
        .upstream
        .map_or_else(|| "-".to_string(), |address| address.to_string());
    tracing::info!(
        target: "ingress_lb::access",
        client = %record.client,
        listener = record.listener,
        group = record.group,
        upstream = %upstream,
        tries = record.tries,
        to_upstream = record.transferred.upstream,
        to_client = record.transferred.client,
        duration_ms = u64::try_from(record.duration.as_millis()).unwrap_or(u64::MAX),
        ending = record.ending,
        "connection"
    );
}
