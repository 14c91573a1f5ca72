//! A throw-away L2 segment in network namespaces: one "switch" namespace with a bridge, and
//! one namespace per host joined to it by a veth pair (`eth0` inside the host). Nothing is
//! configured in the root namespace, so every packet the tests make stays inside.
//!
//! Host `i` (0-based) gets 10.231.0.(i+1)/24; the virtual address is 10.231.0.100/24.
//! Everything is removed on drop (processes killed, namespaces deleted, files removed).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub(crate) const VIP: &str = "10.231.0.100";
pub(crate) const PORT: u16 = 8080;

/// Set to 1 in CI to turn "skip" into "fail" when root, `ip`, keepalived or arping is missing.
const REQUIRE_ENV: &str = "INGRESS_LB_REQUIRE_NETNS";

static NEXT_LAB: AtomicU32 = AtomicU32::new(0);

#[derive(Debug)]
pub(crate) struct Lab {
    prefix: String,
    hosts: Vec<String>,
    namespaces: Vec<String>,
    dir: PathBuf,
    processes: Vec<Process>,
}

#[derive(Debug)]
pub(crate) struct Process {
    pub(crate) host: String,
    pub(crate) child: Child,
    /// keepalived's VRRP child process writes its pid here; it is killed too.
    pub(crate) extra_pid_file: Option<PathBuf>,
    /// A bare listener next to keepalived (not a VRRP daemon).
    pub(crate) listener_only: bool,
    pub(crate) log: PathBuf,
}

/// Whether the test can run here; prints why not. Panics instead when CI demands the test.
pub(crate) fn can_run(tools: &[&str]) -> bool {
    let reason = missing_prerequisite(tools);
    match reason {
        None => true,
        Some(reason) if std::env::var(REQUIRE_ENV).as_deref() == Ok("1") => {
            panic!("{REQUIRE_ENV}=1 but the network-namespace test cannot run: {reason}")
        }
        Some(reason) => {
            println!("SKIPPED: network-namespace VRRP test: {reason}");
            false
        }
    }
}

fn missing_prerequisite(tools: &[&str]) -> Option<String> {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let capabilities = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0);
    const CAP_NET_ADMIN: u64 = 1 << 12;
    const CAP_NET_RAW: u64 = 1 << 13;
    const CAP_SYS_ADMIN: u64 = 1 << 21;
    if capabilities & (CAP_NET_ADMIN | CAP_NET_RAW | CAP_SYS_ADMIN)
        != CAP_NET_ADMIN | CAP_NET_RAW | CAP_SYS_ADMIN
    {
        return Some("needs root (CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN)".into());
    }
    let checks: &[(&str, &[&str], &str)] = &[
        ("ip", &["-V"], "iproute2"),
        ("keepalived", &["--version"], "keepalived"),
        ("arping", &["-V"], "iputils-arping"),
    ];
    for (tool, args, package) in checks {
        if !tools.contains(tool) {
            continue;
        }
        let found = Command::new(tool)
            .args(*args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !found {
            return Some(format!("`{tool}` not found (apt-get install -y {package})"));
        }
    }
    None
}

/// The example binary the tests run inside the namespaces.
pub(crate) fn node_binary() -> PathBuf {
    // target/<profile>/deps/vrrp_netns-<hash> → target/<profile>/examples/vrrp_node
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let binary = profile_dir.join("examples").join("vrrp_node");
    assert!(
        binary.exists(),
        "{} is missing: `cargo test -p ingress-lb` builds it (or `cargo build -p ingress-lb \
         --example vrrp_node`)",
        binary.display()
    );
    binary
}

