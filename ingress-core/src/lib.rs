//! Sans-IO Kubernetes Ingress routing engine (crate docs are written with the routing API).

pub mod balance;
pub mod model;

pub use model::*;
