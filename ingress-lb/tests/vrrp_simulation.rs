//! Deterministic simulation of N VRRP routers on one lossless segment and one virtual clock.
//!
//! Every advert goes through the real codec (encode → IPv4 header → decode) and reaches every
//! other router 1 ms later. After the last scripted change has had time to settle, exactly one
//! router is master, and it is the one with the highest effective priority (ties: highest
//! primary address).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ingress_lb::vrrp::{
    Action, Advertisement, Authentication, Router, RouterConfig, State, VRRP_MULTICAST, Version,
    parse_ipv4,
};
use proptest::prelude::*;

const LATENCY: Duration = Duration::from_millis(1);

#[derive(Debug, Clone)]
struct Node {
    priority: u8,
    start_ms: u64,
    track_weight: i16,
    /// (at_ms, healthy) health changes.
    health: Vec<(u64, bool)>,
    /// Stopped (shutdown) at this time, if ever; restarted 3 s later.
    restart_ms: Option<u64>,
}

struct Sim {
    t0: Instant,
    routers: Vec<Router>,
    /// Deliveries keyed by (time, sequence) so equal times keep send order.
    in_flight: BTreeMap<(Instant, u64), (usize, Vec<u8>)>,
    sequence: u64,
    version: Version,
}

fn address(index: usize) -> Ipv4Addr {
    Ipv4Addr::new(
        10,
        231,
        0,
        u8::try_from(index + 1).expect("fewer than 255 routers"),
    )
}

fn router_config(node: &Node, index: usize, version: Version) -> RouterConfig {
    RouterConfig {
        virtual_router_id: 50,
        version,
        priority: node.priority,
        interval_centis: 100,
        preempt: true,
        preempt_delay: Duration::ZERO,
        track_weight: node.track_weight,
        primary_address: address(index),
        virtual_addresses: vec![Ipv4Addr::new(10, 231, 0, 200)],
        authentication: match version {
            Version::V2 => Authentication::password("1111"),
            Version::V3 => Authentication::None,
        },
    }
}

impl Sim {
    fn new(nodes: &[Node], version: Version) -> Self {
        let routers = nodes
            .iter()
            .enumerate()
            .map(|(i, node)| Router::new(router_config(node, i, version)))
            .collect();
        Self {
            t0: Instant::now(),
            routers,
            in_flight: BTreeMap::new(),
            sequence: 0,
            version,
        }
    }

    /// Drains every router's actions; adverts become datagrams to all other routers.
    fn flush(&mut self, now: Instant) {
        for from in 0..self.routers.len() {
            while let Some(action) = self.routers[from].poll_action() {
                if let Action::SendAdvert { priority } = action {
                    let config = self.routers[from].config();
                    let advert = Advertisement {
                        version: self.version,
                        virtual_router_id: config.virtual_router_id,
                        priority,
                        interval_centis: config.interval_centis,
                        addresses: config.virtual_addresses.clone(),
                        authentication: config.authentication.clone(),
                    };
                    let payload = advert
                        .encode(address(from), VRRP_MULTICAST)
                        .expect("encodable");
                    let datagram = ipv4_datagram(address(from), &payload);
                    self.sequence += 1;
                    self.in_flight
                        .insert((now + LATENCY, self.sequence), (from, datagram));
                }
            }
        }
    }

    fn deliver(&mut self, now: Instant, from: usize, datagram: &[u8]) {
        let (header, payload) = parse_ipv4(datagram).expect("well-formed datagram");
        let advert = Advertisement::decode(payload, header.source, header.destination)
            .expect("valid advert");
        for (to, router) in self.routers.iter_mut().enumerate() {
            if to != from && router.state() != State::Initialize {
                router
                    .handle_advert(now, &header, &advert)
                    .expect("same group");
            }
        }
    }

    /// Advances to `until`, running scripted events (`script`: ms → closure on the sim).
    fn run(
        &mut self,
        until_ms: u64,
        script: &mut BTreeMap<u64, Vec<Event>>,
        on_step: &mut dyn FnMut(&Sim, u64),
    ) {
        let until = self.t0 + Duration::from_millis(until_ms);
        loop {
            let next_timer = self.routers.iter().filter_map(Router::poll_timeout).min();
            let next_packet = self.in_flight.keys().next().map(|(t, _)| *t);
            let next_script = script
                .keys()
                .next()
                .map(|ms| self.t0 + Duration::from_millis(*ms));
            let Some(now) = [next_timer, next_packet, next_script]
                .into_iter()
                .flatten()
                .min()
            else {
                break;
            };
            if now > until {
                break;
            }
            if next_script == Some(now) {
                for event in script
                    .pop_first()
                    .map(|(_, events)| events)
                    .unwrap_or_default()
                {
                    event.apply(&mut self.routers, now);
                }
            }
            for router in &mut self.routers {
                router.handle_timeout(now);
            }
            while let Some(entry) = self.in_flight.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                let (from, datagram) = entry.remove();
                self.deliver(now, from, &datagram);
            }
            self.flush(now);
            on_step(self, ms_since(self.t0, now));
        }
    }

    fn masters(&self) -> Vec<usize> {
        (0..self.routers.len())
            .filter(|i| self.routers[*i].state() == State::Master)
            .collect()
    }

    /// The priority the master must have: the highest effective priority among running,
    /// healthy-enough routers. (Among equals the address decides only between simultaneous
    /// masters; a backup with an equal priority does not preempt, as RFC 5798 §6.4.2 says.)
    fn expected_priority(&self) -> Option<u8> {
        self.routers
            .iter()
            .filter(|r| matches!(r.state(), State::Backup | State::Master))
            .map(Router::effective_priority)
            .max()
    }
}

