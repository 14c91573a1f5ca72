//! One client connection, as a short sequence of phases:
//! preread (SNI) → choose group → pick and connect (with retries) → PROXY header → forward →
//! log.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ingress_core::balance::{PeerId, PickContext};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::ListenerConfig;
use crate::forward::{self, Ending, Transferred};
use crate::log::{self, AccessRecord};
use crate::metrics::Metrics;
use crate::proxy_protocol;
use crate::state::{Group, Snapshot};
use ingress_core::client_hello::{self, Preread};

/// What the listener knows about an accepted connection.
#[derive(Debug)]
pub(crate) struct Accepted {
    pub(crate) stream: TcpStream,
    pub(crate) client: SocketAddr,
    pub(crate) local: SocketAddr,
    /// Index of the listener in the configuration.
    pub(crate) listener: usize,
    /// Label used in logs and metrics (the configured listen address).
    pub(crate) label: String,
}

/// The upstream connection chosen for a client.
struct Connected {
    stream: TcpStream,
    peer: PeerId,
    address: SocketAddr,
}

/// Serves one client connection to completion (or until `cancel`).
pub(crate) async fn serve(
    accepted: Accepted,
    snapshot: Arc<Snapshot>,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) {
    let started = Instant::now();
    let Accepted {
        mut stream,
        client,
        local,
        listener,
        label,
    } = accepted;
    let Some(settings) = snapshot.config.listeners.get(listener) else {
        return;
    };
    let mut record = AccessRecord {
        client,
        listener: &label,
        group: settings.upstream.get_ref(),
        upstream: None,
        tries: 0,
        transferred: Transferred::default(),
        duration: Duration::ZERO,
        ending: "closed",
    };
    let _ = stream.set_nodelay(true);

    let outcome = tokio::select! {
        () = cancel.cancelled() => Err("shutdown"),
        outcome = session(&mut stream, client, local, settings, &snapshot, &metrics, &mut record) => outcome,
    };
    record.ending = match outcome {
        Ok(ending) => match ending {
            Ending::Closed => "closed",
            Ending::IdleTimeout => "idle_timeout",
            Ending::ClientError => "client_error",
            Ending::UpstreamError => "upstream_error",
        },
        Err(reason) => reason,
    };
    record.duration = started.elapsed();
    metrics
        .connections
        .get_or_create(&vec![
            ("listener", label.clone()),
            ("ending", record.ending.to_string()),
        ])
        .inc();
    metrics
        .bytes
        .get_or_create(&vec![
            ("group", record.group.to_string()),
            ("direction", "to_upstream".to_string()),
        ])
        .inc_by(record.transferred.upstream);
    metrics
        .bytes
        .get_or_create(&vec![
            ("group", record.group.to_string()),
            ("direction", "to_client".to_string()),
        ])
        .inc_by(record.transferred.client);
    log::access(&record);
}

/// The phases after accept; `Err` carries the access-log ending of an early close.
async fn session<'s>(
    client_stream: &mut TcpStream,
    client: SocketAddr,
    local: SocketAddr,
    settings: &'s ListenerConfig,
    snapshot: &'s Snapshot,
    metrics: &Metrics,
    record: &mut AccessRecord<'s>,
) -> Result<Ending, &'static str> {
    let mut preread = Vec::new();
    let group_name = if settings.ssl_preread {
        let server_name = tokio::time::timeout(
            settings.preread_timeout.0,
            read_server_name(client_stream, &mut preread),
        )
        .await
        .map_err(|_| "preread_failed")?
        .map_err(|()| "preread_failed")?;
        settings.group_for(server_name.as_deref())
    } else {
        settings.upstream.get_ref()
    };
    record.group = group_name;
    let group = snapshot.groups.get(group_name).ok_or("no_live_upstreams")?;

    let connected = connect(group, settings, client, metrics, &mut record.tries)
        .await
        .ok_or("no_live_upstreams")?;
    record.upstream = Some(connected.address);
    let Connected {
        stream: mut upstream,
        peer,
        ..
    } = connected;
    let _outstanding = Outstanding { group, peer };
    let _ = upstream.set_nodelay(true);

    let mut head = settings
        .proxy_protocol
        .map(|version| proxy_protocol::header(version, client, local))
        .unwrap_or_default();
    head.extend_from_slice(&preread);
    // The PROXY header is ours, not the client's: only the preread bytes count.
    record.transferred.upstream = preread.len() as u64;
    if head.is_empty() || upstream.write_all(&head).await.is_ok() {
        let (transferred, ending) =
            forward::forward(client_stream, &mut upstream, settings.timeout.0).await;
        record.transferred.upstream += transferred.upstream;
        record.transferred.client = transferred.client;
        Ok(ending)
    } else {
        Ok(Ending::UpstreamError)
    }
}

/// Ends the balancer's count of the connection however the session ends (even when the
/// session future is dropped on shutdown).
struct Outstanding<'a> {
    group: &'a Group,
    peer: PeerId,
}

impl Drop for Outstanding<'_> {
    fn drop(&mut self) {
        self.group.balancer().end(self.peer);
    }
}

/// Reads until the ClientHello is complete (or is not TLS), returning its server name.
async fn read_server_name(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> Result<Option<String>, ()> {
    let mut chunk = [0u8; 4096];
    loop {
        // The core's reader (shared with ingress-proxy's ssl-passthrough) decides by the
        // time `PREREAD_LIMIT` bytes are read.
        match client_hello::preread(buffer) {
            Preread::ServerName(name) => return Ok(name),
            Preread::NotTls => return Ok(None),
            Preread::NeedMore => {}
        }
        let read = stream.read(&mut chunk).await.map_err(|_| ())?;
        if read == 0 {
            return Err(());
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

/// Picks a server and connects, moving to the next server after a failure
/// (`proxy_next_upstream`) until one answers or none is left.
async fn connect(
    group: &Group,
    settings: &ListenerConfig,
    client: SocketAddr,
    metrics: &Metrics,
    tries: &mut usize,
) -> Option<Connected> {
    let hash_key = client.ip().to_string();
    let mut attempt = group.balancer().attempt();
    loop {
        let now = Instant::now().into_std();
        let context = PickContext::at(now).with_hash_key(hash_key.as_bytes());
        let (peer, address) = {
            let mut balancer = group.balancer();
            let peer = balancer.pick(&mut attempt, &context)?;
            (peer, *balancer.peer(peer))
        };
        *tries += 1;
        match tokio::time::timeout(settings.connect_timeout(), TcpStream::connect(address)).await {
            Ok(Ok(stream)) => {
                let mut balancer = group.balancer();
                balancer.report_success(peer);
                balancer.begin(peer);
                return Some(Connected {
                    stream,
                    peer,
                    address,
                });
            }
            Ok(Err(error)) => {
                tracing::warn!(group = %group.name, server = %address, %error, "connect failed")
            }
            Err(_) => tracing::warn!(group = %group.name, server = %address, "connect timed out"),
        }
        let labels = vec![
            ("group", group.name.clone()),
            ("server", address.to_string()),
        ];
        metrics.connect_failures.get_or_create(&labels).inc();
        if group
            .balancer()
            .report_failure(peer, Instant::now().into_std())
        {
            tracing::warn!(group = %group.name, server = %address, "server temporarily disabled (max_fails)");
            metrics.ejections.get_or_create(&labels).inc();
        }
        let limit = settings.next_upstream_tries as usize;
        if !settings.next_upstream || (limit != 0 && *tries >= limit) {
            return None;
        }
    }
}
