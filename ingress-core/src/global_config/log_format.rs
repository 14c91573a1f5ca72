//! `log-format-upstream`: the access log's line as nginx variables, compiled once when the
//! ConfigMap is read into literal text and [`LogVar`]s, so a line is written without parsing.
//!
//! Variables are `$name` or `${name}`. The ones this engine fills: `remote_addr`,
//! `remote_user`, `time_local`, `time_iso8601`, `msec`, `request`, `request_method`,
//! `request_uri`, `uri`, `args`, `server_protocol`, `host`, `status`, `body_bytes_sent`,
//! `bytes_sent`, `request_length`, `request_time`, `proxy_upstream_name`,
//! `proxy_alternative_upstream_name`, `upstream_addr`, `upstream_response_length`,
//! `upstream_response_time`, `upstream_status`, `req_id`, `namespace`, `ingress_name`,
//! `service_name`, `service_port`, and `http_NAME` (a request header, `_` for `-`). Any other
//! is logged as `-` (as nginx logs an empty value), with a Warning naming it.
//!
//! ```
//! use ingress_core::global_config::{LogFormat, LogPart, LogVar};
//!
//! let (format, unknown) = LogFormat::compile("$remote_addr ${status}s \"$http_x_user\" $pid");
//! assert_eq!(format.parts(), [
//!     LogPart::Var(LogVar::RemoteAddr),
//!     LogPart::Text(" ".into()),
//!     LogPart::Var(LogVar::Status),
//!     LogPart::Text("s \"".into()),
//!     LogPart::Var(LogVar::Header("x-user".into())),
//!     LogPart::Text("\" ".into()),
//!     LogPart::Var(LogVar::Unknown),
//! ]);
//! assert_eq!(unknown, ["pid"]);
//! ```

use std::sync::Arc;

/// One nginx variable of the access log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogVar {
    /// `$remote_addr`.
    RemoteAddr,
    /// `$remote_user` (always `-`: no basic-auth user is logged).
    RemoteUser,
    /// `$time_local`.
    TimeLocal,
    /// `$time_iso8601`.
    TimeIso8601,
    /// `$msec`.
    Msec,
    /// `$request`.
    Request,
    /// `$request_method`.
    RequestMethod,
    /// `$request_uri`.
    RequestUri,
    /// `$uri` (the path).
    Uri,
    /// `$args` (the query).
    Args,
    /// `$server_protocol`.
    ServerProtocol,
    /// `$host`.
    Host,
    /// `$status`.
    Status,
    /// `$body_bytes_sent`.
    BodyBytesSent,
    /// `$bytes_sent` (the body here: head bytes are not counted).
    BytesSent,
    /// `$request_length`.
    RequestLength,
    /// `$request_time`.
    RequestTime,
    /// `$proxy_upstream_name`.
    ProxyUpstreamName,
    /// `$proxy_alternative_upstream_name`.
    ProxyAlternativeUpstreamName,
    /// `$upstream_addr`.
    UpstreamAddr,
    /// `$upstream_response_length`.
    UpstreamResponseLength,
    /// `$upstream_response_time`.
    UpstreamResponseTime,
    /// `$upstream_status`.
    UpstreamStatus,
    /// `$req_id`.
    ReqId,
    /// `$namespace`.
    Namespace,
    /// `$ingress_name`.
    IngressName,
    /// `$service_name`.
    ServiceName,
    /// `$service_port`.
    ServicePort,
    /// `$http_NAME`: the request header, lower case, `-` for `_`.
    Header(Arc<str>),
    /// A variable this engine does not fill: logged as `-`.
    Unknown,
}

/// A piece of a compiled format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogPart {
    /// Literal text.
    Text(Arc<str>),
    /// A variable.
    Var(LogVar),
}

/// A compiled `log-format-upstream`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogFormat {
    parts: Vec<LogPart>,
}

