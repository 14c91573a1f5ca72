//! How a route chooses among its Service's endpoints: session affinity (`affinity: cookie`),
//! consistent hashing (`upstream-hash-by`) or the algorithm (`load-balance`), in that order
//! of precedence, as ingress-nginx.
//!
//! `upstream-hash-by` is an nginx-variable expression: literal text and `$name` or `${name}`
//! references to `remote_addr`, `binary_remote_addr`, `host`, `request_uri`, `uri`, `args`,
//! `scheme`, `http_NAME` (a header, `_` for `-`), `cookie_NAME` and `arg_NAME` (a query
//! argument). The request's value of the expression is hashed onto a consistent-hash ring.
//!
//! ```
//! use ingress_core::annotations::{HashKey, HashPart};
//!
//! let key = HashKey::parse("${request_uri}-text$http_x_user").unwrap();
//! assert_eq!(key.parts(), [
//!     HashPart::RequestUri,
//!     HashPart::Text("-text".into()),
//!     HashPart::Header("x-user".into()),
//! ]);
//! assert!(HashKey::parse("$no_such_variable").is_err());
//! ```

use std::sync::Arc;

use super::values::Reader;

/// The endpoint choice of a route.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BalancePolicy {
    /// `affinity: cookie` and the `session-cookie-*` attributes: wins over the rest.
    pub affinity: Option<Affinity>,
    /// `upstream-hash-by`: wins over `load-balance`.
    pub hash_by: Option<HashKey>,
    /// `load-balance`; `None`: the global default (round robin).
    pub load_balance: Option<LoadBalance>,
}

/// `load-balance` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoadBalance {
    /// `round_robin`: nginx's smooth weighted round robin.
    RoundRobin,
    /// `ewma`: here, the less busy of two random endpoints (requests in flight), which
    /// like ingress-nginx's peak-EWMA steers away from slow endpoints without latency state.
    Ewma,
}

/// `affinity-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AffinityMode {
    /// `balanced` (default): a session's key is hashed onto a consistent-hash ring, so scaling
    /// moves some sessions to new endpoints.
    Balanced,
    /// `persistent`: the cookie names its endpoint, and keeps it while it is ready.
    Persistent,
}

/// `SameSite` cookie attribute values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SameSite {
    /// `None`.
    None,
    /// `Lax`.
    Lax,
    /// `Strict`.
    Strict,
}

/// `affinity: cookie`: the sticky-session cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Affinity {
    /// `affinity-mode`.
    pub mode: AffinityMode,
    /// `session-cookie-name` (default `INGRESSCOOKIE`).
    pub name: Arc<str>,
    /// `session-cookie-path`; `None`: the rule's path (or `/` for a regex path).
    pub path: Option<Arc<str>>,
    /// `session-cookie-domain`.
    pub domain: Option<Arc<str>>,
    /// `session-cookie-max-age`, seconds.
    pub max_age: Option<u64>,
    /// `session-cookie-expires`, seconds from now.
    pub expires: Option<u64>,
    /// `session-cookie-samesite`.
    pub same_site: Option<SameSite>,
    /// `session-cookie-conditional-samesite-none`: leave `SameSite=None` out (this engine
    /// does not sniff user agents, so the attribute is omitted for every client).
    pub conditional_same_site_none: bool,
    /// `session-cookie-secure`: `Secure` even on plain HTTP (it is always set on HTTPS).
    pub secure: bool,
    /// `session-cookie-change-on-failure`: a new session when its endpoint fails.
    pub change_on_failure: bool,
}

/// An `upstream-hash-by` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashKey {
    parts: Vec<HashPart>,
}

/// One piece of an `upstream-hash-by` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashPart {
    /// Literal text.
    Text(Arc<str>),
    /// `$remote_addr` (and `$binary_remote_addr`): the client's address.
    RemoteAddr,
    /// `$host`: the request's host, without port, lower-cased.
    Host,
    /// `$request_uri`: path and query as sent.
    RequestUri,
    /// `$uri`: the path.
    Uri,
    /// `$args`: the query string.
    Args,
    /// `$scheme`: `http` or `https`.
    Scheme,
    /// `$http_NAME`: a request header (name lower-cased, `_` read as `-`).
    Header(Arc<str>),
    /// `$cookie_NAME`: a cookie.
    Cookie(Arc<str>),
    /// `$arg_NAME`: a query argument.
    Arg(Arc<str>),
}

