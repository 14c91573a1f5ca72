//! The `ingress-proxy` binary with `--manifests`: real backends on loopback, a real HTTP and TLS
//! client, hot reload on file change, a broken file isolated.

#![cfg(feature = "binary")]
#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod support {
    pub(crate) mod binary_harness;
}

// One test binary for every binary end-to-end test: each test file links the whole controller.
#[path = "e2e/access.rs"]
mod access;
#[path = "e2e/annotations.rs"]
mod annotations;
#[path = "e2e/configmap.rs"]
mod configmap;
#[path = "e2e/tls_access.rs"]
mod tls_access;

use std::time::{Duration, Instant};

use support::binary_harness::{
    TempDir, backend, eventually, exchange, get, get_tls, indent, ingress, service, start,
};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_are_served_over_http_and_https_and_reloaded() {
    let a = backend("backend-a").await;
    let b = backend("backend-b").await;
    let certified = rcgen::generate_simple_self_signed(vec!["secure.test".to_owned()]).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();

    let dir =
        TempDir(std::env::temp_dir().join(format!("ingress-k8s-binary-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).unwrap();
    dir.write(
        "10-services.yaml",
        &format!("{}---\n{}", service("svc-a", a), service("svc-b", b)),
    );
    dir.write("20-app.yaml", &ingress("app", "app.test", "svc-a", None));
    dir.write(
        "30-secure.yaml",
        &format!(
            "{}---\napiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\nmetadata: {{name: secure-tls}}\nstringData:\n  tls.crt: |\n{}  tls.key: |\n{}",
            ingress("secure", "secure.test", "svc-b", Some("secure-tls")),
            indent(&certified.cert.pem()),
            indent(&certified.signing_key.serialize_pem()),
        ),
    );

    let proxy = start(&dir.0);
    let ready = eventually(Duration::from_secs(10), || async {
        get(proxy.admin, "admin", "/readyz").await.0 == 200
    })
    .await;
    assert!(ready, "/readyz answers 200 after the first snapshot");

    // Nothing changes for a second: nothing is re-read (a reload's own file reads must not
    // trigger the next reload).
    let reloads = || {
        proxy
            .logs
            .lock()
            .unwrap()
            .iter()
            .filter(|line| line["fields"]["message"] == "manifests unchanged")
            .count()
    };
    let before = reloads();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        reloads(),
        before,
        "the directory is re-read with nothing changed"
    );

    assert_eq!(
        get(proxy.http, "app.test", "/x").await,
        (200, "backend-a".to_owned())
    );
    assert_eq!(get(proxy.http, "unknown.test", "/").await.0, 404);
    assert_eq!(
        get(proxy.http, "secure.test", "/").await.0,
        308,
        "TLS host redirects plain HTTP"
    );
    assert_eq!(
        get_tls(proxy.https, &roots, "secure.test").await,
        (200, "backend-b".to_owned())
    );

    // A keep-alive connection opened before the reload keeps working after it.
    let mut kept = TcpStream::connect(proxy.http).await.unwrap();
    assert_eq!(exchange(&mut kept, "app.test", "/").await.1, "backend-a");

    let changed_at = Instant::now();
    dir.write("20-app.yaml", &ingress("app", "app.test", "svc-b", None));
    let reloaded = eventually(Duration::from_secs(3), || async {
        get(proxy.http, "app.test", "/").await.1 == "backend-b"
    })
    .await;
    assert!(reloaded, "the edited Ingress is served");
    let took = changed_at.elapsed();
    assert!(took < Duration::from_secs(1), "reload took {took:?}");
    assert_eq!(
        exchange(&mut kept, "app.test", "/").await,
        (200, "backend-b".to_owned())
    );

    // A broken file: its previous content stays in force and nothing else is affected.
    dir.write(
        "20-app.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: app\n",
    );
    dir.write("40-new.yaml", &ingress("new", "new.test", "svc-a", None));
    let added = eventually(Duration::from_secs(3), || async {
        get(proxy.http, "new.test", "/").await.0 == 200
    })
    .await;
    assert!(added, "a good file next to the broken one is applied");
    assert_eq!(
        get(proxy.http, "app.test", "/").await,
        (200, "backend-b".to_owned())
    );
    assert_eq!(
        get_tls(proxy.https, &roots, "secure.test").await.1,
        "backend-b"
    );

    // A rejected Ingress: logged once, as a warning naming the object, field and reason, and
    // nothing else is affected.
    dir.write(
        "50-bad.yaml",
        &ingress("bad", "bad.test", "svc-a", None).replace("path: /", "path: no-slash"),
    );
    let logged = eventually(Duration::from_secs(3), || async {
        !proxy.logs_about("default/bad").is_empty()
    })
    .await;
    assert!(logged, "the rejected Ingress is logged");
    // Another reload (an unrelated edit) must not log it again.
    dir.write("40-new.yaml", &ingress("new", "new2.test", "svc-a", None));
    let reloaded = eventually(Duration::from_secs(3), || async {
        get(proxy.http, "new2.test", "/").await.0 == 200
    })
    .await;
    assert!(reloaded);
    let lines = proxy.logs_about("default/bad");
    assert_eq!(lines.len(), 1, "logged once: {lines:?}");
    assert_eq!(lines[0]["level"], "WARN");
    assert_eq!(lines[0]["fields"]["reason"], "Rejected");
    let message = lines[0]["fields"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("default/bad") && message.contains("path"),
        "{message}"
    );
    assert_eq!(get(proxy.http, "app.test", "/").await.0, 200);
}
