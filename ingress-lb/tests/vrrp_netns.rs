//! End-to-end VRRP in network namespaces the tests create and remove themselves: two routers
//! share 10.231.0.100 on a bridged segment, a client namespace connects to it, and the address
//! moves on crash, preemption, health failure and clean shutdown; one router can be keepalived.
//!
//! Needs root (CAP_NET_ADMIN/NET_RAW/SYS_ADMIN), iproute2, iputils-arping and keepalived; skips
//! with a printed message otherwise, or fails when `INGRESS_LB_REQUIRE_NETNS=1` (CI sets it).
//! The tests run one at a time (a lock) so that their failover timings do not disturb each other.

#[path = "vrrp_netns/lab.rs"]
mod lab;

use std::sync::Mutex;
use std::time::Duration;

use lab::{Lab, can_run, holds_for, wait_until};

/// Every test configures advert_int = 1 s.
const ADVERT_INT: Duration = Duration::from_secs(1);
/// The bound for a crash failover, measured from the kill to the client's first
/// successful connection to the backup: 3 × advert_int + 1 s.
const FAILOVER_BOUND: Duration = Duration::from_secs(4);
/// First election: a fresh router waits 3 × advert_int + skew (< 1 s) before it claims the
/// address; keepalived adds its own start-up time.
const ELECTION: Duration = Duration::from_secs(8);
/// Longer than any master-down interval: a backup that misread the master's adverts would have
/// taken the address by then.
const LONGER_THAN_MASTER_DOWN: Duration = Duration::from_millis(4500);

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

const ROUTERS: &[&str] = &["a", "b"];

/// Waits for `expected` to be the only holder of the address and to answer the client.
fn assert_master(lab: &Lab, expected: &str, timeout: Duration, what: &str) -> Duration {
    let took = wait_until(timeout, || {
        lab.vip_holders(ROUTERS) == [expected] && lab.connect("c").as_deref() == Some(expected)
    });
    took.unwrap_or_else(|| {
        panic!(
            "{what}: {expected} is not the sole master after {timeout:?} (holders {:?})",
            lab.vip_holders(ROUTERS)
        )
    })
}

fn assert_stays_master(lab: &Lab, expected: &str, what: &str) {
    assert!(
        holds_for(LONGER_THAN_MASTER_DOWN, || lab.vip_holders(ROUTERS)
            == [expected]),
        "{what}: {expected} did not stay the sole master (holders {:?})",
        lab.vip_holders(ROUTERS)
    );
}

/// Crashes process `index` (the master) and returns how long until `backup` answers clients.
fn crash_and_measure(lab: &mut Lab, index: usize, backup: &str, what: &str) -> Duration {
    lab.crash(index);
    let took = lab.wait_served_by("c", backup, FAILOVER_BOUND + Duration::from_secs(4));
    let took = took.unwrap_or_else(|| panic!("{what}: {backup} never answered after the crash"));
    assert!(
        took <= FAILOVER_BOUND,
        "{what}: failover took {took:?}, more than 3 × {ADVERT_INT:?} + 1 s"
    );
    assert_eq!(
        lab.vip_holders(ROUTERS),
        [backup],
        "{what}: holders after failover"
    );
    took
}

