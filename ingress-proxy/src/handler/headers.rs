//! Header rewriting, the same for every transport: hop-by-hop fields removed both ways,
//! request fields with `_` in their names dropped (unless enabled), a response's
//! `Content-Length` dropped when it also had `Transfer-Encoding`, and the `X-Forwarded-*`
//! fields decided once per request ([`ForwardedFields`]) and then written by whichever client
//! carries the request.
//!
//! Forwarded fields, as ingress-nginx sets them:
//!
//! | field | default | `use-forwarded-headers`, peer in `proxy-real-ip-cidr` |
//! |---|---|---|
//! | `X-Forwarded-For` | the peer's address (the client's value is replaced) | the client named in `forwarded-for-header`; with `compute-full-forwarded-for`, the client's list, then the peer |
//! | `X-Real-IP` | the peer's address | the client named in `forwarded-for-header` |
//! | `X-Forwarded-Proto` | `http` / `https` as received | the client's, else as received |
//! | `X-Forwarded-Host` | the request's host | the client's, else the request's host |
//! | `X-Forwarded-Port` | the listener's port | the client's, else the listener's port |
//!
//! The client's address itself is decided once per request (`GlobalConfig::client_address`:
//! nginx's realip rules) and is also what the access log and `$remote_addr` see.

use std::net::IpAddr;

use bytes::{BufMut, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// What the upstream is told about the client connection, as header values built once per
/// connection.
#[derive(Debug, Clone)]
pub(crate) struct Forwarded {
    client: HeaderValue,
    proto: HeaderValue,
    port: HeaderValue,
}

/// The `X-Forwarded-*` and `X-Real-IP` values of one request.
#[derive(Debug, Clone)]
pub(crate) struct ForwardedFields {
    for_: HeaderValue,
    real_ip: HeaderValue,
    proto: Option<HeaderValue>,
    host: Option<HeaderValue>,
    port: Option<HeaderValue>,
}

/// Who the request is from, as the pipeline decided it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Trust {
    /// The peer may name the client, scheme and port.
    pub(crate) trusted: bool,
    /// `compute-full-forwarded-for`: `X-Forwarded-For` carries the client's list and the peer.
    pub(crate) full_list: bool,
    /// The client's address when it is not the peer's.
    pub(crate) client: Option<IpAddr>,
}

/// The forwarded fields a client sent (taken out of its request; used only when trusted).
#[derive(Debug, Default)]
pub(crate) struct ClientForwarded {
    for_: Vec<HeaderValue>,
    proto: Option<HeaderValue>,
    host: Option<HeaderValue>,
    port: Option<HeaderValue>,
}

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

impl Forwarded {
    pub(crate) fn new(client: IpAddr, https: bool, local_port: u16) -> Self {
        Forwarded {
            client: ip_header_value(client),
            proto: HeaderValue::from_static(if https { "https" } else { "http" }),
            port: HeaderValue::from(local_port),
        }
    }
}

impl ForwardedFields {
    /// The fields for a request to `host` on `connection`, from the client `trust` decided;
    /// with `trust.trusted`, the client's own values (`client`) are kept as the module docs say.
    pub(crate) fn new(
        connection: &Forwarded,
        host: Option<&HeaderValue>,
        client: ClientForwarded,
        trust: Trust,
    ) -> Self {
        let address = match trust.client {
            Some(address) => ip_header_value(address),
            None => connection.client.clone(),
        };
        let mut fields = ForwardedFields {
            for_: address.clone(),
            real_ip: address,
            proto: Some(connection.proto.clone()),
            host: host.cloned(),
            port: Some(connection.port.clone()),
        };
        if !trust.trusted {
            return fields;
        }
        if trust.full_list {
            fields.for_ = connection.client.clone();
            if !client.for_.is_empty() {
                let mut joined = BytesMut::new();
                for value in &client.for_ {
                    joined.put_slice(value.as_bytes());
                    joined.put_slice(b", ");
                }
                joined.put_slice(connection.client.as_bytes());
                if let Ok(value) = HeaderValue::from_maybe_shared(joined.freeze()) {
                    fields.for_ = value;
                }
            }
        }
        fields.proto = client.proto.or(fields.proto);
        fields.host = client.host.or(fields.host);
        fields.port = client.port.or(fields.port);
        fields
    }

    /// Only `X-Forwarded-For` and `X-Real-IP`: what an `auth-url` sub-request is told
    /// (ingress-nginx clears `X-Forwarded-Proto` there and sets no host or port).
    pub(crate) fn for_auth(self) -> Self {
        ForwardedFields {
            proto: None,
            host: None,
            port: None,
            ..self
        }
    }

    /// The fields as `(name, value)` pairs, in the order they are written.
    fn pairs(&self) -> impl Iterator<Item = (&'static HeaderName, &HeaderValue)> {
        [
            (&X_FORWARDED_FOR, Some(&self.for_)),
            (&X_REAL_IP, Some(&self.real_ip)),
            (&X_FORWARDED_PROTO, self.proto.as_ref()),
            (&X_FORWARDED_PORT, self.port.as_ref()),
            (&X_FORWARDED_HOST, self.host.as_ref()),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
    }

    /// Sets the fields in a request's header map (hyper's clients).
    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        // Up to five new names: grow the table once rather than once per insert.
        headers.reserve(5);
        for (name, value) in self.pairs() {
            headers.insert(name, value.clone());
        }
    }

    /// Writes the fields as `name: value` lines of a request head (the inline client).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        for (name, value) in self.pairs() {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Whether the request asks for an HTTP/1.1 protocol upgrade (`Connection: upgrade` + `Upgrade`).
pub(crate) fn is_upgrade_request(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE) && connection_has_token(headers, "upgrade")
}

