use std::net::Ipv4Addr;
use std::time::Duration;

use super::*;

const PRIMARY: Ipv4Addr = Ipv4Addr::new(192, 168, 10, 11);

#[derive(Debug, Deserialize)]
struct File {
    vrrp: VrrpConfig,
}

fn parse(toml_text: &str) -> VrrpConfig {
    toml::from_str::<File>(toml_text)
        .expect("valid [vrrp] section")
        .vrrp
}

/// The reference keepalived.conf's `vrrp_instance VI_1`, translated line for line (this is the
/// text shown in the module docs).
const TUTORIAL: &str = r#"
[vrrp]                                # vrrp_instance VI_1 {
state = "MASTER"                      #   state MASTER            (BACKUP on the standby)
interface = "ens33"                   #   interface ens33
virtual_router_id = 50                #   virtual_router_id 50
priority = 100                        #   priority 100            (90 on the standby)
advert_int = 1                        #   advert_int 1
authentication = { auth_type = "PASS", auth_pass = "1111" }  # authentication { auth_type PASS  auth_pass 1111 }
virtual_ipaddress = ["192.168.10.15/24"]  # virtual_ipaddress { 192.168.10.15/24 }
track_balancer = true                 #   track_script { check_nginx }
version = 2                           # keepalived's default vrrp_version (needed for PASS)
"#;

#[test]
fn tutorial_keepalived_instance_translates_line_for_line() {
    let config = parse(TUTORIAL);
    assert_eq!(config.state, Some(InitialState::Master));
    let router = config.router_config(PRIMARY).expect("valid");
    assert_eq!(
        router,
        RouterConfig {
            virtual_router_id: 50,
            version: Version::V2,
            priority: 100,
            interval_centis: 100,
            preempt: true,
            preempt_delay: Duration::ZERO,
            track_weight: 0,
            primary_address: PRIMARY,
            virtual_addresses: vec![Ipv4Addr::new(192, 168, 10, 15)],
            authentication: Authentication::password("1111"),
        }
    );
    assert_eq!(config.virtual_ipaddress[0].to_string(), "192.168.10.15/24");
}

#[test]
fn defaults_are_keepalived_like_but_version_3() {
    let config = parse(
        "[vrrp]\ninterface = \"eth0\"\nvirtual_router_id = 7\nvirtual_ipaddress = [\"10.231.0.100\"]\n",
    );
    assert_eq!(config.priority, 100);
    assert_eq!(config.version, 3);
    assert!(config.preempt);
    assert!(config.track_balancer);
    assert_eq!(
        config.virtual_ipaddress[0],
        VirtualAddress {
            address: Ipv4Addr::new(10, 231, 0, 100),
            prefix: 32
        }
    );
    let router = config.router_config(PRIMARY).expect("valid");
    assert_eq!(router.interval_centis, 100);
    assert_eq!(router.authentication, Authentication::None);
}

#[test]
fn fractional_advert_int_is_version_3_only() {
    let mut config = parse(TUTORIAL);
    config.authentication = None;
    config.advert_int = 0.5;
    assert_eq!(
        config.router_config(PRIMARY).map_err(|e| e.field),
        Err("advert_int")
    );
    config.version = 3;
    assert_eq!(
        config
            .router_config(PRIMARY)
            .expect("valid")
            .interval_centis,
        50
    );
    config.advert_int = 41.0;
    assert_eq!(
        config.router_config(PRIMARY).map_err(|e| e.field),
        Err("advert_int")
    );
}

#[test]
fn invalid_fields_are_named() {
    let base = parse(TUTORIAL);
    type Mutation = fn(&mut VrrpConfig);
    let cases: Vec<(Mutation, &str)> = vec![
        (|c| c.virtual_router_id = 0, "virtual_router_id"),
        (|c| c.priority = 0, "priority"),
        (|c| c.version = 4, "version"),
        (
            |c| c.interface = "an-interface-name-too-long".into(),
            "interface",
        ),
        (|c| c.virtual_ipaddress.clear(), "virtual_ipaddress"),
        (|c| c.preempt_delay = -1.0, "preempt_delay"),
        (|c| c.track_weight = 300, "track_weight"),
        (|c| c.version = 3, "authentication"),
        (
            |c| {
                c.authentication = Some(AuthenticationConfig {
                    auth_type: "AH".into(),
                    auth_pass: "x".into(),
                })
            },
            "authentication.auth_type",
        ),
    ];
    for (mutate, field) in cases {
        let mut config = base.clone();
        mutate(&mut config);
        let error = config.router_config(PRIMARY).expect_err(field);
        assert_eq!(error.field, field);
        assert!(
            error
                .to_string()
                .starts_with(&format!("[vrrp] field `{field}`")),
            "{error}"
        );
    }
}

#[test]
fn bad_virtual_addresses_are_rejected_at_parse_time() {
    for text in [
        "192.168.10.300",
        "10.0.0.1/33",
        "224.0.0.18",
        "0.0.0.0/0",
        "fe80::1",
    ] {
        assert!(text.parse::<VirtualAddress>().is_err(), "{text}");
    }
    let error = toml::from_str::<File>(
        "[vrrp]\ninterface = \"eth0\"\nvirtual_router_id = 7\nvirtual_ipaddress = [\"10.0.0.1/40\"]\n",
    )
    .expect_err("bad prefix");
    assert!(error.to_string().contains("prefix \"40\""), "{error}");
}

#[test]
fn unknown_fields_and_password_printing() {
    assert!(toml::from_str::<File>("[vrrp]\ninterface = \"eth0\"\nvirtual_router_id = 7\nvirtual_ipaddress = []\nnopreempt = true\n").is_err());
    let config = parse(TUTORIAL);
    assert!(!format!("{config:?}").contains("1111"));
}
