//! PROXY protocol headers sent to the upstream before any client byte (nginx `proxy_protocol`).

use std::net::{IpAddr, SocketAddr};

use ppp::{v1, v2};

use crate::config::ProxyProtocolVersion;

/// The header announcing `client → local` (the address the client connected to).
///
/// IPv4-mapped IPv6 addresses are written as IPv4 so that a dual-stack listener still sends a
/// `TCP4` header; a mix of families is sent as `UNKNOWN` (v1) or `UNSPEC` (v2), as the
/// specification asks.
pub(crate) fn header(
    version: ProxyProtocolVersion,
    client: SocketAddr,
    local: SocketAddr,
) -> Vec<u8> {
    let addresses = (unmap(client), unmap(local));
    match version {
        ProxyProtocolVersion::V1 => v1::Addresses::from(addresses).to_string().into_bytes(),
        ProxyProtocolVersion::V2 => {
            let builder = v2::Builder::with_addresses(
                v2::Version::Two | v2::Command::Proxy,
                v2::Protocol::Stream,
                addresses,
            );
            // Building only fails when a payload cannot be written into the Vec or the length
            // overflows u16; two socket addresses always fit. Fall back to a LOCAL header.
            builder.build().unwrap_or_else(|_| local_v2())
        }
    }
}

/// A v2 `LOCAL` header with no addresses (16 bytes).
fn local_v2() -> Vec<u8> {
    let mut bytes = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    bytes.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
    bytes
}

fn unmap(address: SocketAddr) -> SocketAddr {
    match address.ip() {
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), address.port()),
            None => address,
        },
        IpAddr::V4(_) => address,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        match text.parse() {
            Ok(address) => address,
            Err(error) => panic!("{text}: {error}"),
        }
    }

    #[test]
    fn v1_is_the_text_line() {
        let bytes = header(
            ProxyProtocolVersion::V1,
            addr("192.0.2.1:5000"),
            addr("198.51.100.2:38999"),
        );
        assert_eq!(bytes, b"PROXY TCP4 192.0.2.1 198.51.100.2 5000 38999\r\n");
        let bytes = header(
            ProxyProtocolVersion::V1,
            addr("[2001:db8::1]:1"),
            addr("[::1]:2"),
        );
        assert_eq!(bytes, b"PROXY TCP6 2001:db8::1 ::1 1 2\r\n");
        let bytes = header(
            ProxyProtocolVersion::V1,
            addr("[::ffff:192.0.2.1]:1"),
            addr("192.0.2.2:2"),
        );
        assert_eq!(bytes, b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\n");
    }

    #[test]
    fn v2_is_the_binary_header() {
        let bytes = header(
            ProxyProtocolVersion::V2,
            addr("192.0.2.1:5000"),
            addr("198.51.100.2:38999"),
        );
        let mut want = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
        want.extend_from_slice(&[0x21, 0x11, 0x00, 12]);
        want.extend_from_slice(&[192, 0, 2, 1, 198, 51, 100, 2]);
        want.extend_from_slice(&5000u16.to_be_bytes());
        want.extend_from_slice(&38999u16.to_be_bytes());
        assert_eq!(bytes, want);
        assert_eq!(local_v2().len(), 16);
    }
}