impl Lab {
    /// Creates the switch and `hosts` (the last one is usually the client).
    pub(crate) fn new(hosts: &[&str]) -> Self {
        let n = NEXT_LAB.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("vrrp{}l{n}", std::process::id());
        let dir = std::env::temp_dir().join(&prefix);
        fs::create_dir_all(&dir).expect("create lab dir");
        let mut lab = Self {
            prefix,
            hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            namespaces: Vec::new(),
            dir,
            processes: Vec::new(),
        };
        let switch = lab.add_namespace("sw");
        run_ip(&["-n", &switch, "link", "add", "br0", "type", "bridge"]);
        run_ip(&["-n", &switch, "link", "set", "br0", "up"]);
        for (i, host) in hosts.iter().enumerate() {
            let ns = lab.add_namespace(host);
            let port = format!("v{host}");
            run_ip(&[
                "-n", &switch, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                "netns", &ns,
            ]);
            run_ip(&["-n", &switch, "link", "set", &port, "master", "br0", "up"]);
            run_ip(&["-n", &ns, "link", "set", "lo", "up"]);
            run_ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("10.231.0.{}/24", i + 1),
                "dev",
                "eth0",
            ]);
            run_ip(&["-n", &ns, "link", "set", "eth0", "up"]);
        }
        lab
    }

    fn add_namespace(&mut self, suffix: &str) -> String {
        let ns = format!("{}{suffix}", self.prefix);
        run_ip(&["netns", "add", &ns]);
        self.namespaces.push(ns.clone());
        ns
    }

    pub(crate) fn namespace(&self, host: &str) -> String {
        assert!(self.hosts.iter().any(|h| h == host), "unknown host {host}");
        format!("{}{host}", self.prefix)
    }

    /// Starts our VRRP node (advert_int 1) with a listener answering `host`. Returns its index.
    pub(crate) fn start_ours(&mut self, host: &str, priority: u8, extra: &str) -> usize {
        let config = self.dir.join(format!("{host}.toml"));
        fs::write(
            &config,
            format!(
                "[vrrp]\ninterface = \"eth0\"\nvirtual_router_id = 50\npriority = {priority}\n\
                 advert_int = 1\nvirtual_ipaddress = [\"{VIP}/24\"]\n{extra}\n"
            ),
        )
        .expect("write node config");
        let binary = node_binary();
        let args = [
            binary.to_str().expect("utf-8 path"),
            "--config",
            config.to_str().expect("utf-8 path"),
            "--listen",
            &format!("0.0.0.0:{PORT}"),
            "--name",
            host,
        ];
        self.spawn(host, &args, None)
    }

    /// Starts keepalived (VRRP only, version 2 with PASS as in the reference configuration)
    /// and a listener answering `host`.
    pub(crate) fn start_keepalived(&mut self, host: &str, priority: u8) -> usize {
        self.start_keepalived_version(host, priority, 2)
    }

    /// Starts keepalived speaking `version` (2: with `auth_type PASS`; 3: no authentication).
    pub(crate) fn start_keepalived_version(
        &mut self,
        host: &str,
        priority: u8,
        version: u8,
    ) -> usize {
        let config = self.dir.join(format!("{host}-keepalived.conf"));
        let authentication = if version == 2 {
            "  authentication {\n    auth_type PASS\n    auth_pass 1111\n  }\n"
        } else {
            ""
        };
        fs::write(
            &config,
            format!(
                "global_defs {{\n  router_id {host}\n  vrrp_version {version}\n}}\n\
                 vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 50\n  \
                 priority {priority}\n  advert_int 1\n{authentication}  virtual_ipaddress {{\n    \
                 {VIP}/24\n  }}\n}}\n"
            ),
        )
        .expect("write keepalived config");
        let pid = self.dir.join(format!("{host}-keepalived.pid"));
        let vrrp_pid = self.dir.join(format!("{host}-keepalived-vrrp.pid"));
        let _ = fs::remove_file(&vrrp_pid);
        let args = [
            "keepalived",
            "--dont-fork",
            "--log-console",
            "--log-detail",
            "--no-syslog",
            "--vrrp",
            "--dont-respawn",
            "-f",
            config.to_str().expect("utf-8 path"),
            "-p",
            pid.to_str().expect("utf-8 path"),
            "-r",
            vrrp_pid.to_str().expect("utf-8 path"),
        ];
        let index = self.spawn(host, &args, Some(vrrp_pid.clone()));
        let has_listener = self
            .processes
            .iter_mut()
            .any(|p| p.host == host && p.listener_only && matches!(p.child.try_wait(), Ok(None)));
        if !has_listener {
            let binary = node_binary();
            let listen = format!("0.0.0.0:{PORT}");
            let args = [
                binary.to_str().expect("utf-8 path"),
                "--listen",
                &listen,
                "--name",
                host,
            ];
            self.spawn(host, &args, None);
            if let Some(listener) = self.processes.last_mut() {
                listener.listener_only = true;
            }
        }
        index
    }

    /// Runs `args` inside `host`'s namespace; output goes to a log file.
    pub(crate) fn start_command(&mut self, host: &str, args: &[&str]) -> usize {
        self.spawn(host, args, None)
    }

    /// Writes a file into the lab's directory.
    pub(crate) fn write_file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.join(name);
        fs::write(&path, contents).expect("write lab file");
        path
    }

    fn spawn(&mut self, host: &str, args: &[&str], extra_pid_file: Option<PathBuf>) -> usize {
        let index = self.processes.len();
        let log = self.dir.join(format!("{host}-{index}.log"));
        let log_file = fs::File::create(&log).expect("create log");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.namespace(host)])
            .args(args)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("clone log handle"))
            .stderr(log_file)
            .spawn()
            .expect("spawn in namespace");
        self.processes.push(Process {
            host: host.to_owned(),
            child,
            extra_pid_file,
            listener_only: false,
            log,
        });
        index
    }

    /// Sends `signal` (e.g. "KILL", "TERM", "USR1") to process `index` (and keepalived's child).
    pub(crate) fn signal(&mut self, index: usize, signal: &str) {
        let process = &mut self.processes[index];
        if let Some(pid) = process
            .extra_pid_file
            .as_ref()
            .and_then(|f| fs::read_to_string(f).ok())
        {
            kill(signal, pid.trim());
        }
        kill(signal, &process.child.id().to_string());
    }

    /// Simulates the node dying: SIGKILL, then the address goes away with the node.
    /// A dead node also stops its helpers: our node's `arping` bursts would otherwise go on
    /// announcing the address for up to 5 s after the process is killed.
    pub(crate) fn crash(&mut self, index: usize) {
        let helpers = children_of(self.processes[index].child.id());
        self.signal(index, "KILL");
        for helper in helpers {
            kill("KILL", &helper.to_string());
        }
        let _ = self.processes[index].child.wait();
        let host = self.processes[index].host.clone();
        let ns = self.namespace(&host);
        let _ = ip(&[
            "-n",
            &ns,
            "addr",
            "del",
            &format!("{VIP}/24"),
            "dev",
            "eth0",
        ]);
    }

    /// Waits for process `index` to exit (after a SIGTERM).
    pub(crate) fn wait_exit(&mut self, index: usize, timeout: Duration) -> bool {
        wait_until(timeout, || {
            matches!(self.processes[index].child.try_wait(), Ok(Some(_)))
        })
        .is_some()
    }

    /// The hosts (of `candidates`) whose eth0 carries the virtual address.
    pub(crate) fn vip_holders(&self, candidates: &[&str]) -> Vec<String> {
        candidates
            .iter()
            .filter(|host| {
                let out = ip(&[
                    "-n",
                    &self.namespace(host),
                    "-4",
                    "-o",
                    "addr",
                    "show",
                    "dev",
                    "eth0",
                ]);
                String::from_utf8_lossy(&out.stdout).contains(&format!(" {VIP}/"))
            })
            .map(|h| (*h).to_owned())
            .collect()
    }

    /// One TCP connection from `client` to the virtual address: the answering host's name.
    pub(crate) fn connect(&self, client: &str) -> Option<String> {
        self.connect_port(client, PORT)
    }

    /// One TCP connection from `client` to the virtual address on `port`: the answer's line.
    pub(crate) fn connect_port(&self, client: &str, port: u16) -> Option<String> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.namespace(client)])
            .arg(node_binary())
            .args(["--connect", &format!("{VIP}:{port}"), "--timeout-ms", "250"])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// `GET http://127.0.0.1:{port}{path}` inside `host`'s namespace (an admin listener there):
    /// the response body, `None` when nothing answers. Uses python3's standard library.
    pub(crate) fn http_get(&self, host: &str, port: u16, path: &str) -> Option<String> {
        let script = format!(
            "import urllib.request\nprint(urllib.request.urlopen('http://127.0.0.1:{port}{path}', timeout=1).read().decode())"
        );
        let out = Command::new("ip")
            .args(["netns", "exec", &self.namespace(host)])
            .args(["python3", "-c", &script])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// Polls until `client` reaches `expected` through the virtual address; the time it took.
    pub(crate) fn wait_served_by(
        &self,
        client: &str,
        expected: &str,
        timeout: Duration,
    ) -> Option<Duration> {
        wait_until(timeout, || {
            self.connect(client).as_deref() == Some(expected)
        })
    }

    /// Logs of every process, for failure messages.
    pub(crate) fn logs(&self) -> String {
        let mut all = String::new();
        for p in &self.processes {
            all.push_str(&format!("==== {} ({})\n", p.host, p.log.display()));
            all.push_str(&fs::read_to_string(&p.log).unwrap_or_default());
        }
        all
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
        for index in 0..self.processes.len() {
            if matches!(self.processes[index].child.try_wait(), Ok(None)) {
                self.signal(index, "KILL");
            }
            let _ = self.processes[index].child.wait();
        }
        for ns in self.namespaces.iter().rev() {
            let _ = ip(&["netns", "del", ns]);
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Polls `condition` every 25 ms until it holds or `timeout` passes; the time it took.
pub(crate) fn wait_until(
    timeout: Duration,
    mut condition: impl FnMut() -> bool,
) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if condition() {
            return Some(start.elapsed());
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Checks that `condition` holds at every poll for the whole of `period`.
pub(crate) fn holds_for(period: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < period {
        if !condition() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

/// Child processes of `pid` (every thread's `children` list: tokio spawns from worker threads).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn kill(signal: &str, pid: &str) {
    let _ = Command::new("kill")
        .args(["-s", signal, pid])
        .stderr(Stdio::null())
        .status();
}

fn ip(args: &[&str]) -> Output {
    Command::new("ip").args(args).output().expect("run ip")
}

fn run_ip(args: &[&str]) {
    let out = ip(args);
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}
