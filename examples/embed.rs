//! A minimal custom proxy embedding `ingress-core`: a plain HTTP/1.1 forwarder on tokio that
//! routes each connection's first request with the route table, round-robin over endpoints.
//! `cargo run --example embed -- 127.0.0.1:9000` forwards `demo.local` to that backend.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use ingress_core::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt, copy_bidirectional};
use tokio::net::{TcpListener, TcpStream};

/// A table with one Ingress: `demo.local/` → Service `demo:80` → the given endpoints.
pub(crate) fn demo_table(endpoints: &[SocketAddr]) -> TableReader {
    let (mut writer, reader) = table(TableConfig::default());
    writer.apply(Change::UpsertIngress(
        Ingress::new("default", "demo", None)
            .with_class(ClassSelection::DEFAULT_CLASS)
            .with_path(
                Some("demo.local"),
                PathType::Prefix,
                "/",
                ServiceBackend::number("demo", 80),
            ),
    ));
    let service = Service::cluster_ip("default", "demo", &[(None, 80)]);
    writer.apply(Change::UpsertService(service));
    // Ports belong to a slice, so endpoints on different ports get a slice each.
    for (n, a) in endpoints.iter().enumerate() {
        let name = format!("demo-{n}");
        let slice = EndpointSlice::ready("default", &name, "demo", (None, a.port()), &[a.ip()]);
        writer.apply(Change::UpsertEndpointSlice(slice));
    }
    writer.commit();
    reader
}

/// Serves connections until the listener fails.
pub(crate) async fn serve(listener: TcpListener, reader: TableReader) -> std::io::Result<()> {
    loop {
        let (client, _) = listener.accept().await?;
        tokio::spawn(proxy(client, reader.clone()));
    }
}

async fn proxy(mut client: TcpStream, reader: TableReader) -> std::io::Result<()> {
    let (mut head, mut len) = (vec![0; 8192], 0);
    while !head[..len].windows(4).any(|w| w == b"\r\n\r\n") && len < head.len() {
        match client.read(&mut head[len..]).await? {
            0 => return Ok(()),
            n => len += n,
        }
    }
    let text = String::from_utf8_lossy(&head[..len]);
    let path = text.split(' ').nth(1).unwrap_or("/");
    let host = text.lines().find_map(|l| l.strip_prefix("Host: "));
    // Resolve to owned values and drop the snapshot guard before any await.
    let endpoints = match reader.load().route(host, path).target {
        Target::Service(backend) => Some(backend.endpoints()),
        _ => None,
    };
    let status = match endpoints.as_deref() {
        None => "404 Not Found",
        Some(Endpoints::Ready(addresses)) => {
            let mut upstream = TcpStream::connect(pick(addresses)).await?;
            upstream.write_all(&head[..len]).await?;
            return copy_bidirectional(&mut client, &mut upstream)
                .await
                .map(drop);
        }
        Some(_) => "503 Service Unavailable",
    };
    let response = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
    client.write_all(response.as_bytes()).await
}

/// Round-robin over the current endpoints (`Endpoints::Ready` is never empty).
fn pick(addresses: &[SocketAddr]) -> SocketAddr {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    addresses[NEXT.fetch_add(1, Ordering::Relaxed) % addresses.len()]
}

#[allow(
    dead_code,
    reason = "the tests include this file and call `serve` directly"
)]
#[tokio::main]
async fn main() -> std::io::Result<()> {
    let backend = std::env::args().nth(1).unwrap_or("127.0.0.1:9000".into());
    let backend: SocketAddr = backend.parse().map_err(std::io::Error::other)?;
    println!("embed: http://127.0.0.1:8088 (Host: demo.local) -> {backend}");
    serve(
        TcpListener::bind("127.0.0.1:8088").await?,
        demo_table(&[backend]),
    )
    .await
}
