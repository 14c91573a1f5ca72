//! `ingress-proxy check` and `explain`, run as a user would: the bundled manifests pass; a
//! broken set fails with one line per problem naming file, document, object and field; explain
//! names the winning rule, the losers and why, and the endpoints.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn check(args: &[&str], stdin: Option<&str>) -> Output {
    run("check", args, stdin)
}

fn run(command: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ingress-proxy"))
        .arg(command)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn manifests() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/manifests")
}

const BROKEN: &str = "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: bad
  namespace: default
  annotations:
    nginx.ingress.kubernetes.io/server-snippet: \"return 200;\"
spec:
  ingressClassName: ingress-engine
  rules:
  - host: tomcat.lucky.com
    http:
      paths:
      - {path: api, pathType: Prefix, backend: {service: {name: tomcat, port: {number: 8080}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: elsewhere, namespace: default}
spec:
  ingressClassName: traefik
  defaultBackend: {service: {name: tomcat, port: {number: 8080}}}
";

#[test]
fn the_bundled_manifests_pass() {
    let output = check(&[manifests().to_str().unwrap()], None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.starts_with("check passed: 5 files"), "{stdout}");
}

#[test]
fn problems_are_listed_with_file_document_object_and_field() {
    let dir = std::env::temp_dir().join(format!("ingress-k8s-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("broken.yaml"),
        "kind: Service\nmetadata: {name: x\n",
    )
    .unwrap();
    let output = check(
        &[manifests().to_str().unwrap(), dir.to_str().unwrap(), "-"],
        Some(BROKEN),
    );
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("error: ") && l.contains("broken.yaml: document 0: line ")),
        "{stdout}"
    );
    assert!(
        lines.contains(
            &"error: -: document 0: line 1: Ingress default/bad: spec.rules[0].http.paths[0].path: \"api\" must start with '/' [Rejected]"
        ),
        "{stdout}"
    );
    assert!(
        lines.contains(
            &"note: -: document 1: line 16: Ingress default/elsewhere is not served by this controller: ingress class \"traefik\" is not one of ours"
        ),
        "{stdout}"
    );
    assert!(
        lines.last().unwrap().starts_with("check failed: "),
        "{stdout}"
    );
}

#[test]
fn explain_names_the_winner_the_losers_and_the_endpoints() {
    let output = run(
        "explain",
        &[
            "--host",
            "TOMCAT.lucky.com:80",
            "--path",
            "/index.jsp",
            manifests().to_str().unwrap(),
            "-",
        ],
        Some(BROKEN),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines.contains(&"request: host tomcat.lucky.com, path /index.jsp"),
        "{stdout}"
    );
    assert!(
        lines.contains(&"  default/ingress-myapp rule 0/0: tomcat.lucky.com / (Prefix) → Service default/tomcat:8080: CHOSEN"),
        "{stdout}"
    );
    assert!(
        lines.contains(&"  default/ingress-tomcat-tls rule 0/0: test.lucky.com / (Prefix) → Service default/tomcat:8080: host does not match"),
        "{stdout}"
    );
    assert!(
        lines.contains(&"eligible endpoints: 127.0.0.11:8080, 127.0.0.12:8080"),
        "{stdout}"
    );
    let tls = run(
        "explain",
        &["--host", "test.lucky.com", manifests().to_str().unwrap()],
        None,
    );
    let stdout = String::from_utf8_lossy(&tls.stdout);
    assert!(
        stdout.contains("answered 308 (redirect to https)"),
        "{stdout}"
    );
}

const CANARY: &str = "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: myapp-canary
  namespace: default
  annotations:
    nginx.ingress.kubernetes.io/canary: \"true\"
    nginx.ingress.kubernetes.io/canary-by-header: X-Canary
    nginx.ingress.kubernetes.io/canary-by-cookie: beta
    nginx.ingress.kubernetes.io/canary-weight: \"10\"
spec:
  ingressClassName: ingress-engine
  rules:
  - host: tomcat.lucky.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: tomcat, port: {number: 8009}}}}
";

#[test]
fn explain_says_what_the_canary_does_with_the_headers_and_cookies() {
    let explain = |extra: &[&str]| {
        let mut args = vec!["--host", "tomcat.lucky.com"];
        args.extend_from_slice(extra);
        let dir = manifests();
        args.extend([dir.to_str().unwrap(), "-"]);
        let output = run("explain", &args, Some(CANARY));
        assert!(output.status.success());
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let prefix = "canary default/myapp-canary → Service default/tomcat:8009: ";
    let by_header = explain(&["--header", "X-Canary: always"]);
    assert!(
        by_header.contains(&format!(
            "{prefix}the request's header or cookie selects the canary"
        )),
        "{by_header}"
    );
    let by_cookie = explain(&["--cookie", "beta=never"]);
    assert!(
        by_cookie.contains(&format!("{prefix}the request stays on the main backend")),
        "{by_cookie}"
    );
    let by_weight = explain(&[]);
    assert!(
        by_weight.contains(&format!(
            "{prefix}nothing in the request decides: the canary takes 10 of 100 requests"
        )),
        "{by_weight}"
    );
}

#[test]
fn a_configmap_flag_naming_no_manifest_is_a_warning() {
    let with = |flag: &str| {
        let output = check(&[manifests().to_str().unwrap(), "--configmap", flag], None);
        assert!(output.status.success(), "a warning does not fail the check");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let missing = with("ingress-nginx/no-such-config");
    assert!(
        missing.contains(
            "warning: ConfigMap ingress-nginx/no-such-config (--configmap) is not in the manifests"
        ),
        "{missing}"
    );
    assert!(missing.contains(", 1 warnings"), "{missing}");
}

#[test]
fn an_auth_secret_is_read_from_an_opaque_secret_in_the_manifests() {
    const PROTECTED: &str = "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: private
  namespace: default
  annotations:
    nginx.ingress.kubernetes.io/auth-type: basic
    nginx.ingress.kubernetes.io/auth-secret: basic-auth
spec:
  ingressClassName: ingress-engine
  rules:
  - host: private.lucky.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: tomcat, port: {number: 8080}}}}
";
    // What `kubectl create secret generic basic-auth --from-file=auth` writes (no type: Opaque).
    const SECRET: &str = "apiVersion: v1
kind: Secret
metadata: {name: basic-auth, namespace: default}
stringData:
  auth: |
    foo:$apr1$lZL6V/ci$eIMz/iKDkbtys/uU7LEK00
";
    let dir = std::env::temp_dir().join(format!("check-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(manifests()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    std::fs::write(dir.join("private.yaml"), PROTECTED).unwrap();
    let without = check(&[dir.to_str().unwrap()], None);
    let stdout = String::from_utf8_lossy(&without.stdout).into_owned();
    assert!(
        stdout.contains("auth-secret") && stdout.contains("does not exist"),
        "{stdout}"
    );
    std::fs::write(dir.join("secret.yaml"), SECRET).unwrap();
    let with = check(&[dir.to_str().unwrap()], None);
    let stdout = String::from_utf8_lossy(&with.stdout).into_owned();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(with.status.success(), "{stdout}");
    assert!(!stdout.contains("auth-secret"), "{stdout}");
    assert!(stdout.contains("0 warnings"), "{stdout}");
}
