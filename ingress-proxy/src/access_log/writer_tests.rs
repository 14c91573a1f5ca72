use std::io;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use super::*;

/// Long enough for any healthy machine; a test failing on it means something blocked.
const PATIENCE: Duration = Duration::from_secs(10);

/// Collects what the writer thread writes; optionally holds its first write until released.
struct Destination {
    written: Arc<Mutex<Vec<u8>>>,
    /// `(entered, release)`: the first write says it started, then waits to be released.
    gate: Option<(Sender<()>, Receiver<()>)>,
}

impl Write for Destination {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if let Some((entered, release)) = self.gate.take() {
            entered.send(()).expect("the test is waiting");
            release
                .recv_timeout(PATIENCE)
                .expect("the test releases the writer");
        }
        self.written
            .lock()
            .expect("no panic while locked")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn lines(written: &Mutex<Vec<u8>>) -> Vec<String> {
    let written = written.lock().expect("no panic while locked");
    String::from_utf8_lossy(&written)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn queued_lines_are_written_and_flushed_at_finish() {
    let written = Arc::new(Mutex::new(Vec::new()));
    let destination = Destination {
        written: written.clone(),
        gate: None,
    };
    let dropped = Counter::default();
    let writer = AccessLogWriter::start_with(
        Box::new(destination),
        AccessLogFormat::Json,
        16,
        dropped.clone(),
    )
    .expect("thread starts");
    let sink = writer.sink();
    for _ in 0..3 {
        sink.push(Entry::sample());
    }
    writer.finish();
    let lines = lines(&written);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines
            .iter()
            .all(|line| line.starts_with("{\"time_iso8601\""))
    );
    assert_eq!(dropped.get(), 0);
}

#[test]
fn a_full_queue_drops_and_counts_lines_instead_of_blocking() {
    const CAPACITY: usize = 4;
    const EXTRA: usize = 3;
    let written = Arc::new(Mutex::new(Vec::new()));
    let (entered_tx, entered) = channel();
    let (release, release_rx) = channel();
    let destination = Destination {
        written: written.clone(),
        gate: Some((entered_tx, release_rx)),
    };
    let dropped = Counter::default();
    let writer = AccessLogWriter::start_with(
        Box::new(destination),
        AccessLogFormat::Text,
        CAPACITY,
        dropped.clone(),
    )
    .expect("thread starts");
    let sink = writer.sink();

    // The first line makes the writer flush (the queue ran dry) into the gated destination:
    // from then on nothing leaves the queue.
    sink.push(Entry::sample());
    entered
        .recv_timeout(PATIENCE)
        .expect("the writer thread writes the first line");

    // Fill the queue and go beyond it, on another thread so a blocking push cannot hang the
    // test: it must come back.
    let pusher_sink = sink.clone();
    let (done_tx, done) = channel();
    std::thread::spawn(move || {
        for _ in 0..CAPACITY + EXTRA {
            pusher_sink.push(Entry::sample());
        }
        let _ = done_tx.send(());
    });
    done.recv_timeout(PATIENCE)
        .expect("pushing onto a full queue returns at once");
    assert_eq!(dropped.get(), EXTRA as u64);

    release.send(()).expect("the writer waits for the release");
    writer.finish();
    let lines = lines(&written);
    assert_eq!(lines.len(), 1 + CAPACITY, "{lines:?}");
    assert_eq!(dropped.get(), EXTRA as u64);
}

#[test]
fn lines_pushed_after_finish_are_counted_as_dropped() {
    let destination = Destination {
        written: Arc::new(Mutex::new(Vec::new())),
        gate: None,
    };
    let dropped = Counter::default();
    let writer = AccessLogWriter::start_with(
        Box::new(destination),
        AccessLogFormat::Text,
        4,
        dropped.clone(),
    )
    .expect("thread starts");
    let sink = writer.sink();
    writer.finish();
    sink.push(Entry::sample());
    assert_eq!(dropped.get(), 1);
}

#[test]
fn a_request_dropped_before_its_response_head_is_logged_as_499() {
    use crate::access_log::{AccessRecord, LogFields};
    use crate::metrics::{Metrics, RouteLabels};

    let written = Arc::new(Mutex::new(Vec::new()));
    let destination = Destination {
        written: written.clone(),
        gate: None,
    };
    let writer = AccessLogWriter::start_with(
        Box::new(destination),
        AccessLogFormat::Text,
        4,
        Counter::default(),
    )
    .expect("thread starts");
    let request = http::Request::get("/slow").body(()).expect("valid request");
    let record = AccessRecord {
        start: Instant::now(),
        client: "127.0.0.1:40000".parse().expect("literal address"),
        labels: RouteLabels {
            namespace: "-".into(),
            ingress: "-".into(),
            service: "-".into(),
        },
        upstream: None,
        // What a request whose future was dropped mid-flight still has.
        status: 0,
        request_body: None,
        bytes_out: 0,
        body_error: None,
        metrics: Arc::new(Metrics::new(&crate::ControllerLabels::default())),
        log: LogFields::capture(Some(&writer.sink()), &request, None, true, None, None),
        nginx: crate::metrics::RequestLabels {
            status: 0,
            method: "GET",
            path: "-".into(),
            namespace: "-".into(),
            ingress: "-".into(),
            service: "-".into(),
            canary: "".into(),
            host: "-".into(),
        },
        head_length: crate::access_log::head_length(&request),
        upstream_started: None,
        hold: None,
        denied: None,
    };
    drop(record);
    writer.finish();
    let lines = lines(&written);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("\"GET /slow HTTP/1.1\" 499 0 "),
        "{}",
        lines[0]
    );
}
