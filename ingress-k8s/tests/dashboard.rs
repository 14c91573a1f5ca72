//! The dashboard in a real browser: headless Chromium (through chromedriver) against the
//! `ingress-proxy` binary serving the walkthrough's manifests (`examples/manifests/`, the
//! EndpointSlice's port moved to the test's own loopback backends on 127.0.0.11 and
//! 127.0.0.12). Skipped with a message when Chromium is not installed, unless
//! `INGRESS_REQUIRE_BROWSER=1` (CI).

#![cfg(feature = "binary")]
#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod support {
    pub(crate) mod binary_harness;
    pub(crate) mod webdriver;
}

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::binary_harness::{TempDir, get, start_with};
use support::webdriver::Browser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A backend on `listener` answering every request with `name`; aborting the handle closes
/// the listener and every open connection (a killed pod).
fn tomcat(listener: TcpListener, name: &'static str) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            connections.spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                        buffer.drain(..end + 4);
                        let response = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{name}",
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
    })
}

/// The walkthrough's manifests in a temporary directory, the pods' port replaced by `port`.
fn tutorial_manifests(port: u16) -> TempDir {
    static DIRS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = DIRS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = TempDir(std::env::temp_dir().join(format!(
        "ingress-dashboard-browser-{}-{n}",
        std::process::id()
    )));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).unwrap();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/manifests");
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        let mut text = std::fs::read_to_string(&path).unwrap();
        if text.contains("kind: EndpointSlice") {
            // The EndpointSlice's `http` port (the Service's own port list comes first and
            // keeps 8080).
            let slice = text.find("kind: EndpointSlice").unwrap();
            let (head, tail) = text.split_at(slice);
            text = format!(
                "{head}{}",
                tail.replacen("  port: 8080\n", &format!("  port: {port}\n"), 1)
            );
        }
        dir.write(path.file_name().unwrap().to_str().unwrap(), &text);
    }
    dir
}