#[test]
fn ours_fail_over_preempt_back_and_hand_over_on_health_and_shutdown() {
    let _serial = serial();
    if !can_run(&["ip", "arping"]) {
        return;
    }
    let mut lab = Lab::new(&["a", "b", "c"]);
    let a = lab.start_ours("a", 100, "");
    assert_master(&lab, "a", ELECTION, "first election");
    let b = lab.start_ours("b", 90, "");
    assert_stays_master(&lab, "a", "backup b follows a");
    assert_eq!(lab.connect("c").as_deref(), Some("a"));

    let took = crash_and_measure(&mut lab, a, "b", "crash of a");
    println!("ours→ours crash failover: {took:?}");

    let a = lab.start_ours("a", 110, "");
    assert_master(
        &lab,
        "a",
        ELECTION,
        "a restarted with priority 110 preempts",
    );

    // Balancer unhealthy, track_weight 0: a goes to Fault with a priority-0 advert, b takes
    // over after its skew time (166/256 s), far sooner than a crash.
    lab.signal(a, "USR1");
    let took = assert_master(&lab, "b", Duration::from_secs(2), "a unhealthy hands over");
    println!("ours health hand-over: {took:?}");
    lab.signal(a, "USR2");
    assert_master(&lab, "a", ELECTION, "a healthy again preempts");

    // Clean shutdown: priority-0 advert, address removed, b serves at once.
    lab.signal(a, "TERM");
    assert!(
        lab.wait_exit(a, Duration::from_secs(3)),
        "a exits on SIGTERM"
    );
    let took = assert_master(&lab, "b", Duration::from_secs(2), "a shut down cleanly");
    println!("ours clean-shutdown hand-over: {took:?}");
    lab.signal(b, "TERM");
    assert!(
        lab.wait_exit(b, Duration::from_secs(3)),
        "b exits on SIGTERM"
    );
    assert!(
        lab.vip_holders(ROUTERS).is_empty(),
        "no address left behind"
    );
}

#[test]
fn ours_with_negative_track_weight_hands_over_to_the_better_backup() {
    let _serial = serial();
    if !can_run(&["ip", "arping"]) {
        return;
    }
    let mut lab = Lab::new(&["a", "b", "c"]);
    let a = lab.start_ours("a", 100, "track_weight = -20");
    assert_master(&lab, "a", ELECTION, "first election");
    lab.start_ours("b", 90, "track_weight = -20");
    assert_stays_master(&lab, "a", "b follows a");
    // a drops to 80 < 90: it advertises 80 at once; b ignores the lower adverts and takes
    // over when its master-down timer runs out.
    lab.signal(a, "USR1");
    let took = assert_master(&lab, "b", ELECTION, "a's priority lowered to 80");
    println!("ours weight-based hand-over: {took:?}");
    lab.signal(a, "USR2");
    assert_master(&lab, "a", ELECTION, "a back at 100 preempts");
}

#[test]
fn keepalived_and_ours_agree_on_one_master_and_fail_over_both_ways() {
    let _serial = serial();
    if !can_run(&["ip", "arping", "keepalived"]) {
        return;
    }
    let mut lab = Lab::new(&["a", "b", "c"]);
    let auth = "version = 2\nauthentication = { auth_type = \"PASS\", auth_pass = \"1111\" }";
    let keepalived = lab.start_keepalived("a", 100);
    assert_master(&lab, "a", ELECTION, "keepalived elected");
    let ours = lab.start_ours("b", 90, auth);
    assert_stays_master(&lab, "a", "ours follows keepalived's adverts");

    let took = crash_and_measure(&mut lab, keepalived, "b", "keepalived crashes");
    println!("keepalived→ours crash failover: {took:?}");

    let keepalived = lab.start_keepalived("a", 100);
    assert_master(&lab, "a", ELECTION, "keepalived at 100 preempts ours at 90");

    // The other way round: ours is master, keepalived (lower priority now) must follow it.
    lab.crash(keepalived);
    assert_master(&lab, "b", FAILOVER_BOUND, "ours takes over again");
    lab.start_keepalived("a", 80);
    assert_stays_master(&lab, "b", "keepalived at 80 follows ours at 90");
    let took = crash_and_measure(&mut lab, ours, "a", "ours crashes");
    println!("ours→keepalived crash failover: {took:?}");
}

#[test]
fn keepalived_version_3_and_ours_agree_and_fail_over_both_ways() {
    let _serial = serial();
    if !can_run(&["ip", "arping", "keepalived"]) {
        return;
    }
    let mut lab = Lab::new(&["a", "b", "c"]);
    // Version 3: checksum over the IPv4 pseudo-header, centisecond interval, no authentication.
    let keepalived = lab.start_keepalived_version("a", 100, 3);
    assert_master(&lab, "a", ELECTION, "keepalived (v3) elected");
    let ours = lab.start_ours("b", 90, "version = 3");
    assert_stays_master(&lab, "a", "ours follows keepalived's v3 adverts");
    let took = crash_and_measure(&mut lab, keepalived, "b", "keepalived (v3) crashes");
    println!("keepalived→ours (v3) crash failover: {took:?}");
    lab.start_keepalived_version("a", 80, 3);
    assert_stays_master(&lab, "b", "keepalived (v3) at 80 follows ours at 90");
    let took = crash_and_measure(&mut lab, ours, "a", "ours (v3) crashes");
    println!("ours→keepalived (v3) crash failover: {took:?}");
}