fn connection_has_token(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Readies a client's request fields for the upstream: hop-by-hop fields removed (see
/// [`remove_hop_by_hop`]), names with `_` dropped unless `underscores` allows them, and the
/// client's forwarded fields taken out (returned, for [`ForwardedFields::new`]).
pub(crate) fn prepare_request(
    headers: &mut HeaderMap,
    upgrade: bool,
    underscores: bool,
) -> ClientForwarded {
    // Most requests carry none of these: one pass over the names decides what to do.
    let (mut hop, mut underscore, mut forwarded) = (false, false, false);
    for name in headers.keys() {
        hop |= is_hop_by_hop(name);
        underscore |= name.as_str().contains('_');
        forwarded |= is_forwarded(name);
    }
    if hop || upgrade {
        remove_hop_by_hop(headers, upgrade);
    }
    if underscore && !underscores {
        let named: Vec<HeaderName> = headers
            .keys()
            .filter(|name| name.as_str().contains('_'))
            .cloned()
            .collect();
        for name in named {
            headers.remove(&name);
        }
    }
    let mut client = ClientForwarded::default();
    if forwarded {
        if let header::Entry::Occupied(entry) = headers.entry(&X_FORWARDED_FOR) {
            client.for_ = entry.remove_entry_mult().1.collect();
        }
        client.proto = headers.remove(&X_FORWARDED_PROTO);
        client.host = headers.remove(&X_FORWARDED_HOST);
        client.port = headers.remove(&X_FORWARDED_PORT);
        headers.remove(&X_REAL_IP);
    }
    client
}

/// Readies an upstream's response fields for the client: a `Content-Length` beside
/// `Transfer-Encoding` is dropped (RFC 9112 §6.3: the transfer coding framed the message, the
/// length is not the body's), then hop-by-hop fields are removed.
pub(crate) fn prepare_response(headers: &mut HeaderMap, upgrade: bool) {
    if headers.contains_key(header::TRANSFER_ENCODING) {
        headers.remove(header::CONTENT_LENGTH);
    } else if headers.contains_key(header::CONTENT_LENGTH) {
        one_content_length(headers);
    }
    if upgrade || headers.keys().any(is_hop_by_hop) {
        remove_hop_by_hop(headers, upgrade);
    }
}

/// Leaves at most one `Content-Length`, judged as the codec judges one: lines and list
/// elements that agree become one number; any that disagree or are not numbers are removed
/// (a response that reaches this point with them has no body to frame: `HEAD`, `304`).
fn one_content_length(headers: &mut HeaderMap) {
    let mut lines = headers.get_all(header::CONTENT_LENGTH).iter();
    let single = lines.next().is_some_and(|first| {
        first.as_bytes().iter().all(u8::is_ascii_digit) && lines.next().is_none()
    });
    if single {
        return;
    }
    let lines = headers
        .get_all(header::CONTENT_LENGTH)
        .iter()
        .map(|v| v.as_bytes());
    match crate::http1::ContentLength::of(lines) {
        crate::http1::ContentLength::Length(length) => {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        crate::http1::ContentLength::Absent | crate::http1::ContentLength::Invalid => {
            headers.remove(header::CONTENT_LENGTH);
        }
    }
}

/// Removes hop-by-hop headers (RFC 9110 §7.6.1): `Connection` and every header it names,
/// `Keep-Alive`, `Proxy-Connection`, `TE` (unless every `TE` line is `trailers`, which gRPC
/// needs), `Trailer`, `Transfer-Encoding` and `Upgrade`. With `upgrade`, `Upgrade` and
/// `Connection: upgrade` are kept so the upstream (or the client) sees the protocol switch.
pub(crate) fn remove_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
            .collect();
        for name in named {
            if !(upgrade && name == header::UPGRADE) {
                headers.remove(&name);
            }
        }
        headers.remove(header::CONNECTION);
    }
    headers.remove(&KEEP_ALIVE);
    headers.remove(&PROXY_CONNECTION);
    headers.remove(header::TRAILER);
    headers.remove(header::TRANSFER_ENCODING);
    let te_trailers_only = headers
        .get_all(header::TE)
        .iter()
        .all(|te| te.as_bytes().trim_ascii().eq_ignore_ascii_case(b"trailers"));
    if !te_trailers_only {
        headers.remove(header::TE);
    }
    if upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    } else {
        headers.remove(header::UPGRADE);
    }
}

/// The fixed hop-by-hop names (the `Connection` header may name more; it is one of these).
fn is_hop_by_hop(name: &HeaderName) -> bool {
    name == header::CONNECTION
        || name == header::TRANSFER_ENCODING
        || name == header::UPGRADE
        || name == header::TE
        || name == header::TRAILER
        || name == KEEP_ALIVE
        || name == PROXY_CONNECTION
}

/// The names [`ForwardedFields`] writes.
fn is_forwarded(name: &HeaderName) -> bool {
    let name = name.as_str();
    name.starts_with("x-")
        && (name == X_FORWARDED_FOR
            || name == X_REAL_IP
            || name == X_FORWARDED_PROTO
            || name == X_FORWARDED_PORT
            || name == X_FORWARDED_HOST)
}

fn ip_header_value(ip: IpAddr) -> HeaderValue {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    // An IP address's text form is always a valid header value; the fallback cannot happen.
    HeaderValue::from_str(&ip.to_string()).unwrap_or(HeaderValue::from_static("unknown"))
}

#[cfg(test)]
#[path = "headers_tests.rs"]
mod tests;
