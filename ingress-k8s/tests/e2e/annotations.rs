//! The route annotations through the real binary from a manifest directory, one family per
//! Ingress: paths and rewrites (`use-regex`, `rewrite-target`), redirects
//! (`permanent-redirect`), upstream (`proxy-body-size`), access (`enable-cors`), traffic
//! (`canary-by-header`), and an
//! annotation this engine does not implement (a logged Warning naming Ingress and key).

use std::time::Duration;

use crate::support::binary_harness::{
    Proxy, TempDir, backend, backend_answering, eventually, exchange_with, get, service, start,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An Ingress for `host` with one path (`path`, `path_type`) to `service`, and `annotations`.
fn annotated(
    name: &str,
    host: &str,
    path: &str,
    path_type: &str,
    service: &str,
    annotations: &[(&str, &str)],
) -> String {
    let annotations: String = annotations
        .iter()
        .map(|(k, v)| format!("    nginx.ingress.kubernetes.io/{k}: \"{v}\"\n"))
        .collect();
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  annotations:\n{annotations}spec:\n  ingressClassName: nginx\n  rules:\n  - host: {host}\n    http:\n      paths:\n      - {{path: \"{path}\", pathType: {path_type}, backend: {{service: {{name: {service}, port: {{name: http}}}}}}}}\n"
    )
}

/// Sends `POST /` with a body of `length` bytes to `host`; returns the status.
async fn post(proxy: &Proxy, host: &str, length: usize) -> u16 {
    let mut stream = TcpStream::connect(proxy.http).await.unwrap();
    let head = format!("POST / HTTP/1.1\r\nhost: {host}\r\ncontent-length: {length}\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![b'x'; length]).await.unwrap();
    let mut answer = [0u8; 64];
    let n = stream.read(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer[..n]).to_string();
    text.split(' ').nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn annotation_families_work_through_the_binary() {
    // A backend that answers with the request target it received.
    let echo =
        backend_answering(|head| head.split(' ').nth(1).unwrap_or_default().to_owned()).await;
    let stable = backend("stable").await;
    let next = backend("next").await;

    let dir = TempDir(
        std::env::temp_dir().join(format!("ingress-k8s-annotations-{}", std::process::id())),
    );
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).unwrap();
    dir.write(
        "10-services.yaml",
        &format!(
            "{}---\n{}---\n{}",
            service("echo", echo),
            service("stable", stable),
            service("next", next)
        ),
    );
    dir.write(
        "20-rewrite.yaml",
        &annotated(
            "rewrite",
            "rewrite.test",
            "/something(/|$)(.*)",
            "ImplementationSpecific",
            "echo",
            &[("use-regex", "true"), ("rewrite-target", "/$2")],
        ),
    );
    dir.write(
        "30-redirect.yaml",
        &annotated(
            "moved",
            "moved.test",
            "/",
            "Prefix",
            "echo",
            &[("permanent-redirect", "https://new.example/")],
        ),
    );
    dir.write(
        "40-upload.yaml",
        &annotated(
            "upload",
            "upload.test",
            "/",
            "Prefix",
            "echo",
            &[
                ("proxy-body-size", "10"),
                ("enable-cors", "true"),
                ("cors-allow-origin", "https://app.example"),
                ("mirror-target", "https://mirror.example"),
            ],
        ),
    );
    dir.write(
        "50-canary.yaml",
        &format!(
            "{}---\n{}",
            annotated("main", "canary.test", "/", "Prefix", "stable", &[]),
            annotated(
                "main-canary",
                "canary.test",
                "/",
                "Prefix",
                "next",
                &[("canary", "true"), ("canary-by-header", "X-Canary")],
            )
        ),
    );

    let proxy = start(&dir.0);
    let ready = eventually(Duration::from_secs(10), || async {
        get(proxy.admin, "admin", "/readyz").await.0 == 200
    })
    .await;
    assert!(ready, "/readyz answers 200 after the first snapshot");

    // Paths and rewrites.
    assert_eq!(
        get(proxy.http, "rewrite.test", "/something/new?q=1").await,
        (200, "/new?q=1".to_owned())
    );
    assert_eq!(get(proxy.http, "rewrite.test", "/other").await.0, 404);

    // Redirects.
    let mut stream = TcpStream::connect(proxy.http).await.unwrap();
    let (status, head, _) = exchange_with(&mut stream, "moved.test", "/x", "").await;
    assert_eq!(status, 301);
    assert!(
        head.to_ascii_lowercase()
            .contains("location: https://new.example/"),
        "{head}"
    );

    // Upstream: the body limit.
    assert_eq!(post(&proxy, "upload.test", 10).await, 200);
    assert_eq!(post(&proxy, "upload.test", 11).await, 413);

    // Access: CORS for a listed origin, and none for another.
    let mut stream = TcpStream::connect(proxy.http).await.unwrap();
    let (status, head, _) = exchange_with(
        &mut stream,
        "upload.test",
        "/",
        "origin: https://app.example\r\n",
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("access-control-allow-origin: https://app.example"),
        "{head}"
    );
    let mut stream = TcpStream::connect(proxy.http).await.unwrap();
    let (_, head, _) = exchange_with(
        &mut stream,
        "upload.test",
        "/",
        "origin: https://evil.example\r\n",
    )
    .await;
    assert!(
        !head.to_ascii_lowercase().contains("access-control"),
        "{head}"
    );

    // Traffic: the canary by header.
    assert_eq!(get(proxy.http, "canary.test", "/").await.1, "stable");
    let mut stream = TcpStream::connect(proxy.http).await.unwrap();
    let (_, _, body) = exchange_with(&mut stream, "canary.test", "/", "x-canary: always\r\n").await;
    assert_eq!(body, "next");

    // An annotation this engine does not implement: a Warning naming the Ingress and key.
    let warned = eventually(Duration::from_secs(5), || async {
        proxy.logs_about("default/upload").iter().any(|line| {
            line["fields"]["reason"] == "AnnotationIgnored"
                && line["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("mirror-target"))
        })
    })
    .await;
    assert!(warned, "logs: {:?}", proxy.logs_about("default/upload"));
}
