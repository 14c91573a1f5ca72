//! Which endpoint strategy a request uses, from its route's [`BalancePolicy`](ingress_core::annotations::BalancePolicy), and the sticky
//! session cookie of `affinity: cookie` (ingress-nginx's precedence: affinity, then
//! `upstream-hash-by`, then `load-balance`).
//!
//! - `upstream-hash-by`: the expression's value for this request is the key on a
//!   consistent-hash ring of the endpoints.
//! - `affinity: cookie`, `balanced` mode: the cookie holds a random session key placed on the
//!   ring; a request without the cookie gets a new key, sent back in `Set-Cookie`.
//! - `persistent` mode: the cookie names the endpoint (a hash of its address), which keeps
//!   the session while it is ready and not ejected; a new session gets the balancer's choice
//!   and a cookie naming it.
//! - With `session-cookie-change-on-failure`, a session whose attempt moved to another
//!   endpoint after a failure gets a new cookie (persistent: naming the endpoint that
//!   answered; balanced: a new key). Without it the cookie is kept, so the next request tries
//!   the session's endpoint again. A persistent cookie naming an endpoint that is gone is
//!   replaced.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, Request, header};
use ingress_core::MatchedRule;
use ingress_core::annotations::{Affinity, AffinityMode, HashKey, HashPart, LoadBalance, SameSite};

use super::balance::Strategy;
use super::route_policy::cookie_value;

/// A request's endpoint strategy and what it needs.
#[derive(Debug)]
pub(crate) struct EndpointChoice<'a> {
    pub(crate) strategy: Strategy,
    /// The consistent-hash key (empty for other strategies).
    pub(crate) hash_key: Vec<u8>,
    /// Persistent affinity: the endpoint the cookie names, if any of them has that hash.
    session: Option<Session<'a>>,
}

/// A sticky session: the affinity settings and the cookie the request carried.
#[derive(Debug)]
struct Session<'a> {
    affinity: &'a Affinity,
    /// The request's cookie value, if it had one.
    carried: Option<String>,
    /// The cookie's `Path`.
    path: &'a str,
}

impl<'a> EndpointChoice<'a> {
    /// The choice for `request` on `rule` from `client` (`https`: arrived over TLS).
    pub(crate) fn of<B>(
        rule: Option<&'a MatchedRule>,
        request: &Request<B>,
        client: SocketAddr,
        https: bool,
    ) -> Self {
        let round_robin = EndpointChoice {
            strategy: Strategy::RoundRobin,
            hash_key: Vec::new(),
            session: None,
        };
        let Some(rule) = rule else {
            return round_robin;
        };
        let balance = &rule.policy.balance;
        if let Some(affinity) = &balance.affinity {
            let carried = cookie_value(request.headers(), &affinity.name).map(str::to_owned);
            let path = match &affinity.path {
                Some(path) => path,
                None if rule.rewrite.is_some() || rule.path.contains(['(', '[', '*', '$']) => "/",
                None => &rule.path,
            };
            let (strategy, hash_key) = match affinity.mode {
                AffinityMode::Balanced => {
                    let key = carried.clone().unwrap_or_else(new_session_key);
                    (Strategy::Hash, key.into_bytes())
                }
                AffinityMode::Persistent => (Strategy::RoundRobin, Vec::new()),
            };
            return EndpointChoice {
                strategy,
                hash_key,
                session: Some(Session {
                    affinity,
                    carried,
                    path,
                }),
            };
        }
        if let Some(key) = &balance.hash_by {
            return EndpointChoice {
                strategy: Strategy::Hash,
                hash_key: hash_key(key, request, client, https),
                session: None,
            };
        }
        match balance.load_balance {
            Some(LoadBalance::Ewma) => EndpointChoice {
                strategy: Strategy::TwoChoices,
                ..round_robin
            },
            Some(LoadBalance::RoundRobin) | None => round_robin,
        }
    }

    /// Persistent affinity: the endpoint among `ready` the request's cookie names.
    pub(crate) fn preferred(&self, ready: &[SocketAddr]) -> Option<SocketAddr> {
        let session = self.session.as_ref()?;
        if session.affinity.mode != AffinityMode::Persistent {
            return None;
        }
        let carried = session.carried.as_deref()?;
        ready
            .iter()
            .copied()
            .find(|address| endpoint_token(*address) == carried)
    }

    /// The `Set-Cookie` for the response, when the session is new (or moved, with
    /// `session-cookie-change-on-failure`). `answered`: the endpoint that answered;
    /// `moved`: an earlier attempt of this request went to another endpoint.
    pub(crate) fn set_cookie(
        &self,
        answered: Option<SocketAddr>,
        moved: bool,
        https: bool,
    ) -> Option<HeaderValue> {
        let session = self.session.as_ref()?;
        let affinity = session.affinity;
        let value = match affinity.mode {
            AffinityMode::Balanced if session.carried.is_none() => {
                String::from_utf8(self.hash_key.clone()).ok()?
            }
            AffinityMode::Persistent => {
                let token = endpoint_token(answered?);
                let changed = session.carried.as_deref() != Some(token.as_str());
                let keep = session.carried.is_some()
                    && !(changed && (affinity.change_on_failure || !moved));
                if keep {
                    return None;
                }
                token
            }
            AffinityMode::Balanced if moved && affinity.change_on_failure => new_session_key(),
            AffinityMode::Balanced => return None,
        };
        HeaderValue::from_str(&cookie(affinity, &value, session.path, https)).ok()
    }
}

