//! Benchmark fixtures shared by the criterion benches and the side-by-side harnesses.
//!
//! [`cluster`] builds a synthetic desired state of a given size: `hosts` Ingresses, each
//! with one host (every fourth a single-label wildcard) and five paths (mixed `Exact` and
//! `Prefix`), each routed to its own Service with two ready endpoints.

use ingress_core::{
    ClassSelection, ClusterState, Endpoint, EndpointPort, EndpointSlice, Ingress, ObjectMeta,
    PathType, Service, ServiceBackend, ServicePort, ServiceType,
};

/// The five paths every host gets: `(pathType, path)`.
pub const PATHS: [(PathType, &str); 5] = [
    (PathType::Prefix, "/"),
    (PathType::Prefix, "/api"),
    (PathType::Exact, "/api/v1/status"),
    (PathType::Prefix, "/static/"),
    (PathType::Exact, "/login"),
];

/// The host of Ingress `i`: every fourth is a wildcard.
pub fn host(i: usize) -> String {
    if i % 4 == 3 {
        format!("*.tenant-{i}.example.com")
    } else {
        format!("app-{i}.tenant-{i}.example.com")
    }
}

/// A request host that matches Ingress `i` (a concrete name under a wildcard).
pub fn request_host(i: usize) -> String {
    if i % 4 == 3 {
        format!("www.tenant-{i}.example.com")
    } else {
        format!("app-{i}.tenant-{i}.example.com")
    }
}

/// Request paths that exercise every kind of match, including a miss (host default).
pub const REQUEST_PATHS: [&str; 6] = [
    "/",
    "/api/v1/users/42",
    "/api/v1/status",
    "/static/css/site.css",
    "/login",
    "/loginx",
];

/// A whole desired state with `hosts` Ingresses, their Services and EndpointSlices.
pub fn cluster(hosts: usize) -> ClusterState {
    let mut state = ClusterState::default();
    for i in 0..hosts {
        let mut ingress = Ingress::new("bench", &format!("ing-{i}"), Some(i as i64))
            .with_class(ClassSelection::DEFAULT_CLASS);
        for (t, p) in PATHS {
            ingress = ingress.with_path(
                Some(&host(i)),
                t,
                p,
                ServiceBackend::number(&format!("svc-{i}"), 80),
            );
        }
        state.ingresses.insert(ingress.meta.key(), ingress);
        let service = Service {
            meta: ObjectMeta::new("bench", &format!("svc-{i}"), Some(0)),
            service_type: ServiceType::ClusterIp,
            cluster_ip: None,
            ports: vec![ServicePort {
                name: Some("http".into()),
                port: 80,
                app_protocol: None,
            }],
        };
        state.services.insert(service.meta.key(), service);
        let slice = endpoint_slice(i, 2, 0);
        state.endpoint_slices.insert(slice.meta.key(), slice);
    }
    state
}

/// The EndpointSlice of Service `svc-{i}` with `count` (< 4096) ready endpoints; `salt` varies
/// the addresses.
pub fn endpoint_slice(i: usize, count: usize, salt: usize) -> EndpointSlice {
    EndpointSlice {
        meta: ObjectMeta::new("bench", &format!("svc-{i}-abcde"), Some(0)),
        service_name: format!("svc-{i}"),
        ports: vec![EndpointPort {
            name: Some("http".into()),
            port: Some(8080),
        }],
        endpoints: (0..count)
            .map(|n| Endpoint {
                // A window of 4096 addresses per Service that `salt` slides: any salt change
                // changes the set as long as `count` < 4096.
                addresses: vec![
                    std::net::Ipv4Addr::from(
                        (10u32 << 24) | ((i as u32 & 0xfff) << 12) | ((n + salt) as u32 & 0xfff),
                    )
                    .to_string(),
                ],
                ready: Some(true),
            })
            .collect(),
    }
}

/// `count` requests spread pseudo-randomly over the hosts (a fixed LCG, so runs compare).
pub fn requests(hosts: usize, count: usize) -> Vec<(String, &'static str)> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..count)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let host = (x >> 33) as usize % hosts;
            let path = REQUEST_PATHS[(x >> 20) as usize % REQUEST_PATHS.len()];
            (request_host(host), path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ingress_core::{Change, TableConfig, table};

    #[test]
    fn endpoint_fixture_changes_take_the_endpoint_path() {
        let (mut writer, _reader) = table(TableConfig::default());
        writer.replace(cluster(100));
        writer.commit();
        for (salt, count) in [(1, 10), (2, 10), (3, 1000), (4, 1000)] {
            writer.apply(Change::UpsertEndpointSlice(endpoint_slice(50, count, salt)));
            let commit = writer.commit();
            assert!(!commit.rebuilt, "salt {salt}");
            assert_eq!(commit.endpoint_updates, 1, "salt {salt} count {count}");
        }
    }
}
