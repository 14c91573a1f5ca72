//! `use-proxy-protocol` through the data plane: a PROXY protocol v1 or v2 header names the
//! client the upstream is told about; without a valid header the connection is closed.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;

/// Sends `header` then a GET for `plain.example` on a fresh connection; returns what came
/// back before the connection closed (or 5 s passed).
async fn exchange(proxy: &Proxy, header: &[u8]) -> String {
    let mut stream = TcpStream::connect(proxy.http).await.expect("test setup");
    let mut bytes = header.to_vec();
    bytes.extend_from_slice(b"GET /p HTTP/1.1\r\nhost: plain.example\r\nconnection: close\r\n\r\n");
    // The proxy may close before reading it all (a refused header): that is an answer too.
    let _ = stream.write_all(&bytes).await;
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut seen)).await;
    String::from_utf8_lossy(&seen).into_owned()
}

fn seen_for(answer: &str) -> &str {
    answer
        .lines()
        .find_map(|line| line.strip_prefix("x-seen-x-forwarded-for: "))
        .unwrap_or("")
}

#[tokio::test]
async fn the_header_names_the_client_and_a_missing_one_is_refused() {
    let (proxy, mut writer, _web) = proxy(ProxyConfig::default()).await;
    // Off (the default): a header would be a malformed request.
    let plain = exchange(&proxy, b"").await;
    assert!(plain.starts_with("HTTP/1.1 200"), "{plain}");
    assert_eq!(seen_for(&plain), "127.0.0.1");

    configmap(&mut writer, &[("use-proxy-protocol", "true")]);
    let v1 = exchange(&proxy, b"PROXY TCP4 203.0.113.7 127.0.0.1 51234 80\r\n").await;
    assert!(v1.starts_with("HTTP/1.1 200"), "{v1}");
    assert_eq!(seen_for(&v1), "203.0.113.7");

    let v2 = ppp::v2::Builder::with_addresses(
        ppp::v2::Version::Two | ppp::v2::Command::Proxy,
        ppp::v2::Protocol::Stream,
        (
            "198.51.100.9:4000"
                .parse::<SocketAddr>()
                .expect("test setup"),
            "127.0.0.1:80".parse::<SocketAddr>().expect("test setup"),
        ),
    )
    .build()
    .expect("test setup");
    let v2 = exchange(&proxy, &v2).await;
    assert!(v2.starts_with("HTTP/1.1 200"), "{v2}");
    assert_eq!(seen_for(&v2), "198.51.100.9");

    // UNKNOWN keeps the peer; no header at all is refused without an answer.
    let unknown = exchange(&proxy, b"PROXY UNKNOWN\r\n").await;
    assert_eq!(seen_for(&unknown), "127.0.0.1");
    let refused = exchange(&proxy, b"").await;
    assert_eq!(refused, "", "closed without an HTTP answer");
}
