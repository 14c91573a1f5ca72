//! `enable-cors` and the `cors-*` annotations: which cross-origin requests a path answers,
//! and the `Access-Control-*` fields it answers them with, as ingress-nginx's CORS template.
//!
//! | annotation | default | value |
//! |---|---|---|
//! | `enable-cors` | `false` | a boolean |
//! | `cors-allow-origin` | `*` | `*`, or a comma-separated list of `http(s)://[*.]host[:port]` |
//! | `cors-allow-methods` | `GET, PUT, POST, DELETE, PATCH, OPTIONS` | method names, `,` or space separated |
//! | `cors-allow-headers` | `DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization` | header names |
//! | `cors-expose-headers` | empty (not sent) | header names or `*` |
//! | `cors-allow-credentials` | `true` | a boolean |
//! | `cors-max-age` | `1728000` | seconds |
//!
//! A request is **cross-origin allowed** when the list is `*` (every request, with or without
//! an `Origin` field; the answer names `*`), or when its `Origin` matches an entry of the list
//! (the answer echoes the `Origin`). An entry matches case-insensitively, the whole `Origin`;
//! `*.` stands for exactly one DNS label (`https://*.example.com` matches
//! `https://api.example.com`, not `https://example.com` nor `https://a.b.example.com`); an
//! entry without a port matches only an `Origin` without one.
//!
//! An allowed `OPTIONS` request is a **preflight**: answered `204` by the proxy, never sent
//! upstream. Every other allowed request is proxied and its response gets the fields
//! (replacing the upstream's own, as nginx's `more_set_headers`). A request that is not
//! allowed is proxied untouched.
//!
//! ```
//! use std::collections::BTreeMap;
//! use ingress_core::annotations::RoutePolicy;
//!
//! let annotations: BTreeMap<String, String> = [
//!     ("nginx.ingress.kubernetes.io/enable-cors", "true"),
//!     ("nginx.ingress.kubernetes.io/cors-allow-origin", "https://app.example.com, https://*.example.org"),
//! ]
//! .into_iter()
//! .map(|(k, v)| (k.to_string(), v.to_string()))
//! .collect();
//! let (policy, invalid) = RoutePolicy::parse(&annotations);
//! assert!(invalid.is_empty());
//! let cors = policy.cors.expect("enabled");
//! assert_eq!(cors.allow_origin(Some("https://APP.example.com")), Some("https://APP.example.com"));
//! assert_eq!(cors.allow_origin(Some("https://api.example.org")), Some("https://api.example.org"));
//! assert_eq!(cors.allow_origin(Some("https://example.org")), None);
//! assert_eq!(cors.allow_origin(Some("http://app.example.com")), None);
//! assert_eq!(cors.allow_origin(None), None);
//! ```
//!
//! Differs from ingress-nginx on purpose: an entry must match the whole `Origin` (ingress-nginx's
//! expression is anchored at the end only), and an invalid value makes the Ingress's paths
//! answer `503` like every other invalid annotation (ingress-nginx skips a bad origin and falls
//! back to the default of the other keys).

use std::sync::Arc;

use super::values::Reader;

/// ingress-nginx's default `cors-allow-methods`.
pub(crate) const DEFAULT_ALLOW_METHODS: &str = "GET, PUT, POST, DELETE, PATCH, OPTIONS";
/// ingress-nginx's default `cors-allow-headers`.
pub(crate) const DEFAULT_ALLOW_HEADERS: &str = "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization";
/// ingress-nginx's default `cors-max-age`, in seconds.
pub(crate) const DEFAULT_MAX_AGE: u64 = 1_728_000;

/// A path's CORS answer (`enable-cors: "true"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsPolicy {
    /// `cors-allow-origin`.
    pub origins: CorsOrigins,
    /// `cors-allow-methods`, as written.
    pub allow_methods: Arc<str>,
    /// `cors-allow-headers`, as written.
    pub allow_headers: Arc<str>,
    /// `cors-expose-headers`, as written; `None`: the field is not sent.
    pub expose_headers: Option<Arc<str>>,
    /// `cors-allow-credentials`.
    pub allow_credentials: bool,
    /// `cors-max-age`, in seconds.
    pub max_age: u64,
}

/// `cors-allow-origin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// `*`: every request; the answer names `*`.
    Any,
    /// Only requests whose `Origin` matches an entry; the answer echoes the `Origin`.
    List(Vec<OriginPattern>),
}

/// One `cors-allow-origin` entry: `scheme://[*.]host[:port]`, kept in lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPattern {
    /// `scheme://` (`http://` or `https://`).
    prefix: Box<str>,
    /// With `*.`: one DNS label stands before `rest`.
    wildcard: bool,
    /// The host (after `*` when `wildcard`, so starting with `.`) and the `:port`, if any.
    rest: Box<str>,
}

