//! `lb-load`: the load client and short-connection backend of `benches/lb/run.sh`.
//!
//! - `lb-load backend ADDRESS`: accepts connections, writes `ok\n`, and closes.
//! - `lb-load connect ADDRESS CONCURRENCY SECONDS`: `CONCURRENCY` workers each connect, read
//!   until EOF and reconnect, for `SECONDS`; prints completed connections per second and the
//!   number of failed ones.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("lb-load: runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = match arguments
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["backend", address] => runtime.block_on(backend(address)),
        ["connect", address, concurrency, seconds] => {
            runtime.block_on(connect(address, concurrency, seconds))
        }
        _ => Err(
            "usage: lb-load backend ADDRESS | lb-load connect ADDRESS CONCURRENCY SECONDS"
                .to_string(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("lb-load: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn backend(address: &str) -> Result<(), String> {
    let listener = TcpListener::bind(address)
        .await
        .map_err(|e| format!("bind {address}: {e}"))?;
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let _ = stream.write_all(b"ok\n").await;
            let _ = stream.shutdown().await;
            // Wait for the client's close so the server side does not hold TIME_WAIT.
            let mut sink = [0u8; 64];
            let _ = stream.read(&mut sink).await;
        });
    }
}

async fn connect(address: &str, concurrency: &str, seconds: &str) -> Result<(), String> {
    let address: SocketAddr = address
        .parse()
        .map_err(|e| format!("address {address}: {e}"))?;
    let concurrency: usize = concurrency
        .parse()
        .map_err(|e| format!("concurrency: {e}"))?;
    let seconds: u64 = seconds.parse().map_err(|e| format!("seconds: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (done, failed) = (done.clone(), failed.clone());
            tokio::spawn(async move {
                let mut buffer = [0u8; 64];
                while Instant::now() < deadline {
                    let attempt = async {
                        let mut stream = TcpStream::connect(address).await.ok()?;
                        let mut total = 0;
                        loop {
                            match stream.read(&mut buffer).await.ok()? {
                                0 => break,
                                read => total += read,
                            }
                        }
                        (total == 3).then_some(())
                    };
                    match tokio::time::timeout(Duration::from_secs(5), attempt).await {
                        Ok(Some(())) => done.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let done = done.load(Ordering::Relaxed);
    println!(
        "{:.0} {}",
        done as f64 / elapsed,
        failed.load(Ordering::Relaxed)
    );
    Ok(())
}
