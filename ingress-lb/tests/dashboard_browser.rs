//! ingress-lb's dashboard in a real browser: headless Chromium (through chromedriver) against
//! the `ingress-lb` binary with `dashboard = true`: the upstream group's servers with their
//! weight and state (one ejected after a failed connect), the listener, and the VRRP card
//! (here an instance whose interface does not exist: INIT, and why it stopped). Skipped with a
//! message when Chromium is not installed, unless `INGRESS_REQUIRE_BROWSER=1` (CI).

mod common;
#[path = "../../ingress-k8s/tests/support/webdriver.rs"]
mod webdriver;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Backend, dead_address, greeting};
use serde_json::json;
use webdriver::Browser;

/// The binary as a child process, killed on drop.
struct Balancer(Child, std::path::PathBuf);

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_file(&self.1);
    }
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_servers_listeners_and_vrrp() {
    let Some(browser) = Browser::start("the_dashboard_shows_servers_listeners_and_vrrp").await
    else {
        return;
    };
    let live = Backend::start("live").await;
    let dead = dead_address().await;
    let (listener, admin) = (free_port(), free_port());
    let config =
        std::env::temp_dir().join(format!("ingress-lb-dashboard-{}.toml", std::process::id()));
    std::fs::write(
        &config,
        format!(
            r#"admin = "{admin}"
dashboard = true

[upstreams.k8s-ingress-controller]
servers = [
  {{ address = "{}", weight = 3 }},
  {{ address = "{dead}", max_fails = 1, fail_timeout = "30s" }},
]

[[listeners]]
address = "{listener}"
upstream = "k8s-ingress-controller"

[vrrp]
interface = "no-such-if0"
virtual_router_id = 50
priority = 100
virtual_ipaddress = ["10.231.0.100/24"]
"#,
            live.address
        ),
    )
    .expect("write the configuration");
    let process = Command::new(env!("CARGO_BIN_EXE_ingress-lb"))
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ingress-lb");
    let _balancer = Balancer(process, config);
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(admin).await.is_err() {
        assert!(Instant::now() < deadline, "the admin listener did not open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Connections through the balancer: the dead server fails once and is ejected.
    for _ in 0..4 {
        assert_eq!(greeting(listener).await.as_deref(), Some("live"));
    }

    browser.goto(&format!("http://{admin}/dashboard")).await;
    let states = browser
        .wait_for(
            Duration::from_secs(5),
            &format!(
                "const row = a => document.querySelector(`tr[data-address=\"${{a}}\"]`);
                 const live = row('{}'), dead = row('{dead}');
                 if (!live || !dead) return null;
                 return [live.dataset.state, live.textContent, dead.dataset.state];",
                live.address
            ),
        )
        .await
        .expect("both servers are listed");
    assert_eq!(states[0], "up", "{states}");
    assert!(
        states[1].as_str().unwrap_or_default().contains('3'),
        "weight 3: {states}"
    );
    assert_eq!(states[2], "unavailable", "{states}");
    let listed = browser
        .run(
            "return document.querySelector('#listeners-table tbody').textContent;",
            json!([]),
        )
        .await;
    assert!(
        listed.as_str().is_some_and(
            |t| t.contains(&listener.to_string()) && t.contains("k8s-ingress-controller")
        ),
        "{listed}"
    );
    let vrrp = browser
        .wait_for(
            Duration::from_secs(5),
            "const t = document.getElementById('vrrp').textContent;
             return t.includes('10.231.0.100/24') && t.includes('stopped') ? t : null;",
        )
        .await;
    assert!(
        vrrp.is_some(),
        "the VRRP card shows the VIP and why the instance stopped"
    );
    browser.screenshot("lb-status").await;
    browser.emulate_dark().await;
    browser.screenshot("lb-status-dark").await;

    let errors = browser.run("return Dash.errors;", json!([])).await;
    assert_eq!(errors, json!([]), "script errors on the page");
    let console = browser.console_errors().await;
    assert!(console.is_empty(), "console errors: {console:?}");
    browser.quit().await;
}
