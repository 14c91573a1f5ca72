//! External authentication: `auth-url` and the annotations that shape it, as ingress-nginx's
//! `auth_request` location does.
//!
//! Before a request goes upstream, the data plane sends a sub-request to `auth-url` (nginx
//! variables rendered per request, see [`Template`]): method `GET`, or `auth-method`; no body;
//! the client's header fields, plus `X-Original-URL`, `X-Original-Method`, `X-Sent-From`,
//! `X-Real-IP`, `X-Forwarded-For`, `X-Auth-Request-Redirect` (`auth-request-redirect`, else
//! the request URI), `X-Request-ID`, and with `auth-method` also `X-Original-URI` and
//! `X-Scheme`. The answer decides:
//!
//! - `2xx`: the request goes upstream, with each `auth-response-headers` field set from the
//!   answer (a field the answer lacks is removed from the request: a client never supplies
//!   one), and the answer's `Set-Cookie` added to the response (to every response with
//!   `auth-always-set-cookie`);
//! - `401`: `auth-signin` set → `302` to it, with the original URL in its `rd` parameter
//!   (`auth-signin-redirect-param`) unless the URL already carries one; else `401` with the
//!   answer's `WWW-Authenticate`;
//! - `403`: `403`;
//! - anything else, or no answer (unreachable, timed out): `500`. Never allowed.
//!
//! `auth-cache-key` (nginx variables) with `auth-cache-duration` (default `200 202 401 5m`,
//! nginx's `proxy_cache_valid` syntax, comma-separated) keeps answers per rendered key.
//!
//! ```
//! use ingress_core::annotations::RoutePolicy;
//! use std::collections::BTreeMap;
//!
//! let annotations = BTreeMap::from([
//!     ("nginx.ingress.kubernetes.io/auth-url".to_owned(), "https://$host/oauth2/auth".to_owned()),
//!     ("nginx.ingress.kubernetes.io/auth-signin".to_owned(), "https://$host/oauth2/start".to_owned()),
//!     ("nginx.ingress.kubernetes.io/auth-response-headers".to_owned(), "X-Auth-Request-User, X-Auth-Request-Email".to_owned()),
//! ]);
//! let (policy, invalid) = RoutePolicy::parse(&annotations);
//! assert!(invalid.is_empty());
//! let auth = policy.external_auth.unwrap();
//! assert_eq!(auth.response_headers.len(), 2);
//! assert_eq!(auth.signin_redirect_param.as_ref(), "rd");
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::policy::InvalidAnnotation;
use super::values::Reader;
use super::variables::Template;

/// What a path's `auth-url` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalAuthPolicy {
    /// `auth-url`: an `http://` or `https://` URL, possibly with variables.
    pub url: Template,
    /// `auth-method`; `None`: `GET` (nginx's sub-request method).
    pub method: Option<Arc<str>>,
    /// `auth-signin`, with the redirect parameter appended as ingress-nginx builds it.
    pub signin: Option<Template>,
    /// `auth-signin-redirect-param` (default `rd`).
    pub signin_redirect_param: Arc<str>,
    /// `auth-response-headers`: copied from the answer onto the upstream request.
    pub response_headers: Vec<Arc<str>>,
    /// `auth-request-redirect`: the `X-Auth-Request-Redirect` value (default: the request URI).
    pub request_redirect: Option<Arc<str>>,
    /// `auth-cache-key` and `auth-cache-duration`.
    pub cache: Option<AuthCache>,
    /// `auth-always-set-cookie`.
    pub always_set_cookie: bool,
}

/// Which answers are kept, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCache {
    /// The key, rendered per request (with the host and path prepended by the data plane).
    pub key: Template,
    /// `auth-cache-duration` entries, in order: the first that names a status decides.
    pub validity: Vec<CacheValidity>,
}

/// One `proxy_cache_valid` entry: `200 202 401 5m`, `any 1m`, or `10m` (`200 301 302`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheValidity {
    /// The statuses; empty means `any`.
    pub statuses: Vec<u16>,
    /// How long an answer with one of them is kept.
    pub ttl: Duration,
}

