//! # ingress-core
//!
//! A sans-IO Kubernetes Ingress routing engine: it turns `networking.k8s.io/v1` Ingresses,
//! IngressClasses, Services, EndpointSlices and TLS Secrets into one immutable route table and
//! answers "where does this request go?" in about a hundred nanoseconds, without locks. It has
//! no sockets, no async runtime, no threads and no clock, so any proxy can embed it: the
//! bundled `ingress-proxy` (hyper + rustls) and `ingress-lb` (L4) are two such embedders.
//!
//! ```
//! use ingress_core::{Change, ClassSelection, Ingress, PathType, ServiceBackend, TableConfig, Target, table};
//!
//! let (mut writer, reader) = table(TableConfig::default());
//! writer.apply(Change::UpsertIngress(
//!     Ingress::new("default", "ingress-myapp", Some(1))
//!         .with_class(ClassSelection::DEFAULT_CLASS)
//!         .with_path(Some("tomcat.lucky.com"), PathType::Prefix, "/", ServiceBackend::number("tomcat", 8080)),
//! ));
//! writer.commit(); // one atomic publish; readiness opens
//!
//! let snapshot = reader.load(); // lock-free
//! let route = snapshot.route(Some("Tomcat.Lucky.com:80"), "/index.jsp?x=1");
//! let Target::Service(backend) = route.target else { panic!() };
//! assert_eq!(backend.service().to_string(), "default/tomcat:8080");
//! assert_eq!(&*route.rule.unwrap().ingress.name, "ingress-myapp");
//! ```
//!
//! # Routing rules (the specification)
//!
//! These are the project's `SEMANTICS.md`, each followed by a doctest that pins it.
//!
//! ## 1. What is matched
//!
//! **Host**: lower-cased, a `:port` suffix and a trailing dot removed (the caller passes the
//! absolute-form target's authority when there is one, else `Host` / `:authority`). A request
//! without a name (an IP address, or no Host) matches no host rule. **Path**: the query string
//! never takes part; matching uses a normalised copy with dot-segments removed, repeated `/`
//! merged and percent-encoded unreserved characters decoded, while `%2F` stays encoded and so
//! never makes a segment boundary. Paths are case-sensitive. See [`normalize`].
//!
//! ```
//! # use ingress_core::*;
//! # fn table_of(ingresses: Vec<Ingress>) -> RouteTable {
//! #     let mut state = ClusterState::default();
//! #     for i in ingresses { state.ingresses.insert(i.meta.key(), i); }
//! #     RouteTable::build(&state, &TableConfig::default())
//! # }
//! # fn ing(name: &str, age: i64) -> Ingress { Ingress::new("default", name, Some(age)).with_class(ClassSelection::DEFAULT_CLASS) }
//! # fn svc(name: &str) -> ServiceBackend { ServiceBackend::number(name, 80) }
//! let t = table_of(vec![ing("a", 1).with_path(Some("foo.com"), PathType::Prefix, "/api", svc("api"))]);
//! let matched = |host, path| t.route(host, path).rule.is_some();
//! assert!(matched(Some("FOO.com.:8080"), "/api?page=2"));
//! assert!(matched(Some("foo.com"), "//x/../api/%76%31")); // -> /api/v1
//! assert!(!matched(Some("foo.com"), "/API"));              // case-sensitive
//! assert!(!matched(Some("foo.com"), "/api%2Fv1"));         // %2F is not a '/'
//! assert!(!matched(Some("10.0.0.1"), "/api"));             // an IP is not a name
//! ```
//!
//! ## 2. Choosing the host, then the path
//!
//! 1. Exactly one host entry is picked: an exact host rule beats a wildcard rule; a wildcard
//!    `*.bar.com` matches exactly one extra label; if neither matches, the host-less rules
//!    apply.
//! 2. Paths are matched only among the rules of that entry, merged across every Ingress that
//!    names it. A host that matched but has no matching path does **not** fall through.
//!
//! ```
//! # use ingress_core::*;
//! # fn table_of(ingresses: Vec<Ingress>) -> RouteTable {
//! #     let mut state = ClusterState::default();
//! #     for i in ingresses { state.ingresses.insert(i.meta.key(), i); }
//! #     RouteTable::build(&state, &TableConfig::default())
//! # }
//! # fn ing(name: &str, age: i64) -> Ingress { Ingress::new("default", name, Some(age)).with_class(ClassSelection::DEFAULT_CLASS) }
//! # fn svc(name: &str) -> ServiceBackend { ServiceBackend::number(name, 80) }
//! # fn service(t: &RouteTable, host: Option<&str>, path: &str) -> Option<String> {
//! #     match t.route(host, path).target { Target::Service(b) => Some(b.service().name.to_string()), _ => None }
//! # }
//! let t = table_of(vec![
//!     ing("a", 1).with_path(Some("*.bar.com"), PathType::Prefix, "/", svc("wildcard")),
//!     ing("b", 2).with_path(Some("x.bar.com"), PathType::Prefix, "/only", svc("exact")),
//!     ing("c", 3).with_path(None, PathType::Prefix, "/", svc("hostless")),
//! ]);
//! assert_eq!(service(&t, Some("y.bar.com"), "/").as_deref(), Some("wildcard"));
//! assert_eq!(service(&t, Some("y.x.bar.com"), "/").as_deref(), Some("hostless")); // one label only
//! assert_eq!(service(&t, Some("bar.com"), "/").as_deref(), Some("hostless"));
//! assert_eq!(service(&t, Some("x.bar.com"), "/only/x").as_deref(), Some("exact"));
//! assert_eq!(service(&t, Some("x.bar.com"), "/"), None); // no fall-through: default backend
//! ```
//!
//! 3. Path types: `Exact` compares the whole normalised path. `Prefix` compares `/`-separated
//!    elements; a trailing `/` on the rule is ignored, so `/foo` and `/foo/` both match `/foo`,
//!    `/foo/` and `/foo/bar`, and neither matches `/foobar`; `/` matches every path. A path
//!    entry with no `path` (allowed for `ImplementationSpecific`) matches every path.
//!    `ImplementationSpecific` is treated as `Prefix`, unless the host is in regex mode: an
//!    Ingress with rules for it sets `use-regex` or `rewrite-target`. Then every
//!    `ImplementationSpecific` path of that host, whichever Ingress it belongs to, is a
//!    case-insensitive regular expression matched at the start of the path (ingress-nginx's
//!    `~* "^PATH"`, see [`annotations::PathRegex`]); `Exact` and `Prefix` paths never change
//!    meaning.
//! 4. Precedence: the longest path wins, measured with a Prefix rule's trailing `/` dropped
//!    (a regular expression by its pattern's length); at equal length `Exact` beats `Prefix`,
//!    which beats a regular expression; then the longer raw path (`/foo/` beats `/foo`);
//!    then the older Ingress.
//!
//! The Kubernetes documentation's table, row by row:
//!
//! ```
//! # use ingress_core::*;
//! use PathType::{Exact, Prefix};
//! # fn winner(rules: &[(PathType, &str)], request: &str) -> Option<String> {
//! #     let mut i = Ingress::new("default", "t", Some(1)).with_class(ClassSelection::DEFAULT_CLASS);
//! #     for (t, p) in rules { i = i.with_path(Some("foo.com"), *t, p, ServiceBackend::number("s", 80)); }
//! #     let mut state = ClusterState::default();
//! #     state.ingresses.insert(i.meta.key(), i);
//! #     let t = RouteTable::build(&state, &TableConfig::default());
//! #     t.route(Some("foo.com"), request).rule.map(|r| format!("{} {}", r.path_type, r.path))
//! # }
//! let w = |rules: &[(PathType, &str)], request| winner(rules, request);
//! assert_eq!(w(&[(Prefix, "/")], "/any/path").as_deref(), Some("Prefix /"));
//! assert_eq!(w(&[(Exact, "/foo")], "/foo").as_deref(), Some("Exact /foo"));
//! assert_eq!(w(&[(Exact, "/foo")], "/bar"), None);
//! assert_eq!(w(&[(Exact, "/foo")], "/foo/"), None);
//! assert_eq!(w(&[(Exact, "/foo/")], "/foo"), None);
//! assert_eq!(w(&[(Prefix, "/foo")], "/foo/").as_deref(), Some("Prefix /foo"));
//! assert_eq!(w(&[(Prefix, "/foo/")], "/foo").as_deref(), Some("Prefix /foo/"));
//! assert_eq!(w(&[(Prefix, "/aaa/bb")], "/aaa/bbb"), None);
//! assert_eq!(w(&[(Prefix, "/aaa/bbb")], "/aaa/bbb/ccc").as_deref(), Some("Prefix /aaa/bbb"));
//! assert_eq!(w(&[(Prefix, "/aaa/bbb/")], "/aaa/bbb").as_deref(), Some("Prefix /aaa/bbb/"));
//! assert_eq!(w(&[(Prefix, "/aaa/bbb")], "/aaa/bbbxyz"), None);
//! assert_eq!(w(&[(Prefix, "/"), (Prefix, "/aaa")], "/aaa/ccc").as_deref(), Some("Prefix /aaa"));
//! let three = [(Prefix, "/"), (Prefix, "/aaa"), (Prefix, "/aaa/bbb")];
//! assert_eq!(w(&three, "/aaa/bbb").as_deref(), Some("Prefix /aaa/bbb"));
//! assert_eq!(w(&three, "/ccc").as_deref(), Some("Prefix /"));
//! assert_eq!(w(&[(Prefix, "/aaa")], "/ccc"), None);
//! assert_eq!(w(&[(Prefix, "/foo"), (Exact, "/foo")], "/foo").as_deref(), Some("Exact /foo"));
//! assert_eq!(w(&[(Prefix, "/foo"), (Prefix, "/foo/")], "/foo").as_deref(), Some("Prefix /foo/"));
//! assert_eq!(w(&[(PathType::ImplementationSpecific, "/foo")], "/foo/bar").as_deref(), Some("ImplementationSpecific /foo"));
//! ```
//!
//! Regex mode, from ingress-nginx's path-matching documentation:
//!
//! ```
//! # use ingress_core::*;
//! let mut i = Ingress::new("default", "t", Some(1))
//!     .with_class(ClassSelection::DEFAULT_CLASS)
//!     .with_path(Some("test.com"), PathType::ImplementationSpecific, "/foo/bar/[A-Z0-9]{3}", ServiceBackend::number("regex", 80))
//!     .with_path(Some("test.com"), PathType::Prefix, "/foo/bar/bar", ServiceBackend::number("prefix", 80));
//! i.meta.annotations.insert("nginx.ingress.kubernetes.io/use-regex".into(), "true".into());
//! let mut state = ClusterState::default();
//! state.ingresses.insert(i.meta.key(), i);
//! let t = RouteTable::build(&state, &TableConfig::default());
//! let path = |request| t.route(Some("test.com"), request).rule.map(|r| r.path.to_string());
//! // The longer pattern wins even over the Prefix path that matches exactly (as ingress-nginx
//! // warns), and case does not matter.
//! assert_eq!(path("/foo/bar/bar").as_deref(), Some("/foo/bar/[A-Z0-9]{3}"));
//! assert_eq!(path("/FOO/BAR/x1y").as_deref(), Some("/foo/bar/[A-Z0-9]{3}"));
//! // The Prefix path stays a case-sensitive element-wise prefix.
//! assert_eq!(path("/foo/bar/bar/").as_deref(), Some("/foo/bar/[A-Z0-9]{3}"));
//! assert_eq!(path("/foo/bar/ba"), None);
//! ```
//!
//! ## 3. When nothing matches
//!
//! A known host with no matching path gets the `spec.defaultBackend` of the oldest Ingress
//! that has rules for that host and sets one, otherwise the global default. No host and no
//! host-less rule: the global default. The global default is the `spec.defaultBackend` of the
//! oldest Ingress of our class that sets one, otherwise the controller's own
//! ([`TableConfig::default_backend`]; built in: [`Target::NotFound`], a `404`). A backend
//! whose Service, port or ready endpoints are missing is [`Endpoints::Unavailable`] (`503`);
//! so is a `resource` backend the embedder does not resolve.
//!
//! ```
//! # use ingress_core::*;
//! # fn table_of(ingresses: Vec<Ingress>) -> RouteTable {
//! #     let mut state = ClusterState::default();
//! #     for i in ingresses { state.ingresses.insert(i.meta.key(), i); }
//! #     RouteTable::build(&state, &TableConfig::default())
//! # }
//! # fn ing(name: &str, age: i64) -> Ingress { Ingress::new("default", name, Some(age)).with_class(ClassSelection::DEFAULT_CLASS) }
//! # fn svc(name: &str) -> ServiceBackend { ServiceBackend::number(name, 80) }
//! let t = table_of(vec![
//!     ing("catch-all", 1).with_default_backend(svc("global")),
//!     ing("shop", 2)
//!         .with_path(Some("shop.com"), PathType::Exact, "/cart", svc("cart"))
//!         .with_default_backend(svc("shop-default")),
//! ]);
//! assert_eq!(t.route(Some("shop.com"), "/other").source, MatchSource::HostDefaultBackend);
//! assert_eq!(t.route(Some("nobody.com"), "/").source, MatchSource::GlobalDefaultBackend);
//! let Target::Service(cart) = t.route(Some("shop.com"), "/cart").target else { panic!() };
//! // The Service does not exist in this state: a request here gets 503.
//! assert_eq!(*cart.endpoints(), Endpoints::Unavailable(Unavailable::ServiceMissing));
//! assert!(matches!(table_of(vec![]).route(Some("x.com"), "/").target, Target::NotFound));
//! ```
//!
//! ## 4. Many Ingresses, conflicts, classes
//!
//! Rules for one host merge across Ingresses. Two entries with the same host, path and
//! pathType: the older `creationTimestamp` wins, ties go to the smaller `namespace/name`, and
//! the loser is reported in [`RouteTable::diagnostics`], never dropped silently. An invalid
//! Ingress is rejected on its own with a diagnostic naming object and field (see
//! [`validate`]); everything else keeps serving. An Ingress is ours when its class
//! (`spec.ingressClassName`, else the legacy `kubernetes.io/ingress.class` annotation) is one
//! of ours, or when it has none and our IngressClass is the cluster default (see
//! [`ClassSelection::is_ours`]).
//!
//! ```
//! # use ingress_core::*;
//! # fn table_of(ingresses: Vec<Ingress>) -> RouteTable {
//! #     let mut state = ClusterState::default();
//! #     for i in ingresses { state.ingresses.insert(i.meta.key(), i); }
//! #     RouteTable::build(&state, &TableConfig::default())
//! # }
//! # fn ing(name: &str, age: i64) -> Ingress { Ingress::new("default", name, Some(age)).with_class(ClassSelection::DEFAULT_CLASS) }
//! # fn svc(name: &str) -> ServiceBackend { ServiceBackend::number(name, 80) }
//! let t = table_of(vec![
//!     ing("new", 20).with_path(Some("a.com"), PathType::Prefix, "/", svc("new")),
//!     ing("old", 10).with_path(Some("a.com"), PathType::Prefix, "/", svc("old")),
//!     ing("broken", 5).with_path(Some("b.com"), PathType::Exact, "/x/../y", svc("b")),
//! ]);
//! assert_eq!(&*t.route(Some("a.com"), "/").rule.unwrap().ingress.name, "old");
//! let messages: Vec<String> = t.diagnostics().iter().map(|d| format!("{}: {d}", d.reason())).collect();
//! assert_eq!(messages, [
//!     "Rejected: Ingress default/broken: spec.rules[0].http.paths[0].path: \"/x/../y\" must not contain \"/../\"",
//!     "RuleConflict: Ingress default/new: rule host a.com path / (Prefix) is ignored: Ingress default/old is older and routes it",
//! ]);
//! assert_eq!(t.accepted_ingresses().len(), 2);
//! ```
//!
//! ## 5. Backends
//!
//! `service.port.number` or `.name` selects the ServicePort; its endpoints come from the
//! EndpointSlices labelled with the Service's name, using the slice port whose name equals the
//! ServicePort's name, and only endpoints whose `ready` condition is not false; all slices are
//! merged, an endpoint being an address and a port. `ExternalName` Services resolve to their
//! DNS name. Endpoint changes do not rebuild routes: [`TableWriter::commit`] swaps only the
//! changed Services' endpoints, at a cost proportional to them.
//!
//! ```
//! # use ingress_core::*;
//! let (mut writer, reader) = table(TableConfig::default());
//! writer.apply(Change::UpsertIngress(Ingress::new("default", "web", Some(1))
//!     .with_class(ClassSelection::DEFAULT_CLASS)
//!     .with_path(Some("web.com"), PathType::Prefix, "/", ServiceBackend::number("web", 80))));
//! writer.apply(Change::UpsertService(Service {
//!     meta: ObjectMeta::new("default", "web", None),
//!     service_type: ServiceType::ClusterIp,
//!     cluster_ip: None,
//!     ports: vec![ServicePort { name: Some("http".into()), port: 80, app_protocol: None }],
//! }));
//! writer.commit();
//! writer.apply(Change::UpsertEndpointSlice(EndpointSlice {
//!     meta: ObjectMeta::new("default", "web-x1", None),
//!     service_name: "web".into(),
//!     ports: vec![EndpointPort { name: Some("http".into()), port: Some(8080) }],
//!     endpoints: vec![
//!         Endpoint { addresses: vec!["10.1.0.7".into()], ready: Some(true) },
//!         Endpoint { addresses: vec!["10.1.0.8".into()], ready: Some(false) },
//!     ],
//! }));
//! let commit = writer.commit();
//! assert!(!commit.rebuilt); // same routes, endpoints swapped in place
//! let Target::Service(web) = reader.load().route(Some("web.com"), "/").target.clone() else { panic!() };
//! assert_eq!(*web.endpoints(), Endpoints::Ready(vec!["10.1.0.7:8080".parse().unwrap()].into()));
//! ```
//!
//! ## 6. TLS
//!
//! The certificate is chosen by SNI: an exact `tls.hosts` entry, then a single-label wildcard
//! entry, then the default ([`RouteTable::certificate`] returns `None`). The request itself is
//! still routed by its Host header. The older Ingress's Secret wins a host; a missing Secret
//! affects only its hosts and is reported. A host with a `tls` entry redirects plain HTTP to
//! HTTPS ([`Route::https_redirect`]); the data plane exempts `/.well-known/acme-challenge/`.
//!
//! ```
//! # use ingress_core::*;
//! let mut state = ClusterState::default();
//! let i = Ingress::new("default", "ingress-tomcat-tls", Some(1))
//!     .with_class(ClassSelection::DEFAULT_CLASS)
//!     .with_path(Some("test.lucky.com"), PathType::Prefix, "/", ServiceBackend::number("tomcat", 8080))
//!     .with_tls(&["test.lucky.com", "*.lucky.com"], "tomcat-ingress-secret");
//! state.ingresses.insert(i.meta.key(), i);
//! let t = RouteTable::build(&state, &TableConfig::default());
//! let secret = |sni| t.certificate(Some(sni)).and_then(|b| b.secret.clone()).map(|s| s.name.to_string());
//! assert_eq!(secret("test.lucky.com").as_deref(), Some("tomcat-ingress-secret"));
//! assert_eq!(secret("other.lucky.com").as_deref(), Some("tomcat-ingress-secret"));
//! assert_eq!(secret("example.com"), None); // default certificate
//! assert!(t.route(Some("test.lucky.com"), "/").https_redirect);
//! assert_eq!(t.diagnostics()[0].reason(), "TLSSecretMissing");
//! ```
//!
//! # Design
//!
//! - **Sans-IO.** Nothing here performs I/O, spawns, sleeps or reads a clock; anything
//!   time-based ([`balance`]'s passive health) takes `now` as an argument. Proxies drive it.
//! - **One immutable snapshot per change.** [`RouteTable::build`] is a pure function of the
//!   whole desired state ([`ClusterState`]) and the [`TableConfig`]. The [`TableWriter`]
//!   (exactly one, not `Clone`) buffers [`Change`]s, builds the next table off to the side and
//!   publishes it with a single `ArcSwap::store`, so a reader sees the old table or the new
//!   one, never half of each. The first commit opens readiness
//!   ([`TableReader::wait_until_ready`]).
//! - **Lock-free readers.** [`TableReader`] is a cheap clone; `load()` is one atomic
//!   operation. A reader resolves its request to owned `Arc`s and drops the guard before any
//!   `.await`.
//! - **Endpoints in place.** A [`Backend`] is shared by every route naming that Service port;
//!   its endpoints sit behind their own `ArcSwap`, updated by the writer when only
//!   EndpointSlices changed. Each backend's endpoint list is one consistent value, so no reader
//!   can see half an update.
//! - **Precedence is data.** Each host's paths live in a matchit radix tree; every route string
//!   owns a slot listing its entries best first ([`RulePath::precedence`]), so a lookup is one
//!   hash probe for the host and one tree walk for the path. Braces are escaped, so no rule
//!   path is ever read as a matchit parameter.
//! - **Parse, don't validate.** Raw objects ([`model`]) become [`ValidIngress`] through
//!   `TryFrom`, with typed errors naming object and field; invalid hosts and paths cannot be
//!   represented in a table.
//! - **Tested against a naive model.** [`reference`](mod@reference) re-derives every decision by linear scan
//!   straight from the rules above; property tests and fuzzing compare the two.