const NAMES: &[(&str, LogVar)] = &[
    ("remote_addr", LogVar::RemoteAddr),
    ("remote_user", LogVar::RemoteUser),
    ("time_local", LogVar::TimeLocal),
    ("time_iso8601", LogVar::TimeIso8601),
    ("msec", LogVar::Msec),
    ("request", LogVar::Request),
    ("request_method", LogVar::RequestMethod),
    ("request_uri", LogVar::RequestUri),
    ("uri", LogVar::Uri),
    ("args", LogVar::Args),
    ("server_protocol", LogVar::ServerProtocol),
    ("host", LogVar::Host),
    ("status", LogVar::Status),
    ("body_bytes_sent", LogVar::BodyBytesSent),
    ("bytes_sent", LogVar::BytesSent),
    ("request_length", LogVar::RequestLength),
    ("request_time", LogVar::RequestTime),
    ("proxy_upstream_name", LogVar::ProxyUpstreamName),
    (
        "proxy_alternative_upstream_name",
        LogVar::ProxyAlternativeUpstreamName,
    ),
    ("upstream_addr", LogVar::UpstreamAddr),
    ("upstream_response_length", LogVar::UpstreamResponseLength),
    ("upstream_response_time", LogVar::UpstreamResponseTime),
    ("upstream_status", LogVar::UpstreamStatus),
    ("req_id", LogVar::ReqId),
    ("namespace", LogVar::Namespace),
    ("ingress_name", LogVar::IngressName),
    ("service_name", LogVar::ServiceName),
    ("service_port", LogVar::ServicePort),
];

impl LogFormat {
    /// Compiles `format`; returns it with the names of the variables it does not fill.
    pub fn compile(format: &str) -> (LogFormat, Vec<String>) {
        let mut parts = Vec::new();
        let mut unknown = Vec::new();
        let mut text = String::new();
        let mut rest = format;
        while let Some(at) = rest.find('$') {
            text.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let (name, consumed) = match after.strip_prefix('{') {
                Some(braced) => match braced.find('}') {
                    Some(end) => (&braced[..end], end + 2),
                    None => ("", 0),
                },
                None => {
                    let end = after
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .unwrap_or(after.len());
                    (&after[..end], end)
                }
            };
            if name.is_empty() {
                // A lone `$` (or an unclosed `${`) is text.
                text.push('$');
                rest = after;
                continue;
            }
            if !text.is_empty() {
                parts.push(LogPart::Text(std::mem::take(&mut text).into()));
            }
            parts.push(LogPart::Var(variable(name, &mut unknown)));
            rest = &after[consumed..];
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(LogPart::Text(text.into()));
        }
        (LogFormat { parts }, unknown)
    }

    /// The pieces, in order.
    pub fn parts(&self) -> &[LogPart] {
        &self.parts
    }

    /// The request headers the format logs (`$http_NAME`), in the order they appear.
    pub fn headers(&self) -> impl Iterator<Item = &Arc<str>> {
        self.parts.iter().filter_map(|part| match part {
            LogPart::Var(LogVar::Header(name)) => Some(name),
            _ => None,
        })
    }
}

fn variable(name: &str, unknown: &mut Vec<String>) -> LogVar {
    if let Some((_, var)) = NAMES.iter().find(|(known, _)| *known == name) {
        return var.clone();
    }
    match name.strip_prefix("http_") {
        Some(header) if !header.is_empty() => {
            LogVar::Header(header.to_ascii_lowercase().replace('_', "-").into())
        }
        _ => {
            unknown.push(name.to_owned());
            LogVar::Unknown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingress_nginx_s_default_compiles_without_unknown_variables() {
        let (format, unknown) = LogFormat::compile(super::super::DEFAULT_LOG_FORMAT_UPSTREAM);
        assert!(unknown.is_empty(), "{unknown:?}");
        let vars = format
            .parts()
            .iter()
            .filter(|p| matches!(p, LogPart::Var(_)))
            .count();
        assert_eq!(vars, 17);
    }

    #[test]
    fn dollars_that_are_not_variables_stay_text() {
        let (format, unknown) = LogFormat::compile("cost: $ 5 ${unclosed $$status");
        assert!(unknown.is_empty());
        assert_eq!(
            format.parts(),
            [
                LogPart::Text("cost: $ 5 ${unclosed $".into()),
                LogPart::Var(LogVar::Status)
            ]
        );
    }
}
