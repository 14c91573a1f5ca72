//! The reference topology end to end, on loopback:
//!
//! ```text
//! client ──▶ ingress-lb :38999 (HTTP) / :38443 (HTTPS)    weight=5 max_fails=3 fail_timeout=30s
//!              ├──▶ ingress-proxy replica-1 ─┐
//!              └──▶ ingress-proxy replica-2 ─┴──▶ Service default/tomcat:8080
//!                                                  ├──▶ pod tomcat-1 127.0.0.11:8080
//!                                                  └──▶ pod tomcat-2 127.0.0.12:8080
//! ```
//!
//! `cargo run --release --example walkthrough` starts the two pods, two `ingress-proxy`
//! replicas (child processes serving `examples/manifests`, copied to a temporary directory so
//! it can be edited) and `ingress-lb` in front, then walks through HTTP, HTTPS, a killed
//! replica, a live Ingress edit and an unknown host; run as root with iproute2, it adds the
//! tutorial's virtual IP (two ingress-lb with VRRP in network namespaces of their own, each in
//! front of a replica and the pods; the MASTER is killed and the client's next connection goes
//! through the BACKUP), and says it skips that step otherwise. It exits 0 only if every step did
//! what it said. Run as `walkthrough replica ARGS…`, it is one `ingress-proxy` replica (the binary's
//! own code, `ingress_k8s::cli`), and as `walkthrough pod|lb|get …` one process of the VIP
//! step, so the example needs no other binary to be built first.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use ingress_examples::client::{self, Answer};
use ingress_examples::pod;
use ingress_lb::{Config, Server};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Prints and counts each check.
struct Checks {
    failed: Vec<String>,
}

impl Checks {
    fn check(&mut self, ok: bool, what: &str) {
        println!("   [{}] {what}", if ok { "ok" } else { "FAILED" });
        if !ok {
            self.failed.push(what.to_owned());
        }
    }
}