/// A new random session key: 128 bits in hex.
fn new_session_key() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The cookie value naming an endpoint: FNV-1a of its address, in hex (stable across
/// restarts and replicas, so every replica sends a session to the same endpoint).
fn endpoint_token(address: SocketAddr) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in address.to_string().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The `Set-Cookie` value, with ingress-nginx's attributes.
fn cookie(affinity: &Affinity, value: &str, path: &str, https: bool) -> String {
    let mut out = format!("{}={value}; Path={path}", affinity.name);
    if let Some(domain) = &affinity.domain {
        out.push_str(&format!("; Domain={domain}"));
    }
    if let Some(seconds) = affinity.expires {
        let at = SystemTime::now() + Duration::from_secs(seconds.min(u64::from(u32::MAX)));
        out.push_str(&format!("; Expires={}", httpdate::fmt_http_date(at)));
    }
    if let Some(seconds) = affinity.max_age {
        out.push_str(&format!("; Max-Age={seconds}"));
    }
    if https || affinity.secure {
        out.push_str("; Secure");
    }
    out.push_str("; HttpOnly");
    match affinity.same_site {
        Some(SameSite::None) if affinity.conditional_same_site_none => {}
        Some(SameSite::None) => out.push_str("; SameSite=None"),
        Some(SameSite::Lax) => out.push_str("; SameSite=Lax"),
        Some(SameSite::Strict) => out.push_str("; SameSite=Strict"),
        None => {}
    }
    out
}

/// The value of an `upstream-hash-by` expression for one request.
fn hash_key<B>(key: &HashKey, request: &Request<B>, client: SocketAddr, https: bool) -> Vec<u8> {
    let headers: &HeaderMap = request.headers();
    let uri = request.uri();
    let mut out = Vec::with_capacity(64);
    for part in key.parts() {
        match part {
            HashPart::Text(text) => out.extend_from_slice(text.as_bytes()),
            HashPart::RemoteAddr => out.extend_from_slice(client.ip().to_string().as_bytes()),
            HashPart::Host => {
                let host = uri
                    .host()
                    .or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()))
                    .unwrap_or("");
                let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
                out.extend_from_slice(name.to_ascii_lowercase().as_bytes());
            }
            HashPart::RequestUri => {
                out.extend_from_slice(uri.path_and_query().map_or("/", |p| p.as_str()).as_bytes());
            }
            HashPart::Uri => out.extend_from_slice(uri.path().as_bytes()),
            HashPart::Args => out.extend_from_slice(uri.query().unwrap_or("").as_bytes()),
            HashPart::Scheme => out.extend_from_slice(if https { b"https" } else { b"http" }),
            HashPart::Header(name) => {
                if let Some(value) = headers.get(&**name) {
                    out.extend_from_slice(value.as_bytes());
                }
            }
            HashPart::Cookie(name) => {
                out.extend_from_slice(cookie_value(headers, name).unwrap_or("").as_bytes());
            }
            HashPart::Arg(name) => {
                let value = uri
                    .query()
                    .unwrap_or("")
                    .split('&')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(key, _)| key == &&**name)
                    .map_or("", |(_, value)| value);
                out.extend_from_slice(value.as_bytes());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn affinity() -> Affinity {
        Affinity {
            mode: AffinityMode::Balanced,
            name: "INGRESSCOOKIE".into(),
            path: None,
            domain: Some("shop.example".into()),
            max_age: Some(172_800),
            expires: None,
            same_site: Some(SameSite::Lax),
            conditional_same_site_none: false,
            secure: false,
            change_on_failure: false,
        }
    }

    #[test]
    fn the_cookie_carries_ingress_nginx_s_attributes() {
        assert_eq!(
            cookie(&affinity(), "k", "/app", false),
            "INGRESSCOOKIE=k; Path=/app; Domain=shop.example; Max-Age=172800; HttpOnly; SameSite=Lax"
        );
        let secure = cookie(&affinity(), "k", "/", true);
        assert!(secure.contains("; Secure; HttpOnly"), "{secure}");
        let conditional = Affinity {
            same_site: Some(SameSite::None),
            conditional_same_site_none: true,
            ..affinity()
        };
        assert!(!cookie(&conditional, "k", "/", true).contains("SameSite"));
    }

    #[test]
    fn endpoint_tokens_are_stable_and_distinct() {
        let a: SocketAddr = "10.0.0.1:8080".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:8080".parse().unwrap();
        assert_eq!(endpoint_token(a), endpoint_token(a));
        assert_ne!(endpoint_token(a), endpoint_token(b));
        assert_eq!(endpoint_token(a).len(), 16);
    }

    #[test]
    fn hash_keys_read_the_request() {
        let key = HashKey::parse("$host|$request_uri|$http_x_user|$cookie_s|$arg_id|$remote_addr")
            .unwrap();
        let request = Request::get("/p?id=7&x=1")
            .header("host", "A.example:80")
            .header("x-user", "u1")
            .header("cookie", "s=abc")
            .body(())
            .unwrap();
        let client: SocketAddr = "192.0.2.9:5555".parse().unwrap();
        assert_eq!(
            String::from_utf8(hash_key(&key, &request, client, false)).unwrap(),
            "a.example|/p?id=7&x=1|u1|abc|7|192.0.2.9"
        );
    }
}
