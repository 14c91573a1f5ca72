//! The L4 TCP stream balancer that sits in front of the ingress replicas (what nginx's `stream`
//! block does in the reference topology), with keepalived-style VRRP virtual-IP failover.
//!
//! It reuses `ingress-core`'s pure load-balancing and passive-health policies and nothing from
//! the HTTP crates.

pub mod vrrp;
