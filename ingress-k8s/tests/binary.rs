//! The `ingress-proxy` binary with `--manifests`: real backends on loopback, a real HTTP and TLS
//! client, hot reload on file change, a broken file isolated.

#![cfg(feature = "binary")]
#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

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
async fn backend(name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(end) = find(&buffer, b"\r\n\r\n") {
                        buffer.drain(..end + 4);
                        let response = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ncontent-type: text/plain\r\n\r\n{name}",
                            name.len()
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

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Sends one GET on `stream` and reads one response: (status, body).
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    host: &str,
    path: &str,
) -> (u16, String) {
    let request = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\nuser-agent: test\r\n\r\n");
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
    (status, String::from_utf8_lossy(&body).to_string())
}

async fn get(addr: SocketAddr, host: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    exchange(&mut stream, host, path).await
}

async fn get_tls(
    addr: SocketAddr,
    roots: &rustls::RootCertStore,
    host: &'static str,
) -> (u16, String) {
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
    exchange(&mut tls, host, "/").await
}

/// Waits (bounded) until `check` holds, polling every 20 ms.
async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
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

struct Proxy {
    child: Child,
    http: SocketAddr,
    https: SocketAddr,
    admin: SocketAddr,
    /// Every JSON log line the binary printed so far.
    logs: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

impl Proxy {
    /// The log lines whose `fields.object` is `object`.
    fn logs_about(&self, object: &str) -> Vec<serde_json::Value> {
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
fn start(dir: &std::path::Path) -> Proxy {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ingress-proxy"))
        .args(["--manifests", dir.to_str().unwrap()])
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

struct TempDir(PathBuf);

impl TempDir {
    fn write(&self, name: &str, text: &str) {
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

fn service(name: &str, backend: SocketAddr) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n  ports: [{{name: http, port: 80}}]\n---\n\
         apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: {name}-1\n  labels: {{kubernetes.io/service-name: {name}}}\n\
         addressType: IPv4\nports: [{{name: http, port: {port}}}]\nendpoints: [{{addresses: [\"{ip}\"], conditions: {{ready: true}}}}]\n",
        port = backend.port(),
        ip = backend.ip(),
    )
}

fn ingress(name: &str, host: &str, service: &str, tls_secret: Option<&str>) -> String {
    let tls = tls_secret
        .map(|s| format!("  tls: [{{hosts: [{host}], secretName: {s}}}]\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: {name}}}\nspec:\n  ingressClassName: nginx\n{tls}  rules:\n  - host: {host}\n    http:\n      paths:\n      - {{path: /, pathType: Prefix, backend: {{service: {{name: {service}, port: {{name: http}}}}}}}}\n"
    )
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_are_served_over_http_and_https_and_reloaded() {
    let a = backend("backend-a").await;
    let b = backend("backend-b").await;
    let certified = rcgen::generate_simple_self_signed(vec!["secure.test".to_owned()]).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();

    let dir =
        TempDir(std::env::temp_dir().join(format!("ingress-k8s-binary-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).unwrap();
    dir.write(
        "10-services.yaml",
        &format!("{}---\n{}", service("svc-a", a), service("svc-b", b)),
    );
    dir.write("20-app.yaml", &ingress("app", "app.test", "svc-a", None));
    dir.write(
        "30-secure.yaml",
        &format!(
            "{}---\napiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\nmetadata: {{name: secure-tls}}\nstringData:\n  tls.crt: |\n{}  tls.key: |\n{}",
            ingress("secure", "secure.test", "svc-b", Some("secure-tls")),
            indent(&certified.cert.pem()),
            indent(&certified.signing_key.serialize_pem()),
        ),
    );

    let proxy = start(&dir.0);
    let ready = eventually(Duration::from_secs(10), || async {
        get(proxy.admin, "admin", "/readyz").await.0 == 200
    })
    .await;
    assert!(ready, "/readyz answers 200 after the first snapshot");

    // Nothing changes for a second: nothing is re-read (a reload's own file reads must not
    // trigger the next reload).
    let reloads = || {
        proxy
            .logs
            .lock()
            .unwrap()
            .iter()
            .filter(|line| line["fields"]["message"] == "manifests unchanged")
            .count()
    };
    let before = reloads();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        reloads(),
        before,
        "the directory is re-read with nothing changed"
    );

    assert_eq!(
        get(proxy.http, "app.test", "/x").await,
        (200, "backend-a".to_owned())
    );
    assert_eq!(get(proxy.http, "unknown.test", "/").await.0, 404);
    assert_eq!(
        get(proxy.http, "secure.test", "/").await.0,
        308,
        "TLS host redirects plain HTTP"
    );
    assert_eq!(
        get_tls(proxy.https, &roots, "secure.test").await,
        (200, "backend-b".to_owned())
    );

    // A keep-alive connection opened before the reload keeps working after it.
    let mut kept = TcpStream::connect(proxy.http).await.unwrap();
    assert_eq!(exchange(&mut kept, "app.test", "/").await.1, "backend-a");

    let changed_at = Instant::now();
    dir.write("20-app.yaml", &ingress("app", "app.test", "svc-b", None));
    let reloaded = eventually(Duration::from_secs(3), || async {
        get(proxy.http, "app.test", "/").await.1 == "backend-b"
    })
    .await;
    assert!(reloaded, "the edited Ingress is served");
    let took = changed_at.elapsed();
    assert!(took < Duration::from_secs(1), "reload took {took:?}");
    assert_eq!(
        exchange(&mut kept, "app.test", "/").await,
        (200, "backend-b".to_owned())
    );

    // A broken file: its previous content stays in force and nothing else is affected.
    dir.write(
        "20-app.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: app\n",
    );
    dir.write("40-new.yaml", &ingress("new", "new.test", "svc-a", None));
    let added = eventually(Duration::from_secs(3), || async {
        get(proxy.http, "new.test", "/").await.0 == 200
    })
    .await;
    assert!(added, "a good file next to the broken one is applied");
    assert_eq!(
        get(proxy.http, "app.test", "/").await,
        (200, "backend-b".to_owned())
    );
    assert_eq!(
        get_tls(proxy.https, &roots, "secure.test").await.1,
        "backend-b"
    );

    // A rejected Ingress: logged once, as a warning naming the object, field and reason, and
    // nothing else is affected.
    dir.write(
        "50-bad.yaml",
        &ingress("bad", "bad.test", "svc-a", None).replace("path: /", "path: no-slash"),
    );
    let logged = eventually(Duration::from_secs(3), || async {
        !proxy.logs_about("default/bad").is_empty()
    })
    .await;
    assert!(logged, "the rejected Ingress is logged");
    // Another reload (an unrelated edit) must not log it again.
    dir.write("40-new.yaml", &ingress("new", "new2.test", "svc-a", None));
    let reloaded = eventually(Duration::from_secs(3), || async {
        get(proxy.http, "new2.test", "/").await.0 == 200
    })
    .await;
    assert!(reloaded);
    let lines = proxy.logs_about("default/bad");
    assert_eq!(lines.len(), 1, "logged once: {lines:?}");
    assert_eq!(lines[0]["level"], "WARN");
    assert_eq!(lines[0]["fields"]["reason"], "Rejected");
    let message = lines[0]["fields"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("default/bad") && message.contains("path"),
        "{message}"
    );
    assert_eq!(get(proxy.http, "app.test", "/").await.0, 200);
}
