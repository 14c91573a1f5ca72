//! Sans-IO Kubernetes Ingress routing engine (crate docs are written with the routing API).

mod backend;
pub mod balance;
mod class;
mod config;
mod diagnostics;
pub mod model;
pub mod normalize;
mod ready;
pub mod reference;
mod state;
mod table;
mod tls;
pub mod validate;
mod writer;

// The whole public API, in one place.
pub use backend::{Backend, Endpoints, Target, Unavailable};
pub use config::{ClassSelection, PortRef, ServiceRef, TableConfig};
pub use diagnostics::{Diagnostic, InvalidIngressKey};
pub use model::*;
pub use ready::UntilReady;
pub use state::{Change, ClusterState};
pub use table::{MatchSource, MatchedRule, Route, RouteTable};
pub use tls::TlsBinding;
pub use validate::{
    BackendRef, HostPattern, InvalidField, InvalidIngress, PathType, RulePath, ValidIngress,
};
pub use writer::{Commit, TableReader, TableWriter, table};