impl HashKey {
    /// Parses an nginx-variable expression; the error names the variable this engine does not
    /// know.
    pub fn parse(expression: &str) -> Result<HashKey, String> {
        let mut parts = Vec::new();
        let mut rest = expression;
        while !rest.is_empty() {
            let Some(at) = rest.find('$') else {
                parts.push(HashPart::Text(rest.into()));
                break;
            };
            if at > 0 {
                parts.push(HashPart::Text(rest[..at].into()));
            }
            let after = &rest[at + 1..];
            let (name, next) = if let Some(braced) = after.strip_prefix('{') {
                let end = braced.find('}').ok_or("unclosed ${")?;
                (&braced[..end], &braced[end + 1..])
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], &after[end..])
            };
            parts.push(variable(name)?);
            rest = next;
        }
        if parts.is_empty() {
            return Err("empty expression".to_owned());
        }
        Ok(HashKey { parts })
    }

    /// The pieces, in order.
    pub fn parts(&self) -> &[HashPart] {
        &self.parts
    }
}

fn variable(name: &str) -> Result<HashPart, String> {
    let named = |prefix: &str| {
        name.strip_prefix(prefix)
            .filter(|n| !n.is_empty())
            .map(|n| Arc::<str>::from(n.to_ascii_lowercase().replace('_', "-")))
    };
    Ok(match name {
        "remote_addr" | "binary_remote_addr" => HashPart::RemoteAddr,
        "host" => HashPart::Host,
        "request_uri" => HashPart::RequestUri,
        "uri" | "document_uri" => HashPart::Uri,
        "args" | "query_string" => HashPart::Args,
        "scheme" => HashPart::Scheme,
        _ => {
            if let Some(header) = named("http_") {
                HashPart::Header(header)
            } else if let Some(cookie) = name.strip_prefix("cookie_").filter(|n| !n.is_empty()) {
                HashPart::Cookie(cookie.into())
            } else if let Some(arg) = name.strip_prefix("arg_").filter(|n| !n.is_empty()) {
                HashPart::Arg(arg.into())
            } else {
                return Err(format!("${name} is not a variable this engine knows"));
            }
        }
    })
}

impl Reader<'_> {
    /// The balance annotations of one Ingress.
    pub(super) fn balance(&mut self) -> BalancePolicy {
        let cookie = self
            .choice("affinity", &[("cookie", true)])
            .unwrap_or(false);
        let mode = self
            .choice(
                "affinity-mode",
                &[
                    ("balanced", AffinityMode::Balanced),
                    ("persistent", AffinityMode::Persistent),
                ],
            )
            .unwrap_or(AffinityMode::Balanced);
        let affinity = Affinity {
            mode,
            name: self
                .token("session-cookie-name")
                .unwrap_or_else(|| "INGRESSCOOKIE".into()),
            path: self.path("session-cookie-path"),
            domain: self.host("session-cookie-domain"),
            max_age: self
                .integer("session-cookie-max-age")
                .and_then(|s| u64::try_from(s).ok()),
            expires: self
                .integer("session-cookie-expires")
                .and_then(|s| u64::try_from(s).ok()),
            same_site: self.choice(
                "session-cookie-samesite",
                &[
                    ("None", SameSite::None),
                    ("Lax", SameSite::Lax),
                    ("Strict", SameSite::Strict),
                ],
            ),
            conditional_same_site_none: self
                .boolean("session-cookie-conditional-samesite-none")
                .unwrap_or(false),
            secure: self.boolean("session-cookie-secure").unwrap_or(false),
            change_on_failure: self
                .boolean("session-cookie-change-on-failure")
                .unwrap_or(false),
        };
        let hash_by = self.parse_value(
            "upstream-hash-by",
            "expected an nginx-variable expression such as $request_uri or $http_x_user",
            |v| HashKey::parse(v).ok(),
        );
        let load_balance = self.choice(
            "load-balance",
            &[
                ("round_robin", LoadBalance::RoundRobin),
                ("ewma", LoadBalance::Ewma),
            ],
        );
        BalancePolicy {
            affinity: cookie.then_some(affinity),
            hash_by,
            load_balance,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_expressions_take_nginx_variable_syntax() {
        let parts = |e: &str| HashKey::parse(e).map(|k| k.parts().to_vec());
        assert_eq!(
            parts("$request_uri$host"),
            Ok(vec![HashPart::RequestUri, HashPart::Host])
        );
        assert_eq!(parts("$remote_addr"), Ok(vec![HashPart::RemoteAddr]));
        assert_eq!(
            parts("$cookie_Session"),
            Ok(vec![HashPart::Cookie("Session".into())])
        );
        assert_eq!(parts("$arg_id"), Ok(vec![HashPart::Arg("id".into())]));
        assert_eq!(parts("x"), Ok(vec![HashPart::Text("x".into())]));
        for bad in ["", "$", "${request_uri", "$http_", "$server_name"] {
            assert!(parts(bad).is_err(), "{bad:?}");
        }
    }
}
