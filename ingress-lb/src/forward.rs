//! Bidirectional copy between client and upstream with half-close and an idle timeout
//! (nginx `proxy_timeout`).
//!
//! Each direction reads into its own buffer and writes everything out; when one side ends its
//! stream (EOF) the other side's write half is shut down and the opposite direction keeps
//! flowing until it ends too. An error in either direction ends the session. Both directions
//! and the idle watchdog run in the connection's own task, so when this future returns (or is
//! dropped on shutdown) both sockets are closed and nothing is left behind.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Per-direction buffer. 64 KiB keeps bulk transfers to few syscalls (see `benches/lb`).
const BUFFER_SIZE: usize = 64 * 1024;

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Both sides closed their streams.
    Closed,
    /// Neither side sent or received anything for the idle timeout.
    IdleTimeout,
    /// Reading from or writing to the client failed.
    ClientError,
    /// Reading from or writing to the upstream failed.
    UpstreamError,
}

/// Bytes moved by a session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Transferred {
    /// Client → upstream.
    pub(crate) upstream: u64,
    /// Upstream → client.
    pub(crate) client: u64,
}

/// Last activity, as milliseconds since the session started (shared by both directions).
struct Activity {
    start: Instant,
    last_millis: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        let millis = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_millis.store(millis, Ordering::Relaxed);
    }

    fn deadline(&self, timeout: Duration) -> Instant {
        self.start + Duration::from_millis(self.last_millis.load(Ordering::Relaxed)) + timeout
    }
}

/// Which side an I/O error came from.
#[derive(Debug, Clone, Copy)]
enum Side {
    Reader,
    Writer,
}

/// Copies both ways until both directions end, one fails, or the session is idle for `idle`.
pub(crate) async fn forward(
    client: &mut TcpStream,
    upstream: &mut TcpStream,
    idle: Duration,
) -> (Transferred, Ending) {
    let activity = Activity {
        start: Instant::now(),
        last_millis: AtomicU64::new(0),
    };
    let (mut client_read, mut client_write) = client.split();
    let (mut upstream_read, mut upstream_write) = upstream.split();
    let mut to_upstream = 0u64;
    let mut to_client = 0u64;
    let outcome = {
        let up = pump(
            &mut client_read,
            &mut upstream_write,
            &activity,
            &mut to_upstream,
        );
        let down = pump(
            &mut upstream_read,
            &mut client_write,
            &activity,
            &mut to_client,
        );
        let both = async {
            let (up, down) = tokio::join!(up, down);
            match (up, down) {
                (Err(Side::Reader), _) | (_, Err(Side::Writer)) => Ending::ClientError,
                (Err(Side::Writer), _) | (_, Err(Side::Reader)) => Ending::UpstreamError,
                (Ok(()), Ok(())) => Ending::Closed,
            }
        };
        tokio::select! {
            ending = both => ending,
            () = watchdog(&activity, idle) => Ending::IdleTimeout,
        }
    };
    (
        Transferred {
            upstream: to_upstream,
            client: to_client,
        },
        outcome,
    )
}

/// One direction: read, write all, and shut the writer down on EOF.
async fn pump<R, W>(
    reader: &mut R,
    writer: &mut W,
    activity: &Activity,
    counted: &mut u64,
) -> Result<(), Side>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    // Uninitialised capacity filled by `read_buf`: no zeroing per connection.
    let mut buffer = Vec::with_capacity(BUFFER_SIZE);
    loop {
        buffer.clear();
        let read = reader
            .read_buf(&mut buffer)
            .await
            .map_err(|_| Side::Reader)?;
        if read == 0 {
            // Half-close: pass the EOF on; ignore ENOTCONN if the peer is already gone.
            let _ = writer.shutdown().await;
            return Ok(());
        }
        activity.touch();
        writer
            .write_all(&buffer[..read])
            .await
            .map_err(|_| Side::Writer)?;
        *counted += read as u64;
        activity.touch();
    }
}

async fn watchdog(activity: &Activity, idle: Duration) {
    loop {
        let deadline = activity.deadline(idle);
        tokio::time::sleep_until(deadline).await;
        if activity.deadline(idle) <= Instant::now() {
            return;
        }
    }
}
