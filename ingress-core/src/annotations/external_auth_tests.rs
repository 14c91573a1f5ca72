use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::annotations::{PREFIX, RequestVariables, RoutePolicy, Variable};

fn parse(pairs: &[(&str, &str)]) -> (Option<ExternalAuthPolicy>, Vec<String>) {
    let annotations: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (format!("{PREFIX}{k}"), (*v).to_owned()))
        .collect();
    let (policy, invalid) = RoutePolicy::parse(&annotations);
    let invalid = invalid
        .into_iter()
        .map(|i| format!("{}: {}", i.annotation.trim_start_matches(PREFIX), i.reason))
        .collect();
    (policy.external_auth.map(|auth| (*auth).clone()), invalid)
}

struct Request;

impl RequestVariables for Request {
    fn value(&self, variable: &Variable) -> Option<Cow<'_, str>> {
        Some(match variable {
            Variable::Host => "app.example.com".into(),
            Variable::HttpHost => "app.example.com:8443".into(),
            Variable::PassAccessScheme => "https".into(),
            Variable::RequestUri => "/p?q=1".into(),
            Variable::Header(name) if &**name == "authorization" => "Bearer t".into(),
            _ => return None,
        })
    }
}

#[test]
fn defaults_follow_ingress_nginx() {
    let (auth, invalid) = parse(&[("auth-url", "http://auth.default.svc:8080/check")]);
    assert!(invalid.is_empty(), "{invalid:?}");
    let auth = auth.unwrap();
    assert_eq!(
        auth.url.render(&Request),
        "http://auth.default.svc:8080/check"
    );
    assert_eq!(auth.method, None);
    assert_eq!(auth.signin, None);
    assert_eq!(&*auth.signin_redirect_param, "rd");
    assert!(auth.response_headers.is_empty());
    assert_eq!(auth.request_redirect, None);
    assert_eq!(auth.cache, None);
    assert!(!auth.always_set_cookie);
}

#[test]
fn signin_gets_the_redirect_parameter_unless_it_has_one() {
    let signin = |value: &str, param: Option<&str>| {
        let mut pairs = vec![("auth-url", "http://a/"), ("auth-signin", value)];
        if let Some(param) = param {
            pairs.push(("auth-signin-redirect-param", param));
        }
        let (auth, invalid) = parse(&pairs);
        assert!(invalid.is_empty(), "{invalid:?}");
        auth.unwrap().signin.unwrap().render(&Request)
    };
    assert_eq!(
        signin("https://$host/oauth2/start", None),
        "https://app.example.com/oauth2/start?rd=https://app.example.com:8443%2Fp%3Fq%3D1"
    );
    assert_eq!(
        signin("https://login/start?x=1", Some("return_to")),
        "https://login/start?x=1&return_to=https://app.example.com:8443%2Fp%3Fq%3D1"
    );
    // The oauth2-proxy example of ingress-nginx's documentation: `rd` is given, kept as is.
    assert_eq!(
        signin("https://$host/oauth2/start?rd=$escaped_request_uri", None),
        "https://app.example.com/oauth2/start?rd=%2Fp%3Fq%3D1"
    );
}

#[test]
fn invalid_values_are_reported_and_deny() {
    for (pairs, needle) in [
        (vec![("auth-url", "ftp://a/")], "auth-url: expected an http"),
        (
            vec![("auth-url", "http:///x")],
            "auth-url: the URL has no host",
        ),
        (
            vec![("auth-url", "http://a/ b")],
            "auth-url: ' ' is not allowed",
        ),
        (
            vec![("auth-url", "http://$hostname/")],
            "$hostname is not supported",
        ),
        (
            vec![("auth-url", "http://a/"), ("auth-method", "get")],
            "auth-method: expected one of GET",
        ),
        (
            vec![
                ("auth-url", "http://a/"),
                ("auth-response-headers", "X-User, X User"),
            ],
            "auth-response-headers",
        ),
        (
            vec![
                ("auth-url", "http://a/"),
                ("auth-cache-key", "$remote_user;"),
            ],
            "auth-cache-key: ';' is not allowed",
        ),
        (
            vec![
                ("auth-url", "http://a/"),
                ("auth-cache-duration", "200 5 minutes"),
            ],
            "auth-cache-duration",
        ),
        (
            vec![("auth-url", "http://a/"), ("auth-always-set-cookie", "yes")],
            "auth-always-set-cookie",
        ),
        (
            vec![("auth-url", "http://a/"), ("auth-keepalive", "many")],
            "auth-keepalive",
        ),
    ] {
        let annotations: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (format!("{PREFIX}{k}"), (*v).to_owned()))
            .collect();
        let (policy, invalid) = RoutePolicy::parse(&annotations);
        let reasons: Vec<String> = invalid
            .iter()
            .map(|i| format!("{}: {}", i.annotation.trim_start_matches(PREFIX), i.reason))
            .collect();
        assert!(
            reasons.iter().any(|r| r.contains(needle)),
            "{pairs:?}: {reasons:?} lacks {needle:?}"
        );
        assert!(policy.denied.is_some(), "{pairs:?} must deny its paths");
    }
}

#[test]
fn cache_durations_read_like_proxy_cache_valid() {
    let (auth, invalid) = parse(&[
        ("auth-url", "http://a/"),
        ("auth-cache-key", "$remote_user$http_authorization"),
    ]);
    assert!(invalid.is_empty(), "{invalid:?}");
    let cache = auth.unwrap().cache.unwrap();
    assert_eq!(cache.key.render(&Request), "Bearer t");
    assert_eq!(
        cache.validity,
        [CacheValidity::parse(DEFAULT_CACHE_DURATION).unwrap()]
    );
    assert_eq!(cache.validity, [CacheValidity::default_duration()]);
    assert_eq!(cache.ttl_for(401), Some(Duration::from_secs(300)));
    assert_eq!(cache.ttl_for(403), None);

    let (auth, invalid) = parse(&[
        ("auth-url", "http://a/"),
        ("auth-cache-key", "$host"),
        ("auth-cache-duration", "200 202 30s, 401 1m, any 500ms"),
    ]);
    assert!(invalid.is_empty(), "{invalid:?}");
    let cache = auth.unwrap().cache.unwrap();
    assert_eq!(cache.ttl_for(202), Some(Duration::from_secs(30)));
    assert_eq!(cache.ttl_for(401), Some(Duration::from_secs(60)));
    assert_eq!(cache.ttl_for(500), Some(Duration::from_millis(500)));
    // A time alone: 200, 301 and 302, as nginx.
    assert_eq!(
        CacheValidity::parse("10m").unwrap().statuses,
        [200, 301, 302]
    );
    assert_eq!(
        CacheValidity::parse("1y").unwrap().ttl,
        Duration::from_secs(31_536_000)
    );
    assert!(CacheValidity::parse("99999999999999999999y").is_err());
}

#[test]
fn without_auth_url_the_companions_do_nothing() {
    let (auth, invalid) = parse(&[("auth-signin", "https://login/"), ("auth-method", "POST")]);
    assert!(invalid.is_empty(), "{invalid:?}");
    assert_eq!(auth, None);
}