impl OriginPattern {
    /// Parses one entry; `None` unless it is `http(s)://[*.]host[:port]` with a host of
    /// letters, digits, `-` and `.`.
    pub fn parse(entry: &str) -> Option<OriginPattern> {
        let lower = entry.to_ascii_lowercase();
        let (prefix, after) = ["https://", "http://"]
            .iter()
            .find_map(|scheme| lower.strip_prefix(scheme).map(|rest| (*scheme, rest)))?;
        let (wildcard, host_port) = match after.strip_prefix('*') {
            Some(rest) if rest.starts_with('.') => (true, rest),
            Some(_) => return None,
            None => (false, after),
        };
        let (host, port) = match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        };
        let host_ok = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        (host_ok && port_ok && !(wildcard && host == ".")).then(|| OriginPattern {
            prefix: prefix.into(),
            wildcard,
            rest: host_port.into(),
        })
    }

    /// Whether `origin` (an `Origin` field value) matches, ignoring case.
    pub fn matches(&self, origin: &str) -> bool {
        let origin = origin.as_bytes();
        let (prefix, rest) = (self.prefix.as_bytes(), self.rest.as_bytes());
        if !self.wildcard {
            return origin.len() == prefix.len() + rest.len()
                && origin[..prefix.len()].eq_ignore_ascii_case(prefix)
                && origin[prefix.len()..].eq_ignore_ascii_case(rest);
        }
        let Some(label_len) = origin.len().checked_sub(prefix.len() + rest.len()) else {
            return false;
        };
        let label = &origin[prefix.len()..prefix.len() + label_len];
        label_len > 0
            && origin[..prefix.len()].eq_ignore_ascii_case(prefix)
            && origin[prefix.len() + label_len..].eq_ignore_ascii_case(rest)
            && label
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
    }
}

impl CorsPolicy {
    /// The `Access-Control-Allow-Origin` value for a request with this `Origin` field, or
    /// `None` when the request is not cross-origin allowed (answered without CORS fields).
    pub fn allow_origin<'a>(&self, origin: Option<&'a str>) -> Option<&'a str> {
        match &self.origins {
            CorsOrigins::Any => Some("*"),
            CorsOrigins::List(patterns) => {
                origin.filter(|origin| patterns.iter().any(|p| p.matches(origin)))
            }
        }
    }

    /// Reads the `cors-*` annotations when `enable-cors` is true; invalid values are
    /// recorded by `read`.
    pub(super) fn parse(read: &mut Reader<'_>) -> Option<CorsPolicy> {
        let enabled = read.boolean("enable-cors").unwrap_or(false);
        let recorded = read.invalid.len();
        let origins = read.parse_value(
            "cors-allow-origin",
            "not `*` nor a comma-separated list of http(s)://[*.]host[:port]",
            parse_origins,
        );
        // An invalid list allows no origin (never `*`): the Ingress is denied anyway, and an
        // embedder that looked only at this field must not open it up.
        let origins = match (origins, read.invalid.len() > recorded) {
            (Some(origins), _) => origins,
            (None, true) => CorsOrigins::List(Vec::new()),
            (None, false) => CorsOrigins::Any,
        };
        let list = |read: &mut Reader<'_>, name: &str, star: bool| {
            read.parse_value(name, "not a comma-separated list of names", |v| {
                is_name_list(v, star).then(|| Arc::from(v.trim()))
            })
        };
        let allow_methods = read.parse_value(
            "cors-allow-methods",
            "not a comma-separated list of method names",
            |v| is_method_list(v).then(|| Arc::from(v.trim())),
        );
        let allow_headers = list(read, "cors-allow-headers", false);
        let expose_headers = list(read, "cors-expose-headers", true);
        let allow_credentials = read.boolean("cors-allow-credentials");
        let max_age = read.parse_value("cors-max-age", "not a whole number of seconds", |v| {
            v.trim().parse::<u64>().ok()
        });
        enabled.then(|| CorsPolicy {
            origins,
            allow_methods: allow_methods.unwrap_or_else(|| DEFAULT_ALLOW_METHODS.into()),
            allow_headers: allow_headers.unwrap_or_else(|| DEFAULT_ALLOW_HEADERS.into()),
            expose_headers,
            allow_credentials: allow_credentials.unwrap_or(true),
            max_age: max_age.unwrap_or(DEFAULT_MAX_AGE),
        })
    }
}

/// `*` alone (anywhere in the list, as ingress-nginx), or every entry a valid pattern.
fn parse_origins(value: &str) -> Option<CorsOrigins> {
    let entries: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    if entries.contains(&"*") {
        return Some(CorsOrigins::Any);
    }
    let patterns = entries
        .iter()
        .map(|entry| OriginPattern::parse(entry))
        .collect::<Option<Vec<_>>>()?;
    (!patterns.is_empty()).then_some(CorsOrigins::List(patterns))
}

