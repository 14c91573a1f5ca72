//! The inline client's connection to an upstream: the socket and the buffers it keeps
//! between exchanges. [`super::inline`] runs exchanges on it; [`super::pool`] keeps it idle.

use std::pin::Pin;
use std::task::{Context, Waker};

use bytes::BytesMut;
use tokio::io::{AsyncRead, ReadBuf};

use super::UpstreamIo;

/// An HTTP/1.1 connection to an upstream, idle between exchanges.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(super) io: UpstreamIo,
    /// Bytes read and not yet consumed: empty between exchanges.
    pub(super) read: BytesMut,
    /// The request head being written (kept for its allocation).
    pub(super) write: Vec<u8>,
}

impl Connection {
    pub(crate) fn new(io: UpstreamIo) -> Self {
        Connection {
            io,
            read: BytesMut::new(),
            write: Vec::new(),
        }
    }

    /// Whether an idle connection can carry a request: the upstream has not closed it and
    /// sent nothing unasked. A plain connection costs no system call unless its socket became
    /// readable; a TLS one reads whatever records arrived (such as session tickets).
    pub(crate) fn is_usable(&mut self) -> bool {
        if !self.read.is_empty() {
            return false;
        }
        let mut cx = Context::from_waker(Waker::noop());
        let mut probe = [0u8; 1];
        let mut probe = ReadBuf::new(&mut probe);
        // Pending: nothing to read, still open. Ready: closed, reset, or bytes nobody asked for.
        Pin::new(&mut self.io)
            .poll_read(&mut cx, &mut probe)
            .is_pending()
    }
}
