//! Access control through the real binary from a manifest directory, one annotation family per
//! Ingress: source ranges (`403`), basic auth from an Opaque Secret (`401`), external auth
//! (`auth-url` against a loopback service: `401`, then through), rate limits (`503` past the
//! burst); and each refusal counted by reason on `/metrics`.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::binary_harness::{
    TempDir, backend, eventually, exchange_with, find, get, service, start,
};

fn annotated(name: &str, host: &str, annotations: &[(&str, String)]) -> String {
    let annotations: String = annotations
        .iter()
        .map(|(k, v)| format!("    nginx.ingress.kubernetes.io/{k}: \"{v}\"\n"))
        .collect();
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  annotations:\n{annotations}spec:\n  ingressClassName: nginx\n  rules:\n  - host: {host}\n    http:\n      paths:\n      - {{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{name: http}}}}}}}}\n"
    )
}

/// An authentication service on raw TCP: `200` with `X-Auth-Request-User: alice` for
/// `Authorization: Bearer good`, else `401`.
async fn auth_service() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(end) = find(&buffer, b"\r\n\r\n") {
                        let head: Vec<u8> = buffer.drain(..end + 4).collect();
                        let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                        let response = if head.contains("\r\nauthorization: bearer good\r\n") {
                            "HTTP/1.1 200 OK\r\nx-auth-request-user: alice\r\ncontent-length: 0\r\n\r\n"
                        } else {
                            "HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer\r\ncontent-length: 0\r\n\r\n"
                        };
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
    });
    address
}

async fn status(http: SocketAddr, host: &str, extra: &str) -> u16 {
    let mut stream = TcpStream::connect(http).await.unwrap();
    exchange_with(&mut stream, host, "/", extra).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_control_works_through_the_binary() {
    let web = backend("web").await;
    let auth = auth_service().await;
    let dir =
        TempDir(std::env::temp_dir().join(format!("ingress-k8s-access-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).unwrap();
    // `htpasswd -nbm user password`.
    let htpasswd = base64::engine::general_purpose::STANDARD
        .encode("user:$apr1$lZL6V/ci$eIMz/iKDkbtys/uU7LEK00\n");
    dir.write("10-web.yaml", &service("web", web));
    dir.write(
        "20-secret.yaml",
        &format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: basic-auth}}\ntype: Opaque\ndata:\n  auth: {htpasswd}\n"),
    );
    dir.write(
        "30-ingresses.yaml",
        &[
            annotated(
                "ranges",
                "ranges.test",
                &[("denylist-source-range", "127.0.0.0/8".into())],
            ),
            annotated(
                "basic",
                "basic.test",
                &[
                    ("auth-type", "basic".into()),
                    ("auth-secret", "basic-auth".into()),
                    ("auth-realm", "Staff only".into()),
                ],
            ),
            annotated(
                "external",
                "external.test",
                &[("auth-url", format!("http://{auth}/check"))],
            ),
            annotated("limited", "limited.test", &[("limit-rps", "1".into())]),
        ]
        .join("---\n"),
    );

    let proxy = start(&dir.0);
    let ready = eventually(Duration::from_secs(10), || async {
        get(proxy.admin, "admin", "/readyz").await.0 == 200
            && status(proxy.http, "external.test", "").await != 404
    })
    .await;
    assert!(ready, "the routes are served");

    assert_eq!(status(proxy.http, "ranges.test", "").await, 403);

    let mut stream = TcpStream::connect(proxy.http).await.unwrap();
    let (code, head, _) = exchange_with(&mut stream, "basic.test", "/", "").await;
    assert_eq!(code, 401);
    assert!(
        head.to_ascii_lowercase()
            .contains("www-authenticate: basic realm=\"staff only\""),
        "{head}"
    );
    let credentials = base64::engine::general_purpose::STANDARD.encode("user:password");
    let good = format!("authorization: Basic {credentials}\r\n");
    assert_eq!(status(proxy.http, "basic.test", &good).await, 200);

    assert_eq!(status(proxy.http, "external.test", "").await, 401);
    assert_eq!(
        status(
            proxy.http,
            "external.test",
            "authorization: Bearer good\r\n"
        )
        .await,
        200
    );

    let mut served = 0;
    while served < 50 && status(proxy.http, "limited.test", "").await == 200 {
        served += 1;
    }
    assert_eq!(
        served, 6,
        "limit-rps 1 with the default multiplier 5: 1 + 5 at once"
    );

    let (_, metrics) = get(proxy.admin, "admin", "/metrics").await;
    for reason in ["source_range", "basic_auth", "external_auth", "limit"] {
        let series = format!("ingress_requests_denied_total{{reason=\"{reason}\"}} ");
        assert!(
            metrics.lines().any(|line| line.starts_with(&series)),
            "{series} missing"
        );
    }
}
