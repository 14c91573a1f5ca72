//! Reading the server name (SNI) from the first bytes of a TLS connection without terminating
//! TLS — nginx's `ssl_preread`. Shared by `ingress-lb`'s SNI routing and `ingress-proxy`'s
//! `ssl-passthrough`: both read into a buffer, ask [`preread`] after each read, and forward
//! the buffer unchanged once it has decided, so the handshake happens end to end.
//!
//! [`preread`] looks at everything read so far and answers:
//! - [`Preread::NeedMore`]: the ClientHello is not complete yet (only while fewer than
//!   [`PREREAD_LIMIT`] bytes were read: a larger one is [`Preread::NotTls`], as nginx's
//!   `preread_buffer_size` ends its search);
//! - [`Preread::ServerName`]: the ClientHello is complete; its `server_name` host name,
//!   lowercased, if it has one;
//! - [`Preread::NotTls`]: not a TLS handshake, or a malformed one.
//!
//! Once it is not `NeedMore`, the answer does not change as more bytes arrive. A ClientHello
//! may be split over several records (the handshake message is reassembled) and over any
//! number of reads.
//!
//! ```
//! use ingress_core::client_hello::{Preread, preread};
//!
//! assert_eq!(preread(b"\x16\x03"), Preread::NeedMore);
//! assert_eq!(preread(b"GET / HTTP/1.1\r\n\r\n"), Preread::NotTls);
//! ```

/// Most bytes read while looking for the ClientHello (nginx `preread_buffer_size`, 16 KiB).
pub const PREREAD_LIMIT: usize = 16 * 1024;

/// What the bytes read so far say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preread {
    /// The ClientHello is not complete yet.
    NeedMore,
    /// The ClientHello was read; its server name, if it carries one.
    ServerName(Option<String>),
    /// Not a TLS handshake, a malformed one, or one longer than [`PREREAD_LIMIT`].
    NotTls,
}

/// Reads the TLS records in `bytes`, reassembling a ClientHello split over several records.
pub fn preread(bytes: &[u8]) -> Preread {
    match read_records(bytes) {
        Preread::NeedMore if bytes.len() >= PREREAD_LIMIT => Preread::NotTls,
        decided => decided,
    }
}

fn read_records(bytes: &[u8]) -> Preread {
    let mut handshake = Vec::new();
    let mut rest = bytes;
    loop {
        let Some(header) = rest.get(..5) else {
            return Preread::NeedMore;
        };
        // A handshake record (22) of TLS 1.x (legacy version 3.x).
        if header[0] != 0x16 || header[1] != 0x03 {
            return Preread::NotTls;
        }
        let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let Some(fragment) = rest.get(5..5 + length) else {
            return Preread::NeedMore;
        };
        if fragment.is_empty() {
            // RFC 8446 §5.1: handshake records are never empty.
            return Preread::NotTls;
        }
        handshake.extend_from_slice(fragment);
        rest = &rest[5 + length..];
        let Some(&[kind, a, b, c]) = handshake.get(..4) else {
            continue;
        };
        if kind != 0x01 {
            return Preread::NotTls;
        }
        let body_length = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
        if body_length > PREREAD_LIMIT {
            return Preread::NotTls;
        }
        if let Some(body) = handshake.get(4..4 + body_length) {
            return match server_name(body) {
                Some(name) => Preread::ServerName(name),
                None => Preread::NotTls,
            };
        }
    }
}

/// A cursor over big-endian length-prefixed fields; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Option<&'a [u8]> {
        let (head, tail) = (self.0.get(..count)?, self.0.get(count..)?);
        self.0 = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<usize> {
        self.take(1).map(|b| usize::from(b[0]))
    }

    fn u16(&mut self) -> Option<usize> {
        self.take(2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    }

    fn vec8(&mut self) -> Option<&'a [u8]> {
        let length = self.u8()?;
        self.take(length)
    }

    fn vec16(&mut self) -> Option<&'a [u8]> {
        let length = self.u16()?;
        self.take(length)
    }
}

/// `Some(None)`: a valid ClientHello without SNI; `None`: malformed.
fn server_name(body: &[u8]) -> Option<Option<String>> {
    let mut hello = Reader(body);
    hello.take(2 + 32)?; // legacy_version, random
    hello.vec8()?; // legacy_session_id
    hello.vec16()?; // cipher_suites
    hello.vec8()?; // legacy_compression_methods
    if hello.0.is_empty() {
        return Some(None);
    }
    let mut extensions = Reader(hello.vec16()?);
    while !extensions.0.is_empty() {
        let kind = extensions.u16()?;
        let data = extensions.vec16()?;
        if kind != 0 {
            continue;
        }
        let mut list = Reader(Reader(data).vec16()?);
        while !list.0.is_empty() {
            let name_type = list.u8()?;
            let name = list.vec16()?;
            if name_type == 0 {
                let name = std::str::from_utf8(name).ok()?;
                return Some(Some(name.to_ascii_lowercase()));
            }
        }
        return Some(None);
    }
    Some(None)
}

#[cfg(test)]
#[path = "client_hello_tests.rs"]
mod tests;
