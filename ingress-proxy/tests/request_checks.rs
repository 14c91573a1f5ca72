//! Requests the proxy answers itself, whichever server took them (the inline HTTP/1.1 server
//! or hyper's): a missing or repeated `Host` (`400`), `CONNECT` (`405`), and a request body the
//! client framed wrongly (`400`, not the upstream's fault). Each case is written raw, so the
//! bytes are exactly what a client could send.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use ingress_proxy::ProxyConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Writes `request` on a new connection and reads until the proxy closes it (at most 5 s).
async fn exchange(proxy: &Proxy, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(proxy.http).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut received));
    // A timeout leaves what arrived so far: the assertions say what was missing.
    let _ = read.await;
    String::from_utf8_lossy(&received).into_owned()
}

fn status_line(response: &str) -> &str {
    response.lines().next().unwrap_or("")
}

#[tokio::test]
async fn http11_requests_need_exactly_one_host() {
    let web = backend::start("web", false).await;
    let (_writer, reader) = web_table(&[web.address]);
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let cases: [(&[u8], &str); 4] = [
        (
            b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 400",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 400",
        ),
        (
            b"GET / HTTP/1.0\r\nHost: a.example\r\nHost: a.example\r\n\r\n",
            "HTTP/1.0 400",
        ),
        // HTTP/1.0 may leave Host out: routed to the host-less rules (none here: 404).
        (b"GET / HTTP/1.0\r\n\r\n", "HTTP/1.0 404"),
    ];
    for (request, expected) in cases {
        let response = exchange(&proxy, request).await;
        assert!(
            status_line(&response).starts_with(expected),
            "{:?} → {response:?}",
            String::from_utf8_lossy(request)
        );
    }
    assert_eq!(web.requests.load(Ordering::SeqCst), 0, "nothing forwarded");
    // And one Host is served as usual.
    let response = exchange(
        &proxy,
        b"GET / HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        status_line(&response).starts_with("HTTP/1.1 200"),
        "{response:?}"
    );
}

#[tokio::test]
async fn connect_is_refused_with_405() {
    let web = backend::start("web", false).await;
    let (_writer, reader) = web_table(&[web.address]);
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let response = exchange(
        &proxy,
        b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        status_line(&response).starts_with("HTTP/1.1 405"),
        "{response:?}"
    );
    assert!(
        response.to_ascii_lowercase().contains("\r\nallow: "),
        "{response:?}"
    );
    assert_eq!(web.requests.load(Ordering::SeqCst), 0, "nothing forwarded");
}

#[tokio::test]
async fn a_malformed_chunked_request_body_is_the_clients_fault() {
    // An upstream that reads whatever comes and never answers: the only way the exchange
    // can end is the client's broken body.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let upstream = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut sink = Vec::new();
                let _ = stream.read_to_end(&mut sink).await;
            });
        }
    });
    let (_writer, reader) = web_table(&[upstream]);
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let response = exchange(
        &proxy,
        b"POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    )
    .await;
    assert!(
        status_line(&response).starts_with("HTTP/1.1 400"),
        "{response:?}"
    );
}
