//! The access log through `ingress_proxy::run`: lines written to a file in both formats, with
//! the fields right, and the `X-Request-ID` the upstream saw logged.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use common::backend;
use common::*;
use http::Request;
use http_body_util::Full;
use ingress_proxy::{AccessLog, AccessLogDestination, AccessLogFormat, ProxyConfig};

/// A file path of its own under the temp directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        TempFile(std::env::temp_dir().join(format!(
            "ingress-proxy-access-log-{}-{tag}-{unique}.log",
            std::process::id()
        )))
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.0)
            .expect("the access log file exists")
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn logging_to(file: &TempFile, format: AccessLogFormat) -> ProxyConfig {
    ProxyConfig {
        access_log: AccessLog {
            destination: AccessLogDestination::File(file.0.clone()),
            format,
        },
        ..ProxyConfig::default()
    }
}

/// Sends the three requests both tests log: one routed with referer and user agent and no
/// request id, one with the client's id, one to an unknown host. Returns the id the
/// upstream saw for the first, then shuts the proxy down (which flushes the log).
async fn three_requests(format: AccessLogFormat, file: &TempFile) -> (String, String) {
    let web = backend::start("web", false).await;
    let (_writer, reader) = web_table(&[web.address]);
    let mut proxy = Proxy::start(reader, logging_to(file, format)).await;
    let client = http1_client();

    let request = Request::get(format!("http://{}/path?x=1", proxy.http))
        .header("host", "a.example")
        .header("referer", "https://ref.example/")
        .header("user-agent", "test-agent/1.0")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let first = send(&client, request).await;
    assert_eq!(first.status, 200);
    let generated = first.header("x-seen-x-request-id").to_owned();

    let request = Request::get(format!("http://{}/", proxy.http))
        .header("host", "a.example")
        .header("x-request-id", "client-chosen-id")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let second = send(&client, request).await;
    assert_eq!(second.header("x-seen-x-request-id"), "client-chosen-id");

    let third = get(&client, proxy.http, "unknown.example", "/missing").await;
    assert_eq!(third.status, 404);

    drop(client);
    tokio::time::timeout(Duration::from_secs(20), proxy.begin_shutdown())
        .await
        .expect("shutdown within 20 s")
        .expect("proxy task")
        .expect("proxy run");
    (generated, web.address.to_string())
}

#[tokio::test]
async fn text_lines_follow_upstreaminfo_and_carry_the_upstreams_request_id() {
    let file = TempFile::new("text");
    let (generated, upstream) = three_requests(AccessLogFormat::Text, &file).await;
    assert_eq!(generated.len(), 32, "{generated}");
    assert!(
        generated
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{generated}"
    );

    let lines = file.lines();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    let first = &lines[0];
    assert!(first.starts_with("127.0.0.1 - - ["), "{first}");
    assert!(
        first.contains(" +0000] \"GET /path?x=1 HTTP/1.1\" 200 3 "),
        "{first}"
    );
    assert!(
        first.contains(" \"https://ref.example/\" \"test-agent/1.0\" "),
        "{first}"
    );
    assert!(
        first.contains(&format!(" [default-web-80] [] {upstream} 3 ")),
        "{first}"
    );
    assert!(first.ends_with(&format!(" 200 {generated}")), "{first}");
    // `$request_length`: at least the request line and the fields the client sent.
    let after_agent = first
        .split("\"test-agent/1.0\" ")
        .nth(1)
        .expect("user agent field");
    let request_length: usize = after_agent
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("request length is a number");
    assert!(
        request_length > "GET /path?x=1 HTTP/1.1\r\n".len() + 60,
        "{first}"
    );

    assert!(
        lines[1].contains("\"GET / HTTP/1.1\" 200 3 \"-\" \"-\" "),
        "{}",
        lines[1]
    );
    assert!(lines[1].ends_with(" 200 client-chosen-id"), "{}", lines[1]);

    let third = &lines[2];
    assert!(third.contains("\"GET /missing HTTP/1.1\" 404 "), "{third}");
    assert!(
        third.contains(" [upstream-default-backend] [] - - - - "),
        "{third}"
    );
}

