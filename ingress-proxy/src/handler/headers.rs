//! Header rewriting: hop-by-hop headers removed both ways, `X-Forwarded-*` and `X-Real-IP` set.

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

impl Forwarded {
    pub(crate) fn new(client: IpAddr, https: bool, local_port: u16) -> Self {
        Forwarded {
            client: ip_header_value(client),
            proto: HeaderValue::from_static(if https { "https" } else { "http" }),
            port: HeaderValue::from(local_port),
        }
    }
}

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

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

/// Removes hop-by-hop headers (RFC 9110 §7.6.1): `Connection` and every header it names,
/// `Keep-Alive`, `Proxy-Connection`, `TE` (except `trailers`, which gRPC needs), `Trailer`,
/// `Transfer-Encoding` and `Upgrade`. With `upgrade`, `Upgrade` and `Connection: upgrade`
/// are kept so the upstream (or the client) sees the protocol switch.
pub(crate) fn remove_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    // Most messages carry none of them: one pass over the names instead of a lookup per name.
    if !headers.keys().any(is_hop_by_hop) {
        if upgrade {
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        }
        return;
    }
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
    if headers
        .get(header::TE)
        .is_some_and(|te| !te.as_bytes().eq_ignore_ascii_case(b"trailers"))
    {
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

/// Sets `X-Forwarded-For` (appended), `X-Forwarded-Proto`, `X-Forwarded-Host`,
/// `X-Forwarded-Port` and `X-Real-IP`.
pub(crate) fn set_forwarded(
    headers: &mut HeaderMap,
    forwarded: &Forwarded,
    host: Option<&HeaderValue>,
) {
    // Up to five new names: grow the table once rather than once per insert.
    headers.reserve(5);
    let client = &forwarded.client;
    let combined = if headers.contains_key(&X_FORWARDED_FOR) {
        let mut joined = BytesMut::new();
        for value in headers.get_all(&X_FORWARDED_FOR) {
            joined.put_slice(value.as_bytes());
            joined.put_slice(b", ");
        }
        joined.put_slice(client.as_bytes());
        HeaderValue::from_maybe_shared(joined.freeze()).ok()
    } else {
        None
    };
    headers.insert(&X_FORWARDED_FOR, combined.unwrap_or_else(|| client.clone()));
    headers.insert(&X_REAL_IP, client.clone());
    headers.insert(&X_FORWARDED_PROTO, forwarded.proto.clone());
    headers.insert(&X_FORWARDED_PORT, forwarded.port.clone());
    match host {
        Some(host) => {
            headers.insert(&X_FORWARDED_HOST, host.clone());
        }
        None => {
            headers.remove(&X_FORWARDED_HOST);
        }
    }
}

/// The `X-Forwarded-*` and `X-Real-IP` fields of one request, written straight into an
/// HTTP/1.1 request head (by the inline client) instead of being inserted into the header map:
/// the same fields [`set_forwarded`] sets.
#[derive(Debug)]
pub(crate) struct ForwardedFields<'a> {
    pub(crate) forwarded: &'a Forwarded,
    pub(crate) host: Option<&'a HeaderValue>,
}

impl ForwardedFields<'_> {
    /// Whether the client's field `name` is one these replace (or, `X-Forwarded-For`, extend).
    pub(crate) fn replaces(name: &HeaderName) -> bool {
        let name = name.as_str();
        name.starts_with("x-")
            && (name == X_FORWARDED_FOR
                || name == X_REAL_IP
                || name == X_FORWARDED_PROTO
                || name == X_FORWARDED_PORT
                || name == X_FORWARDED_HOST)
    }

    /// Writes the fields as `name: value` lines; `client` holds the client's header fields.
    pub(crate) fn encode(&self, client: &HeaderMap, out: &mut Vec<u8>) {
        let line = |out: &mut Vec<u8>, name: &HeaderName, value: &[u8]| {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        };
        let client_ip = self.forwarded.client.as_bytes();
        out.extend_from_slice(b"x-forwarded-for: ");
        for value in client.get_all(&X_FORWARDED_FOR) {
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(client_ip);
        out.extend_from_slice(b"\r\n");
        line(out, &X_REAL_IP, client_ip);
        line(out, &X_FORWARDED_PROTO, self.forwarded.proto.as_bytes());
        line(out, &X_FORWARDED_PORT, self.forwarded.port.as_bytes());
        if let Some(host) = self.host {
            line(out, &X_FORWARDED_HOST, host.as_bytes());
        }
    }
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
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn hop_by_hop_headers_and_connection_tokens_are_removed() {
        let mut map = headers(&[
            ("connection", "keep-alive, x-secret"),
            ("keep-alive", "timeout=5"),
            ("x-secret", "1"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("te", "gzip"),
            ("accept", "*/*"),
        ]);
        remove_hop_by_hop(&mut map, false);
        let names: Vec<_> = map.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["accept"]);
    }

    #[test]
    fn te_trailers_survives_for_grpc() {
        let mut map = headers(&[("te", "trailers")]);
        remove_hop_by_hop(&mut map, false);
        assert_eq!(
            map.get("te").map(HeaderValue::as_bytes),
            Some(&b"trailers"[..])
        );
    }

    #[test]
    fn upgrade_requests_keep_upgrade_and_connection() {
        let mut map = headers(&[("connection", "Upgrade"), ("upgrade", "websocket")]);
        assert!(is_upgrade_request(&map));
        remove_hop_by_hop(&mut map, true);
        assert_eq!(
            map.get("upgrade").map(HeaderValue::as_bytes),
            Some(&b"websocket"[..])
        );
        assert_eq!(
            map.get("connection").map(HeaderValue::as_bytes),
            Some(&b"upgrade"[..])
        );
    }

    #[test]
    fn forwarded_for_is_appended_and_the_rest_replaced() {
        let mut map = headers(&[
            ("x-forwarded-for", "10.0.0.1"),
            ("x-forwarded-proto", "spoofed"),
            ("x-real-ip", "spoofed"),
        ]);
        let forwarded = Forwarded::new("192.0.2.7".parse().expect("ip"), true, 8443);
        set_forwarded(
            &mut map,
            &forwarded,
            Some(&HeaderValue::from_static("a.example:8443")),
        );
        assert_eq!(map["x-forwarded-for"], "10.0.0.1, 192.0.2.7");
        assert_eq!(map["x-real-ip"], "192.0.2.7");
        assert_eq!(map["x-forwarded-proto"], "https");
        assert_eq!(map["x-forwarded-port"], "8443");
        assert_eq!(map["x-forwarded-host"], "a.example:8443");
        assert_eq!(map.get_all("x-forwarded-for").iter().count(), 1);
    }
}