/// A replica child process, killed on drop so nothing outlives the walkthrough.
struct Replica {
    name: &'static str,
    child: Child,
    http: SocketAddr,
    https: SocketAddr,
    admin: SocketAddr,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The copied manifests, removed on drop.
struct TempManifests(PathBuf);

impl Drop for TempManifests {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    // The VIP step's processes (`pod`, `lb`, `get`), each started inside a network namespace
    // (see `vip_step`).
    if let Some(code) = args
        .get(1)
        .and_then(|mode| ingress_examples::vip::run_process(mode, &args[2..]))
    {
        return code;
    }
    if args.get(1).map(String::as_str) == Some("replica") {
        // `walkthrough replica --manifests DIR --http-addr …`: one ingress-proxy replica.
        let proxy_args = ingress_k8s::cli::Args::parse_from(
            std::iter::once("ingress-proxy".to_owned()).chain(args[2..].iter().cloned()),
        );
        ingress_k8s::cli::init_logging(proxy_args.log_format);
        let runtime = match tokio::runtime::Runtime::new() {
            Ok(r) => r,
            Err(e) => {
                eprintln!("replica: {e}");
                return ExitCode::FAILURE;
            }
        };
        return match runtime.block_on(ingress_k8s::cli::run(proxy_args)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("replica: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("walkthrough: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(walkthrough()) {
        Ok(checks) if checks.failed.is_empty() => {
            println!("\nEvery step did what it said. ✔");
            ExitCode::SUCCESS
        }
        Ok(checks) => {
            println!("\n{} check(s) FAILED:", checks.failed.len());
            for f in &checks.failed {
                println!("  - {f}");
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            println!("\nwalkthrough could not run: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Step 6: the tutorial's two balancer machines as two network namespaces on one segment,
/// each with ingress-lb (VRRP in keepalived's place) in front of an ingress-proxy replica and
/// the two pods, and a client namespace that knows only the virtual address.
async fn vip_step(checks: &mut Checks, manifests: &Path) -> Result<(), String> {
    use ingress_examples::vip::{Segment, VIP};
    let mut segment = match Segment::new(&["node-1", "node-2", "client"]) {
        Ok(segment) => segment,
        Err(reason) => {
            println!("   skipped: cannot create network namespaces here: {reason}");
            return Ok(());
        }
    };
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let manifests = manifests.to_str().ok_or("manifest path is not UTF-8")?;
    let mut balancers = Vec::new();
    for (node, priority, address) in [("node-1", 100, "10.233.0.1"), ("node-2", 90, "10.233.0.2")] {
        for (pod_name, pod_address) in [
            ("tomcat-1", "127.0.0.11:8080"),
            ("tomcat-2", "127.0.0.12:8080"),
        ] {
            let name = format!("{pod_name}@{node}");
            segment.spawn(node, &name, &exe, &["pod", &name, pod_address])?;
        }
        segment.spawn(
            node,
            &format!("replica@{node}"),
            &exe,
            &[
                "replica",
                "--manifests",
                manifests,
                "--http-addr",
                "127.0.0.1:18080",
                "--https-addr",
                "127.0.0.1:18443",
                "--admin-addr",
                "127.0.0.1:10254",
            ],
        )?;
        let config = segment.write_file(
            &format!("lb@{node}.toml"),
            &format!(
                "[upstreams.k8s-ingress-controller]\n\
                 servers = [{{ address = \"127.0.0.1:18080\", weight = 5, max_fails = 3, fail_timeout = \"30s\" }}]\n\
                 [[listeners]]\naddress = \"0.0.0.0:38999\"\nupstream = \"k8s-ingress-controller\"\n\
                 [vrrp]\ninterface = \"eth0\"\nvirtual_router_id = 50\npriority = {priority}\n\
                 advert_int = 1\nvirtual_ipaddress = [\"{VIP}/24\"]\n"
            ),
        )?;
        let config = config
            .to_str()
            .ok_or("config path is not UTF-8")?
            .to_owned();
        balancers.push(segment.spawn(node, &format!("lb@{node}"), &exe, &["lb", &config])?);
        println!(
            "   {node} ({address}): ingress-lb (VRRP priority {priority}) → ingress-proxy 127.0.0.1:18080 → tomcat-1, tomcat-2"
        );
    }
    let vip = format!("{VIP}:38999");
    let through_vip =
        |segment: &Segment| segment.run("client", &exe, &["get", &vip, "tomcat.lucky.com", "/"]);
    // The MASTER is elected after three advertisement intervals without a higher priority.
    let started = Instant::now();
    let mut first = None;
    while started.elapsed() < Duration::from_secs(20) && first.is_none() {
        first = through_vip(&segment).filter(|answer| answer.starts_with("200 "));
        if first.is_none() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let Some(first) = first else {
        checks.check(false, "the client reaches the VIP within 20 s");
        println!("{}", segment.log("lb@node-1"));
        return Ok(());
    };
    println!(
        "   after {} ms: client 10.233.0.3 → VIP {vip} → {}  [{}]",
        started.elapsed().as_millis(),
        first.split_once(' ').map_or("?", |(_, pod)| pod),
        first.split_once(' ').map_or("?", |(status, _)| status),
    );
    checks.check(
        first.ends_with("@node-1"),
        "node-1 (priority 100) holds the VIP: the MASTER serves it",
    );

    segment.kill(balancers[0]);
    println!("   killed node-1's ingress-lb (SIGKILL): its VRRP advertisements stop");
    let killed = Instant::now();
    let mut after = None;
    while killed.elapsed() < Duration::from_secs(10) && after.is_none() {
        after = through_vip(&segment).filter(|answer| answer.starts_with("200 "));
        if after.is_none() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    match after {
        Some(answer) => {
            println!(
                "   after {} ms: client 10.233.0.3 → VIP {vip} → {}  [{}]",
                killed.elapsed().as_millis(),
                answer.split_once(' ').map_or("?", |(_, pod)| pod),
                answer.split_once(' ').map_or("?", |(status, _)| status),
            );
            checks.check(
                answer.ends_with("@node-2"),
                "node-2 (the BACKUP) took the VIP over and the client's next connection is served",
            );
        }
        None => checks.check(false, "the client reaches the VIP again within 10 s"),
    }
    Ok(())
}

/// A free loopback port at or after `preferred`.
async fn free_port(preferred: u16) -> Result<SocketAddr, String> {
    for port in preferred..preferred.saturating_add(200) {
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        if TcpListener::bind(address).await.is_ok() {
            return Ok(address);
        }
    }
    Err(format!("no free port in {preferred}..+200"))
}

fn manifests_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests")
}

fn copy_manifests() -> Result<TempManifests, String> {
    let dir = std::env::temp_dir().join(format!("ingress-walkthrough-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let guard = TempManifests(dir.clone());
    for entry in std::fs::read_dir(manifests_source()).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if let Some(name) = path.file_name() {
            std::fs::copy(&path, dir.join(name)).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(guard)
}

async fn start_replica(
    name: &'static str,
    manifests: &Path,
    ports: u16,
) -> Result<Replica, String> {
    let http = free_port(ports).await?;
    let https = free_port(http.port() + 1).await?;
    let admin = free_port(https.port() + 1).await?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let child = Command::new(exe)
        .arg("replica")
        .arg("--manifests")
        .arg(manifests)
        .args(["--http-addr", &http.to_string()])
        .args(["--https-addr", &https.to_string()])
        .args(["--admin-addr", &admin.to_string()])
        // ingress-lb sends a PROXY protocol header naming the client (below).
        .arg("--use-proxy-protocol")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("spawn {name}: {e}"))?;
    let replica = Replica {
        name,
        child,
        http,
        https,
        admin,
    };
    // Wait on readiness (the first snapshot is published), not on a fixed sleep.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(a) = client::get(replica.admin, "localhost", "/readyz", None).await
            && a.status == 200
        {
            return Ok(replica);
        }
        if Instant::now() > deadline {
            return Err(format!("{name} not ready on {} within 20 s", replica.admin));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn replica_of<'a>(replicas: &'a [&Replica], answer: &Answer) -> &'a str {
    let port = pod::field(&answer.body, "x-forwarded-port").and_then(|p| p.parse::<u16>().ok());
    replicas
        .iter()
        .find(|r| Some(r.http.port()) == port || Some(r.https.port()) == port)
        .map_or("?", |r| r.name)
}

fn hops(lb: SocketAddr, replicas: &[&Replica], answer: &Answer) -> String {
    format!(
        "client → ingress-lb {lb} → {} → Service default/tomcat:8080 → {} ({})  [{} {}]",
        replica_of(replicas, answer),
        pod::field(&answer.body, "pod").unwrap_or("?"),
        pod::field(&answer.body, "addr").unwrap_or("?"),
        answer.status,
        pod::field(&answer.body, "x-forwarded-proto").unwrap_or("-"),
    )
}

async fn walkthrough() -> Result<Checks, String> {
    let mut checks = Checks { failed: Vec::new() };
    println!("== Starting the topology (loopback only) ==");
    let manifests = copy_manifests()?;
    let pods = [
        ("tomcat-1", "127.0.0.11:8080"),
        ("tomcat-2", "127.0.0.12:8080"),
    ];
    let mut pod_tasks = Vec::new();
    for (name, address) in pods {
        let address: SocketAddr = address.parse().map_err(|e| format!("{e}"))?;
        pod_tasks.push(
            pod::spawn(name, address)
                .await
                .map_err(|e| format!("pod {name} cannot bind {address}: {e}"))?,
        );
        println!("   pod {name} listening on {address} (EndpointSlice default/tomcat-pods)");
    }
    let replica1 = start_replica("replica-1", &manifests.0, 18080).await?;
    let replica2 = start_replica("replica-2", &manifests.0, replica1.admin.port() + 1).await?;
    for r in [&replica1, &replica2] {
        println!(
            "   ingress-proxy {} (pid {}): http {} https {} admin {} — /readyz 200",
            r.name,
            r.child.id(),
            r.http,
            r.https,
            r.admin
        );
    }

    let lb_http = free_port(38999).await?;
    let lb_https = free_port(38443).await?;
    let config_text = format!(
        r#"
[upstreams.k8s-ingress-controller]
servers = [
  {{ address = "{}", weight = 5, max_fails = 3, fail_timeout = "30s" }},
  {{ address = "{}", weight = 5, max_fails = 3, fail_timeout = "30s" }},
]
[upstreams.k8s-ingress-controller-tls]
servers = [
  {{ address = "{}", weight = 5, max_fails = 3, fail_timeout = "30s" }},
  {{ address = "{}", weight = 5, max_fails = 3, fail_timeout = "30s" }},
]
[[listeners]]
address = "{lb_http}"
upstream = "k8s-ingress-controller"
proxy_protocol = "v2"
[[listeners]]
address = "{lb_https}"
upstream = "k8s-ingress-controller-tls"
proxy_protocol = "v2"
"#,
        replica1.http, replica2.http, replica1.https, replica2.https
    );
    let config = Config::from_toml(&config_text).map_err(|e| e.to_string())?;
    let server = Server::new(config).map_err(|e| e.to_string())?;
    let listeners = vec![
        TcpListener::bind(lb_http)
            .await
            .map_err(|e| format!("{lb_http}: {e}"))?,
        TcpListener::bind(lb_https)
            .await
            .map_err(|e| format!("{lb_https}: {e}"))?,
    ];
    let (stop_lb, lb_stopped) = oneshot::channel::<()>();
    let lb_task = tokio::spawn(async move {
        server
            .run(listeners, None, async {
                let _ = lb_stopped.await;
            })
            .await
    });
    println!(
        "   ingress-lb: {lb_http} (HTTP) and {lb_https} (HTTPS) → both replicas, weight=5 max_fails=3 fail_timeout=30s, PROXY protocol v2 to the replicas (--use-proxy-protocol)"
    );

    println!("\n== 1. HTTP for tomcat.lucky.com through the whole chain ==");
    println!("   (Ingress ingress-myapp: tomcat.lucky.com / Prefix → tomcat:8080)");
    let replicas = [&replica1, &replica2];
    let mut seen_pods = Vec::new();
    let mut seen_replicas = Vec::new();
    for _ in 0..4 {
        let answer = client::get(lb_http, "tomcat.lucky.com", "/index.jsp", None).await?;
        println!("   {}", hops(lb_http, &replicas, &answer));
        checks.check(answer.status == 200, "tomcat.lucky.com answers 200");
        seen_pods.push(pod::field(&answer.body, "pod").unwrap_or("?").to_owned());
        seen_replicas.push(replica_of(&replicas, &answer).to_owned());
    }
    checks.check(
        seen_pods.iter().any(|p| p == "tomcat-1") && seen_pods.iter().any(|p| p == "tomcat-2"),
        "both pods behind Service tomcat served requests",
    );
    checks.check(
        seen_replicas.iter().any(|r| r == "replica-1")
            && seen_replicas.iter().any(|r| r == "replica-2"),
        "ingress-lb spread connections over both replicas",
    );

    // The client's own address reaches the pod through both hops: ingress-lb names it in a
    // PROXY protocol header, the replica puts it in X-Forwarded-For.
    let client_address: std::net::IpAddr = [127, 0, 0, 55].into();
    let answer = client::get_from(
        Some(client_address),
        lb_http,
        "tomcat.lucky.com",
        "/index.jsp",
        None,
    )
    .await?;
    println!(
        "   client {client_address} → … → {}: x-forwarded-for={} x-real-ip={}",
        pod::field(&answer.body, "pod").unwrap_or("?"),
        pod::field(&answer.body, "x-forwarded-for").unwrap_or("-"),
        pod::field(&answer.body, "x-real-ip").unwrap_or("-"),
    );
    checks.check(
        pod::field(&answer.body, "x-forwarded-for") == Some("127.0.0.55"),
        "the client's own address reached the pod (PROXY protocol from ingress-lb to the replica)",
    );

    println!("\n== 2. HTTPS for test.lucky.com (TLS from Secret tomcat-ingress-secret) ==");
    let secret = std::fs::read_to_string(manifests.0.join("tomcat-ingress-secret.yaml"))
        .map_err(|e| e.to_string())?;
    let tls = client::tls_trusting(secret.replace("    ", "").as_bytes())?;
    for _ in 0..2 {
        let answer = client::get(lb_https, "test.lucky.com", "/", Some(&tls)).await?;
        println!("   {}", hops(lb_https, &replicas, &answer));
        checks.check(
            answer.status == 200 && pod::field(&answer.body, "x-forwarded-proto") == Some("https"),
            "TLS handshake verified test.lucky.com against the Secret's certificate; 200 over https",
        );
        checks.check(answer.hsts.is_some(), "HSTS header on the HTTPS answer");
    }
    let redirect = client::get(lb_http, "test.lucky.com", "/login?next=/", None).await?;
    println!(
        "   plain HTTP to test.lucky.com → {} location: {}",
        redirect.status,
        redirect.location.as_deref().unwrap_or("-")
    );
    checks.check(
        redirect.status == 308
            && redirect
                .location
                .as_deref()
                .is_some_and(|l| l.starts_with("https://test.lucky.com")),
        "a host with a tls entry redirects plain HTTP to HTTPS with 308",
    );

    println!("\n== 3. Kill replica-1 (SIGKILL): traffic continues through replica-2 ==");
    let mut replica1 = replica1;
    replica1.child.kill().map_err(|e| e.to_string())?;
    let _ = replica1.child.wait();
    println!("   killed {} (pid {})", replica1.name, replica1.child.id());
    let replicas = [&replica1, &replica2];
    let mut ok = 0;
    for _ in 0..6 {
        match client::get(lb_http, "tomcat.lucky.com", "/", None).await {
            Ok(answer) => {
                println!("   {}", hops(lb_http, &replicas, &answer));
                if answer.status == 200 && replica_of(&replicas, &answer) == "replica-2" {
                    ok += 1;
                }
            }
            Err(e) => println!("   request failed: {e}"),
        }
    }
    checks.check(
        ok == 6,
        "all 6 requests succeeded via replica-2 (ingress-lb retried the refused connect on the next server)",
    );

    println!("\n== 4. Edit an Ingress file: the new route applies without a restart ==");
    let before = client::get(lb_http, "www.lucky.com", "/", None).await?;
    println!(
        "   before: www.lucky.com → {} {}",
        before.status,
        before.body.trim()
    );
    checks.check(
        before.status == 404,
        "www.lucky.com is unknown before the edit",
    );
    let path = manifests.0.join("ingress-myapp.yaml");
    let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let edited = text.replace(
        "  rules:\n",
        "  rules:\n  - host: www.lucky.com\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: tomcat\n            port:\n              name: http\n",
    );
    std::fs::write(&path, edited).map_err(|e| e.to_string())?;
    println!("   added rule `www.lucky.com / Prefix → tomcat:http` to ingress-myapp.yaml");
    let started = Instant::now();
    let mut after = None;
    while started.elapsed() < Duration::from_secs(10) {
        let answer = client::get(lb_http, "www.lucky.com", "/", None).await?;
        if answer.status == 200 {
            after = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    match after {
        Some(answer) => {
            println!(
                "   after {} ms: {}",
                started.elapsed().as_millis(),
                hops(lb_http, &replicas, &answer)
            );
            checks.check(true, "the edited Ingress serves www.lucky.com");
        }
        None => checks.check(false, "the edited Ingress serves www.lucky.com within 10 s"),
    }
    let mut replica2 = replica2;
    checks.check(
        matches!(replica2.child.try_wait(), Ok(None)),
        &format!("replica-2 (pid {}) was not restarted", replica2.child.id()),
    );

    println!("\n== 5. An unknown host gets the default backend ==");
    let unknown = client::get(lb_http, "nobody.example.com", "/", None).await?;
    println!(
        "   nobody.example.com → {} {}",
        unknown.status,
        unknown.body.trim()
    );
    checks.check(
        unknown.status == 404,
        "the built-in default backend answers 404",
    );

    println!("\n== 6. The virtual IP: two ingress-lb with VRRP, the MASTER dies ==");
    match ingress_examples::vip::Segment::prerequisites() {
        Err(reason) => println!("   skipped: {reason}; run as root with iproute2 to see it"),
        Ok(()) => vip_step(&mut checks, &manifests.0).await?,
    }

    let _ = stop_lb.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), lb_task).await;
    for task in pod_tasks {
        task.abort();
    }
    drop(replica2);
    Ok(checks)
}
