//! Shared helpers for the examples: the walkthrough of the whole topology and the minimal
//! embedding of `ingress-core`.
