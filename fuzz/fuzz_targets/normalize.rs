//! Host and path parsing and normalisation never panic and are idempotent; validated rule
//! paths and hosts round-trip through matching.
#![no_main]

use ingress_core::normalize;
use ingress_core::{HostPattern, PathType, RulePath};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, &str)| {
    let (host, path) = input;
    if let Some(h) = normalize::host(host) {
        let again = normalize::host(&h).map(|c| c.into_owned());
        assert_eq!(again.as_deref(), Some(&*h), "host not idempotent");
        assert!(!h.bytes().any(|b| b.is_ascii_uppercase()));
    }
    let once = normalize::path(path);
    let twice = normalize::path(&once);
    assert_eq!(once, twice, "path not idempotent for {path:?}");
    assert!(once.starts_with('/'));
    assert!(!once.contains("//"));
    assert!(!once.split('/').any(|s| s == "." || s == ".."));

    if let Ok(pattern) = HostPattern::parse(host)
        && let HostPattern::Exact(name) = &pattern
    {
        assert!(pattern.matches(name));
        assert_eq!(normalize::host(name).as_deref(), Some(&**name));
    }
    for t in [
        PathType::Exact,
        PathType::Prefix,
        PathType::ImplementationSpecific,
    ] {
        if let Ok(rule) = RulePath::parse(Some(path), t) {
            // A valid rule path, sent as a request, matches its own rule.
            assert!(
                rule.matches(&normalize::path(path)),
                "{t} {path:?} does not match itself"
            );
        }
    }
});
