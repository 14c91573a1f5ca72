//! `splice-vs-copy`: does `splice(2)` through a pipe beat ingress-lb's userspace copy loop?
//!
//! Everything runs on 127.0.0.1. A blocking sink server reads and discards; blocking source
//! clients push `BYTES` bytes in total (split over the connections, and each stops at a 20 s
//! deadline) through a relay, which forwards with one of:
//!
//! - `copy-loop`: the loop of `ingress-lb/src/forward.rs` (tokio, one 64 KiB buffer per
//!   direction, `read_buf` + `write_all`, half-close on EOF, both directions joined);
//! - `copy_bidirectional`: `tokio::io::copy_bidirectional`, as a second baseline;
//! - `splice-64k` / `splice-1m`: one blocking thread per direction, `splice(2)` socket → pipe
//!   → socket with rustix's safe API, the pipe at its default 64 KiB or grown to 1 MiB.
//!
//! Throughput is the bytes the sink received divided by the time from the first connection
//! to the sink's last EOF. Each (connections, mode) cell is run `ROUNDS` times, modes
//! interleaved within a round; the medians are printed as a markdown table.
//!
//! Usage: `splice-vs-copy [BYTES [ROUNDS]]` (default 2 GiB, 3 rounds).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use rustix::pipe::{PipeFlags, SpliceFlags, fcntl_setpipe_size, pipe_with, splice};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Per-direction buffer of the copy loop, as in `ingress-lb/src/forward.rs`.
const BUFFER_SIZE: usize = 64 * 1024;
/// Deadline for the source clients of one run.
const RUN_LIMIT: Duration = Duration::from_secs(20);
/// Connection counts measured.
const CONNECTIONS: [usize; 2] = [1, 8];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    CopyLoop,
    CopyBidirectional,
    Splice64k,
    Splice1m,
}

const MODES: [Mode; 4] = [
    Mode::CopyLoop,
    Mode::CopyBidirectional,
    Mode::Splice64k,
    Mode::Splice1m,
];

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::CopyLoop => "copy-loop",
            Mode::CopyBidirectional => "copy_bidirectional",
            Mode::Splice64k => "splice-64k",
            Mode::Splice1m => "splice-1m",
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("splice-vs-copy: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let bytes: u64 = match arguments.first() {
        Some(text) => text
            .parse()
            .map_err(|error| format!("argument BYTES {text:?}: {error}"))?,
        None => 2 << 30,
    };
    let rounds: usize = match arguments.get(1) {
        Some(text) => text
            .parse()
            .map_err(|error| format!("argument ROUNDS {text:?}: {error}"))?,
        None => 3,
    };
    if rounds == 0 || bytes == 0 {
        return Err("BYTES and ROUNDS must be positive".to_string());
    }
    let runtime = tokio::runtime::Runtime::new().map_err(|error| format!("runtime: {error}"))?;
    // samples[connections index][mode index] = Gbit/s of each round.
    let mut samples = vec![vec![Vec::new(); MODES.len()]; CONNECTIONS.len()];
    for round in 0..rounds {
        for (c, &connections) in CONNECTIONS.iter().enumerate() {
            for (m, &mode) in MODES.iter().enumerate() {
                let (moved, elapsed) = measure(&runtime, mode, connections, bytes)
                    .map_err(|error| format!("{} x{connections}: {error}", mode.name()))?;
                let gbits = moved as f64 * 8.0 / elapsed.as_secs_f64() / 1e9;
                eprintln!(
                    "round {} {:>18} x{connections}: {moved} bytes in {:.2} s = {gbits:.2} Gbit/s",
                    round + 1,
                    mode.name(),
                    elapsed.as_secs_f64()
                );
                samples[c][m].push(gbits);
            }
        }
    }
    print_table(&samples, bytes, rounds);
    Ok(())
}

