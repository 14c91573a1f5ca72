//! The walkthrough's VIP step: one L2 segment in network namespaces created here — a "switch"
//! namespace holding a bridge, and one namespace per host joined to it by a veth pair (`eth0`
//! inside the host, 10.233.0.(i+1)/24). Nothing is configured in the caller's namespace, so
//! every packet stays inside, and everything is removed on drop (processes killed, namespaces
//! deleted, files removed).
//!
//! Needs root (creating namespaces) and iproute2's `ip`; [`Segment::prerequisites`] says why
//! not otherwise, and the walkthrough skips the step with that reason. The processes it starts
//! in the namespaces are the walkthrough binary itself in another mode ([`run_process`]), so
//! no other binary has to be built first.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use crate::{client, pod};

/// Runs `walkthrough MODE ARGS…` for the processes the VIP step starts in its namespaces:
/// `pod NAME ADDRESS`, `lb CONFIG` (ingress-lb), `get ADDRESS HOST PATH`; `None` for any other
/// mode.
pub fn run_process(mode: &str, args: &[String]) -> Option<ExitCode> {
    Some(match mode {
        "pod" => node_process(pod_process(args)),
        "lb" => node_process(lb_process(args)),
        "get" => node_process(get_process(args)),
        _ => return None,
    })
}

/// Runs one of the VIP step's processes on a runtime of its own.
fn node_process(process: impl std::future::Future<Output = Result<(), String>>) -> ExitCode {
    let result = tokio::runtime::Runtime::new()
        .map_err(|error| error.to_string())
        .and_then(|runtime| runtime.block_on(process));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("walkthrough: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `walkthrough pod NAME ADDRESS`: one pod, until killed.
async fn pod_process(args: &[String]) -> Result<(), String> {
    let [name, address] = args else {
        return Err("usage: walkthrough pod NAME ADDRESS".to_owned());
    };
    let address: SocketAddr = address.parse().map_err(|e| format!("{address}: {e}"))?;
    // The process serves this one pod until it is killed: the name lives as long as it does.
    let name: &'static str = Box::leak(name.clone().into_boxed_str());
    let task = pod::spawn(name, address)
        .await
        .map_err(|e| format!("pod {name} cannot bind {address}: {e}"))?;
    task.await.map_err(|e| e.to_string())
}

/// `walkthrough lb CONFIG`: ingress-lb (the binary's own code), until killed.
async fn lb_process(args: &[String]) -> Result<(), String> {
    let [config] = args else {
        return Err("usage: walkthrough lb CONFIG".to_owned());
    };
    ingress_lb::run_from_file(Path::new(config), std::future::pending())
        .await
        .map_err(|e| e.to_string())
}

/// `walkthrough get ADDRESS HOST PATH`: one request (1 s at most); prints `STATUS POD`.
async fn get_process(args: &[String]) -> Result<(), String> {
    let [address, host, path] = args else {
        return Err("usage: walkthrough get ADDRESS HOST PATH".to_owned());
    };
    let address: SocketAddr = address.parse().map_err(|e| format!("{address}: {e}"))?;
    let answer = tokio::time::timeout(
        Duration::from_secs(1),
        client::get(address, host, path, None),
    )
    .await
    .map_err(|_| "no answer within 1 s".to_owned())??;
    println!(
        "{} {}",
        answer.status,
        pod::field(&answer.body, "pod").unwrap_or("-")
    );
    Ok(())
}

/// The virtual address the two balancers share (VRRP).
pub const VIP: &str = "10.233.0.100";

/// A switched segment of namespaces and the processes started in them.
#[derive(Debug)]
pub struct Segment {
    prefix: String,
    hosts: Vec<String>,
    namespaces: Vec<String>,
    dir: PathBuf,
    processes: Vec<Child>,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|error| format!("ip {}: {error}", args.join(" ")))?;
    match output.status.success() {
        true => Ok(()),
        false => Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )),
    }
}

impl Segment {
    /// `Ok` when this process may create namespaces: it runs as root and `ip` is installed.
    pub fn prerequisites() -> Result<(), String> {
        let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
        let root = status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0");
        if !root {
            return Err("needs root (it creates network namespaces)".to_owned());
        }
        match Command::new("ip").arg("-V").output() {
            Ok(output) if output.status.success() => Ok(()),
            _ => Err("needs iproute2's `ip`".to_owned()),
        }
    }

