//! The walkthrough of the whole topology (written once the proxy and sources land).

fn main() {}