#[test]
fn ours_with_unicast_peers_elect_and_fail_over() {
    let _serial = serial();
    if !can_run(&["ip", "arping"]) {
        return;
    }
    let mut lab = Lab::new(&["a", "b", "c"]);
    let a = lab.start_ours(
        "a",
        100,
        "unicast_src_ip = \"10.231.0.1\"\nunicast_peer = [\"10.231.0.2\"]",
    );
    assert_master(&lab, "a", ELECTION, "first election (unicast)");
    lab.start_ours("b", 90, "unicast_peer = [\"10.231.0.1\"]");
    assert_stays_master(&lab, "a", "b follows a's unicast adverts");
    let took = crash_and_measure(&mut lab, a, "b", "crash of a (unicast)");
    println!("ours→ours unicast crash failover: {took:?}");
    lab.start_ours("a", 100, "unicast_peer = [\"10.231.0.2\"]");
    assert_master(&lab, "a", ELECTION, "a preempts back (unicast)");
}

#[test]
fn failover_time_ours_vs_keepalived() {
    let _serial = serial();
    if !can_run(&["ip", "arping", "keepalived"]) {
        return;
    }
    const ROUNDS: usize = 3;
    let mut report = Vec::new();
    for keepalived in [false, true] {
        let name = if keepalived {
            "keepalived–keepalived"
        } else {
            "ours–ours"
        };
        let mut lab = Lab::new(&["a", "b", "c"]);
        let start = |lab: &mut Lab, host: &str, priority: u8| {
            if keepalived {
                lab.start_keepalived(host, priority)
            } else {
                lab.start_ours(
                    host,
                    priority,
                    "version = 2\nauthentication = { auth_type = \"PASS\", auth_pass = \"1111\" }",
                )
            }
        };
        let mut master = start(&mut lab, "a", 100);
        assert_master(&lab, "a", ELECTION, name);
        start(&mut lab, "b", 90);
        assert_stays_master(&lab, "a", name);
        let mut samples = Vec::new();
        for _ in 0..ROUNDS {
            samples.push(crash_and_measure(&mut lab, master, "b", name));
            master = start(&mut lab, "a", 100);
            assert_master(&lab, "a", ELECTION, name);
            // Let a few of a's adverts reach b, so each round starts from a steady state.
            assert_stays_master(&lab, "a", name);
        }
        samples.sort();
        report.push(format!(
            "{name}: crash → client served by backup {samples:?} (median {:?})",
            samples[ROUNDS / 2]
        ));
    }
    for line in report {
        println!("{line}");
    }
}