    /// Creates the switch and one namespace per host (in order: 10.233.0.1, .2, …).
    pub fn new(hosts: &[&str]) -> Result<Segment, String> {
        let prefix = format!("iw{}", std::process::id());
        let dir =
            std::env::temp_dir().join(format!("ingress-walkthrough-vip-{}", std::process::id()));
        fs::create_dir_all(&dir).map_err(|error| format!("{}: {error}", dir.display()))?;
        let mut segment = Segment {
            prefix,
            hosts: hosts.iter().map(|host| (*host).to_owned()).collect(),
            namespaces: Vec::new(),
            dir,
            processes: Vec::new(),
        };
        let switch = segment.add_namespace("sw")?;
        ip(&["-n", &switch, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &switch, "link", "set", "br0", "up"])?;
        for (index, host) in hosts.iter().enumerate() {
            let namespace = segment.add_namespace(host)?;
            let port = format!("v{index}");
            ip(&[
                "-n", &switch, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                "netns", &namespace,
            ])?;
            ip(&["-n", &switch, "link", "set", &port, "master", "br0", "up"])?;
            ip(&["-n", &namespace, "link", "set", "lo", "up"])?;
            let address = format!("10.233.0.{}/24", index + 1);
            ip(&["-n", &namespace, "addr", "add", &address, "dev", "eth0"])?;
            ip(&["-n", &namespace, "link", "set", "eth0", "up"])?;
        }
        Ok(segment)
    }

    fn add_namespace(&mut self, suffix: &str) -> Result<String, String> {
        let namespace = format!("{}{suffix}", self.prefix);
        ip(&["netns", "add", &namespace])?;
        self.namespaces.push(namespace.clone());
        Ok(namespace)
    }

    /// The namespace of `host`.
    pub fn namespace(&self, host: &str) -> Result<String, String> {
        match self.hosts.iter().any(|known| known == host) {
            true => Ok(format!("{}{host}", self.prefix)),
            false => Err(format!("unknown host {host}")),
        }
    }

    /// A file in the segment's directory (configuration for the processes).
    pub fn write_file(&self, name: &str, contents: &str) -> Result<PathBuf, String> {
        let path = self.dir.join(name);
        fs::write(&path, contents).map_err(|error| format!("{}: {error}", path.display()))?;
        Ok(path)
    }

    /// Starts `program args…` in `host`'s namespace, its output in `NAME.log`; its index.
    pub fn spawn(
        &mut self,
        host: &str,
        name: &str,
        program: &Path,
        args: &[&str],
    ) -> Result<usize, String> {
        let log = self.dir.join(format!("{name}.log"));
        let file = fs::File::create(&log).map_err(|error| format!("{}: {error}", log.display()))?;
        let errors = file
            .try_clone()
            .map_err(|error| format!("{}: {error}", log.display()))?;
        let child = Command::new("ip")
            .args(["netns", "exec", &self.namespace(host)?])
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(errors)
            .spawn()
            .map_err(|error| format!("start {name} in {host}: {error}"))?;
        self.processes.push(child);
        Ok(self.processes.len() - 1)
    }

    /// Runs `program args…` in `host`'s namespace to completion: its standard output, or
    /// `None` if it failed.
    pub fn run(&self, host: &str, program: &Path, args: &[&str]) -> Option<String> {
        let output = Command::new("ip")
            .args(["netns", "exec", &self.namespace(host).ok()?])
            .arg(program)
            .args(args)
            .stderr(Stdio::null())
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// Kills the process `index` (SIGKILL: a crash, not a graceful stop).
    pub fn kill(&mut self, index: usize) {
        if let Some(child) = self.processes.get_mut(index) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The output a process wrote so far (for failure messages).
    pub fn log(&self, name: &str) -> String {
        fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default()
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        for child in &mut self.processes {
            let _ = child.kill();
            let _ = child.wait();
        }
        for namespace in self.namespaces.iter().rev() {
            let _ = ip(&["netns", "del", namespace]);
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
