//! nginx variables in annotation values (`auth-url: "https://$host/oauth2/auth"`,
//! `auth-signin`, `auth-cache-key`): a value is parsed once into a [`Template`] of literal text
//! and [`Variable`]s, and rendered per request from what the data plane knows about it
//! ([`RequestVariables`]).
//!
//! Only the variables below are known; any other `$name` makes the annotation invalid (its
//! Ingress's paths answer `503`), never an empty string that would change what is checked.
//! `${name}` is nginx's braced form of `$name`; a `$` not followed by a name is literal.
//!
//! | variable | value |
//! |---|---|
//! | `$host` | the request's host, lowercased, without port |
//! | `$http_host`, `$best_http_host` | the `Host` field as sent |
//! | `$scheme`, `$pass_access_scheme` | `http` or `https` (the latter as trusted forwarded headers say) |
//! | `$request_uri` | path and query as sent |
//! | `$escaped_request_uri` | `$request_uri`, percent-encoded as a URL component ([`escape_uri_component`]) |
//! | `$uri` | the path, `$args` / `$query_string` the query |
//! | `$request_method`, `$remote_addr`, `$remote_user`, `$server_port`, `$request_id`, `$req_id` | as nginx |
//! | `$http_NAME` | the request field `NAME` (`_` for `-`), `$cookie_NAME` a cookie, `$arg_NAME` a query argument |
//!
//! ```
//! use ingress_core::annotations::{RequestVariables, Template, Variable};
//! use std::borrow::Cow;
//!
//! struct Request;
//! impl RequestVariables for Request {
//!     fn value(&self, variable: &Variable) -> Option<Cow<'_, str>> {
//!         match variable {
//!             Variable::Host => Some("app.example.com".into()),
//!             Variable::RequestUri => Some("/a?b=c".into()),
//!             _ => None,
//!         }
//!     }
//! }
//!
//! let signin = Template::parse("https://$host/oauth2/start?rd=$escaped_request_uri").unwrap();
//! assert_eq!(
//!     signin.render(&Request),
//!     "https://app.example.com/oauth2/start?rd=%2Fa%3Fb%3Dc"
//! );
//! assert!(Template::parse("https://$hostname/").unwrap_err().contains("$hostname"));
//! ```

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

/// One nginx variable this engine can render.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Variable {
    /// `$host`.
    Host,
    /// `$http_host` (and `$best_http_host`).
    HttpHost,
    /// `$scheme`.
    Scheme,
    /// `$pass_access_scheme`.
    PassAccessScheme,
    /// `$request_uri`.
    RequestUri,
    /// `$escaped_request_uri`: rendered from `$request_uri` by [`Template::render`].
    EscapedRequestUri,
    /// `$uri`.
    Uri,
    /// `$args` and `$query_string`.
    Args,
    /// `$request_method`.
    RequestMethod,
    /// `$remote_addr`.
    RemoteAddr,
    /// `$remote_user`: the user name of a Basic `Authorization` field.
    RemoteUser,
    /// `$server_port`.
    ServerPort,
    /// `$request_id` and `$req_id`.
    RequestId,
    /// `$http_NAME`: the request field, its name lowercased with `_` as `-`.
    Header(Arc<str>),
    /// `$cookie_NAME`.
    Cookie(Arc<str>),
    /// `$arg_NAME`.
    Arg(Arc<str>),
}

/// What a request offers to a [`Template`]. `None` renders as nothing, as an unset variable
/// does in nginx.
pub trait RequestVariables {
    /// The value of `variable` for this request.
    fn value(&self, variable: &Variable) -> Option<Cow<'_, str>>;
}

/// An annotation value with nginx variables, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(Arc<str>),
    Variable(Variable),
}

