//! Endpoint choice and passive health, with `ingress_core::balance`.
//!
//! One [`Balancer`] (nginx's smooth weighted round-robin, `max_fails=1`, `fail_timeout` from
//! [`ProxyConfig::passive_health_ejection`](crate::ProxyConfig::passive_health_ejection)) per
//! backend, rebuilt when the backend's endpoint set changes. A request's [`Pick`] carries the
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
    groups: RwLock<HashMap<usize, Arc<Mutex<Group>>, foldhash::fast::RandomState>>,
    options: PeerOptions,
}

#[derive(Debug)]
struct Group {
    backend: Arc<Backend>,
    /// The endpoint set the balancer was built from (compared by pointer).
    endpoints: Arc<Endpoints>,
    /// `None` only if the balancer rejected its peers (it cannot: every weight is 1).
    balancer: Option<Balancer<SocketAddr>>,
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
}

/// One request's use of a backend's balancer.
#[derive(Debug)]
pub(crate) struct Pick {
    group: Arc<Mutex<Group>>,
    attempt: Option<Attempt>,
    last: Option<PeerId>,
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
    ) -> Pick {
        let key = Arc::as_ptr(backend) as usize;
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
                    locked.balancer = self.balancer(addresses);
                }
                drop(locked);
                group
            }
            None => {
                let group = Arc::new(Mutex::new(Group {
                    backend: backend.clone(),
                    endpoints: endpoints.clone(),
                    balancer: self.balancer(addresses),
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
        let group = self
            .groups
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned()?;
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
                })
                .collect(),
        )
    }

    fn balancer(&self, addresses: &[SocketAddr]) -> Option<Balancer<SocketAddr>> {
        let peers = addresses
            .iter()
            .map(|address| (*address, self.options.clone()));
        Balancer::new(Algorithm::RoundRobin, peers)
            .map_err(|error| tracing::error!(?error, "building the endpoint balancer failed"))
            .ok()
    }
}

impl Pick {
    /// The next endpoint not yet tried by this request; `None` when none is available.
    pub(crate) fn next(&mut self, now: Instant) -> Option<SocketAddr> {
        let mut group = self.group.lock().unwrap_or_else(PoisonError::into_inner);
        let balancer = group.balancer.as_mut()?;
        let id = balancer.pick(self.attempt.as_mut()?, &PickContext::at(now))?;
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
        });
        writer.apply(Change::UpsertService(Service {
            meta: ObjectMeta::new("default", "web", Some(1)),
            service_type: Default::default(),
            ports: vec![ServicePort {
                name: None,
                port: 80,
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
            .filter_map(|_| picker.start(&backend, &endpoints, &list).next(now))
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
        let mut pick = picker.start(&backend, &endpoints, &list);
        let first = pick.next(now).expect("first");
        pick.failed(now);
        let second = pick.next(now).expect("second");
        assert_ne!(first, second);
        assert_eq!(pick.next(now), None, "both tried");
        for _ in 0..4 {
            let next = picker.start(&backend, &endpoints, &list).next(now);
            assert_eq!(next, Some(second), "the failed endpoint is ejected");
        }
        // After fail_timeout the endpoint is probed again (its weight recovers gradually, as
        // in nginx, so not necessarily on the very next pick).
        let later = now + Duration::from_secs(11);
        let seen: Vec<_> = (0..6)
            .filter_map(|_| picker.start(&backend, &endpoints, &list).next(later))
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
            picker.start(&backend, &endpoints, &list).next(now),
            Some(one)
        );
        set_endpoints(&mut writer, &[two]);
        writer.commit();
        let (endpoints, list) = ready(&backend);
        assert_eq!(list, vec![two], "endpoints updated in place");
        assert_eq!(
            picker.start(&backend, &endpoints, &list).next(now),
            Some(two)
        );
    }
}