#![deny(missing_docs)]

pub mod annotations;
mod backend;
pub mod balance;
mod cidr;
mod class;
pub mod client_hello;
mod config;
mod diagnostics;
pub mod explain;
pub mod global_config;
pub mod model;
pub mod normalize;
mod ready;
pub mod reference;
mod state;
mod table;
mod tls;
pub mod validate;
mod writer;

/// Hash maps on the lookup path use foldhash: several times faster than SipHash for short
/// host names. Request data only ever probes these maps (keys come from configuration), so a
/// hash-flooding client cannot grow them.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// A set with the same hasher as [`FastMap`].
pub(crate) type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

// The whole public API, in one place.
pub use backend::{Backend, Endpoints, Target, Unavailable};
pub use cidr::CidrList;
pub use config::{ClassSelection, PortRef, ServiceRef, TableConfig};
pub use diagnostics::{Diagnostic, InvalidIngressKey};
pub use global_config::{GlobalAuth, GlobalConfig, GlobalConfigState};
pub use model::*;
pub use ready::UntilReady;
pub use state::{Change, ClusterState};
pub use table::{MatchSource, MatchedRule, Route, RouteListing, RouteTable};
pub use tls::TlsBinding;
pub use validate::{
    BackendRef, HostPattern, InvalidField, InvalidIngress, PathType, RulePath, ValidIngress,
};
pub use writer::{Commit, TableReader, TableWriter, table};