impl Variable {
    /// The variable `name` (without `$`), if this engine knows it.
    pub fn named(name: &str) -> Option<Variable> {
        let prefixed = |prefix: &str| {
            name.strip_prefix(prefix)
                .filter(|rest| !rest.is_empty())
                .map(|rest| Arc::<str>::from(rest.to_ascii_lowercase()))
        };
        Some(match name {
            "host" => Variable::Host,
            "http_host" | "best_http_host" => Variable::HttpHost,
            "scheme" => Variable::Scheme,
            "pass_access_scheme" => Variable::PassAccessScheme,
            "request_uri" => Variable::RequestUri,
            "escaped_request_uri" => Variable::EscapedRequestUri,
            "uri" => Variable::Uri,
            "args" | "query_string" => Variable::Args,
            "request_method" => Variable::RequestMethod,
            "remote_addr" => Variable::RemoteAddr,
            "remote_user" => Variable::RemoteUser,
            "server_port" => Variable::ServerPort,
            "request_id" | "req_id" => Variable::RequestId,
            _ => {
                if let Some(header) = prefixed("http_") {
                    Variable::Header(header.replace('_', "-").into())
                } else if let Some(cookie) = name.strip_prefix("cookie_").filter(|c| !c.is_empty())
                {
                    Variable::Cookie(cookie.into())
                } else if let Some(arg) = name.strip_prefix("arg_").filter(|a| !a.is_empty()) {
                    Variable::Arg(arg.into())
                } else {
                    return None;
                }
            }
        })
    }
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Template {
    /// Parses `value`; an unknown variable is an error naming it.
    pub fn parse(value: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = value;
        while let Some(at) = rest.find('$') {
            literal.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let (name, consumed) = match after.strip_prefix('{') {
                Some(braced) => match braced.find('}') {
                    Some(end) => (&braced[..end], end + 2),
                    None => return Err(format!("unterminated ${{ in {value:?}")),
                },
                None => {
                    let end = after.bytes().position(|b| !is_name_byte(b));
                    let end = end.unwrap_or(after.len());
                    (&after[..end], end)
                }
            };
            if name.is_empty() {
                literal.push('$');
            } else {
                let variable = Variable::named(name)
                    .ok_or_else(|| format!("the nginx variable ${name} is not supported"))?;
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal).into()));
                }
                parts.push(Part::Variable(variable));
            }
            rest = &after[consumed..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal.into()));
        }
        Ok(Template { parts })
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Whether the value has no variables.
    pub fn is_literal(&self) -> bool {
        self.parts
            .iter()
            .all(|part| matches!(part, Part::Literal(_)))
    }

    /// The value for one request.
    pub fn render(&self, request: &dyn RequestVariables) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Variable(Variable::EscapedRequestUri) => {
                    if let Some(uri) = request.value(&Variable::RequestUri) {
                        out.push_str(&escape_uri_component(&uri));
                    }
                }
                Part::Variable(variable) => {
                    if let Some(value) = request.value(variable) {
                        out.push_str(&value);
                    }
                }
            }
        }
        out
    }
}

/// Percent-encodes everything but ASCII letters, digits and `-._~`, as nginx's
/// `set_escape_uri` (which ingress-nginx uses for `$escaped_request_uri`) does.
pub fn escape_uri_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    struct Fixed;
    impl RequestVariables for Fixed {
        fn value(&self, variable: &Variable) -> Option<Cow<'_, str>> {
            Some(match variable {
                Variable::Host => "h".into(),
                Variable::Header(name) => format!("header:{name}").into(),
                Variable::Cookie(name) => format!("cookie:{name}").into(),
                Variable::RequestUri => "/p q".into(),
                _ => return None,
            })
        }
    }

    #[test]
    fn variables_render_and_literal_dollars_stay() {
        let template =
            Template::parse("a$host${host}b$ $http_X_Auth$cookie_s1 $remote_user.").unwrap();
        assert_eq!(template.render(&Fixed), "ahhb$ header:x-authcookie:s1 .");
        assert!(!template.is_literal());
        assert!(Template::parse("http://a/b").unwrap().is_literal());
        assert_eq!(
            Template::parse("$escaped_request_uri")
                .unwrap()
                .render(&Fixed),
            "%2Fp%20q"
        );
    }

    #[test]
    fn unknown_variables_and_open_braces_are_errors() {
        assert!(Template::parse("$nope").unwrap_err().contains("$nope"));
        assert!(
            Template::parse("${host")
                .unwrap_err()
                .contains("unterminated")
        );
        assert!(Template::parse("$http_").is_err());
    }

    proptest! {
        /// A naive model: every byte outside the unreserved set becomes `%XX`, and decoding
        /// gives the input back.
        #[test]
        fn escaping_round_trips(value in "\\PC{0,40}") {
            let escaped = escape_uri_component(&value);
            prop_assert!(escaped.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
            let mut decoded = Vec::new();
            let bytes = escaped.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                    decoded.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 3;
                } else {
                    decoded.push(bytes[i]);
                    i += 1;
                }
            }
            prop_assert_eq!(decoded, value.as_bytes());
        }

        /// Text without `$` is one literal, rendered as written.
        #[test]
        fn text_without_variables_is_kept(value in "[^$]{0,40}") {
            let template = Template::parse(&value).unwrap();
            prop_assert!(template.is_literal());
            prop_assert_eq!(template.render(&Fixed), value);
        }
    }
}
