//! Reading the server name from a TLS ClientHello without terminating TLS (nginx
//! `ssl_preread`).
//!
//! The bytes read stay in the caller's buffer and are forwarded to the upstream unchanged, so
//! the TLS handshake happens end to end (passthrough).

/// Most bytes read while looking for the ClientHello (nginx `preread_buffer_size`, 16 KiB).
pub(crate) const PREREAD_LIMIT: usize = 16 * 1024;

/// Result of looking at the bytes read so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Preread {
    /// The ClientHello is not complete yet.
    NeedMore,
    /// The ClientHello was parsed; the server name, if it carries one.
    ServerName(Option<String>),
    /// Not a TLS handshake (or a malformed one): route to the default group.
    NotTls,
}

/// Parses the TLS records in `bytes`, reassembling a ClientHello split over several records.
pub(crate) fn preread(bytes: &[u8]) -> Preread {
    let mut handshake = Vec::new();
    let mut rest = bytes;
    loop {
        if rest.len() < 5 {
            return Preread::NeedMore;
        }
        if rest[0] != 0x16 || rest[1] != 0x03 {
            return Preread::NotTls;
        }
        let length = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        let Some(fragment) = rest.get(5..5 + length) else {
            return Preread::NeedMore;
        };
        handshake.extend_from_slice(fragment);
        rest = &rest[5 + length..];
        if handshake.len() < 4 {
            continue;
        }
        if handshake[0] != 0x01 {
            return Preread::NotTls;
        }
        let body_length = usize::from(handshake[1]) << 16
            | usize::from(handshake[2]) << 8
            | usize::from(handshake[3]);
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
mod tests {
    use super::*;

    /// A minimal ClientHello with the given extensions block, split into records of `split`.
    fn client_hello(extensions: &[u8], split: usize) -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[7; 32]);
        body.push(0); // session id
        body.extend_from_slice(&[0, 2, 0x13, 0x01]); // one cipher suite
        body.extend_from_slice(&[1, 0]); // null compression
        body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
        body.extend_from_slice(extensions);
        let mut handshake = vec![1, 0];
        handshake.extend_from_slice(&(body.len() as u16).to_be_bytes());
        handshake.extend_from_slice(&body);
        let mut records = Vec::new();
        for chunk in handshake.chunks(split) {
            records.extend_from_slice(&[0x16, 0x03, 0x01]);
            records.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
            records.extend_from_slice(chunk);
        }
        records
    }

    fn sni_extension(name: &str) -> Vec<u8> {
        let mut entry = vec![0];
        entry.extend_from_slice(&(name.len() as u16).to_be_bytes());
        entry.extend_from_slice(name.as_bytes());
        let mut list = (entry.len() as u16).to_be_bytes().to_vec();
        list.extend_from_slice(&entry);
        let mut extension = vec![0, 0];
        extension.extend_from_slice(&(list.len() as u16).to_be_bytes());
        extension.extend_from_slice(&list);
        extension
    }

    #[test]
    fn preread_outcomes() {
        let mut other_then_sni = vec![0x00, 0x0a, 0x00, 0x02, 0x00, 0x1d]; // supported_groups
        other_then_sni.extend_from_slice(&sni_extension("A.Example.com"));
        let whole = client_hello(&other_then_sni, 4096);
        let cases: Vec<(&str, Vec<u8>, Preread)> = vec![
            (
                "sni_found_lowercased",
                whole.clone(),
                Preread::ServerName(Some("a.example.com".into())),
            ),
            (
                "split_over_records",
                client_hello(&sni_extension("b.example"), 10),
                Preread::ServerName(Some("b.example".into())),
            ),
            ("no_sni", client_hello(&[], 4096), Preread::ServerName(None)),
            (
                "incomplete_record",
                whole[..whole.len() - 1].to_vec(),
                Preread::NeedMore,
            ),
            ("too_short", vec![0x16, 0x03], Preread::NeedMore),
            (
                "plain_http",
                b"GET / HTTP/1.1\r\n\r\n".to_vec(),
                Preread::NotTls,
            ),
            (
                "not_client_hello",
                vec![0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0, 0, 0],
                Preread::NotTls,
            ),
        ];
        for (name, bytes, want) in cases {
            assert_eq!(preread(&bytes), want, "{name}");
        }
    }

    #[test]
    fn truncated_hello_waits_for_more() {
        let whole = client_hello(&sni_extension("x.example"), 4096);
        for cut in 0..whole.len() {
            let mut bytes = whole[..cut].to_vec();
            // Fix the record length so the parser sees a complete but truncated hello.
            if cut >= 5 {
                let length = (cut - 5) as u16;
                bytes[3..5].copy_from_slice(&length.to_be_bytes());
            }
            assert_eq!(preread(&bytes), Preread::NeedMore, "cut at {cut}");
        }
    }
}