/// Two "pods" on 127.0.0.11 and 127.0.0.12, same port.
async fn pods() -> (u16, [(SocketAddr, JoinHandle<()>); 2]) {
    for _ in 0..20 {
        let first = TcpListener::bind("127.0.0.11:0").await.unwrap();
        let port = first.local_addr().unwrap().port();
        if let Ok(second) = TcpListener::bind(("127.0.0.12", port)).await {
            let addresses = [first.local_addr().unwrap(), second.local_addr().unwrap()];
            return (
                port,
                [
                    (addresses[0], tomcat(first, "tomcat-1")),
                    (addresses[1], tomcat(second, "tomcat-2")),
                ],
            );
        }
    }
    panic!("no port free on both 127.0.0.11 and 127.0.0.12");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_is_on_with_manifests_unless_turned_off() {
    let (port, _pods) = pods().await;
    let dir = tutorial_manifests(port);
    let on = start_with(&dir.0, &[]);
    let off = start_with(&dir.0, &["--enable-dashboard=false"]);
    let page = |admin| async move {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, body) = get(admin, "admin", "/dashboard").await;
            if status != 503 || Instant::now() > deadline {
                return (status, body);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let (status, body) = page(on.admin).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("<title>ingress-proxy dashboard</title>"),
        "{body}"
    );
    assert_eq!(page(off.admin).await.0, 404);
    // The JSON it draws is served either way.
    assert_eq!(get(off.admin, "admin", "/api/traffic").await.0, 200);
}

const SHOW: &str = "location.hash = arguments[0]; return true;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_routes_diagnostics_traffic_ejections_and_explain() {
    let Some(browser) =
        Browser::start("the_dashboard_shows_routes_diagnostics_traffic_ejections_and_explain")
            .await
    else {
        return;
    };
    let (port, [_pod_1, (pod_2, pod_2_task)]) = pods().await;
    let dir = tutorial_manifests(port);
    let proxy = start_with(&dir.0, &[]);
    let admin = proxy.admin;
    browser
        .goto(&format!("http://{admin}/dashboard#routes"))
        .await;

    // Routes: the tutorial's hosts, with both pods eligible.
    let hosts = browser
        .wait_for(
            Duration::from_secs(10),
            "const hosts = [...document.querySelectorAll('#routes-table tbody tr')].map(r => r.dataset.host);
             return hosts.includes('tomcat.lucky.com') && hosts.includes('test.lucky.com') ? hosts : null;",
        )
        .await;
    assert!(
        hosts.is_some(),
        "the route table lists the tutorial's hosts"
    );
    let eligible = browser
        .wait_for(
            Duration::from_secs(5),
            "const t = document.querySelector('#routes-table tbody').textContent;
             return t.includes('127.0.0.11:') && t.includes('127.0.0.12:') && t.includes('eligible') ? t : null;",
        )
        .await;
    assert!(eligible.is_some(), "both endpoints listed as eligible");
    // The filters: by host, then by Ingress.
    let filtered = |field: &str, value: &str| {
        browser.run(
            "const input = document.getElementById(arguments[0]);
             input.value = arguments[1];
             input.dispatchEvent(new Event('input', { bubbles: true }));
             return [...document.querySelectorAll('#routes-table tbody tr')].map(r => r.dataset.host);",
            json!([field, value]),
        )
    };
    assert_eq!(
        filtered("filter-host", "test.").await,
        json!(["test.lucky.com"])
    );
    assert_eq!(
        filtered("filter-host", "").await.as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(
        filtered("filter-ingress", "myapp").await,
        json!(["tomcat.lucky.com"])
    );
    assert_eq!(filtered("filter-namespace", "kube-system").await, json!([]));
    filtered("filter-ingress", "").await;
    filtered("filter-namespace", "").await;
    browser.screenshot("proxy-routes").await;

    // A rejected Ingress added to the directory shows in Diagnostics within 2 s.
    browser.run(SHOW, json!(["#diagnostics"])).await;
    let written = Instant::now();
    dir.write(
        "90-broken.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: broken, namespace: default}\nspec:\n  ingressClassName: ingress-engine\n  rules:\n  - host: Bad_Host.lucky.com\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: tomcat, port: {number: 8080}}}}\n",
    );
    let shown = browser
        .wait_for(
            Duration::from_secs(2),
            "const item = document.querySelector('#diagnostics-list li[data-object=\"default/broken\"]');
             return item ? item.textContent : null;",
        )
        .await;
    assert!(
        shown.is_some(),
        "the rejected Ingress is listed within 2 s (waited {:?})",
        written.elapsed()
    );
    assert!(
        shown.unwrap().as_str().unwrap().contains("Bad_Host"),
        "the reason names the host"
    );
    browser.screenshot("proxy-diagnostics").await;

    // Traffic sent now shows on the chart.
    for _ in 0..20 {
        let (status, _) = get(proxy.http, "tomcat.lucky.com", "/").await;
        assert_eq!(status, 200);
    }
    browser.run(SHOW, json!(["#traffic"])).await;
    let charted = browser
        .wait_for(
            Duration::from_secs(5),
            "const card = document.querySelector('#traffic-ingresses .card[data-name=\"default/ingress-myapp\"]');
             if (!card || Number(card.dataset.requestsTotal) < 20) return null;
             return card.querySelectorAll('svg polyline').length;",
        )
        .await;
    assert!(
        charted.and_then(|lines| lines.as_u64()).unwrap_or(0) >= 3,
        "the Ingress's card counts the 20 requests and draws its lines"
    );
    browser.screenshot("proxy-traffic").await;

    // A killed pod shows as ejected once a request has failed to reach it.
    pod_2_task.abort();
    let _ = pod_2_task.await;
    for _ in 0..4 {
        let (status, _) = get(proxy.http, "tomcat.lucky.com", "/").await;
        assert_eq!(status, 200, "the other pod answers");
    }
    browser.run(SHOW, json!(["#routes"])).await;
    let ejected = browser
        .wait_for(
            Duration::from_secs(5),
            &format!(
                "const chips = [...document.querySelectorAll('#routes-table .chip.bad')].map(c => c.textContent);
                 return chips.find(c => c.startsWith('{pod_2} ejected') && c.includes(' until ')) || null;"
            ),
        )
        .await;
    assert!(ejected.is_some(), "{pod_2} is shown ejected");
    browser.screenshot("proxy-routes-ejected").await;

    // Explain: tomcat.lucky.com/ goes to ingress-myapp's rule.
    browser.run(SHOW, json!(["#explain"])).await;
    browser
        .run(
            "document.getElementById('explain-host').value = 'tomcat.lucky.com';
             document.getElementById('explain-path').value = '/';
             document.getElementById('explain-submit').click(); return true;",
            json!([]),
        )
        .await;
    let decision = browser
        .wait_for(
            Duration::from_secs(5),
            "const d = document.getElementById('explain-decision');
             const chosen = document.querySelector('#explain-candidates tr.chosen');
             return d && chosen ? [d.textContent, chosen.textContent] : null;",
        )
        .await
        .expect("an explanation");
    let decision: Vec<String> = decision
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert!(
        decision[0].contains("Service default/tomcat:8080")
            && decision[0].contains("rule default/ingress-myapp"),
        "{decision:?}"
    );
    assert!(decision[1].contains("CHOSEN"), "{decision:?}");
    browser.screenshot("proxy-explain").await;

    // Certificates: the tutorial's Secret for test.lucky.com, with its days left (public
    // fields only: the key never reaches the page).
    browser.run(SHOW, json!(["#certificates"])).await;
    let certificate = browser
        .wait_for(
            Duration::from_secs(5),
            "const row = document.querySelector('#certificates-table tr[data-host=\"test.lucky.com\"]');
             return row ? row.textContent : null;",
        )
        .await
        .expect("the certificate of test.lucky.com is listed");
    let certificate = certificate.as_str().unwrap();
    assert!(
        certificate.contains("default/tomcat-ingress-secret")
            && (certificate.contains("days") || certificate.contains("expired")),
        "{certificate}"
    );
    let page = browser
        .run("return document.documentElement.outerHTML;", json!([]))
        .await;
    assert!(
        !page.as_str().unwrap().contains("PRIVATE KEY"),
        "no key material on the page"
    );
    browser.screenshot("proxy-certificates").await;

    // Light and dark: the colours follow prefers-color-scheme; a phone gets one column.
    let background = "return getComputedStyle(document.body).backgroundColor;";
    let light = browser.run(background, json!([])).await;
    browser.emulate_dark().await;
    let dark = browser.run(background, json!([])).await;
    assert_ne!(light, dark, "the dark scheme changes the page's colours");
    browser.run(SHOW, json!(["#traffic"])).await;
    browser.screenshot("proxy-traffic-dark").await;
    browser.run(SHOW, json!(["#routes"])).await;
    browser.resize(390, 844).await;
    let columns = browser
        .wait_for(
            Duration::from_secs(2),
            "const head = document.querySelector('#routes-table thead');
             return getComputedStyle(head).display === 'none' ? 'cards' : null;",
        )
        .await;
    assert!(
        columns.is_some(),
        "narrow screens show each route as a card"
    );
    browser.screenshot("proxy-routes-phone-dark").await;
    for view in ["traffic", "explain", "certificates", "diagnostics"] {
        browser.run(SHOW, json!([format!("#{view}")])).await;
        browser
            .wait_for(
                Duration::from_secs(2),
                "return document.getElementById('status').textContent.includes('updated');",
            )
            .await;
        browser
            .screenshot(&format!("proxy-{view}-phone-dark"))
            .await;
    }

    // Nothing went wrong on the page.
    let errors: Value = browser.run("return Dash.errors;", json!([])).await;
    assert_eq!(errors, json!([]), "script errors on the page");
    let console = browser.console_errors().await;
    assert!(console.is_empty(), "console errors: {console:?}");
    browser.quit().await;
}
