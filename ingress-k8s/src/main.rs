//! The `ingress-proxy` controller binary.

fn main() {}