/// The VRRP state a balancer's admin listener reports (`/api/status`): state and the last
/// transition's target.
fn reported_vrrp(lab: &Lab, host: &str) -> Option<(String, String)> {
    let body = lab.http_get(host, ADMIN_PORT, "/api/status")?;
    let status: serde_json::Value = serde_json::from_str(&body).ok()?;
    let vrrp = &status["vrrp"];
    Some((
        vrrp["state"].as_str()?.to_owned(),
        vrrp["last_transition"]["to"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
    ))
}

/// Each balancer's admin listener, on its own namespace's loopback.
const ADMIN_PORT: u16 = 39001;

/// The real `ingress-lb` binary with a `[vrrp]` section: the node whose upstream dies (its
/// active health check fails) hands the address to the node that can still serve, and each
/// node's admin listener reports the state it is in (MASTER, BACKUP, FAULT).
#[test]
fn ingress_lb_binary_hands_the_vip_over_when_its_upstream_dies() {
    let _serial = serial();
    if !can_run(&["ip", "arping"]) {
        return;
    }
    const LB_PORT: u16 = 38999;
    let mut lab = Lab::new(&["a", "b", "c"]);
    let node = lab::node_binary();
    let node = node.to_str().expect("utf-8 path");
    let mut backends = Vec::new();
    let mut balancers = Vec::new();
    for (host, priority) in [("a", 100), ("b", 90)] {
        let name = format!("{host}-backend");
        backends
            .push(lab.start_command(host, &[node, "--listen", "127.0.0.1:9000", "--name", &name]));
        let config = lab.write_file(
            &format!("{host}-lb.toml"),
            &format!(
                "admin = \"127.0.0.1:{ADMIN_PORT}\"\n\
                 [upstreams.ingress]\n\
                 servers = [{{ address = \"127.0.0.1:9000\" }}]\n\
                 health_check = {{ interval = \"200ms\", timeout = \"200ms\" }}\n\
                 [[listeners]]\naddress = \"0.0.0.0:{LB_PORT}\"\nupstream = \"ingress\"\n\
                 [vrrp]\ninterface = \"eth0\"\nvirtual_router_id = 50\npriority = {priority}\n\
                 advert_int = 1\nvirtual_ipaddress = [\"{}/24\"]\n",
                lab::VIP
            ),
        );
        let config = config.to_str().expect("utf-8 path").to_owned();
        balancers.push(lab.start_command(
            host,
            &[env!("CARGO_BIN_EXE_ingress-lb"), "--config", &config],
        ));
        if host == "a" {
            assert!(
                wait_until(ELECTION, || lab.connect_port("c", LB_PORT).as_deref()
                    == Some("a-backend"))
                .is_some(),
                "a's balancer serves the virtual address"
            );
        }
    }
    assert_stays_master(&lab, "a", "b's balancer follows a");
    let master = ("MASTER".to_owned(), "MASTER".to_owned());
    let backup = ("BACKUP".to_owned(), "BACKUP".to_owned());
    assert_eq!(reported_vrrp(&lab, "a"), Some(master.clone()));
    assert_eq!(reported_vrrp(&lab, "b"), Some(backup));

    // a's only upstream dies: its health check fails within 200 ms, VRRP goes to Fault and
    // sends priority 0, b takes over after its skew time.
    lab.signal(backends[0], "KILL");
    let took = wait_until(Duration::from_secs(3), || {
        lab.connect_port("c", LB_PORT).as_deref() == Some("b-backend")
    })
    .expect("b's balancer serves after a's upstream died");
    println!("ingress-lb upstream death → hand-over: {took:?}");
    assert_eq!(lab.vip_holders(ROUTERS), ["b"]);
    assert!(
        wait_until(Duration::from_secs(2), || {
            reported_vrrp(&lab, "a").is_some_and(|(state, _)| state == "FAULT")
                && reported_vrrp(&lab, "b") == Some(master.clone())
        })
        .is_some(),
        "a reports FAULT and b MASTER: {:?} / {:?}",
        reported_vrrp(&lab, "a"),
        reported_vrrp(&lab, "b")
    );

    // The upstream comes back: a is healthy again and preempts.
    lab.start_command(
        "a",
        &[node, "--listen", "127.0.0.1:9000", "--name", "a-backend"],
    );
    assert!(
        wait_until(ELECTION, || lab.connect_port("c", LB_PORT).as_deref()
            == Some("a-backend"))
        .is_some(),
        "a preempts once its upstream is back"
    );

    // Shutting a's balancer down releases the address at once.
    lab.signal(balancers[0], "TERM");
    assert!(
        lab.wait_exit(balancers[0], Duration::from_secs(5)),
        "ingress-lb exits on SIGTERM"
    );
    let took = wait_until(Duration::from_secs(2), || {
        lab.vip_holders(ROUTERS) == ["b"]
            && lab.connect_port("c", LB_PORT).as_deref() == Some("b-backend")
    })
    .expect("b's balancer serves after a's clean shutdown");
    println!("ingress-lb clean shutdown → hand-over: {took:?}");
}
