//! Receiving the PROXY protocol (v1 text and v2 binary, parsed by the `ppp` crate) in front of
//! a client connection, as ingress-nginx's `use-proxy-protocol`: a balancer in front (such as
//! ingress-lb with `proxy_protocol`) names the client it accepted, and that address is the
//! connection's client from then on (the realip rules, the access log, source ranges).
//!
//! With the key on, a connection must begin with a valid header within [`HEADER_TIMEOUT`], or
//! it is closed (counted in `ingress_proxy_protocol_refused_total`). A `LOCAL` (v2) or
//! `UNKNOWN` (v1) header keeps the peer's address, as nginx does.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ppp::{HeaderResult, PartialResult, v1, v2};
use tokio::io::{AsyncRead, AsyncReadExt};

/// How long a connection has to send its whole header.
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest header read: a v1 line is at most 107 bytes; v2 carries TLVs, and nothing
/// this proxy reads needs more.
const MAX_HEADER: usize = 4096;

/// Why a connection's header was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HeaderError {
    #[error("no PROXY protocol header within {HEADER_TIMEOUT:?}")]
    TimedOut,
    #[error("the connection closed before a whole PROXY protocol header")]
    Closed,
    #[error("not a PROXY protocol header: {0}")]
    Invalid(String),
    #[error("reading the PROXY protocol header failed: {0}")]
    Io(#[from] io::Error),
}

/// Reads the header from `io`: the client's address it names (`None`: keep the peer's) and
/// the bytes read past it, which belong to the client's first request.
pub(crate) async fn read_header<I: AsyncRead + Unpin>(
    io: &mut I,
) -> Result<(Option<SocketAddr>, Bytes), HeaderError> {
    tokio::time::timeout(HEADER_TIMEOUT, read(io))
        .await
        .unwrap_or(Err(HeaderError::TimedOut))
}

async fn read<I: AsyncRead + Unpin>(
    io: &mut I,
) -> Result<(Option<SocketAddr>, Bytes), HeaderError> {
    let mut buffer = BytesMut::with_capacity(256);
    loop {
        if io.read_buf(&mut buffer).await? == 0 {
            return Err(HeaderError::Closed);
        }
        let parsed = HeaderResult::parse(&buffer);
        if parsed.is_incomplete() {
            if buffer.len() >= MAX_HEADER {
                return Err(HeaderError::Invalid("longer than 4096 bytes".to_owned()));
            }
            continue;
        }
        let (length, client) = match parsed {
            HeaderResult::V1(Ok(header)) => (header.header.len(), v1_source(&header.addresses)),
            HeaderResult::V2(Ok(header)) => (header.len(), v2_source(&header)),
            HeaderResult::V1(Err(error)) => return Err(HeaderError::Invalid(error.to_string())),
            HeaderResult::V2(Err(error)) => return Err(HeaderError::Invalid(error.to_string())),
        };
        let rest = buffer.split_off(length).freeze();
        return Ok((client, rest));
    }
}

fn v1_source(addresses: &v1::Addresses) -> Option<SocketAddr> {
    match addresses {
        v1::Addresses::Tcp4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        v1::Addresses::Tcp6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        v1::Addresses::Unknown => None,
    }
}

fn v2_source(header: &v2::Header<'_>) -> Option<SocketAddr> {
    if header.command == v2::Command::Local {
        return None;
    }
    match header.addresses {
        v2::Addresses::IPv4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        v2::Addresses::IPv6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        v2::Addresses::Unspecified | v2::Addresses::Unix(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(bytes: &[u8]) -> Result<(Option<SocketAddr>, Bytes), HeaderError> {
        let mut input = bytes;
        read(&mut input).await
    }

    #[tokio::test]
    async fn v1_and_v2_headers_name_the_client_and_keep_what_follows() {
        let (client, rest) =
            parse(b"PROXY TCP4 203.0.113.7 10.0.0.1 51234 80\r\nGET / HTTP/1.1\r\n")
                .await
                .unwrap();
        assert_eq!(client, Some("203.0.113.7:51234".parse().unwrap()));
        assert_eq!(&rest[..], b"GET / HTTP/1.1\r\n");

        let v2 = v2::Builder::with_addresses(
            v2::Version::Two | v2::Command::Proxy,
            v2::Protocol::Stream,
            (
                "[2001:db8::7]:4000".parse::<SocketAddr>().unwrap(),
                "[2001:db8::1]:443".parse::<SocketAddr>().unwrap(),
            ),
        )
        .build()
        .unwrap();
        let mut bytes = v2.clone();
        bytes.extend_from_slice(b"\x16\x03\x01");
        let (client, rest) = parse(&bytes).await.unwrap();
        assert_eq!(client, Some("[2001:db8::7]:4000".parse().unwrap()));
        assert_eq!(&rest[..], b"\x16\x03\x01");
    }

    #[tokio::test]
    async fn unknown_and_local_keep_the_peer_and_garbage_is_refused() {
        let (client, _) = parse(b"PROXY UNKNOWN\r\n").await.unwrap();
        assert_eq!(client, None);
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n").await,
            Err(HeaderError::Invalid(_))
        ));
        assert!(matches!(
            parse(b"PROXY TCP4 1.2").await,
            Err(HeaderError::Closed)
        ));
    }
}