fn ms_since(t0: Instant, now: Instant) -> u64 {
    u64::try_from(now.duration_since(t0).as_millis()).expect("short simulation")
}

#[derive(Debug, Clone, Copy)]
enum Event {
    Start(usize),
    Health(usize, bool),
    Stop(usize),
}

impl Event {
    fn apply(self, routers: &mut [Router], now: Instant) {
        match self {
            Self::Start(i) => routers[i].startup(now),
            Self::Health(i, healthy) => routers[i].set_health(now, healthy),
            Self::Stop(i) => routers[i].shutdown(now),
        }
    }
}

fn ipv4_datagram(source: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let total = u16::try_from(20 + payload.len()).expect("small");
    let mut datagram = vec![0x45, 0xc0];
    datagram.extend_from_slice(&total.to_be_bytes());
    datagram.extend_from_slice(&[0, 0, 0, 0, 255, 112, 0, 0]);
    datagram.extend_from_slice(&source.octets());
    datagram.extend_from_slice(&VRRP_MULTICAST.octets());
    datagram.extend_from_slice(payload);
    datagram
}

fn script_for(nodes: &[Node]) -> (BTreeMap<u64, Vec<Event>>, u64) {
    let mut script: BTreeMap<u64, Vec<Event>> = BTreeMap::new();
    let mut last = 0;
    for (i, node) in nodes.iter().enumerate() {
        let mut push = |at: u64, event: Event| {
            script.entry(at).or_default().push(event);
            last = last.max(at);
        };
        push(node.start_ms, Event::Start(i));
        for (at, healthy) in &node.health {
            push(node.start_ms + at, Event::Health(i, *healthy));
        }
        if let Some(at) = node.restart_ms {
            push(node.start_ms + at, Event::Stop(i));
            push(node.start_ms + at + 3000, Event::Start(i));
        }
    }
    (script, last)
}

/// Settling bound after the last change: a backup needs at most 3 × 1 s + skew (< 1 s) to time
/// out, then one advert latency; 10 s leaves room for a second round (preemption after a
/// fault recovery).
const SETTLE_MS: u64 = 10_000;
const OBSERVE_MS: u64 = 20_000;

fn check_converges(nodes: &[Node], version: Version) -> Result<(), TestCaseError> {
    let (mut script, last) = script_for(nodes);
    let mut sim = Sim::new(nodes, version);
    let settled = last + SETTLE_MS;
    let mut violation = None;
    sim.run(settled + OBSERVE_MS, &mut script, &mut |sim, at_ms| {
        if at_ms >= settled && violation.is_none() {
            let masters = sim.masters();
            let priorities: Vec<u8> = masters
                .iter()
                .map(|i| sim.routers[*i].effective_priority())
                .collect();
            let expected: Vec<u8> = sim.expected_priority().into_iter().collect();
            if priorities != expected {
                violation = Some(format!(
                    "at {at_ms} ms masters {masters:?} with priorities {priorities:?}, \
                     expected one master with {expected:?}"
                ));
            }
        }
    });
    prop_assert!(violation.is_none(), "{}", violation.unwrap_or_default());
    Ok(())
}

fn node() -> impl Strategy<Value = Node> {
    (
        1u8..=255,
        0u64..5000,
        prop_oneof![Just(0i16), -60i16..0, 1i16..60],
        proptest::collection::vec((0u64..15_000, any::<bool>()), 0..4),
        proptest::option::weighted(0.3, 0u64..15_000),
    )
        .prop_map(
            |(priority, start_ms, track_weight, mut health, restart_ms)| {
                health.sort_unstable();
                Node {
                    priority,
                    start_ms,
                    track_weight,
                    health,
                    restart_ms,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn one_master_with_highest_effective_priority_v3(nodes in proptest::collection::vec(node(), 1..6)) {
        check_converges(&nodes, Version::V3)?;
    }

    #[test]
    fn one_master_with_highest_effective_priority_v2(nodes in proptest::collection::vec(node(), 1..6)) {
        check_converges(&nodes, Version::V2)?;
    }
}

#[test]
fn two_routers_like_the_tutorial_elect_priority_100_fail_over_to_90_and_preempt_back() {
    let nodes = [
        Node {
            priority: 100,
            start_ms: 0,
            track_weight: 0,
            health: vec![(10_000, false), (20_000, true)],
            restart_ms: None,
        },
        Node {
            priority: 90,
            start_ms: 0,
            track_weight: 0,
            health: vec![],
            restart_ms: None,
        },
    ];
    let (mut script, _) = script_for(&nodes);
    let mut sim = Sim::new(&nodes, Version::V2);
    let mut history = Vec::new();
    sim.run(30_000, &mut script, &mut |sim, at| {
        let masters = sim.masters();
        if history.last().map(|(_, m)| m) != Some(&masters) {
            history.push((at, masters));
        }
    });
    // Router 0 (priority 100) wins the first election after its master-down interval
    // (3 s + 156/256 s). At 10 s its health fails (track weight 0 → Fault, priority-0 advert)
    // and router 1 takes over after its skew time (166/256 s) plus the 1 ms latency. At 20 s
    // router 0 is healthy again, ignores the lower-priority adverts, times out 3609 ms later
    // and preempts; router 1 steps down when that advert arrives 1 ms later.
    assert_eq!(
        history,
        vec![
            (0, vec![]),
            (3609, vec![0]),
            (10_000, vec![]),
            (10_649, vec![1]),
            (23_609, vec![0, 1]),
            (23_610, vec![0]),
        ],
        "master history"
    );
}
