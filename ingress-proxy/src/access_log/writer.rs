//! The writer thread and the bounded queue that feeds it.
//!
//! Rules: a request only ever calls [`AccessLogSink::push`], which never blocks — a full queue
//! drops the line and counts it — and never wakes the writer: the one writer thread drains the
//! queue, sleeps [`TICK`] when it is empty, and flushes its `BufWriter` when that is full or a
//! line has waited [`FLUSH_INTERVAL`]. Waking the writer for every line (a futex wake and a
//! write per request, the thread sharing the proxy's core) cost about a third of the
//! proxy's CPU per request, measured; batching costs a line at most ~`FLUSH_INTERVAL` of
//! delay. [`AccessLogWriter::finish`] flushes what was queued before it and stops the thread.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;

use super::entry::Entry;
use super::format::Formatter;
use crate::config::{AccessLog, AccessLogDestination, AccessLogFormat};

/// Lines queued before new ones are dropped: ~80 ms of a 50 000 requests/s load, so only a
/// stalled destination (a full disk, a blocked pipe) loses lines.
pub(crate) const QUEUE_CAPACITY: usize = 4096;

/// Longest time a written line may sit in the buffer.
const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// How long the writer sleeps when the queue is empty: at 20 ms, the queue holds a
/// 200 000 requests/s load between two drains.
const TICK: Duration = Duration::from_millis(20);

/// Bytes buffered before a write to the destination.
const BUFFER_BYTES: usize = 64 * 1024;

/// What travels through the queue: a line, or `None` to flush and stop.
type Message = Option<Entry>;

/// The requests' end of the queue; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct AccessLogSink {
    sender: SyncSender<Message>,
    /// `ingress_access_log_dropped_total`: lines that found the queue full.
    dropped: Counter,
}

/// The writer thread, owned by `run`.
#[derive(Debug)]
pub(crate) struct AccessLogWriter {
    sink: AccessLogSink,
    thread: Option<JoinHandle<()>>,
}

/// Why the access log could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccessLogError {
    /// The access-log file could not be opened for appending.
    #[error("access_log.destination: cannot open {path} for appending: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The writer thread could not be started.
    #[error("access_log: cannot start the writer thread: {0}")]
    Thread(#[source] std::io::Error),
}

impl AccessLogSink {
    /// Queues `entry` for the writer, or drops and counts it if the queue is full (or the
    /// writer has stopped). Never blocks.
    pub(crate) fn push(&self, entry: Entry) {
        match self.sender.try_send(Some(entry)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.inc();
            }
        }
    }
}

impl AccessLogWriter {
    /// Starts the writer for `config`; `None` when the access log is off.
    pub(crate) fn start(
        config: &AccessLog,
        dropped: Counter,
    ) -> Result<Option<Self>, AccessLogError> {
        let destination: Box<dyn Write + Send> = match &config.destination {
            AccessLogDestination::Off => return Ok(None),
            AccessLogDestination::Stdout => Box::new(std::io::stdout()),
            AccessLogDestination::File(path) => Box::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| AccessLogError::Open {
                        path: path.clone(),
                        source,
                    })?,
            ),
        };
        Self::start_with(destination, config.format, QUEUE_CAPACITY, dropped).map(Some)
    }

    /// Starts the writer on any destination with a queue of `capacity` lines.
    pub(crate) fn start_with(
        destination: Box<dyn Write + Send>,
        format: AccessLogFormat,
        capacity: usize,
        dropped: Counter,
    ) -> Result<Self, AccessLogError> {
        let (sender, receiver) = mpsc::sync_channel(capacity);
        let thread = std::thread::Builder::new()
            .name("access-log".to_owned())
            .spawn(move || {
                lower_priority();
                write_lines(&receiver, destination, format);
            })
            .map_err(AccessLogError::Thread)?;
        Ok(AccessLogWriter {
            sink: AccessLogSink { sender, dropped },
            thread: Some(thread),
        })
    }

    /// The requests' end of the queue.
    pub(crate) fn sink(&self) -> AccessLogSink {
        self.sink.clone()
    }

    /// Writes out every line queued so far and stops the thread. Blocks until done: call it
    /// off the async runtime's worker threads.
    pub(crate) fn finish(mut self) {
        // Waits for room: at shutdown, every queued line should be written first.
        let _ = self.sink.sender.send(None);
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::warn!("access log writer thread panicked");
        }
    }
}

impl Drop for AccessLogWriter {
    /// A writer dropped without [`AccessLogWriter::finish`] (a failed start) asks its thread to
    /// stop without waiting for it.
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.sink.sender.try_send(None);
        }
    }
}

/// The writer thread: formats and writes until told to stop (or every sender is gone).
fn write_lines(
    receiver: &Receiver<Message>,
    destination: Box<dyn Write + Send>,
    format: AccessLogFormat,
) {
    let mut out = BufWriter::with_capacity(BUFFER_BYTES, destination);
    let mut formatter = Formatter::default();
    let mut line = String::with_capacity(512);
    let mut last_flush = Instant::now();
    // Reports the first failure of a streak, not one per line.
    let mut failing = false;
    loop {
        let message = match receiver.try_recv() {
            Ok(message) => message,
            Err(TryRecvError::Empty) => {
                if !out.buffer().is_empty() && last_flush.elapsed() >= FLUSH_INTERVAL {
                    report(out.flush(), &mut failing);
                    last_flush = Instant::now();
                }
                // Not `recv`: a blocked receiver would be woken by every line pushed.
                std::thread::sleep(TICK);
                continue;
            }
            // Every sender gone reads as "stop".
            Err(TryRecvError::Disconnected) => None,
        };
        let Some(entry) = message else {
            break;
        };
        line.clear();
        formatter.write(format, &entry, &mut line);
        report(out.write_all(line.as_bytes()), &mut failing);
        if last_flush.elapsed() >= FLUSH_INTERVAL {
            report(out.flush(), &mut failing);
            last_flush = Instant::now();
        }
    }
    report(out.flush(), &mut failing);
}

/// The writer runs at nice 10. Under full load it still gets about a tenth of a core, far more
/// than formatting takes, but its 20 ms batches of formatting no longer preempt a worker that
/// is serving a request (measured as a longer tail of request latency with the log on).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    if let Err(error) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 10) {
        tracing::debug!(%error, "the access-log writer keeps its priority");
    }
}

fn report(result: std::io::Result<()>, failing: &mut bool) {
    match result {
        Ok(()) => *failing = false,
        Err(error) if !*failing => {
            *failing = true;
            tracing::warn!(%error, "access log: write failed; lines are lost until it recovers");
        }
        Err(_) => {}
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
