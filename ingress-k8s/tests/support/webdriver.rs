//! Headless Chromium for the dashboard's browser tests, driven by `chromedriver` on loopback
//! through the [`fantoccini`] WebDriver client (plain HTTP, no TLS backend). The two commands
//! that are chromedriver's own rather than W3C WebDriver (the browser log, and DevTools'
//! `Emulation.setEmulatedMedia`) go through its custom-command hook, [`ChromedriverCommand`].
//!
//! [`Browser::start`] returns `None` (after printing why) when `chromium` or `chromedriver` is
//! not installed, unless `INGRESS_REQUIRE_BROWSER=1`, where it panics: CI installs both.
//! Every wait is bounded.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the helpers"
)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::net::TcpStream;

/// How long one WebDriver command may take before the test fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// One headless Chromium session (and the chromedriver serving it; both end on drop).
pub(crate) struct Browser {
    driver: Child,
    client: Client,
}

/// `chromium` and `chromedriver`, from the environment (`CHROMIUM`, `CHROMEDRIVER`) or
/// `PATH`.
fn executables() -> Option<(PathBuf, PathBuf)> {
    let find = |variable: &str, names: &[&str]| -> Option<PathBuf> {
        if let Some(path) = std::env::var_os(variable) {
            return Some(PathBuf::from(path)).filter(|p| p.exists());
        }
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
            .find(|candidate| candidate.exists())
    };
    Some((
        find(
            "CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        )?,
        find("CHROMEDRIVER", &["chromedriver"])?,
    ))
}

/// Awaits one WebDriver exchange for at most [`COMMAND_TIMEOUT`]; panics (naming `what`) on a
/// timeout or an error.
async fn bounded<T, E: std::fmt::Display>(
    what: &str,
    exchange: impl Future<Output = Result<T, E>>,
) -> T {
    match tokio::time::timeout(COMMAND_TIMEOUT, exchange).await {
        Ok(Ok(value)) => value,
        Ok(Err(error)) => panic!("{what}: {error}"),
        Err(_) => panic!("{what}: no answer within {COMMAND_TIMEOUT:?}"),
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session; `None` when they are not
    /// installed (see the module docs).
    pub(crate) async fn start(test: &str) -> Option<Browser> {
        let Some((chromium, chromedriver)) = executables() else {
            let message = format!(
                "{test}: skipped: chromium and chromedriver are not installed (Debian: apt-get install chromium chromium-driver)"
            );
            assert!(
                std::env::var("INGRESS_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "{message}, and INGRESS_REQUIRE_BROWSER=1 requires them"
            );
            println!("{message}");
            return None;
        };
        Some(Browser::launch(&chromium, &chromedriver).await)
    }

    async fn launch(chromium: &Path, chromedriver: &Path) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let mut capabilities = Capabilities::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--no-first-run", "--no-default-browser-check"],
            }),
        );
        capabilities.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        // Wait (bounded) until chromedriver listens, then create the session once.
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if Instant::now() >= deadline {
                let _ = driver.kill();
                let _ = driver.wait();
                panic!("chromedriver did not listen on 127.0.0.1:{port} within 20 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let client = bounded(
            "create a session",
            ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities)
                .connect(&format!("http://127.0.0.1:{port}")),
        )
        .await;
        Browser { driver, client }
    }

    /// Opens `url` (returns once the page has loaded).
    pub(crate) async fn goto(&self, url: &str) {
        bounded("goto", self.client.goto(url)).await;
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    pub(crate) async fn run(&self, script: &str, args: Value) -> Value {
        let args = match args {
            Value::Array(args) => args,
            other => vec![other],
        };
        bounded("execute", self.client.execute(script, args)).await
    }

    /// Polls `script` until it returns something other than `null`/`false`, for at most
    /// `within`; returns that value, or `None` on timeout.
    pub(crate) async fn wait_for(&self, within: Duration, script: &str) -> Option<Value> {
        let deadline = Instant::now() + within;
        loop {
            let value = self.run(script, json!([])).await;
            if !value.is_null() && value != false {
                return Some(value);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The browser console's messages at level SEVERE (errors) since the last call.
    pub(crate) async fn console_errors(&self) -> Vec<String> {
        let logs = self
            .chromedriver("se/log", json!({ "type": "browser" }))
            .await;
        logs.as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter(|entry| entry["level"] == "SEVERE")
                    .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Resizes the window (a phone's width, say).
    pub(crate) async fn resize(&self, width: u32, height: u32) {
        bounded("resize", self.client.set_window_size(width, height)).await;
    }

    /// Emulates `prefers-color-scheme: dark` (Chrome DevTools Protocol, through chromedriver).
    pub(crate) async fn emulate_dark(&self) {
        self.chromedriver(
            "goog/cdp/execute",
            json!({ "cmd": "Emulation.setEmulatedMedia", "params": {
                "features": [{ "name": "prefers-color-scheme", "value": "dark" }],
            }}),
        )
        .await;
    }

    /// Saves a PNG screenshot to `$INGRESS_DASHBOARD_SCREENSHOTS/name.png` when that variable
    /// names a directory (to look at the page; never written into the repository).
    pub(crate) async fn screenshot(&self, name: &str) {
        let Some(dir) = std::env::var_os("INGRESS_DASHBOARD_SCREENSHOTS") else {
            return;
        };
        if let Ok(Ok(png)) = tokio::time::timeout(COMMAND_TIMEOUT, self.client.screenshot()).await {
            let _ = std::fs::write(Path::new(&dir).join(format!("{name}.png")), png);
        }
    }

    /// Ends the session (closes Chromium) before chromedriver is stopped on drop.
    pub(crate) async fn quit(self) {
        let _ = tokio::time::timeout(COMMAND_TIMEOUT, self.client.clone().close()).await;
    }

    /// POSTs `body` to chromedriver's own `/session/{id}/{path}` endpoint; the answer's
    /// `value`.
    async fn chromedriver(&self, path: &'static str, body: Value) -> Value {
        let command = ChromedriverCommand { path, body };
        bounded(path, self.client.issue_cmd(command)).await
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending chromedriver ends the browser it started.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A chromedriver extension command: `POST /session/{id}/{path}` with a JSON body.
#[derive(Debug)]
struct ChromedriverCommand {
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for ChromedriverCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/{}", self.path))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}
