//! Shared helpers: backends on 127.0.0.1:0, a balancer started from a TOML template, clients.

#![allow(dead_code, unreachable_pub)] // Each test binary uses a different subset.

use std::net::SocketAddr;
use std::time::Duration;

use ingress_lb::{Config, Server};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Upper bound for any single wait in these tests.
pub const WAIT: Duration = Duration::from_secs(10);

/// A backend that greets each connection with `name\n`, then echoes until EOF and half-closes.
pub struct Backend {
    pub address: SocketAddr,
    task: JoinHandle<()>,
}

impl Backend {
    pub async fn start(name: &str) -> Self {
        let listener = bind().await;
        Self::serve(name, listener)
    }

    /// Serves on an existing listener (e.g. to bring a dead address back).
    pub fn serve(name: &str, listener: TcpListener) -> Self {
        let address = listener.local_addr().expect("local address");
        let name = name.to_string();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let name = name.clone();
                tokio::spawn(async move {
                    if stream
                        .write_all(format!("{name}\n").as_bytes())
                        .await
                        .is_err()
                    {
                        return;
                    }
                    let (mut read, mut write) = stream.split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                    let _ = write.shutdown().await;
                });
            }
        });
        Self { address, task }
    }

    /// Closes the listening socket: new connects are refused.
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

pub async fn bind() -> TcpListener {
    TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
}

/// An address on which nothing listens (connects are refused).
pub async fn dead_address() -> SocketAddr {
    bind().await.local_addr().expect("local address")
}

/// A running balancer.
pub struct Running {
    pub address: SocketAddr,
    pub admin: SocketAddr,
    pub server: Server,
    task: JoinHandle<Result<(), ingress_lb::ServerError>>,
}

impl Running {
    /// Starts a balancer; the config's single listener is bound on 127.0.0.1:0.
    pub async fn start(toml: &str) -> Self {
        let config = Config::from_toml(toml).unwrap_or_else(|error| panic!("{error}\n{toml}"));
        let listener = bind().await;
        let admin = bind().await;
        let (address, admin_address) = (
            listener.local_addr().expect("addr"),
            admin.local_addr().expect("addr"),
        );
        let server = Server::new(config).expect("server");
        let runner = server.clone();
        let task = tokio::spawn(async move {
            runner
                .run(vec![listener], Some(admin), std::future::pending())
                .await
        });
        Self {
            address,
            admin: admin_address,
            server,
            task,
        }
    }

    /// Shuts down and waits for every task of the server to end.
    pub async fn stop(self) {
        self.server.shutdown();
        let result = tokio::time::timeout(WAIT, self.task)
            .await
            .expect("shutdown in time");
        result.expect("join").expect("run");
    }

    /// Fetches `/metrics` from the admin listener.
    pub async fn metrics(&self) -> String {
        let mut stream = TcpStream::connect(self.admin).await.expect("admin connect");
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        response
    }
}

/// Connects through the balancer and returns the backend's greeting (None if closed first).
pub async fn greeting(address: SocketAddr) -> Option<String> {
    let stream = TcpStream::connect(address).await.ok()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let read = tokio::time::timeout(WAIT, reader.read_line(&mut line))
        .await
        .expect("greeting in time")
        .ok()?;
    (read > 0).then(|| line.trim_end().to_string())
}

/// Connects and keeps the stream after reading the greeting.
pub async fn open(address: SocketAddr) -> (BufReader<TcpStream>, String) {
    let stream = TcpStream::connect(address).await.expect("connect");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    tokio::time::timeout(WAIT, reader.read_line(&mut line))
        .await
        .expect("in time")
        .expect("read");
    (reader, line.trim_end().to_string())
}

/// Sends `message` and reads the echo.
pub async fn echo(stream: &mut BufReader<TcpStream>, message: &str) -> String {
    stream
        .get_mut()
        .write_all(format!("{message}\n").as_bytes())
        .await
        .expect("write");
    let mut line = String::new();
    tokio::time::timeout(WAIT, stream.read_line(&mut line))
        .await
        .expect("echo in time")
        .expect("read");
    line.trim_end().to_string()
}

/// A config with one listener on `upstream` named `u`, `servers` given as TOML inline tables.
pub fn config(servers: &[String], upstream_extra: &str, listener_extra: &str) -> String {
    format!(
        "[upstreams.u]\n{upstream_extra}\nservers = [\n{}\n]\n\n[[listeners]]\naddress = \"127.0.0.1:0\"\nupstream = \"u\"\n{listener_extra}\n",
        servers.join(",\n")
    )
}

/// `{ address = "...", <extra> }`.
pub fn server(address: SocketAddr, extra: &str) -> String {
    if extra.is_empty() {
        format!("{{ address = \"{address}\" }}")
    } else {
        format!("{{ address = \"{address}\", {extra} }}")
    }
}

/// Waits until `condition` holds, polling every 10 ms, for at most [`WAIT`].
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
