//! VRRP advertisement codec (RFC 5798 version 3 and RFC 3768 version 2, IPv4 only), and the
//! IPv4 header reader a raw socket needs. Pure: bytes in, values out.
//!
//! Wire layouts (one row is 32 bits):
//!
//! ```text
//! version 3:  |ver=3|type=1| VRID | priority | count |
//!             |rsvd | max adver int (12 bits, centiseconds) | checksum |
//!             | IPv4 address x count |
//! version 2:  |ver=2|type=1| VRID | priority | count |
//!             | auth type | adver int (seconds) | checksum |
//!             | IPv4 address x count | authentication data (8 bytes) |
//! ```
//!
//! The version 3 checksum covers the IPv4 pseudo-header (source, destination, zero, protocol
//! 112, VRRP length) and the VRRP message; the version 2 checksum covers the VRRP message only.

use std::net::Ipv4Addr;

/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// The IPv4 multicast group VRRP advertisements are sent to.
pub const VRRP_MULTICAST: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The only TTL a valid advertisement may arrive with (it never crosses a router).
pub const VRRP_TTL: u8 = 255;

const HEADER_LEN: usize = 8;
const AUTH_DATA_LEN: usize = 8;
const TYPE_ADVERTISEMENT: u8 = 1;
const V3_MAX_INTERVAL_CENTIS: u16 = 0x0fff;

/// Protocol version of an advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// RFC 3768, with the (deprecated) authentication field; keepalived's default.
    V2,
    /// RFC 5798; centisecond intervals, no authentication.
    V3,
}

/// Version 2 authentication (RFC 3768 §5.3.6). Version 3 has none.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Authentication {
    /// Auth type 0.
    None,
    /// Auth type 1, keepalived's `auth_type PASS`: up to 8 bytes of clear text, zero-padded.
    Password([u8; AUTH_DATA_LEN]),
}

/// One decoded VRRP advertisement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertisement {
    /// Wire version.
    pub version: Version,
    /// Virtual router id, 1–255.
    pub virtual_router_id: u8,
    /// Sender's priority: 0 = master is leaving, 1–254 = backup-capable, 255 = address owner.
    pub priority: u8,
    /// Advertisement interval in centiseconds (version 2 carries whole seconds; converted).
    pub interval_centis: u16,
    /// The virtual addresses the sender protects.
    pub addresses: Vec<Ipv4Addr>,
    /// Version 2 authentication; always [`Authentication::None`] for version 3.
    pub authentication: Authentication,
}

/// Why bytes are not a valid advertisement (or a message we cannot send).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PacketError {
    /// Fewer bytes than the header or the declared address count need.
    #[error("VRRP packet truncated: {len} bytes, need {need}")]
    Truncated {
        /// Bytes available.
        len: usize,
        /// Bytes needed.
        need: usize,
    },
    /// The version nibble is neither 2 nor 3.
    #[error("VRRP packet field `version`: unsupported value {0}")]
    Version(u8),
    /// The type nibble is not 1 (ADVERTISEMENT).
    #[error("VRRP packet field `type`: unsupported value {0}")]
    Type(u8),
    /// The checksum does not verify.
    #[error("VRRP packet field `checksum`: does not verify")]
    Checksum,
    /// Version 2 auth type other than 0 (none) or 1 (simple password).
    #[error("VRRP packet field `auth_type`: unsupported value {0}")]
    AuthType(u8),
    /// The IPv4 header is malformed (`field` names the part at fault).
    #[error("IPv4 header field `{0}` is invalid")]
    Ipv4Header(&'static str),
    /// Encoding: more than 255 addresses, or an interval the version cannot carry.
    #[error("VRRP advertisement field `{0}` cannot be encoded")]
    Unencodable(&'static str),
}

/// The IPv4 header fields a VRRP receiver checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Header {
    /// Sender address.
    pub source: Ipv4Addr,
    /// Destination (224.0.0.18 or a unicast peer).
    pub destination: Ipv4Addr,
    /// Time to live; must be 255.
    pub ttl: u8,
    /// IP protocol; must be 112.
    pub protocol: u8,
}