fn print_table(samples: &[Vec<Vec<f64>>], bytes: u64, rounds: usize) {
    println!("Medians of {rounds} rounds, {bytes} bytes per run, Gbit/s:\n");
    let mut header = "| connections |".to_string();
    let mut rule = "|---|".to_string();
    for mode in MODES {
        header.push_str(&format!(" {} |", mode.name()));
        rule.push_str("---|");
    }
    header.push_str(" splice-64k/copy-loop | splice-1m/copy-loop |");
    rule.push_str("---|---|");
    println!("{header}\n{rule}");
    for (c, connections) in CONNECTIONS.iter().enumerate() {
        let medians: Vec<f64> = samples[c].iter().map(|s| median(s)).collect();
        let mut row = format!("| {connections} |");
        for value in &medians {
            row.push_str(&format!(" {value:.2} |"));
        }
        let copy = medians[0];
        row.push_str(&format!(
            " {:.2} | {:.2} |",
            medians[2] / copy,
            medians[3] / copy
        ));
        println!("{row}");
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One run: returns the bytes the sink received and the time it took.
fn measure(
    runtime: &tokio::runtime::Runtime,
    mode: Mode,
    connections: usize,
    bytes: u64,
) -> io::Result<(u64, Duration)> {
    let sink = TcpListener::bind("127.0.0.1:0")?;
    let sink_address = sink.local_addr()?;
    let sink_thread = thread::spawn(move || sink_server(&sink, connections));
    let relay_address = match mode {
        Mode::CopyLoop | Mode::CopyBidirectional => {
            let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
            let address = listener.local_addr()?;
            runtime.spawn(async_relay(listener, sink_address, connections, mode));
            address
        }
        Mode::Splice64k | Mode::Splice1m => {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let address = listener.local_addr()?;
            let pipe_size = if mode == Mode::Splice1m {
                Some(1 << 20)
            } else {
                None
            };
            thread::spawn(move || splice_relay(&listener, sink_address, connections, pipe_size));
            address
        }
    };
    let start = Instant::now();
    let deadline = start + RUN_LIMIT;
    let share = bytes / connections as u64;
    let sources: Vec<_> = (0..connections)
        .map(|_| thread::spawn(move || source(relay_address, share, deadline)))
        .collect();
    for source in sources {
        source
            .join()
            .map_err(|_| io::Error::other("source thread panicked"))??;
    }
    let moved = sink_thread
        .join()
        .map_err(|_| io::Error::other("sink thread panicked"))??;
    Ok((moved, start.elapsed()))
}

/// Accepts `connections` connections, reads each to EOF, and returns the total bytes read.
fn sink_server(listener: &TcpListener, connections: usize) -> io::Result<u64> {
    let mut readers = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (mut stream, _) = listener.accept()?;
        readers.push(thread::spawn(move || -> io::Result<u64> {
            let mut buffer = vec![0u8; 256 * 1024];
            let mut total = 0u64;
            loop {
                match stream.read(&mut buffer)? {
                    0 => return Ok(total),
                    read => total += read as u64,
                }
            }
        }));
    }
    let mut total = 0;
    for reader in readers {
        total += reader
            .join()
            .map_err(|_| io::Error::other("sink reader panicked"))??;
    }
    Ok(total)
}

/// Writes `bytes` bytes (or until `deadline`) to the relay, then closes.
fn source(relay: SocketAddr, bytes: u64, deadline: Instant) -> io::Result<()> {
    let mut stream = TcpStream::connect(relay)?;
    let buffer = vec![0x5au8; 256 * 1024];
    let mut left = bytes;
    while left > 0 && Instant::now() < deadline {
        let chunk = usize::try_from(left)
            .unwrap_or(usize::MAX)
            .min(buffer.len());
        stream.write_all(&buffer[..chunk])?;
        left -= chunk as u64;
    }
    stream.shutdown(Shutdown::Write)
}

/// The tokio relay: accepts `connections` connections and forwards each to the sink.
async fn async_relay(
    listener: tokio::net::TcpListener,
    sink: SocketAddr,
    connections: usize,
    mode: Mode,
) {
    for _ in 0..connections {
        let Ok((mut client, _)) = listener.accept().await else {
            eprintln!("splice-vs-copy: relay accept failed");
            return;
        };
        tokio::spawn(async move {
            let Ok(mut upstream) = tokio::net::TcpStream::connect(sink).await else {
                eprintln!("splice-vs-copy: relay connect to sink failed");
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = upstream.set_nodelay(true);
            if mode == Mode::CopyBidirectional {
                if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await
                {
                    eprintln!("splice-vs-copy: copy_bidirectional: {error}");
                }
            } else {
                let (mut client_read, mut client_write) = client.split();
                let (mut upstream_read, mut upstream_write) = upstream.split();
                let (up, down) = tokio::join!(
                    pump(&mut client_read, &mut upstream_write),
                    pump(&mut upstream_read, &mut client_write)
                );
                if let Err(error) = up.and(down) {
                    eprintln!("splice-vs-copy: copy loop: {error}");
                }
            }
        });
    }
}

/// One direction of the copy loop, as `pump` in `ingress-lb/src/forward.rs`.
async fn pump<R, W>(reader: &mut R, writer: &mut W) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buffer = Vec::with_capacity(BUFFER_SIZE);
    loop {
        buffer.clear();
        let read = reader.read_buf(&mut buffer).await?;
        if read == 0 {
            let _ = writer.shutdown().await;
            return Ok(());
        }
        writer.write_all(&buffer[..read]).await?;
    }
}

/// The splice relay: one blocking thread per direction per connection.
fn splice_relay(
    listener: &TcpListener,
    sink: SocketAddr,
    connections: usize,
    pipe_size: Option<usize>,
) {
    for _ in 0..connections {
        let accepted = listener.accept().and_then(|(client, _)| {
            let upstream = TcpStream::connect(sink)?;
            client.set_nodelay(true)?;
            upstream.set_nodelay(true)?;
            Ok((client.try_clone()?, client, upstream.try_clone()?, upstream))
        });
        let (client_in, client_out, upstream_in, upstream_out) = match accepted {
            Ok(streams) => streams,
            Err(error) => {
                eprintln!("splice-vs-copy: splice relay setup: {error}");
                return;
            }
        };
        for (from, to) in [(client_in, upstream_out), (upstream_in, client_out)] {
            thread::spawn(move || {
                if let Err(error) = splice_pump(&from, &to, pipe_size) {
                    eprintln!("splice-vs-copy: splice: {error}");
                }
            });
        }
    }
}

/// One direction: socket → pipe → socket with `splice(2)`, shutting `to` down on EOF.
fn splice_pump(from: &TcpStream, to: &TcpStream, pipe_size: Option<usize>) -> io::Result<()> {
    let (pipe_read, pipe_write) = pipe_with(PipeFlags::CLOEXEC)?;
    let capacity = match pipe_size {
        Some(size) => fcntl_setpipe_size(&pipe_write, size)?,
        None => BUFFER_SIZE,
    };
    let flags = SpliceFlags::MOVE | SpliceFlags::MORE;
    loop {
        let read = splice(from, None, &pipe_write, None, capacity, flags)?;
        if read == 0 {
            let _ = to.shutdown(Shutdown::Write);
            return Ok(());
        }
        let mut left = read;
        while left > 0 {
            let written = splice(&pipe_read, None, to, None, left, flags)?;
            if written == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "splice to the upstream socket wrote nothing",
                ));
            }
            left -= written;
        }
    }
}
