//! The `ingress-lb` binary reloads its configuration file on SIGHUP: run as a child process
//! on 127.0.0.1, its upstream is switched from backend `a` to `b` by rewriting the file and
//! sending SIGHUP, then an invalid file is rejected and the running configuration stays.
//!
//! The file watcher also polls the file's modification time and length, so every rewrite
//! keeps both (same padded length, old mtime restored, atomic rename): only the signal can
//! trigger these reloads, and the child's log must name SIGHUP as the reason.

mod common;

use std::fs::{self, File};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Backend, WAIT, greeting, open};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Every version of the configuration file has exactly this length (padded with a comment).
const CONFIG_LEN: usize = 512;

/// How often conditions are re-checked while waiting.
const POLL: Duration = Duration::from_millis(20);

/// The binary running as a child process; killed (and its directory removed) on drop.
struct Balancer {
    process: Child,
    dir: PathBuf,
    config: PathBuf,
    listener: SocketAddr,
    admin: SocketAddr,
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Balancer {
    /// Starts the binary with upstream `app` = `backend` and waits until a connection through
    /// the listener is greeted by `expected`. Retries with new ports if the child exits early
    /// (a port picked as free was taken in between).
    async fn start(backend: SocketAddr, expected: &str) -> Self {
        for attempt in 0..3 {
            let (listener, admin) = (free_port(), free_port());
            let dir = std::env::temp_dir().join(format!(
                "ingress-lb-binary-reload-{}-{}-{attempt}",
                std::process::id(),
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .expect("clock after 1970")
                    .as_nanos()
            ));
            fs::create_dir_all(&dir).expect("create temporary directory");
            let config = dir.join("ingress-lb.toml");
            fs::write(&config, padded(&valid_config(listener, admin, backend)))
                .expect("write config");
            let process = Command::new(env!("CARGO_BIN_EXE_ingress-lb"))
                .arg("--config")
                .arg(&config)
                .env_remove("INGRESS_LB_CONFIG")
                .env("RUST_LOG", "info")
                .env("NO_COLOR", "1")
                .stdin(Stdio::null())
                .stdout(File::create(dir.join("stdout.log")).expect("create stdout log"))
                .stderr(File::create(dir.join("stderr.log")).expect("create stderr log"))
                .spawn()
                .expect("spawn ingress-lb");
            let mut balancer = Self {
                process,
                dir,
                config,
                listener,
                admin,
            };
            let deadline = tokio::time::Instant::now() + WAIT;
            loop {
                if let Some(status) = balancer.process.try_wait().expect("try_wait") {
                    eprintln!(
                        "attempt {attempt}: ingress-lb exited early ({status}): {}",
                        balancer.log()
                    );
                    break;
                }
                if let Some(name) = greeting(listener).await {
                    assert_eq!(name, expected, "first connection through the balancer");
                    return balancer;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "listener {listener} not serving within {WAIT:?}: {}",
                    balancer.log()
                );
                tokio::time::sleep(POLL).await;
            }
        }
        panic!("ingress-lb did not start in 3 attempts");
    }

    /// Replaces the file with `text` (padded) while keeping its modification time and length,
    /// so the file watcher sees no change.
    fn rewrite_unnoticed(&self, text: &str) {
        let before = fs::metadata(&self.config).expect("config metadata");
        let mtime = before.modified().expect("config mtime");
        let next = self.dir.join("ingress-lb.toml.next");
        fs::write(&next, padded(text)).expect("write next config");
        File::options()
            .write(true)
            .open(&next)
            .expect("open next config")
            .set_modified(mtime)
            .expect("set mtime");
        fs::rename(&next, &self.config).expect("rename config into place");
        let after = fs::metadata(&self.config).expect("config metadata");
        assert_eq!(
            (after.modified().expect("mtime"), after.len()),
            (mtime, before.len()),
            "the rewrite must be invisible to the file watcher"
        );
    }

    fn hang_up(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.process.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -HUP failed: {status}");
    }

    /// The child's log so far (stdout and stderr).
    fn log(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        format!("{}{}", read("stdout.log"), read("stderr.log"))
    }

    fn assert_running(&mut self) {
        let status = self.process.try_wait().expect("try_wait");
        assert!(
            status.is_none(),
            "ingress-lb exited: {status:?}\n{}",
            self.log()
        );
    }

    /// `GET /metrics` on the admin listener (None if it cannot be fetched).
    async fn metrics(&self) -> Option<String> {
        let mut stream = TcpStream::connect(self.admin).await.ok()?;
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut response = String::new();
        tokio::time::timeout(WAIT, stream.read_to_string(&mut response))
            .await
            .ok()?
            .ok()?;
        Some(response)
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .expect("local address")
}

fn valid_config(listener: SocketAddr, admin: SocketAddr, backend: SocketAddr) -> String {
    format!(
        "admin = \"{admin}\"\n\n\
         [upstreams.app]\n\
         servers = [{{ address = \"{backend}\" }}]\n\n\
         [[listeners]]\n\
         address = \"{listener}\"\n\
         upstream = \"app\"\n"
    )
}

/// `text` followed by a comment line that brings it to exactly `CONFIG_LEN` bytes.
fn padded(text: &str) -> String {
    let comment = "# padding ";
    let fill = CONFIG_LEN
        .checked_sub(text.len() + comment.len() + 1)
        .expect("config shorter than CONFIG_LEN");
    let out = format!("{text}{comment}{}\n", "x".repeat(fill));
    assert_eq!(out.len(), CONFIG_LEN);
    out
}

/// Re-checks `condition` every `POLL` until it holds; panics with `what` after `WAIT`.
async fn wait_until<F, Fut>(what: &str, balancer: &Balancer, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} not within {WAIT:?}\nlog:\n{}",
            balancer.log()
        );
        tokio::time::sleep(POLL).await;
    }
}

