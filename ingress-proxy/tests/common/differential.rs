//! Fixtures for the differential tests, which hold the inline HTTP/1.1 fast paths to hyper's
//! behaviour: the same bytes go to a proxy with `inline_http1` on and to one with it off, and
//! the two must give the same outcome.
//!
//! Rules every differential test keeps: bytes are written in the generated pieces, each piece
//! flushed on a `TCP_NODELAY` socket, so the proxy sees arbitrary read boundaries; every read
//! and every wait is bounded in time; case counts are bounded and failures are not persisted
//! (a failing case is turned into a named regression test by hand).

use std::future::Future;
use std::time::Duration;

use ingress_core::TableReader;
use ingress_proxy::ProxyConfig;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::Proxy;

/// The longest a case waits for the proxy to end a connection.
pub const CASE_DEADLINE: Duration = Duration::from_secs(5);

/// The two proxies under comparison.
pub struct Pair {
    /// `inline_http1: true`: the inline server and the inline client.
    pub inline: Proxy,
    /// `inline_http1: false`: hyper's server and hyper's client.
    pub hyper: Proxy,
}

impl Pair {
    /// Starts both proxies with `config` (its `inline_http1` is set for each); the inline one
    /// routes with `inline_reader`, the hyper one with `hyper_reader`.
    pub async fn start(
        inline_reader: TableReader,
        hyper_reader: TableReader,
        config: ProxyConfig,
    ) -> Pair {
        let inline = Proxy::start_exact(
            inline_reader,
            ProxyConfig {
                inline_http1: true,
                ..config.clone()
            },
        )
        .await;
        let hyper = Proxy::start_exact(
            hyper_reader,
            ProxyConfig {
                inline_http1: false,
                ..config
            },
        )
        .await;
        Pair { inline, hyper }
    }
}

/// How a connection's read side ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The peer closed (EOF).
    Closed,
    /// The peer reset the connection (after the bytes read so far).
    Reset,
    /// Nothing ended it within [`CASE_DEADLINE`].
    StillOpen,
}

/// Cut points for a byte stream: each index picks a position, resolved against its length.
pub fn cuts() -> impl proptest::strategy::Strategy<Value = Vec<Index>> {
    proptest::collection::vec(proptest::arbitrary::any::<Index>(), 0..6)
}

/// The positions `cuts` pick in a stream of `length` bytes.
pub fn positions(cuts: &[Index], length: usize) -> Vec<usize> {
    if length == 0 {
        return Vec::new();
    }
    cuts.iter().map(|cut| cut.index(length)).collect()
}

/// `bytes` cut at the positions `cut_at` (sorted, out-of-range positions and empty pieces
/// dropped).
pub fn pieces<'a>(bytes: &'a [u8], cut_at: &[usize]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cut_at
        .iter()
        .copied()
        .filter(|&at| at < bytes.len())
        .collect();
    at.push(0);
    at.push(bytes.len());
    at.sort_unstable();
    at.dedup();
    at.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
}

/// Writes `bytes` in the pieces `cut_at` gives, each flushed on its own; stops quietly when
/// the peer no longer reads (it may close a connection early, e.g. after a `400`).
pub async fn write_in_pieces(writer: &mut OwnedWriteHalf, bytes: &[u8], cut_at: &[usize]) {
    for piece in pieces(bytes, cut_at) {
        let written = tokio::time::timeout(CASE_DEADLINE, async {
            writer.write_all(piece).await?;
            writer.flush().await
        })
        .await;
        if !matches!(written, Ok(Ok(()))) {
            return;
        }
        // Gives the peer a chance to read this piece on its own.
        tokio::task::yield_now().await;
    }
}

/// Reads until the peer ends the connection or [`CASE_DEADLINE`] passes.
pub async fn read_until_end(reader: &mut OwnedReadHalf) -> (Vec<u8>, Ended) {
    let mut received = Vec::new();
    let deadline = tokio::time::Instant::now() + CASE_DEADLINE;
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match tokio::time::timeout_at(deadline, reader.read(&mut chunk)).await {
            Err(_) => return (received, Ended::StillOpen),
            Ok(Ok(0)) => return (received, Ended::Closed),
            Ok(Ok(n)) => received.extend_from_slice(&chunk[..n]),
            Ok(Err(_)) => return (received, Ended::Reset),
        }
    }
}

/// Connects to `address` with `TCP_NODELAY`, writes `bytes` in pieces (cut at `cut_at`)
/// while reading, and returns what came back and how the connection ended.
pub async fn exchange(
    address: std::net::SocketAddr,
    bytes: &[u8],
    cut_at: &[usize],
) -> (Vec<u8>, Ended) {
    let stream = tokio::time::timeout(CASE_DEADLINE, TcpStream::connect(address))
        .await
        .expect("connect within the deadline")
        .expect("connect");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let (mut reader, mut writer) = stream.into_split();
    let ((), received) = tokio::join!(
        write_in_pieces(&mut writer, bytes, cut_at),
        read_until_end(&mut reader)
    );
    received
}

/// Header fields as a normalised multiset: names lower-cased, values with surrounding
/// whitespace trimmed, sorted.
pub fn normalised<'a>(
    fields: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = fields
        .into_iter()
        .map(|(name, value)| {
            (
                name.to_ascii_lowercase(),
                String::from_utf8_lossy(value.trim_ascii()).into_owned(),
            )
        })
        .collect();
    fields.sort();
    fields
}

/// A multi-threaded runtime for one property test (two workers: the machine has two cores).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Runs `test` on `cases` generated values; shrinks a failure a bounded number of steps and
/// panics with the minimal case found.
pub fn run_cases<S, F, Fut>(cases: u32, strategy: S, runtime: &tokio::runtime::Runtime, test: F)
where
    S: proptest::strategy::Strategy,
    S::Value: std::fmt::Debug,
    F: Fn(S::Value) -> Fut,
    Fut: Future<Output = Result<(), TestCaseError>>,
{
    let mut runner = TestRunner::new(Config {
        cases,
        max_shrink_iters: 128,
        failure_persistence: None,
        ..Config::default()
    });
    if let Err(failure) = runner.run(&strategy, |value| runtime.block_on(test(value))) {
        panic!("{failure}");
    }
}

/// Escapes bytes for a failure message, so a case can be copied into a regression test; runs
/// of more than 32 equal bytes (generated padding) are written `<N × 'b'>`.
pub fn escaped(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut rest = bytes;
    while let Some(&first) = rest.first() {
        let run = rest.iter().take_while(|&&b| b == first).count();
        if run > 32 {
            out.push_str(&format!("<{run} × '{}'>", first.escape_ascii()));
        } else {
            out.push_str(&rest[..run].escape_ascii().to_string());
        }
        rest = &rest[run..];
    }
    out
}