/// ingress-nginx's default `auth-cache-duration`.
pub const DEFAULT_CACHE_DURATION: &str = "200 202 401 5m";

const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE",
];

impl AuthCache {
    /// How long an answer with `status` is kept (`None`: not kept).
    pub fn ttl_for(&self, status: u16) -> Option<Duration> {
        self.validity
            .iter()
            .find(|entry| entry.statuses.is_empty() || entry.statuses.contains(&status))
            .map(|entry| entry.ttl)
            .filter(|ttl| !ttl.is_zero())
    }
}

impl CacheValidity {
    /// [`DEFAULT_CACHE_DURATION`]: `200 202 401 5m`.
    pub fn default_duration() -> CacheValidity {
        CacheValidity {
            statuses: vec![200, 202, 401],
            ttl: Duration::from_secs(300),
        }
    }

    /// Parses one entry: status codes (or `any`) then one nginx time (`ms`, `s`, `m`, `h`,
    /// `d`, `w`, `M`, `y`).
    pub fn parse(entry: &str) -> Result<CacheValidity, String> {
        let mut words: Vec<&str> = entry.split_whitespace().collect();
        let time = words
            .pop()
            .ok_or_else(|| "an empty duration entry".to_owned())?;
        let ttl = nginx_time(time)
            .ok_or_else(|| format!("{time:?} is not a time such as 30s, 5m or 1h"))?;
        let mut statuses = Vec::new();
        let mut any = false;
        for word in words {
            if word == "any" {
                any = true;
            } else {
                let status = word
                    .parse::<u16>()
                    .ok()
                    .filter(|s| word.len() == 3 && (100..=599).contains(s))
                    .ok_or_else(|| format!("{word:?} is not a status code"))?;
                statuses.push(status);
            }
        }
        if any {
            statuses.clear();
        } else if statuses.is_empty() {
            // nginx: a time alone applies to 200, 301 and 302.
            statuses = vec![200, 301, 302];
        }
        Ok(CacheValidity { statuses, ttl })
    }
}

/// An nginx time (`10s`, `5m`, `1h`; `M` is 30 days, `y` 365), as `proxy_cache_valid` reads it.
fn nginx_time(value: &str) -> Option<Duration> {
    let split = value.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = value.split_at(split);
    let number: u64 = number.parse().ok()?;
    if unit == "ms" {
        return Some(Duration::from_millis(number));
    }
    let seconds: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        "M" => 2_592_000,
        "y" => 31_536_000,
        _ => return None,
    };
    number.checked_mul(seconds).map(Duration::from_secs)
}

/// ingress-nginx's `buildAuthSignURL`: the redirect parameter is appended unless the URL's
/// query already gives it a value.
fn signin_with_redirect(url: &str, param: &str) -> String {
    let redirect = "$pass_access_scheme://$http_host$escaped_request_uri";
    match url.split_once('?') {
        None => format!("{url}?{param}={redirect}"),
        Some((_, "")) => format!("{url}{param}={redirect}"),
        Some((_, query)) => {
            let given = query.split('&').any(|pair| {
                pair.split_once('=')
                    .is_some_and(|(key, value)| key == param && !value.is_empty())
            });
            match given {
                true => url.to_owned(),
                false => format!("{url}&{param}={redirect}"),
            }
        }
    }
}

/// What `auth-url` and `auth-signin` may contain (ingress-nginx's `URLWithNginxVariableRegex`).
fn url_template(value: &str) -> Result<Template, String> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or("expected an http:// or https:// URL")?;
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    if host.is_empty() {
        return Err("the URL has no host".to_owned());
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%{}".contains(*c)))
    {
        return Err(format!("{bad:?} is not allowed in a URL"));
    }
    Template::parse(value)
}

