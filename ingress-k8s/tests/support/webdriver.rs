//! A minimal W3C WebDriver client for the dashboard's browser tests: headless Chromium driven
//! by `chromedriver` on loopback, over plain HTTP/1.1 with JSON bodies (the protocol is a
//! handful of POSTs; no TLS, no WebDriver crate: `fantoccini` brings the MPL-licensed
//! `webdriver` crate that deny.toml does not allow).
//!
//! [`Browser::start`] returns `None` (after printing why) when `chromium` or `chromedriver` is
//! not installed, unless `INGRESS_REQUIRE_BROWSER=1`, where it panics: CI installs both.
//! Every wait is bounded.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the helpers"
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One headless Chromium session (and the chromedriver serving it; both end on drop).
pub(crate) struct Browser {
    driver: Child,
    address: SocketAddr,
    session: String,
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
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let mut browser = Browser {
            driver,
            address,
            session: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(status) = browser.request("GET", "/status", None).await
                && status["value"]["ready"] == true
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--no-first-run", "--no-default-browser-check"],
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        }}});
        let created = browser
            .request("POST", "/session", Some(capabilities))
            .await
            .expect("create a session");
        browser.session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        browser
    }

    /// Opens `url` (returns once the page has loaded).
    pub(crate) async fn goto(&self, url: &str) {
        self.command("url", json!({ "url": url })).await;
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    pub(crate) async fn run(&self, script: &str, args: Value) -> Value {
        self.command("execute/sync", json!({ "script": script, "args": args }))
            .await
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
        let logs = self.command("se/log", json!({ "type": "browser" })).await;
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
        self.command("window/rect", json!({ "width": width, "height": height }))
            .await;
    }

    /// Emulates `prefers-color-scheme: dark` (Chrome DevTools Protocol, through chromedriver).
    pub(crate) async fn emulate_dark(&self) {
        self.command(
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
        let path = format!("/session/{}/screenshot", self.session);
        let Ok(answer) = self.request("GET", &path, None).await else {
            return;
        };
        if let Some(png) = answer["value"].as_str().and_then(decode_base64) {
            let _ = std::fs::write(Path::new(&dir).join(format!("{name}.png")), png);
        }
    }

    async fn command(&self, name: &str, body: Value) -> Value {
        let path = format!("/session/{}/{name}", self.session);
        let answer = self
            .request("POST", &path, Some(body))
            .await
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        if answer["value"]["error"].is_string() {
            panic!("{name}: {}", answer["value"]);
        }
        answer["value"].clone()
    }

    /// One HTTP/1.1 exchange with chromedriver (`Connection: close`, read to the end).
    async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut stream =
            tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(self.address))
                .await
                .map_err(|_| "connect timed out".to_owned())?
                .map_err(|e| e.to_string())?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            self.address,
            body.len()
        );
        stream
            .write_all(head.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        stream
            .write_all(body.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        // chromedriver keeps the connection open: read the head, then Content-Length bytes.
        let exchange = async {
            let mut response = Vec::new();
            let mut chunk = [0u8; 16 * 1024];
            loop {
                if let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
                    let length = head.lines().find_map(|line| {
                        line.strip_prefix("content-length:")
                            .and_then(|v| v.trim().parse::<usize>().ok())
                    });
                    match length {
                        Some(length) if response.len() >= end + 4 + length => {
                            return Ok(String::from_utf8_lossy(
                                &response[end + 4..end + 4 + length],
                            )
                            .into_owned());
                        }
                        Some(_) => {}
                        None if head.contains("transfer-encoding: chunked")
                            && response.ends_with(b"0\r\n\r\n") =>
                        {
                            return Ok(dechunk(&String::from_utf8_lossy(&response[end + 4..])));
                        }
                        None => {}
                    }
                }
                let read = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
                if read == 0 {
                    let text = String::from_utf8_lossy(&response).into_owned();
                    return text
                        .split_once("\r\n\r\n")
                        .map(|(_, body)| body.to_owned())
                        .ok_or_else(|| "closed before a response head".to_owned());
                }
                response.extend_from_slice(&chunk[..read]);
            }
        };
        let body: String = tokio::time::timeout(Duration::from_secs(60), exchange)
            .await
            .map_err(|_| format!("{method} {path}: no answer within 60 s"))??;
        serde_json::from_str(&body).map_err(|e| format!("{method} {path}: {e}: {body}"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending chromedriver ends the browser it started.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    /// Ends the session (closes Chromium) before chromedriver is stopped on drop.
    pub(crate) async fn quit(self) {
        let path = format!("/session/{}", self.session);
        let _ = self.request("DELETE", &path, None).await;
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || tail.len() < size {
            break;
        }
        out.push_str(&tail[..size]);
        rest = tail[size..].trim_start_matches("\r\n");
    }
    out
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes: Vec<u8> = text.bytes().filter(|b| *b != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= value(*c)? << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    Some(out)
}
