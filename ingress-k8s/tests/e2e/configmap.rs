//! The global configuration through the real binary: a `kind: ConfigMap` manifest named by
//! `--configmap` changes responses (HSTS, forwarded headers), an edit applies without restart,
//! an invalid value keeps the previous one with a logged diagnostic, an unknown key is a
//! Warning, and `ingress-proxy check` reports both.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use crate::support::binary_harness::{
    Proxy, TempDir, backend_answering, eventually, exchange_with, get, get_tls_with, indent,
    ingress, service, start_with,
};
use tokio::net::TcpStream;

const CONFIGMAP: &str = "ingress-nginx/ingress-nginx-controller";
const CLIENT_XFF: &str = "x-forwarded-for: 203.0.113.7\r\n";

fn configmap(data: &[(&str, &str)]) -> String {
    let data: String = data
        .iter()
        .map(|(k, v)| format!("  {k}: \"{v}\"\n"))
        .collect();
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: ingress-nginx-controller, namespace: ingress-nginx}}\ndata:\n{data}"
    )
}

/// The `X-Forwarded-For` the backend received, for a plain-HTTP request that sent one.
async fn forwarded_for(proxy: &Proxy) -> String {
    let mut stream = TcpStream::connect(proxy.http).await.unwrap();
    exchange_with(&mut stream, "app.test", "/", CLIENT_XFF)
        .await
        .2
}

/// The `Strict-Transport-Security` of an HTTPS response from the TLS host.
async fn hsts(addr: SocketAddr, roots: &rustls::RootCertStore) -> Option<String> {
    let (status, head, _) = get_tls_with(addr, roots, "secure.test", "").await;
    assert_eq!(status, 200);
    head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("strict-transport-security")
            .then(|| value.trim().to_owned())
    })
}

/// The WARN log lines about the ConfigMap with this diagnostic reason.
fn warnings(proxy: &Proxy, reason: &str) -> Vec<String> {
    proxy
        .logs_about(CONFIGMAP)
        .iter()
        .filter(|line| line["level"] == "WARN" && line["fields"]["reason"] == reason)
        .map(|line| {
            line["fields"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configmap_manifest_is_the_global_configuration_and_reloads() {
    // The backend answers with the X-Forwarded-For it received.
    let echo = backend_answering(|head| {
        head.lines()
            .find_map(|l| l.strip_prefix("x-forwarded-for: "))
            .unwrap_or("none")
            .to_owned()
    })
    .await;
    let certified = rcgen::generate_simple_self_signed(vec!["secure.test".to_owned()]).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();

    let dir = TempDir(std::env::temp_dir().join(format!(
        "ingress-k8s-binary-configmap-{}",
        std::process::id()
    )));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).unwrap();
    dir.write("10-services.yaml", &service("svc-echo", echo));
    dir.write("20-app.yaml", &ingress("app", "app.test", "svc-echo", None));
    dir.write(
        "30-secure.yaml",
        &format!(
            "{}---\napiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\nmetadata: {{name: secure-tls}}\nstringData:\n  tls.crt: |\n{}  tls.key: |\n{}",
            ingress("secure", "secure.test", "svc-echo", Some("secure-tls")),
            indent(&certified.cert.pem()),
            indent(&certified.signing_key.serialize_pem()),
        ),
    );
    // Another ConfigMap with the same keys: not the one named by --configmap, so ignored.
    dir.write(
        "05-other.yaml",
        &configmap(&[("hsts-max-age", "7")])
            .replace("namespace: ingress-nginx", "namespace: other"),
    );
    dir.write(
        "00-config.yaml",
        &configmap(&[("hsts-max-age", "100"), ("use-forwarded-headers", "true")]),
    );

    let proxy = start_with(&dir.0, &["--configmap", CONFIGMAP]);
    let ready = eventually(Duration::from_secs(10), || async {
        get(proxy.admin, "admin", "/readyz").await.0 == 200
    })
    .await;
    assert!(ready, "the first snapshot is served");
    assert_eq!(
        hsts(proxy.https, &roots).await.as_deref(),
        Some("max-age=100; includeSubDomains")
    );
    assert_eq!(
        forwarded_for(&proxy).await,
        "203.0.113.7",
        "use-forwarded-headers: the trusted peer names the client (ingress-nginx's realip)"
    );

    // An edit applies without restart.
    dir.write(
        "00-config.yaml",
        &configmap(&[("hsts-max-age", "200"), ("hsts-preload", "true")]),
    );
    let applied = eventually(Duration::from_secs(5), || async {
        hsts(proxy.https, &roots).await.as_deref()
            == Some("max-age=200; includeSubDomains; preload")
    })
    .await;
    assert!(applied, "the edited ConfigMap is applied");
    assert_eq!(
        forwarded_for(&proxy).await,
        "127.0.0.1",
        "use-forwarded-headers removed: back to the default (replace with the peer)"
    );

    // An invalid value keeps the previous value; an unknown key is a Warning; the rest applies.
    dir.write(
        "00-config.yaml",
        &configmap(&[
            ("hsts-max-age", "a year"),
            ("hsts-preload", "true"),
            ("use-forwarded-headers", "true"),
            ("hsts-maxage", "5"),
        ]),
    );
    let logged = eventually(Duration::from_secs(5), || async {
        !warnings(&proxy, "ConfigValueInvalid").is_empty()
            && !warnings(&proxy, "ConfigKeyIgnored").is_empty()
    })
    .await;
    assert!(logged, "both diagnostics are logged as warnings");
    let invalid = warnings(&proxy, "ConfigValueInvalid");
    assert!(
        invalid[0].contains("hsts-max-age") && invalid[0].contains("a year"),
        "{invalid:?}"
    );
    let ignored = warnings(&proxy, "ConfigKeyIgnored");
    assert!(ignored[0].contains("hsts-maxage"), "{ignored:?}");
    assert_eq!(forwarded_for(&proxy).await, "203.0.113.7");
    assert_eq!(
        hsts(proxy.https, &roots).await.as_deref(),
        Some("max-age=200; includeSubDomains; preload"),
        "the invalid hsts-max-age keeps its previous value, not the default"
    );

    // `check` reports the same diagnostics, and still passes (they are warnings).
    let output = Command::new(env!("CARGO_BIN_EXE_ingress-proxy"))
        .args([
            "check",
            "--ingress-class",
            "nginx",
            "--configmap",
            CONFIGMAP,
        ])
        .arg(&dir.0)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("00-config.yaml: document 0: line 1: ConfigMap ingress-nginx/ingress-nginx-controller: key hsts-max-age has an invalid value")
            && text.contains("[ConfigValueInvalid]")
            && text.contains("key hsts-maxage is ignored: not a key ingress-nginx documents [ConfigKeyIgnored]"),
        "{text}"
    );
    assert!(!text.contains("other/ingress-nginx-controller"), "{text}");
    assert!(!text.contains("is not in the manifests"), "{text}");
}