impl Advertisement {
    /// Encodes the advertisement; `source` and `destination` feed the version 3 pseudo-header.
    pub fn encode(&self, source: Ipv4Addr, destination: Ipv4Addr) -> Result<Vec<u8>, PacketError> {
        let count = u8::try_from(self.addresses.len())
            .map_err(|_| PacketError::Unencodable("addresses"))?;
        let mut out = Vec::with_capacity(HEADER_LEN + 4 * self.addresses.len() + AUTH_DATA_LEN);
        let version_nibble = match self.version {
            Version::V2 => 2u8,
            Version::V3 => 3u8,
        };
        out.push((version_nibble << 4) | TYPE_ADVERTISEMENT);
        out.push(self.virtual_router_id);
        out.push(self.priority);
        out.push(count);
        match self.version {
            Version::V3 => {
                if self.interval_centis > V3_MAX_INTERVAL_CENTIS {
                    return Err(PacketError::Unencodable("interval_centis"));
                }
                out.extend_from_slice(&self.interval_centis.to_be_bytes());
            }
            Version::V2 => {
                let seconds = u8::try_from(self.interval_centis / 100)
                    .ok()
                    .filter(|s| *s > 0 && self.interval_centis.is_multiple_of(100))
                    .ok_or(PacketError::Unencodable("interval_centis"))?;
                let auth_type = match self.authentication {
                    Authentication::None => 0,
                    Authentication::Password(_) => 1,
                };
                out.push(auth_type);
                out.push(seconds);
            }
        }
        out.extend_from_slice(&[0, 0]);
        for address in &self.addresses {
            out.extend_from_slice(&address.octets());
        }
        if self.version == Version::V2 {
            match &self.authentication {
                Authentication::None => out.extend_from_slice(&[0; AUTH_DATA_LEN]),
                Authentication::Password(data) => out.extend_from_slice(data),
            }
        }
        let checksum = self.checksum_over(&out, source, destination);
        out[6..8].copy_from_slice(&checksum.to_be_bytes());
        Ok(out)
    }

    /// Decodes and checksum-verifies a VRRP message (the IP payload).
    pub fn decode(
        bytes: &[u8],
        source: Ipv4Addr,
        destination: Ipv4Addr,
    ) -> Result<Self, PacketError> {
        if bytes.len() < HEADER_LEN {
            return Err(PacketError::Truncated {
                len: bytes.len(),
                need: HEADER_LEN,
            });
        }
        let version = match bytes[0] >> 4 {
            2 => Version::V2,
            3 => Version::V3,
            other => return Err(PacketError::Version(other)),
        };
        let message_type = bytes[0] & 0x0f;
        if message_type != TYPE_ADVERTISEMENT {
            return Err(PacketError::Type(message_type));
        }
        let count = usize::from(bytes[3]);
        let trailer = if version == Version::V2 {
            AUTH_DATA_LEN
        } else {
            0
        };
        let need = HEADER_LEN + 4 * count + trailer;
        if bytes.len() < need {
            return Err(PacketError::Truncated {
                len: bytes.len(),
                need,
            });
        }
        // Verify over the declared length only; trailing padding is not part of the message.
        let message = &bytes[..need];
        let pseudo = (version == Version::V3).then_some((source, destination));
        if internet_checksum(message, pseudo) != 0 {
            return Err(PacketError::Checksum);
        }
        let (interval_centis, authentication) = match version {
            Version::V3 => (
                u16::from_be_bytes([bytes[4], bytes[5]]) & V3_MAX_INTERVAL_CENTIS,
                None,
            ),
            Version::V2 => (u16::from(bytes[5]) * 100, Some(bytes[4])),
        };
        let addresses = message[HEADER_LEN..HEADER_LEN + 4 * count]
            .chunks_exact(4)
            .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
            .collect();
        let authentication = match authentication {
            None | Some(0) => Authentication::None,
            Some(1) => {
                let mut data = [0u8; AUTH_DATA_LEN];
                data.copy_from_slice(&message[need - AUTH_DATA_LEN..need]);
                Authentication::Password(data)
            }
            Some(other) => return Err(PacketError::AuthType(other)),
        };
        Ok(Self {
            version,
            virtual_router_id: bytes[1],
            priority: bytes[2],
            interval_centis,
            addresses,
            authentication,
        })
    }

