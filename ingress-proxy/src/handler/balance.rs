//! Endpoint choice and passive health, with `ingress_core::balance`.
//!
//! One [`Balancer`] (`max_fails=1`, `fail_timeout` from
//! [`ProxyConfig::passive_health_ejection`](crate::ProxyConfig::passive_health_ejection)) per
//! backend and [`Strategy`] (the routes' `load-balance`, `upstream-hash-by` and `affinity`),
//! rebuilt when the backend's endpoint set changes. A request's [`Pick`] carries the
//! balancer's [`Attempt`], so the retry after a connect failure goes to another endpoint, and
//! feeds failures and successes back into passive health.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use ingress_core::balance::{Algorithm, Attempt, Balancer, PeerId, PeerOptions, PickContext};
use ingress_core::{Backend, Endpoints};

/// The balancers of every backend in use.
#[derive(Debug)]
pub(crate) struct EndpointPicker {
    /// Keyed by the backend's address; the entry holds the `Arc<Backend>`, so the address
    /// cannot be reused by another backend while the entry exists.
    groups: RwLock<Groups>,
    options: PeerOptions,
}

/// The balancers, by backend address and strategy.
type Groups = HashMap<(usize, Strategy), Arc<Mutex<Group>>, foldhash::fast::RandomState>;

#[derive(Debug)]
struct Group {
    backend: Arc<Backend>,
    /// The endpoint set the balancer was built from (compared by pointer).
    endpoints: Arc<Endpoints>,
    /// `None` only if the balancer rejected its peers (it cannot: every weight is 1).
    balancer: Option<Balancer<SocketAddr>>,
}

/// How a route chooses among a backend's endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Strategy {
    /// nginx's smooth weighted round robin (the default).
    RoundRobin,
    /// The less busy of two random endpoints (`load-balance: ewma`).
    TwoChoices,
    /// A consistent-hash ring over a per-request key (`upstream-hash-by`, cookie affinity).
    Hash,
}

impl Strategy {
    fn algorithm(self) -> Algorithm {
        match self {
            Strategy::RoundRobin => Algorithm::RoundRobin,
            Strategy::TwoChoices => Algorithm::PowerOfTwoChoices,
            Strategy::Hash => Algorithm::ConsistentHash,
        }
    }
}

/// One endpoint's passive health, for the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EndpointHealth {
    pub(crate) address: SocketAddr,
    /// Not ejected by passive health.
    pub(crate) eligible: bool,
    /// Failures counted in the current `fail_timeout` window.
    pub(crate) failures: u32,
    /// Requests in flight to it.
    pub(crate) in_flight: u32,
    /// While ejected: how long until it may be tried again.
    pub(crate) ejected_for: Option<std::time::Duration>,
}

/// One request's use of a backend's balancer.
#[derive(Debug)]
pub(crate) struct Pick {
    group: Arc<Mutex<Group>>,
    attempt: Option<Attempt>,
    last: Option<PeerId>,
    /// The request's place on a [`Strategy::Hash`] ring.
    hash_key: Vec<u8>,
}

impl EndpointPicker {
    pub(crate) fn new(fail_timeout: Duration) -> Self {
        EndpointPicker {
            groups: RwLock::new(HashMap::default()),
            options: PeerOptions {
                fail_timeout,
                ..PeerOptions::default()
            },
        }
    }

    /// Starts picking for one request among `addresses`, the ready endpoints of `backend` as
    /// loaded in `endpoints`.
    pub(crate) fn start(
        &self,
        backend: &Arc<Backend>,
        endpoints: &Arc<Endpoints>,
        addresses: &[SocketAddr],
        strategy: Strategy,
        hash_key: Vec<u8>,
    ) -> Pick {
        let key = (Arc::as_ptr(backend) as usize, strategy);
        let found = self
            .groups
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        let group = match found {
            Some(group) => {
                let mut locked = group.lock().unwrap_or_else(PoisonError::into_inner);
                if !Arc::ptr_eq(&locked.endpoints, endpoints) {
                    locked.endpoints = endpoints.clone();
                    locked.balancer = self.balancer(addresses, strategy);
                }
                drop(locked);
                group
            }
            None => {
                let group = Arc::new(Mutex::new(Group {
                    backend: backend.clone(),
                    endpoints: endpoints.clone(),
                    balancer: self.balancer(addresses, strategy),
                }));
                let mut groups = self.groups.write().unwrap_or_else(PoisonError::into_inner);
                // Backends only change with their Service: drop the ones no snapshot uses.
                groups.retain(|_, group| {
                    let group = group.lock().unwrap_or_else(PoisonError::into_inner);
                    Arc::strong_count(&group.backend) > 1
                });
                groups.entry(key).or_insert(group).clone()
            }
        };
        let attempt = group
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .balancer
            .as_ref()
            .map(Balancer::attempt);
        Pick {
            group,
            attempt,
            last: None,
            hash_key,
        }
    }