impl Reader<'_> {
    /// `auth-url` and its companions; `None` without `auth-url` (or with an invalid one,
    /// recorded).
    pub(super) fn external_auth(&mut self) -> Option<ExternalAuthPolicy> {
        let url = self.parse_result("auth-url", url_template);
        let method = self.parse_value(
            "auth-method",
            "expected one of GET, HEAD, POST, PUT, PATCH, DELETE, CONNECT, OPTIONS, TRACE",
            |value| METHODS.contains(&value).then(|| Arc::from(value)),
        );
        let signin_redirect_param: Arc<str> = self
            .parse_value(
                "auth-signin-redirect-param",
                "expected a query parameter name",
                |value| {
                    let ok = !value.is_empty()
                        && value
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c));
                    ok.then(|| Arc::from(value))
                },
            )
            .unwrap_or_else(|| Arc::from("rd"));
        let param = signin_redirect_param.clone();
        let signin = self.parse_result("auth-signin", |value| {
            url_template(value)?;
            Template::parse(&signin_with_redirect(value, &param))
        });
        let response_headers = self
            .parse_value(
                "auth-response-headers",
                "expected a comma-separated list of header names (letters, digits, - and _)",
                |value| {
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|name| !name.is_empty())
                        .map(|name| {
                            let ok = name
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                            ok.then(|| Arc::from(name))
                        })
                        .collect::<Option<Vec<_>>>()
                },
            )
            .unwrap_or_default();
        let request_redirect = self.parse_value(
            "auth-request-redirect",
            "expected a URL of letters, digits and - . _ ~ / : , ? & =",
            |value| {
                let ok = value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._~/:,?&=".contains(c));
                ok.then(|| Arc::from(value))
            },
        );
        let key = self.parse_result("auth-cache-key", |value| {
            if let Some(bad) = value
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || "-_${}".contains(*c)))
            {
                return Err(format!(
                    "{bad:?} is not allowed (letters, digits, - _ $ {{ }})"
                ));
            }
            Template::parse(value)
        });
        let validity = self.parse_result("auth-cache-duration", |value| {
            value
                .split(',')
                .map(str::trim)
                .filter(|entry| !entry.is_empty())
                .map(CacheValidity::parse)
                .collect::<Result<Vec<_>, _>>()
        });
        let always_set_cookie = self.boolean("auth-always-set-cookie").unwrap_or(false);
        // Connection reuse is the upstream pool's, for every peer: these are read for their
        // syntax (an invalid value is still reported).
        for name in [
            "auth-keepalive",
            "auth-keepalive-requests",
            "auth-keepalive-timeout",
        ] {
            let _ = self.integer(name);
        }
        let _ = self.boolean("auth-keepalive-share-vars");
        let url = url?;
        let cache = key.filter(|key| !key.is_empty()).map(|key| AuthCache {
            key,
            validity: validity.unwrap_or_else(|| vec![CacheValidity::default_duration()]),
        });
        Some(ExternalAuthPolicy {
            url,
            method,
            signin,
            signin_redirect_param,
            response_headers,
            request_redirect,
            cache,
            always_set_cookie,
        })
    }
}

/// The ConfigMap's `global-auth-*` keys as one policy, read with the annotations' rules:
/// `None` without `global-auth-url`; else the policy, or each invalid key (named in
/// [`InvalidAnnotation::annotation`]) with its value and reason.
pub(crate) fn global_policy(
    data: &BTreeMap<String, String>,
) -> Option<Result<ExternalAuthPolicy, Vec<InvalidAnnotation>>> {
    data.get("global-auth-url")?;
    let as_annotations: BTreeMap<String, String> = data
        .iter()
        .filter_map(|(key, value)| {
            let rest = key.strip_prefix("global-auth-")?;
            Some((format!("{}auth-{rest}", super::PREFIX), value.clone()))
        })
        .collect();
    let mut read = Reader::new(&as_annotations);
    let policy = read.external_auth();
    let invalid: Vec<InvalidAnnotation> = read
        .invalid
        .into_iter()
        .map(|invalid| InvalidAnnotation {
            annotation: format!(
                "global-{}",
                invalid.annotation.trim_start_matches(super::PREFIX)
            ),
            ..invalid
        })
        .collect();
    Some(match (policy, invalid.is_empty()) {
        (Some(policy), true) => Ok(policy),
        (_, _) => Err(invalid),
    })
}

#[cfg(test)]
#[path = "external_auth_tests.rs"]
mod tests;