    fn checksum_over(&self, message: &[u8], source: Ipv4Addr, destination: Ipv4Addr) -> u16 {
        let pseudo = (self.version == Version::V3).then_some((source, destination));
        internet_checksum(message, pseudo)
    }
}

impl Authentication {
    /// keepalived's `auth_pass`: the first 8 bytes of `text`, zero-padded (keepalived truncates
    /// longer passwords the same way).
    pub fn password(text: &str) -> Self {
        let mut data = [0u8; AUTH_DATA_LEN];
        for (slot, byte) in data.iter_mut().zip(text.as_bytes()) {
            *slot = *byte;
        }
        Self::Password(data)
    }
}

impl std::fmt::Debug for Authentication {
    // Never print the password itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Password(_) => f.write_str("Password(..)"),
        }
    }
}

/// Splits a raw-socket datagram into its IPv4 header fields and payload.
pub fn parse_ipv4(datagram: &[u8]) -> Result<(Ipv4Header, &[u8]), PacketError> {
    if datagram.len() < 20 {
        return Err(PacketError::Truncated {
            len: datagram.len(),
            need: 20,
        });
    }
    if datagram[0] >> 4 != 4 {
        return Err(PacketError::Ipv4Header("version"));
    }
    let header_len = usize::from(datagram[0] & 0x0f) * 4;
    if header_len < 20 || datagram.len() < header_len {
        return Err(PacketError::Ipv4Header("ihl"));
    }
    let total_len = usize::from(u16::from_be_bytes([datagram[2], datagram[3]]));
    // Linux hands raw sockets the datagram with total_len in network order and intact.
    if total_len < header_len || total_len > datagram.len() {
        return Err(PacketError::Ipv4Header("total_length"));
    }
    let header = Ipv4Header {
        ttl: datagram[8],
        protocol: datagram[9],
        source: Ipv4Addr::new(datagram[12], datagram[13], datagram[14], datagram[15]),
        destination: Ipv4Addr::new(datagram[16], datagram[17], datagram[18], datagram[19]),
    };
    Ok((header, &datagram[header_len..total_len]))
}

/// RFC 1071 one's-complement checksum, optionally over the IPv4 pseudo-header for protocol 112.
/// Over a message that carries a correct checksum the result is 0.
pub(crate) fn internet_checksum(message: &[u8], pseudo: Option<(Ipv4Addr, Ipv4Addr)>) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            let word = match pair {
                [high, low] => u16::from_be_bytes([*high, *low]),
                [high] => u16::from_be_bytes([*high, 0]),
                _ => 0,
            };
            sum += u32::from(word);
        }
    };
    if let Some((source, destination)) = pseudo {
        add(&source.octets());
        add(&destination.octets());
        // A VRRP message is at most 8 + 255 * 4 + 8 bytes, so its length fits in u16.
        let length = u16::try_from(message.len()).unwrap_or(u16::MAX);
        add(&[0, IPPROTO_VRRP]);
        add(&length.to_be_bytes());
    }
    add(message);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // The loop above folded `sum` into 16 bits.
    !(u16::try_from(sum).unwrap_or(u16::MAX))
}

#[cfg(test)]
#[path = "packet_tests.rs"]
mod tests;