    /// Passive health of `backend`'s endpoints as its balancer sees them at `now`; `None` when
    /// no request used the backend yet (every ready endpoint is then eligible).
    pub(crate) fn health(
        &self,
        backend: &Arc<Backend>,
        now: Instant,
    ) -> Option<Vec<EndpointHealth>> {
        let key = Arc::as_ptr(backend) as usize;
        // Passive health is per balancer: the round-robin one, else any one in use.
        let group = {
            let groups = self.groups.read().unwrap_or_else(PoisonError::into_inner);
            groups
                .get(&(key, Strategy::RoundRobin))
                .or_else(|| {
                    groups
                        .iter()
                        .find(|((k, _), _)| *k == key)
                        .map(|(_, group)| group)
                })
                .cloned()?
        };
        let group = group.lock().unwrap_or_else(PoisonError::into_inner);
        let balancer = group.balancer.as_ref()?;
        Some(
            balancer
                .peers()
                .map(|(id, address)| EndpointHealth {
                    address: *address,
                    eligible: balancer.is_available(id, now),
                    failures: balancer.fails(id),
                    in_flight: balancer.outstanding(id),
                    ejected_for: balancer.ejected_for(id, now),
                })
                .collect(),
        )
    }

    fn balancer(
        &self,
        addresses: &[SocketAddr],
        strategy: Strategy,
    ) -> Option<Balancer<SocketAddr>> {
        let peers = addresses
            .iter()
            .map(|address| (*address, self.options.clone()));
        Balancer::new(strategy.algorithm(), peers)
            .map_err(|error| tracing::error!(?error, "building the endpoint balancer failed"))
            .ok()
    }
}

impl Pick {
    /// The next endpoint not yet tried by this request; `None` when none is available.
    /// `preferred` is an endpoint to keep while it can serve (persistent affinity).
    pub(crate) fn next(
        &mut self,
        now: Instant,
        preferred: Option<SocketAddr>,
    ) -> Option<SocketAddr> {
        let mut group = self.group.lock().unwrap_or_else(PoisonError::into_inner);
        let balancer = group.balancer.as_mut()?;
        let context = PickContext::at(now)
            .with_hash_key(&self.hash_key)
            .with_random(rand::random());
        let attempt = self.attempt.as_mut()?;
        let preferred =
            preferred.and_then(|address| balancer.peers().find(|(_, a)| **a == address));
        let id = match preferred {
            Some((id, _)) => balancer.pick_preferred(attempt, id, &context)?,
            None => balancer.pick(attempt, &context)?,
        };
        self.last = Some(id);
        Some(*balancer.peer(id))
    }

    /// The last picked endpoint could not be connected to.
    pub(crate) fn failed(&self, now: Instant) {
        if let Some(id) = self.last {
            let mut group = self.group.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(balancer) = group.balancer.as_mut() {
                balancer.report_failure(id, now);
            }
        }
    }