#[tokio::test]
async fn json_lines_have_the_same_fields_under_nginx_names() {
    let file = TempFile::new("json");
    let (generated, upstream) = three_requests(AccessLogFormat::Json, &file).await;

    let lines = file.lines();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    let parse = |line: &str| -> serde_json::Value {
        serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}"))
    };
    let first = parse(&lines[0]);
    assert_eq!(first["remote_addr"], "127.0.0.1");
    assert_eq!(first["request"], "GET /path?x=1 HTTP/1.1");
    assert_eq!(first["status"], 200);
    assert_eq!(first["body_bytes_sent"], 3);
    assert_eq!(first["http_referer"], "https://ref.example/");
    assert_eq!(first["http_user_agent"], "test-agent/1.0");
    assert_eq!(first["proxy_upstream_name"], "default-web-80");
    assert_eq!(first["upstream_addr"], upstream.as_str());
    assert_eq!(first["upstream_status"], 200);
    assert_eq!(first["upstream_response_length"], 3);
    assert!(first["upstream_response_time"].is_number(), "{first}");
    assert!(first["request_time"].is_number(), "{first}");
    assert!(
        first["request_length"].as_u64().is_some_and(|n| n > 0),
        "{first}"
    );
    assert_eq!(first["req_id"], generated.as_str());
    assert_eq!(first["host"], "a.example");
    assert!(
        first["time_iso8601"]
            .as_str()
            .is_some_and(|t| t.ends_with("+00:00")),
        "{first}"
    );

    assert_eq!(parse(&lines[1])["req_id"], "client-chosen-id");
    let third = parse(&lines[2]);
    assert_eq!(third["status"], 404);
    assert_eq!(third["proxy_upstream_name"], "upstream-default-backend");
    assert!(third["upstream_addr"].is_null(), "{third}");
    assert!(third["upstream_status"].is_null(), "{third}");
}

#[tokio::test]
async fn a_configmap_log_format_upstream_writes_its_variables() {
    let file = TempFile::new("custom");
    let web = backend::start("web", false).await;
    let (mut writer, reader) = web_table(&[web.address]);
    configmap(
        &mut writer,
        &[(
            "log-format-upstream",
            "$remote_addr|$status|$request_method $uri|$http_x_user|$ingress_name|$service_name:$service_port|$pid",
        )],
    );
    let mut proxy = Proxy::start(reader, logging_to(&file, AccessLogFormat::Text)).await;
    let client = http1_client();
    let request = Request::get(format!("http://{}/path?x=1", proxy.http))
        .header("host", "a.example")
        .header("x-user", "alice")
        .body(Full::new(Bytes::new()))
        .expect("request");
    assert_eq!(send(&client, request).await.status, 200);
    drop(client);
    tokio::time::timeout(Duration::from_secs(20), proxy.begin_shutdown())
        .await
        .expect("shutdown within 20 s")
        .expect("proxy task")
        .expect("proxy run");
    let lines = file.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    // `$pid` is not filled here: `-` (and a Warning when the ConfigMap was read).
    assert_eq!(lines[0], "127.0.0.1|200|GET /path|alice|a|web:80|-");
}

#[tokio::test]
async fn a_refused_request_is_logged_with_its_reason() {
    let file = TempFile::new("denied");
    let web = backend::start("web", false).await;
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[web.address]);
    let mut denied = ingress("denied", 1, &[(Some("denied.example"), "/", "web")]);
    denied.meta.annotations.insert(
        "nginx.ingress.kubernetes.io/denylist-source-range".to_owned(),
        "127.0.0.0/8".to_owned(),
    );
    writer.apply(ingress_core::Change::UpsertIngress(denied));
    writer.commit();
    let mut proxy = Proxy::start(reader, logging_to(&file, AccessLogFormat::Text)).await;
    let answer = get(&http1_client(), proxy.http, "denied.example", "/").await;
    assert_eq!(answer.status, 403);
    tokio::time::timeout(Duration::from_secs(20), proxy.begin_shutdown())
        .await
        .expect("shutdown within 20 s")
        .expect("proxy task")
        .expect("proxy run");
    let lines = file.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].contains("\" 403 "), "{}", lines[0]);
    assert!(lines[0].ends_with(" denied=source_range"), "{}", lines[0]);
}
