use std::net::Ipv4Addr;

use super::*;

const PEER: Ipv4Addr = Ipv4Addr::new(10, 231, 0, 2);
const VIP: Ipv4Addr = Ipv4Addr::new(192, 168, 10, 15);

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("test vector is hex"))
        .collect()
}

/// The tutorial's instance (VRID 50, priority 100, advert_int 1) as version 3 multicast.
fn tutorial_v3() -> Advertisement {
    Advertisement {
        version: Version::V3,
        virtual_router_id: 50,
        priority: 100,
        interval_centis: 100,
        addresses: vec![VIP],
        authentication: Authentication::None,
    }
}

/// The same instance as version 2 with `auth_type PASS`, `auth_pass 1111`.
fn tutorial_v2() -> Advertisement {
    Advertisement {
        version: Version::V2,
        authentication: Authentication::password("1111"),
        ..tutorial_v3()
    }
}

// The expected bytes were computed by an independent implementation of RFC 1071 (a short
// Python script), not by this codec.
const V3_VECTOR: &str = "313264010064b438c0a80a0f";
const V2_VECTOR: &str = "2132640101014cb1c0a80a0f3131313100000000";
const V3_UNICAST_VECTOR: &str = "3107ff020032a2d90ae700640ae70065";

/// Whole IPv4 datagrams keepalived 2.2.7 sent for the tutorial's instance from 10.231.0.1
/// (captured with a raw socket in a test namespace): `vrrp_version 2` with `auth_type PASS`,
/// then `vrrp_version 3`.
const KEEPALIVED_V2_DATAGRAM: &str =
    "45c0002800010000ff70cfaa0ae70001e00000122132640101014cb1c0a80a0f3131313100000000";
const KEEPALIVED_V3_DATAGRAM: &str =
    "45c0002000010000ff70cfb20ae70001e0000012313264010064b439c0a80a0f";

#[test]
fn keepalived_datagrams_decode_and_re_encode_byte_for_byte() {
    let sender = Ipv4Addr::new(10, 231, 0, 1);
    for (datagram, expected) in [
        (KEEPALIVED_V2_DATAGRAM, tutorial_v2()),
        (KEEPALIVED_V3_DATAGRAM, tutorial_v3()),
    ] {
        let datagram = hex(datagram);
        let (header, payload) = parse_ipv4(&datagram).expect("valid IPv4 header");
        assert_eq!(
            header,
            Ipv4Header {
                source: sender,
                destination: VRRP_MULTICAST,
                ttl: 255,
                protocol: 112
            }
        );
        let advert = Advertisement::decode(payload, header.source, header.destination)
            .expect("keepalived's advert verifies");
        assert_eq!(advert, expected);
        assert_eq!(
            advert.encode(sender, VRRP_MULTICAST).expect("encodable"),
            payload
        );
    }
}

#[test]
fn v3_encodes_byte_exact_with_pseudo_header_checksum() {
    let bytes = tutorial_v3()
        .encode(PEER, VRRP_MULTICAST)
        .expect("encodable");
    assert_eq!(bytes, hex(V3_VECTOR));
}

#[test]
fn v2_encodes_byte_exact_with_password() {
    let bytes = tutorial_v2()
        .encode(PEER, VRRP_MULTICAST)
        .expect("encodable");
    assert_eq!(bytes, hex(V2_VECTOR));
}

#[test]
fn v3_unicast_owner_vector_decodes() {
    let advert = Advertisement::decode(
        &hex(V3_UNICAST_VECTOR),
        Ipv4Addr::new(10, 231, 0, 3),
        Ipv4Addr::new(10, 231, 0, 2),
    )
    .expect("valid vector");
    assert_eq!(advert.virtual_router_id, 7);
    assert_eq!(advert.priority, 255);
    assert_eq!(advert.interval_centis, 50);
    assert_eq!(
        advert.addresses,
        vec![
            Ipv4Addr::new(10, 231, 0, 100),
            Ipv4Addr::new(10, 231, 0, 101)
        ]
    );
}

#[test]
fn decode_round_trips_both_versions() {
    for advert in [tutorial_v3(), tutorial_v2()] {
        let bytes = advert.encode(PEER, VRRP_MULTICAST).expect("encodable");
        let back = Advertisement::decode(&bytes, PEER, VRRP_MULTICAST).expect("decodes");
        assert_eq!(back, advert);
    }
}

#[test]
fn v3_checksum_depends_on_pseudo_header_but_v2_does_not() {
    let v3 = hex(V3_VECTOR);
    assert_eq!(
        Advertisement::decode(&v3, Ipv4Addr::new(10, 231, 0, 9), VRRP_MULTICAST),
        Err(PacketError::Checksum)
    );
    let v2 = hex(V2_VECTOR);
    assert!(Advertisement::decode(&v2, Ipv4Addr::new(10, 231, 0, 9), VRRP_MULTICAST).is_ok());
}

