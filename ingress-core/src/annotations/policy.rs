//! The per-path policies the supported annotations ask for, parsed and validated, as they sit
//! in the route-table snapshot ([`MatchedRule::policy`](crate::MatchedRule::policy)).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::PREFIX;

/// What an Ingress's annotations ask of its paths (the part this engine implements). The
/// same value is shared by every path of the Ingress.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoutePolicy {
    /// `ssl-redirect`: redirect plain HTTP to HTTPS when the host has a `tls` entry. `None`
    /// means the global default (`true`, as ingress-nginx's `ssl-redirect` ConfigMap key).
    pub ssl_redirect: Option<bool>,
    /// `force-ssl-redirect`: redirect plain HTTP to HTTPS even without a `tls` entry (TLS
    /// terminated in front of the controller). Default `false`.
    pub force_ssl_redirect: bool,
    /// Set when an annotation's value is invalid: the Ingress's paths answer `503` (what
    /// ingress-nginx does for a location it denies), with this reason; other Ingresses are
    /// not affected.
    pub denied: Option<Arc<str>>,
}

/// An annotation whose value could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidAnnotation {
    /// The annotation key.
    pub annotation: String,
    /// Its value.
    pub value: String,
    /// Why it is invalid.
    pub reason: String,
}

/// The annotations [`RoutePolicy::parse`] reads (keys after [`PREFIX`], sorted).
pub(crate) const SUPPORTED: &[&str] = &["force-ssl-redirect", "ssl-redirect"];

impl RoutePolicy {
    /// Parses the supported annotations of one Ingress. Each invalid value is returned, and
    /// makes the policy [`denied`](Self::denied).
    pub fn parse(annotations: &BTreeMap<String, String>) -> (RoutePolicy, Vec<InvalidAnnotation>) {
        let mut policy = RoutePolicy::default();
        let mut invalid = Vec::new();
        let mut boolean = |name: &str| -> Option<bool> {
            let key = format!("{PREFIX}{name}");
            let value = annotations.get(&key)?;
            match parse_bool(value) {
                Some(parsed) => Some(parsed),
                None => {
                    invalid.push(InvalidAnnotation {
                        annotation: key,
                        value: value.clone(),
                        reason: "expected \"true\" or \"false\"".to_owned(),
                    });
                    None
                }
            }
        };
        policy.ssl_redirect = boolean("ssl-redirect");
        policy.force_ssl_redirect = boolean("force-ssl-redirect").unwrap_or(false);
        if let Some(first) = invalid.first() {
            policy.denied = Some(
                format!(
                    "annotation {} has an invalid value {:?}: {}",
                    first.annotation, first.value, first.reason
                )
                .into(),
            );
        }
        (policy, invalid)
    }

    /// Whether a plain-HTTP request is redirected to HTTPS: `host_has_tls` (the host has a
    /// `tls` entry) and `ssl-redirect` not turned off, or `force-ssl-redirect`.
    pub fn redirects_to_https(&self, host_has_tls: bool) -> bool {
        self.force_ssl_redirect || (host_has_tls && self.ssl_redirect.unwrap_or(true))
    }
}

/// A boolean as ingress-nginx reads one (Go's `strconv.ParseBool`).
fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> (RoutePolicy, Vec<InvalidAnnotation>) {
        let annotations = pairs
            .iter()
            .map(|(k, v)| (format!("{PREFIX}{k}"), (*v).to_owned()))
            .collect();
        RoutePolicy::parse(&annotations)
    }

    /// (annotations, host has tls, redirected)
    type RedirectCase<'a> = (&'a [(&'a str, &'a str)], bool, bool);

    #[test]
    fn ssl_redirect_table() {
        let table: &[RedirectCase<'_>] = &[
            (&[], true, true),
            (&[], false, false),
            (&[("ssl-redirect", "false")], true, false),
            (&[("ssl-redirect", "False")], true, false),
            (&[("ssl-redirect", "true")], false, false),
            (&[("force-ssl-redirect", "true")], false, true),
            (
                &[("force-ssl-redirect", "true"), ("ssl-redirect", "false")],
                true,
                true,
            ),
        ];
        for (pairs, tls, expected) in table {
            let (policy, invalid) = parse(pairs);
            assert!(invalid.is_empty());
            assert_eq!(
                policy.redirects_to_https(*tls),
                *expected,
                "{pairs:?} tls={tls}"
            );
        }
    }

    #[test]
    fn an_invalid_value_denies_with_the_annotation_named() {
        let (policy, invalid) = parse(&[("ssl-redirect", "yes")]);
        assert_eq!(invalid.len(), 1);
        assert_eq!(invalid[0].annotation, format!("{PREFIX}ssl-redirect"));
        let denied = policy.denied.expect("denied");
        assert!(
            denied.contains("ssl-redirect") && denied.contains("\"yes\""),
            "{denied}"
        );
    }
}
