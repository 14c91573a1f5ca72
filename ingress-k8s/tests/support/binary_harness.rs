//! The `ingress-proxy` binary run as a user runs it (`--manifests`), with real backends on
//! loopback and real HTTP and TLS clients: shared by the binary end-to-end tests.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the helpers"
)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A backend answering every request with its own name.
pub(crate) async fn backend(name: &'static str) -> SocketAddr {
    backend_answering(move |_| name.to_owned()).await
}

/// A backend answering every request with the body `answer` makes of its head.
pub(crate) async fn backend_answering(
    answer: impl Fn(&str) -> String + Send + Sync + 'static,
) -> SocketAddr {
    let answer = Arc::new(answer);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(end) = find(&buffer, b"\r\n\r\n") {
                        let head: Vec<u8> = buffer.drain(..end + 4).collect();
                        let body = answer(&String::from_utf8_lossy(&head));
                        let response = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ncontent-type: text/plain\r\n\r\n{body}",
                            body.len()
                        );
                        if stream.write_all(response.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    addr
}

pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Sends one GET on `stream` and reads one response: (status, body).
pub(crate) async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    host: &str,
    path: &str,
) -> (u16, String) {
    let (status, _, body) = exchange_with(stream, host, path, "").await;
    (status, body)
}

/// Sends one GET with the `extra` header lines (each ending in CRLF) and reads one response:
/// (status, head, body).
pub(crate) async fn exchange_with<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    host: &str,
    path: &str,
    extra: &str,
) -> (u16, String, String) {
    let request = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\nuser-agent: test\r\n{extra}\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            break end;
        }
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before a response");
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed inside the body");
        body.extend_from_slice(&chunk[..n]);
    }
    (status, head, String::from_utf8_lossy(&body).to_string())
}

pub(crate) async fn get(addr: SocketAddr, host: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    exchange(&mut stream, host, path).await
}

pub(crate) async fn get_tls(
    addr: SocketAddr,
    roots: &rustls::RootCertStore,
    host: &'static str,
) -> (u16, String) {
    let (status, _, body) = get_tls_with(addr, roots, host, "").await;
    (status, body)
}

/// A GET over TLS with the `extra` header lines: (status, head, body).
pub(crate) async fn get_tls_with(
    addr: SocketAddr,
    roots: &rustls::RootCertStore,
    host: &'static str,
    extra: &str,
) -> (u16, String, String) {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots.clone())
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = connector
        .connect(ServerName::try_from(host).unwrap(), tcp)
        .await
        .unwrap();
    exchange_with(&mut tls, host, "/", extra).await
}

/// Waits (bounded) until `check` holds, polling every 20 ms.
pub(crate) async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

pub(crate) struct Proxy {
    child: Child,
    pub(crate) http: SocketAddr,
    pub(crate) https: SocketAddr,
    pub(crate) admin: SocketAddr,
    /// Every JSON log line the binary printed so far.
    pub(crate) logs: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

impl Proxy {
    /// The log lines whose `fields.object` is `object`.
    pub(crate) fn logs_about(&self, object: &str) -> Vec<serde_json::Value> {
        let logs = self.logs.lock().unwrap();
        logs.iter()
            .filter(|line| line["fields"]["object"] == object)
            .cloned()
            .collect()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary on ports it picks itself and reads them from its "listening" log line.
pub(crate) fn start(dir: &std::path::Path) -> Proxy {
    start_with(dir, &[])
}

/// [`start`] with more flags.
pub(crate) fn start_with(dir: &std::path::Path, flags: &[&str]) -> Proxy {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ingress-proxy"))
        .args(["--manifests", dir.to_str().unwrap()])
        .args(flags)
        .args([
            "--http-addr",
            "127.0.0.1:0",
            "--https-addr",
            "127.0.0.1:0",
            "--admin-addr",
            "127.0.0.1:0",
        ])
        .args(["--ingress-class", "nginx", "--log-format", "json"])
        .env("RUST_LOG", "info,ingress_k8s::manifest=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = logs.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let fields = &json["fields"];
            if fields["message"] == "listening" && fields["http"].is_string() {
                let addr = |k: &str| fields[k].as_str().unwrap().parse::<SocketAddr>().unwrap();
                let _ = tx.send((addr("http"), addr("https"), addr("admin")));
            }
            kept.lock().unwrap().push(json);
        }
    });
    let (http, https, admin) = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the binary reports its listeners");
    Proxy {
        child,
        http,
        https,
        admin,
        logs,
    }
}

pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn write(&self, name: &str, text: &str) {
        let tmp = self.0.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, self.0.join(name)).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn service(name: &str, backend: SocketAddr) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n  ports: [{{name: http, port: 80}}]\n---\n\
         apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: {name}-1\n  labels: {{kubernetes.io/service-name: {name}}}\n\
         addressType: IPv4\nports: [{{name: http, port: {port}}}]\nendpoints: [{{addresses: [\"{ip}\"], conditions: {{ready: true}}}}]\n",
        port = backend.port(),
        ip = backend.ip(),
    )
}

pub(crate) fn ingress(name: &str, host: &str, service: &str, tls_secret: Option<&str>) -> String {
    let tls = tls_secret
        .map(|s| format!("  tls: [{{hosts: [{host}], secretName: {s}}}]\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: {name}}}\nspec:\n  ingressClassName: nginx\n{tls}  rules:\n  - host: {host}\n    http:\n      paths:\n      - {{path: /, pathType: Prefix, backend: {{service: {{name: {service}, port: {{name: http}}}}}}}}\n"
    )
}

pub(crate) fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}
