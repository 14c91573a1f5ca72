use std::sync::Arc;

use proptest::prelude::*;

use super::*;

/// A minimal ClientHello with the given extensions block, split into records of `split`.
fn client_hello(extensions: &[u8], split: usize) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[7; 32]);
    body.push(0); // session id
    body.extend_from_slice(&[0, 2, 0x13, 0x01]); // one cipher suite
    body.extend_from_slice(&[1, 0]); // null compression
    body.extend_from_slice(&u16::try_from(extensions.len()).unwrap().to_be_bytes());
    body.extend_from_slice(extensions);
    let mut handshake = vec![1, 0];
    handshake.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    handshake.extend_from_slice(&body);
    let mut records = Vec::new();
    for chunk in handshake.chunks(split) {
        records.extend_from_slice(&[0x16, 0x03, 0x01]);
        records.extend_from_slice(&u16::try_from(chunk.len()).unwrap().to_be_bytes());
        records.extend_from_slice(chunk);
    }
    records
}

fn sni_extension(name: &str) -> Vec<u8> {
    let mut entry = vec![0];
    entry.extend_from_slice(&u16::try_from(name.len()).unwrap().to_be_bytes());
    entry.extend_from_slice(name.as_bytes());
    let mut list = u16::try_from(entry.len()).unwrap().to_be_bytes().to_vec();
    list.extend_from_slice(&entry);
    let mut extension = vec![0, 0];
    extension.extend_from_slice(&u16::try_from(list.len()).unwrap().to_be_bytes());
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
        (
            "empty_record",
            vec![0x16, 0x03, 0x01, 0x00, 0x00],
            Preread::NotTls,
        ),
        (
            // A handshake message announcing 16 MiB: never waited for.
            "oversized_hello",
            vec![0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0xff, 0xff, 0xff],
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
    // Cut 5 would be an empty handshake record, which is not TLS (tested above).
    for cut in (0..whole.len()).filter(|&cut| cut != 5) {
        let mut bytes = whole[..cut].to_vec();
        // Fix the record length so the parser sees a complete but truncated hello.
        if cut >= 5 {
            let length = u16::try_from(cut - 5).unwrap();
            bytes[3..5].copy_from_slice(&length.to_be_bytes());
        }
        assert_eq!(preread(&bytes), Preread::NeedMore, "cut at {cut}");
    }
}

#[test]
fn the_search_ends_at_the_limit() {
    // 1-byte records of a hello that never completes: undecided until the limit, then not TLS.
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&[0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x3f, 0xff]);
    while bytes.len() < PREREAD_LIMIT - 6 {
        bytes.extend_from_slice(&[0x16, 0x03, 0x01, 0x00, 0x01, 0x00]);
    }
    assert_eq!(preread(&bytes), Preread::NeedMore);
    bytes.extend_from_slice(&[0x16, 0x03, 0x01, 0x00, 0x01, 0x00]);
    assert!(bytes.len() >= PREREAD_LIMIT);
    assert_eq!(preread(&bytes), Preread::NotTls);
}

/// The first flight of a real rustls client connecting to `server` with `alpn` offered.
fn rustls_client_hello(server: &str, alpn: &[Vec<u8>]) -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    config.alpn_protocols = alpn.to_vec();
    let name = rustls::pki_types::ServerName::try_from(server.to_owned()).unwrap();
    let mut client = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut flight = Vec::new();
    while client.wants_write() {
        client.write_tls(&mut flight).unwrap();
    }
    flight
}

fn dns_name() -> impl Strategy<Value = String> {
    proptest::collection::vec("[a-zA-Z]([a-zA-Z0-9-]{0,14}[a-zA-Z0-9])?", 1..5)
        .prop_map(|labels| labels.join("."))
}

proptest! {
    /// Differential against rustls: for the bytes a real client sends, the reader finds the
    /// name rustls put in the SNI extension (lowercased), reads nothing at all before the
    /// whole hello is there whatever the read boundaries, and is not moved by what follows.
    #[test]
    fn rustls_hellos_are_read_at_any_split(
        name in dns_name(),
        alpn in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..12), 0..4),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        trailing in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let flight = rustls_client_hello(&name, &alpn);
        let want = Preread::ServerName(Some(name.to_ascii_lowercase()));
        prop_assert_eq!(preread(&flight), want.clone());
        // The buffer grows read by read: every shorter prefix is undecided.
        let mut ends: Vec<usize> = cuts.iter().map(|cut| cut.index(flight.len())).collect();
        ends.sort_unstable();
        for end in ends {
            prop_assert_eq!(preread(&flight[..end]), Preread::NeedMore, "prefix of {}", end);
        }
        let mut more = flight.clone();
        more.extend_from_slice(&trailing);
        prop_assert_eq!(preread(&more), want);
    }

    /// An IP address is not sent as SNI (RFC 6066 §3): a complete hello without a name.
    #[test]
    fn rustls_hellos_to_addresses_have_no_name(octets in any::<[u8; 4]>()) {
        let address = std::net::Ipv4Addr::from(octets).to_string();
        prop_assert_eq!(preread(&rustls_client_hello(&address, &[])), Preread::ServerName(None));
    }

    /// Once decided, the answer stays as more bytes arrive; undecided only below the limit.
    #[test]
    fn decisions_are_stable_and_bounded(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        split in any::<prop::sample::Index>(),
        tls_header in any::<bool>(),
    ) {
        let mut bytes = bytes;
        if tls_header && bytes.len() >= 2 {
            bytes[0] = 0x16;
            bytes[1] = 0x03;
        }
        let at = split.index(bytes.len() + 1);
        let early = preread(&bytes[..at]);
        let late = preread(&bytes);
        if early != Preread::NeedMore {
            prop_assert_eq!(early, late.clone());
        }
        if late == Preread::NeedMore {
            prop_assert!(bytes.len() < PREREAD_LIMIT);
        }
    }
}
