//! `ssl-passthrough` on the HTTPS listener: before any TLS, the ClientHello's server name is
//! read with the core's reader ([`ingress_core::client_hello`], the one ingress-lb routes
//! with); a name the route table passes through
//! ([`RouteTable::passthrough`](ingress_core::RouteTable::passthrough)) has its connection
//! copied, bytes untouched, to an endpoint of that host's `/` Service, which terminates TLS
//! itself. Every other connection gets the bytes read so far back in front and is terminated
//! as usual.
//!
//! Only while some host is passed through (and so only with `--enable-ssl-passthrough`) are
//! connections looked at first: otherwise nothing here runs. The ClientHello must arrive
//! within the listener's header timeout. Endpoints are chosen round robin by the same picker
//! requests use (passive health included); one that cannot be connected to within the proxy's
//! connect timeout is reported and the next is tried, up to three; with none left the client's
//! connection is closed, as nginx's `stream` proxy does. Each passed connection is logged and
//! counted (`ingress_ssl_passthrough_connections_total{result}`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ingress_core::client_hello::{self, Preread};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::handler::Shared;

/// Endpoints tried for one connection.
const TRIES: usize = 3;

/// What became of a connection looked at before TLS.
#[derive(Debug)]
pub(super) enum Outcome {
    /// Passed through (or closed when no endpoint could be reached): nothing left to do.
    Handled,
    /// Terminate TLS as usual, reading these bytes first.
    Terminate(Bytes),
    /// The client went away, or sent no complete ClientHello in time.
    Closed,
}

/// Reads the ClientHello (after `read`, the bytes already taken from `stream`) and passes the
/// connection through if its server name asks for it.
pub(super) async fn preread<S>(
    stream: &mut S,
    read: Bytes,
    client: SocketAddr,
    header_timeout: Duration,
    shared: &Shared,
) -> Outcome
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buffer = BytesMut::from(&read[..]);
    let reading = async {
        loop {
            match client_hello::preread(&buffer) {
                Preread::NeedMore => {}
                Preread::ServerName(name) => return Some(name),
                Preread::NotTls => return Some(None),
            }
            match stream.read_buf(&mut buffer).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    };
    let name = match tokio::time::timeout(header_timeout, reading).await {
        Ok(Some(name)) => name,
        Ok(None) | Err(_) => return Outcome::Closed,
    };
    let backend = name.as_deref().and_then(|name| {
        let table = shared.table.load();
        table.passthrough(name).cloned()
    });
    let (Some(name), Some(backend)) = (name, backend) else {
        return Outcome::Terminate(buffer.freeze());
    };
    let started = Instant::now();
    let Some((mut upstream, endpoint)) = connect(shared, &backend).await else {
        shared.metrics.count_passthrough("no_endpoint");
        tracing::warn!(%client, server_name = %name, service = %backend.service(),
            "ssl-passthrough: no endpoint could be connected to; connection closed");
        return Outcome::Handled;
    };
    shared.metrics.count_passthrough("passed");
    if upstream.write_all(&buffer).await.is_err() {
        return Outcome::Handled;
    }
    let copied = tokio::io::copy_bidirectional(stream, &mut upstream).await;
    let (to_upstream, to_client) = copied.unwrap_or((0, 0));
    tracing::info!(
        %client,
        server_name = %name,
        service = %backend.service(),
        %endpoint,
        bytes_to_upstream = to_upstream.saturating_add(buffer.len() as u64),
        bytes_to_client = to_client,
        seconds = started.elapsed().as_secs_f64(),
        "ssl-passthrough connection"
    );
    Outcome::Handled
}

/// Connects to an endpoint of `backend`, trying up to [`TRIES`].
async fn connect(
    shared: &Shared,
    backend: &std::sync::Arc<ingress_core::Backend>,
) -> Option<(TcpStream, SocketAddr)> {
    let mut pick = shared.pick_endpoints(backend)?;
    for _ in 0..TRIES {
        let endpoint = pick.next(Instant::now(), None)?;
        let connecting = TcpStream::connect(endpoint);
        match tokio::time::timeout(shared.config.timeouts.connect, connecting).await {
            Ok(Ok(stream)) => {
                pick.succeeded();
                let _ = stream.set_nodelay(true);
                return Some((stream, endpoint));
            }
            Ok(Err(error)) => {
                tracing::debug!(%endpoint, %error, "ssl-passthrough: connect failed");
                pick.failed(Instant::now());
            }
            Err(_) => {
                tracing::debug!(%endpoint, "ssl-passthrough: connect timed out");
                pick.failed(Instant::now());
            }
        }
    }
    None
}
