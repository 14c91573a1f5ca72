//! A minimal proxy embedding ingress-core.

fn main() {}
