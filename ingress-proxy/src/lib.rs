//! The data plane: an HTTP/1.1, HTTP/2 and TLS reverse proxy that serves every request from the
//! current `ingress-core` route table snapshot, so configuration changes apply without reloads.
//!
//! This crate will hold the listeners (HTTP, HTTPS with per-handshake certificate selection,
//! admin), the per-request phases (route, pick an endpoint, forward, stream bodies) and the
//! access log and metrics. It never depends on a Kubernetes client: config sources live in
//! `ingress-k8s`.