/// ingress-nginx's `^([A-Za-z]+,?\s?)+$`.
fn is_method_list(value: &str) -> bool {
    tokens(value).is_some_and(|mut t| t.all(|m| m.bytes().all(|b| b.is_ascii_alphabetic())))
}

/// Header names (`[A-Za-z0-9_-]+`), or `*` when `star`.
fn is_name_list(value: &str, star: bool) -> bool {
    tokens(value).is_some_and(|mut t| {
        t.all(|name| {
            (star && name == "*")
                || name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
    })
}

/// The non-empty tokens of a `,`/space separated list; `None` when there is none.
fn tokens(value: &str) -> Option<impl Iterator<Item = &str>> {
    let mut tokens = value
        .split([',', ' ', '\t'])
        .filter(|t| !t.is_empty())
        .peekable();
    tokens.peek()?;
    Some(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_patterns_match_whole_origins_with_one_wildcard_label() {
        // (pattern, origin, matches)
        let cases = [
            ("https://a.example", "https://a.example", true),
            ("https://a.example", "HTTPS://A.EXAMPLE", true),
            ("https://a.example", "http://a.example", false),
            ("https://a.example", "https://a.example:443", false),
            ("https://a.example", "https://xa.example", false),
            ("https://a.example", "https://a.example.evil", false),
            ("http://a.example:8080", "http://a.example:8080", true),
            ("http://a.example:8080", "http://a.example:8081", false),
            ("https://*.example", "https://api.example", true),
            ("https://*.example", "https://my-api2.example", true),
            ("https://*.example", "https://example", false),
            ("https://*.example", "https://.example", false),
            ("https://*.example", "https://a.b.example", false),
            ("https://*.example", "https://a_b.example", false),
            ("https://*.example:9000", "https://a.example:9000", true),
            ("https://*.example:9000", "https://a.example", false),
        ];
        for (pattern, origin, expected) in cases {
            let parsed = OriginPattern::parse(pattern).expect(pattern);
            assert_eq!(parsed.matches(origin), expected, "{pattern} vs {origin}");
        }
    }

    #[test]
    fn invalid_origin_entries_are_refused() {
        for entry in [
            "a.example",
            "ftp://a.example",
            "https://",
            "https://*example",
            "https://a.example:",
            "https://a.example:80a",
            "https://a.example/path",
            "https://$host",
            "https://*.",
        ] {
            assert_eq!(OriginPattern::parse(entry), None, "{entry}");
        }
    }

    #[test]
    fn a_star_anywhere_allows_every_origin() {
        assert_eq!(
            parse_origins("https://a.example, *"),
            Some(CorsOrigins::Any)
        );
        assert_eq!(parse_origins(" , "), None);
        assert_eq!(parse_origins("https://a.example, nope"), None);
    }

    #[test]
    fn list_syntax_follows_ingress_nginx_validators() {
        assert!(is_method_list("GET, PUT,POST"));
        assert!(!is_method_list("GET; rm"));
        assert!(!is_method_list(""));
        assert!(is_name_list("X-Custom_1, Authorization", false));
        assert!(!is_name_list("*", false));
        assert!(is_name_list("*, X-Total", true));
        assert!(!is_name_list("$upstream_addr", true));
    }

    fn parse(pairs: &[(&str, &str)]) -> (Option<CorsPolicy>, usize) {
        let annotations = pairs
            .iter()
            .map(|(k, v)| (format!("{}{k}", super::super::PREFIX), (*v).to_owned()))
            .collect();
        let mut read = Reader::new(&annotations);
        let policy = CorsPolicy::parse(&mut read);
        (policy, read.invalid.len())
    }

    #[test]
    fn an_invalid_origin_list_allows_no_origin_and_is_reported() {
        let (policy, invalid) = parse(&[("enable-cors", "true"), ("cors-allow-origin", "x")]);
        assert_eq!(invalid, 1);
        let policy = policy.expect("enabled");
        assert_eq!(policy.origins, CorsOrigins::List(Vec::new()));
        assert_eq!(policy.allow_origin(Some("https://a.example")), None);
    }

    #[test]
    fn every_cors_key_is_checked_even_when_cors_is_off() {
        for (key, value) in [
            ("cors-allow-methods", "GET;"),
            ("cors-allow-headers", "$x"),
            ("cors-expose-headers", "a b/c"),
            ("cors-allow-credentials", "yes"),
            ("cors-max-age", "-1"),
        ] {
            let (policy, invalid) = parse(&[(key, value)]);
            assert_eq!((policy, invalid), (None, 1), "{key}: {value}");
        }
        let (policy, invalid) = parse(&[("enable-cors", "false"), ("cors-max-age", "5")]);
        assert_eq!((policy, invalid), (None, 0));
    }
}