#[test]
fn any_flipped_bit_fails_the_checksum_or_the_header_checks() {
    let good = hex(V2_VECTOR);
    for byte in 0..good.len() {
        for bit in 0..8 {
            let mut bad = good.clone();
            bad[byte] ^= 1 << bit;
            assert!(
                Advertisement::decode(&bad, PEER, VRRP_MULTICAST).is_err(),
                "flip of byte {byte} bit {bit} went unnoticed"
            );
        }
    }
}

#[test]
fn rejects_wrong_version_type_and_truncation() {
    let mut bytes = hex(V3_VECTOR);
    bytes[0] = 0x41;
    assert_eq!(
        Advertisement::decode(&bytes, PEER, VRRP_MULTICAST),
        Err(PacketError::Version(4))
    );
    bytes[0] = 0x32;
    assert_eq!(
        Advertisement::decode(&bytes, PEER, VRRP_MULTICAST),
        Err(PacketError::Type(2))
    );
    let short = &hex(V3_VECTOR)[..10];
    assert_eq!(
        Advertisement::decode(short, PEER, VRRP_MULTICAST),
        Err(PacketError::Truncated { len: 10, need: 12 })
    );
    assert_eq!(
        Advertisement::decode(&[0x31], PEER, VRRP_MULTICAST),
        Err(PacketError::Truncated { len: 1, need: 8 })
    );
}

#[test]
fn unencodable_intervals_are_refused() {
    let v3 = Advertisement {
        interval_centis: 4096,
        ..tutorial_v3()
    };
    assert_eq!(
        v3.encode(PEER, VRRP_MULTICAST),
        Err(PacketError::Unencodable("interval_centis"))
    );
    let v2 = Advertisement {
        interval_centis: 150,
        ..tutorial_v2()
    };
    assert_eq!(
        v2.encode(PEER, VRRP_MULTICAST),
        Err(PacketError::Unencodable("interval_centis"))
    );
}

#[test]
fn password_is_truncated_to_eight_bytes_and_not_printed() {
    let auth = Authentication::password("123456789");
    assert_eq!(auth, Authentication::Password(*b"12345678"));
    assert_eq!(format!("{auth:?}"), "Password(..)");
}

#[test]
fn ipv4_header_is_parsed_and_payload_cut_at_total_length() {
    let payload = hex(V3_VECTOR);
    let mut datagram = vec![0x45, 0xc0, 0, 0, 0, 0, 0, 0, 255, 112, 0, 0];
    datagram.extend_from_slice(&PEER.octets());
    datagram.extend_from_slice(&VRRP_MULTICAST.octets());
    datagram.extend_from_slice(&payload);
    let total = u16::try_from(datagram.len()).expect("small");
    datagram[2..4].copy_from_slice(&total.to_be_bytes());
    datagram.extend_from_slice(&[0xaa; 6]); // link-layer padding past total_length
    let (header, body) = parse_ipv4(&datagram).expect("valid header");
    assert_eq!(
        header,
        Ipv4Header {
            source: PEER,
            destination: VRRP_MULTICAST,
            ttl: 255,
            protocol: 112
        }
    );
    assert_eq!(body, payload.as_slice());
    datagram[0] = 0x65;
    assert_eq!(
        parse_ipv4(&datagram),
        Err(PacketError::Ipv4Header("version"))
    );
    assert!(parse_ipv4(&datagram[..19]).is_err());
}

proptest::proptest! {
    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
        let _ = Advertisement::decode(&bytes, PEER, VRRP_MULTICAST);
        let _ = parse_ipv4(&bytes);
    }

    #[test]
    fn encode_decode_round_trip(
        vrid in 1u8..=255, priority in 0u8..=255, centis in 1u16..=4095,
        count in 0usize..8, v2 in proptest::bool::ANY,
    ) {
        let addresses = (0..count).map(|i| Ipv4Addr::new(10, 231, 1, u8::try_from(i).unwrap_or(0))).collect();
        let advert = Advertisement {
            version: if v2 { Version::V2 } else { Version::V3 },
            virtual_router_id: vrid,
            priority,
            interval_centis: if v2 { (centis % 255 + 1) * 100 } else { centis },
            addresses,
            authentication: if v2 { Authentication::password("pw") } else { Authentication::None },
        };
        let bytes = advert.encode(PEER, VRRP_MULTICAST).expect("encodable");
        proptest::prop_assert_eq!(Advertisement::decode(&bytes, PEER, VRRP_MULTICAST), Ok(advert));
    }
}
