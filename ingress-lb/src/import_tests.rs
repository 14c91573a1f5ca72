//! The import on the tutorial's own files, and one case per supported directive and error.

use super::*;

const NGINX: &str = include_str!("../tests/fixtures/tutorial-nginx.conf");
const KEEPALIVED: &str = include_str!("../tests/fixtures/tutorial-keepalived.conf");

#[test]
fn the_tutorial_s_files_become_a_configuration_the_loader_accepts() {
    let import = import_texts(("nginx.conf", NGINX), Some(("keepalived.conf", KEEPALIVED)));
    assert_eq!(import.errors, Vec::<String>::new());
    let toml = import.toml.expect("a configuration");
    let config = crate::Config::from_toml(&toml).expect("loads");
    let group = &config.upstreams["k8s-ingress-controller"];
    assert_eq!(group.servers.len(), 2);
    assert_eq!(group.servers[0].address.to_string(), "192.168.10.11:80");
    assert_eq!(*group.servers[0].weight.get_ref(), 5);
    assert_eq!(group.servers[0].max_fails, 3);
    assert_eq!(
        group.servers[0].fail_timeout.0,
        std::time::Duration::from_secs(30)
    );
    assert_eq!(config.listeners[0].address.to_string(), "0.0.0.0:38999");
    let vrrp = config.vrrp.expect("[vrrp]");
    assert_eq!(
        (
            vrrp.interface.as_str(),
            vrrp.virtual_router_id,
            vrrp.priority
        ),
        ("ens33", 50, 100)
    );
    assert_eq!(
        vrrp.virtual_ipaddress[0].address.to_string(),
        "192.168.10.15"
    );
    assert!(vrrp.track_balancer);
    assert_eq!(vrrp.version, 2);
    // Everything left out is said.
    for left_out in [
        "`user`",
        "`events`",
        "`log_format`",
        "`access_log`",
        "`global_defs`",
        "`vrrp_script`",
    ] {
        assert!(
            import.notes.iter().any(|n| n.contains(left_out)),
            "{left_out}: {:?}",
            import.notes
        );
    }
}

#[test]
fn every_supported_stream_directive_translates() {
    let nginx = "stream {
  upstream a { least_conn; server 10.0.0.1:80 weight=2 max_fails=0 fail_timeout=5s; server 10.0.0.2:80 backup; server 10.0.0.3:80 down; }
  upstream b { hash $remote_addr consistent; server 10.0.0.4:443; }
  server { listen 127.0.0.1:8080; proxy_pass a; proxy_connect_timeout 2s; proxy_timeout 1m; proxy_protocol on; proxy_next_upstream off; proxy_next_upstream_tries 2; }
  server { listen 8443; proxy_pass b; }
}";
    let import = import_texts(("n", nginx), None);
    assert_eq!(import.errors, Vec::<String>::new());
    let config = crate::Config::from_toml(&import.toml.expect("toml")).expect("loads");
    let a = &config.upstreams["a"];
    assert!(a.servers[1].backup && a.servers[2].down);
    assert_eq!(*a.servers[0].weight.get_ref(), 2);
    let listener = &config.listeners[0];
    assert_eq!(listener.address.to_string(), "127.0.0.1:8080");
    assert!(listener.proxy_protocol.is_some());
    assert!(!listener.next_upstream);
    assert_eq!(listener.next_upstream_tries, 2);
}

#[test]
fn unsupported_directives_are_errors_naming_file_line_and_directive() {
    let cases = [
        (
            "stream {\n  upstream a { server backend.local:80; }\n}",
            "n:2: `server`",
        ),
        (
            "stream {\n  upstream a { server 10.0.0.1:80 slow_start=5s; }\n}",
            "slow_start",
        ),
        (
            "stream {\n  upstream a { hash $request_uri; server 10.0.0.1:80; }\n}",
            "n:2: `hash`",
        ),
        (
            "stream {\n  server { listen 80 proxy_protocol; proxy_pass a; }\n}",
            "n:2: `listen`",
        ),
        (
            "stream {\n  limit_conn_zone $binary_remote_addr zone=x:10m;\n}",
            "n:2: `limit_conn_zone`",
        ),
        ("mail { }", "n:1: `mail`"),
        ("events { }", "no `stream` block"),
        ("stream { server { listen 80;", "not closed"),
    ];
    for (text, expected) in cases {
        let import = import_texts(("n", text), None);
        assert!(import.toml.is_none(), "{text}");
        assert!(
            import.errors.iter().any(|e| e.contains(expected)),
            "{text}: {:?}",
            import.errors
        );
    }
    let keepalived = [
        (
            "vrrp_instance A {\n interface eth0\n}\nvrrp_instance B {\n}",
            "k:4: `vrrp_instance`",
        ),
        (
            "vrrp_instance A {\n track_script {\n  missing\n }\n}",
            "k:3: `missing`",
        ),
        (
            "vrrp_instance A {\n virtual_ipaddress {\n  10.0.0.1/24 dev eth1\n }\n}",
            "k:3",
        ),
        (
            "vrrp_instance A {\n lvs_sync_daemon_interface eth0\n}",
            "k:2: `lvs_sync_daemon_interface`",
        ),
    ];
    for (text, expected) in keepalived {
        let import = import_texts(("n", "stream { }"), Some(("k", text)));
        assert!(
            import.errors.iter().any(|e| e.contains(expected)),
            "{text}: {:?}",
            import.errors
        );
    }
}