    /// The last picked endpoint answered.
    pub(crate) fn succeeded(&self) {
        if let Some(id) = self.last {
            let mut group = self.group.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(balancer) = group.balancer.as_mut() {
                balancer.report_success(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ingress_core::{
        Change, ClassSelection, Endpoint, EndpointPort, EndpointSlice, Ingress, IngressBackend,
        IngressRule, IngressSpec, ObjectMeta, Service, ServiceBackend, ServiceBackendPort,
        ServicePort, TableConfig,
    };

    /// A fresh round-robin pick's first endpoint.
    fn round_robin_pick(
        picker: &EndpointPicker,
        backend: &Arc<Backend>,
        endpoints: &Arc<Endpoints>,
        list: &[SocketAddr],
        now: Instant,
    ) -> Option<SocketAddr> {
        picker
            .start(backend, endpoints, list, Strategy::RoundRobin, Vec::new())
            .next(now, None)
    }

    /// A published table whose one backend (`web:80`) has `endpoints`.
    fn backend(endpoints: &[SocketAddr]) -> (ingress_core::TableWriter, Arc<Backend>) {
        let (mut writer, reader) = ingress_core::table(TableConfig {
            classes: ClassSelection {
                controller_name: "test".into(),
                class_names: Vec::new(),
                watch_without_class: true,
            },
            default_backend: None,
            default_certificate: None,
            ssl_passthrough: false,
        });
        writer.apply(Change::UpsertService(Service {
            meta: ObjectMeta::new("default", "web", Some(1)),
            service_type: Default::default(),
            cluster_ip: None,
            ports: vec![ServicePort {
                name: None,
                port: 80,
                app_protocol: None,
            }],
        }));
        set_endpoints(&mut writer, endpoints);
        writer.apply(Change::UpsertIngress(Ingress {
            meta: ObjectMeta::new("default", "a", Some(1)),
            spec: IngressSpec {
                ingress_class_name: None,
                default_backend: Some(IngressBackend {
                    service: Some(ServiceBackend {
                        name: "web".into(),
                        port: ServiceBackendPort {
                            name: None,
                            number: Some(80),
                        },
                    }),
                    resource: None,
                }),
                rules: Vec::<IngressRule>::new(),
                tls: Vec::new(),
            },
        }));
        writer.commit();
        let table = reader.load_full();
        let backend = table.backends().next().cloned().expect("one backend");
        (writer, backend)
    }

    fn set_endpoints(writer: &mut ingress_core::TableWriter, endpoints: &[SocketAddr]) {
        writer.apply(Change::UpsertEndpointSlice(EndpointSlice {
            meta: ObjectMeta::new("default", "web-1", Some(1)),
            service_name: "web".into(),
            ports: vec![EndpointPort {
                name: None,
                port: Some(8000),
            }],
            endpoints: endpoints
                .iter()
                .map(|a| Endpoint {
                    addresses: vec![a.ip().to_string()],
                    ready: Some(true),
                })
                .collect(),
        }));
    }

    fn ready(backend: &Backend) -> (Arc<Endpoints>, Vec<SocketAddr>) {
        let endpoints = backend.endpoints();
        let list = match &*endpoints {
            Endpoints::Ready(list) => list.to_vec(),
            other => panic!("not ready: {other:?}"),
        };
        (endpoints, list)
    }

    #[test]
    fn requests_rotate_over_every_endpoint() {
        let all: Vec<SocketAddr> = ["127.0.0.1:8000", "127.0.0.2:8000", "127.0.0.3:8000"]
            .iter()
            .map(|a| a.parse().expect("address"))
            .collect();
        let (_writer, backend) = backend(&all);
        let picker = EndpointPicker::new(Duration::from_secs(10));
        let (endpoints, list) = ready(&backend);
        let now = Instant::now();
        let mut seen: Vec<_> = (0..3)
            .filter_map(|_| round_robin_pick(&picker, &backend, &endpoints, &list, now))
            .collect();
        seen.sort();
        assert_eq!(seen, all);
    }

    #[test]
    fn a_retry_never_repeats_the_failed_endpoint_and_the_failure_ejects_it() {
        let all: Vec<SocketAddr> = ["127.0.0.1:8000", "127.0.0.2:8000"]
            .iter()
            .map(|a| a.parse().expect("address"))
            .collect();
        let (_writer, backend) = backend(&all);
        let picker = EndpointPicker::new(Duration::from_secs(10));
        let (endpoints, list) = ready(&backend);
        let now = Instant::now();
        let mut pick = picker.start(
            &backend,
            &endpoints,
            &list,
            Strategy::RoundRobin,
            Vec::new(),
        );
        let first = pick.next(now, None).expect("first");
        pick.failed(now);
        let second = pick.next(now, None).expect("second");
        assert_ne!(first, second);
        assert_eq!(pick.next(now, None), None, "both tried");
        for _ in 0..4 {
            let next = round_robin_pick(&picker, &backend, &endpoints, &list, now);
            assert_eq!(next, Some(second), "the failed endpoint is ejected");
        }
        // After fail_timeout the endpoint is probed again (its weight recovers gradually, as
        // in nginx, so not necessarily on the very next pick).
        let later = now + Duration::from_secs(11);
        let seen: Vec<_> = (0..6)
            .filter_map(|_| round_robin_pick(&picker, &backend, &endpoints, &list, later))
            .collect();
        assert!(
            seen.contains(&first),
            "probed again after the ejection: {seen:?}"
        );
    }

    #[test]
    fn an_endpoint_change_rebuilds_the_balancer() {
        let one: SocketAddr = "127.0.0.1:8000".parse().expect("address");
        let two: SocketAddr = "127.0.0.2:8000".parse().expect("address");
        let (mut writer, backend) = backend(&[one]);
        let picker = EndpointPicker::new(Duration::from_secs(10));
        let now = Instant::now();
        let (endpoints, list) = ready(&backend);
        assert_eq!(
            round_robin_pick(&picker, &backend, &endpoints, &list, now),
            Some(one)
        );
        set_endpoints(&mut writer, &[two]);
        writer.commit();
        let (endpoints, list) = ready(&backend);
        assert_eq!(list, vec![two], "endpoints updated in place");
        assert_eq!(
            round_robin_pick(&picker, &backend, &endpoints, &list, now),
            Some(two)
        );
    }
}