fn count(metrics: &str, result: &str) -> Option<u64> {
    let prefix = format!("ingress_lb_reloads_total{{result=\"{result}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .map(|value| value.trim().parse().expect("counter value"))
}

fn reload_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| line.contains("configuration reloaded") || line.contains("rejected"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_file_and_keeps_running_config_on_error() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let mut balancer = Balancer::start(a.address, "a").await;
    let metrics = balancer.metrics().await.expect("metrics at start");
    assert!(metrics.contains("200 OK"), "admin answers: {metrics}");
    assert_eq!(count(&metrics, "ok"), None, "no reload yet: {metrics}");

    // A long-lived session to `a` (the backend echoes after its greeting).
    let (mut session, name) = open(balancer.listener).await;
    assert_eq!(name, "a");

    // Switch the upstream to `b`; only SIGHUP can trigger the reload.
    balancer.rewrite_unnoticed(&valid_config(balancer.listener, balancer.admin, b.address));
    balancer.hang_up();
    wait_until("new connections reaching b", &balancer, || async {
        greeting(balancer.listener).await.as_deref() == Some("b")
    })
    .await;
    balancer.assert_running();
    for _ in 0..5 {
        assert_eq!(greeting(balancer.listener).await.as_deref(), Some("b"));
    }
    wait_until("ok reload counted", &balancer, || async {
        balancer
            .metrics()
            .await
            .is_some_and(|metrics| count(&metrics, "ok") == Some(1))
    })
    .await;
    wait_until("reload logged", &balancer, || async {
        !reload_lines(&balancer.log()).is_empty()
    })
    .await;
    let log = balancer.log();
    let lines = reload_lines(&log);
    assert!(
        lines.len() == 1 && lines[0].contains("SIGHUP") && !lines[0].contains("file changed"),
        "one reload, by SIGHUP: {lines:?}"
    );

    // The established session to `a` survived the reload.
    session
        .get_mut()
        .write_all(b"still here\n")
        .await
        .expect("write on the old session");
    let mut echoed = String::new();
    tokio::time::timeout(WAIT, session.read_line(&mut echoed))
        .await
        .expect("echo in time")
        .expect("read echo");
    assert_eq!(echoed, "still here\n");

    // An invalid file is rejected; `b` keeps serving.
    balancer.rewrite_unnoticed("admin = = \"not toml\"\n[upstreams.app\n");
    balancer.hang_up();
    wait_until("failed reload counted", &balancer, || async {
        balancer
            .metrics()
            .await
            .is_some_and(|metrics| count(&metrics, "error") == Some(1))
    })
    .await;
    balancer.assert_running();
    for _ in 0..5 {
        assert_eq!(greeting(balancer.listener).await.as_deref(), Some("b"));
    }
    let metrics = balancer
        .metrics()
        .await
        .expect("metrics after failed reload");
    assert_eq!(count(&metrics, "ok"), Some(1), "{metrics}");
    wait_until("rejection logged", &balancer, || async {
        reload_lines(&balancer.log()).len() == 2
    })
    .await;
    let log = balancer.log();
    let lines = reload_lines(&log);
    assert!(
        lines[1].contains("rejected")
            && lines[1].contains("SIGHUP")
            && !log.contains("file changed"),
        "second reload rejected, by SIGHUP: {lines:?}"
    );

    drop(session);
    drop(balancer);
    a.stop().await;
    b.stop().await;
}
