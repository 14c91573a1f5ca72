//! `ingress-lb import` as a user runs it: the tutorial's nginx.conf and keepalived.conf in, a
//! configuration the balancer itself accepts out; a broken file in, exit 1 and nothing on
//! standard output.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn run(arguments: &[&Path]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ingress-lb"))
        .arg("import")
        .args(arguments)
        .output()
        .expect("ingress-lb runs")
}

#[test]
fn the_tutorial_s_files_import_into_a_configuration_the_loader_accepts() {
    let output = run(&[
        &fixture("tutorial-nginx.conf"),
        &fixture("tutorial-keepalived.conf"),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stderr: {stderr}");
    let toml = String::from_utf8(output.stdout).expect("UTF-8");
    let config = ingress_lb::Config::from_toml(&toml).expect("the printed TOML loads");
    let group = &config.upstreams["k8s-ingress-controller"];
    let servers: Vec<String> = group
        .servers
        .iter()
        .map(|server| server.address.to_string())
        .collect();
    assert_eq!(servers, ["192.168.10.11:80", "192.168.10.12:80"]);
    assert_eq!(config.listeners[0].address.to_string(), "0.0.0.0:38999");
    let vrrp = config.vrrp.expect("the keepalived instance became [vrrp]");
    assert_eq!(vrrp.virtual_router_id, 50);
    // What was left out is said on standard error, with file and line.
    assert!(
        stderr.contains("tutorial-nginx.conf:1: `user`"),
        "stderr: {stderr}"
    );
    assert!(stderr.contains("`global_defs`"), "stderr: {stderr}");
}

#[test]
fn an_untranslatable_directive_fails_with_file_and_line_and_prints_nothing() {
    let dir = std::env::temp_dir().join(format!("ingress-lb-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let broken = dir.join("nginx.conf");
    std::fs::write(
        &broken,
        "stream {\n  upstream a { server 127.0.0.1:80; }\n  server {\n    listen 8080;\n    proxy_pass a;\n    ssl_preread on;\n  }\n}\n",
    )
    .expect("write");
    let output = run(&[&broken]);
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert!(output.stdout.is_empty());
    assert!(
        stderr.contains("nginx.conf:6: `ssl_preread`"),
        "stderr: {stderr}"
    );
}
