//! A ConfigMap's `log-format-upstream`, written from its compiled parts: each variable's
//! value escaped as nginx's default `escape=default` does, `-` for an empty one.

use std::fmt::Write as _;

use ingress_core::PortRef;
use ingress_core::global_config::{LogPart, LogVar};

use super::super::entry::{CustomFields, Entry, UpstreamName};
use super::{Formatter, escape_header_nginx, escape_nginx, request_line, seconds};

impl Formatter {
    /// Appends `entry` in its custom format (without the `\n`).
    pub(in crate::access_log) fn template(
        &self,
        custom: &CustomFields,
        entry: &Entry,
        out: &mut String,
    ) {
        let mut headers = custom.headers.iter();
        for part in custom.format.parts() {
            match part {
                LogPart::Text(text) => out.push_str(text),
                LogPart::Var(LogVar::Header(_)) => {
                    escape_header_nginx(headers.next().and_then(Option::as_ref), out);
                }
                LogPart::Var(var) => self.variable(var, custom, entry, out),
            }
        }
    }

    fn variable(&self, var: &LogVar, custom: &CustomFields, entry: &Entry, out: &mut String) {
        let service = match &entry.upstream_name {
            UpstreamName::Service(service) => Some(service),
            UpstreamName::None | UpstreamName::DefaultBackend => None,
        };
        let text = |value: Option<&str>, out: &mut String| match value {
            Some(value) if !value.is_empty() => escape_nginx(value.as_bytes(), out),
            _ => out.push('-'),
        };
        let _ = match var {
            LogVar::RemoteAddr => write!(out, "{}", entry.client),
            LogVar::RemoteUser | LogVar::Unknown => write!(out, "-"),
            // Set but empty in ingress-nginx (its lines show `[]`): no canary upstream here.
            LogVar::ProxyAlternativeUpstreamName => Ok(()),
            LogVar::TimeLocal => write!(out, "{}", self.time_local),
            LogVar::TimeIso8601 => write!(out, "{}", self.time_iso8601),
            LogVar::Msec => {
                let since = entry
                    .time
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                write!(out, "{}.{:03}", since.as_secs(), since.subsec_millis())
            }
            LogVar::Request => {
                let mut line = String::with_capacity(64);
                request_line(entry, &mut line);
                escape_nginx(line.as_bytes(), out);
                Ok(())
            }
            LogVar::RequestMethod => write!(out, "{}", entry.method),
            LogVar::RequestUri => {
                let target = entry.uri.path_and_query().map_or("/", |p| p.as_str());
                escape_nginx(target.as_bytes(), out);
                Ok(())
            }
            LogVar::Uri => {
                escape_nginx(entry.uri.path().as_bytes(), out);
                Ok(())
            }
            LogVar::Args => {
                text(entry.uri.query(), out);
                Ok(())
            }
            LogVar::ServerProtocol => write!(out, "{:?}", entry.version),
            LogVar::Host => {
                escape_header_nginx(entry.host.as_ref(), out);
                Ok(())
            }
            LogVar::Status => write!(out, "{}", entry.status),
            LogVar::BodyBytesSent | LogVar::BytesSent => write!(out, "{}", entry.body_bytes_sent),
            LogVar::RequestLength => write!(out, "{}", entry.request_length),
            LogVar::RequestTime => {
                seconds(entry.request_time, out);
                Ok(())
            }
            LogVar::ProxyUpstreamName => {
                entry.upstream_name.write_to(out);
                Ok(())
            }
            LogVar::UpstreamAddr => match entry.upstream_addr {
                Some(address) => write!(out, "{address}"),
                None => write!(out, "-"),
            },
            LogVar::UpstreamResponseLength => match entry.upstream_response_length {
                Some(length) => write!(out, "{length}"),
                None => write!(out, "-"),
            },
            LogVar::UpstreamResponseTime => match entry.upstream_response_time {
                Some(time) => {
                    seconds(time, out);
                    Ok(())
                }
                None => write!(out, "-"),
            },
            LogVar::UpstreamStatus => match entry.upstream_status {
                Some(status) => write!(out, "{status}"),
                None => write!(out, "-"),
            },
            LogVar::ReqId => {
                escape_header_nginx(entry.request_id.as_ref(), out);
                Ok(())
            }
            LogVar::Namespace => {
                text(service.map(|s| &*s.namespace), out);
                Ok(())
            }
            LogVar::IngressName => {
                text(custom.ingress.as_deref(), out);
                Ok(())
            }
            LogVar::ServiceName => {
                text(service.map(|s| &*s.name), out);
                Ok(())
            }
            LogVar::ServicePort => match service.map(|s| &s.port) {
                Some(PortRef::Number(number)) => write!(out, "{number}"),
                Some(PortRef::Name(name)) => {
                    text(Some(name), out);
                    Ok(())
                }
                None => write!(out, "-"),
            },
            // Handled by the caller (it walks the captured values in order); a variable added
            // to the core later is logged as nginx logs an empty value.
            _ => write!(out, "-"),
        };
    }
}
