use super::*;

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, HeaderValue::from_static(value));
    }
    map
}

fn names(map: &HeaderMap) -> Vec<&str> {
    map.keys().map(HeaderName::as_str).collect()
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
    prepare_request(&mut map, false, false);
    assert_eq!(names(&map), ["accept"]);
}

#[test]
fn te_trailers_survives_for_grpc() {
    let mut map = headers(&[("te", "trailers")]);
    prepare_request(&mut map, false, false);
    assert_eq!(
        map.get("te").map(HeaderValue::as_bytes),
        Some(&b"trailers"[..])
    );
}

#[test]
fn every_te_line_counts() {
    // The first line alone says `trailers`; the second asks for a coding this hop decides.
    let mut map = headers(&[("te", "trailers"), ("te", "gzip")]);
    prepare_request(&mut map, false, false);
    assert!(!map.contains_key("te"), "{map:?}");
}

#[test]
fn upgrade_requests_keep_upgrade_and_connection() {
    let mut map = headers(&[("connection", "Upgrade"), ("upgrade", "websocket")]);
    assert!(is_upgrade_request(&map));
    prepare_request(&mut map, true, false);
    assert_eq!(map["upgrade"], "websocket");
    assert_eq!(map["connection"], "upgrade");
}

#[test]
fn names_with_underscores_are_dropped_unless_enabled() {
    let pairs = [
        ("x_auth_user", "admin"),
        ("x-auth-user", "alice"),
        ("accept", "*/*"),
    ];
    let mut dropped = headers(&pairs);
    prepare_request(&mut dropped, false, false);
    let mut left = names(&dropped);
    left.sort_unstable();
    assert_eq!(left, ["accept", "x-auth-user"]);
    let mut kept = headers(&pairs);
    prepare_request(&mut kept, false, true);
    assert_eq!(kept["x_auth_user"], "admin");
}

/// The fields for a request from peer 192.0.2.7 carrying `client_fields`; `trusted`: the
/// peer may name the client (here 10.0.0.1, as the pipeline's realip step would find it).
fn forwarded_for(
    client_fields: &[(&'static str, &'static str)],
    trusted: bool,
) -> (HeaderMap, ForwardedFields) {
    forwarded_with(client_fields, trusted, false)
}

fn forwarded_with(
    client_fields: &[(&'static str, &'static str)],
    trusted: bool,
    full_list: bool,
) -> (HeaderMap, ForwardedFields) {
    let mut map = headers(client_fields);
    let client = prepare_request(&mut map, false, false);
    let connection = Forwarded::new("192.0.2.7".parse().expect("ip"), true, 8443);
    let host = HeaderValue::from_static("a.example:8443");
    let trust = Trust {
        trusted,
        full_list,
        client: trusted.then(|| "10.0.0.1".parse().expect("ip")),
    };
    let fields = ForwardedFields::new(&connection, Some(&host), client, trust);
    (map, fields)
}

const SPOOFED: &[(&str, &str)] = &[
    ("x-forwarded-for", "10.0.0.1"),
    ("x-forwarded-for", "10.0.0.2"),
    ("x-forwarded-proto", "spoofed"),
    ("x-forwarded-host", "spoofed.example"),
    ("x-forwarded-port", "1"),
    ("x-real-ip", "spoofed"),
    ("x-other", "kept"),
];

#[test]
fn client_forwarded_fields_are_replaced_by_default() {
    let (mut map, fields) = forwarded_for(SPOOFED, false);
    fields.apply(&mut map);
    assert_eq!(map["x-forwarded-for"], "192.0.2.7");
    assert_eq!(map["x-real-ip"], "192.0.2.7");
    assert_eq!(map["x-forwarded-proto"], "https");
    assert_eq!(map["x-forwarded-port"], "8443");
    assert_eq!(map["x-forwarded-host"], "a.example:8443");
    assert_eq!(map["x-other"], "kept");
    assert_eq!(map.get_all("x-forwarded-for").iter().count(), 1);
}

#[test]
fn a_trusted_peer_names_the_client_scheme_host_and_port() {
    let (mut map, fields) = forwarded_for(SPOOFED, true);
    fields.apply(&mut map);
    // ingress-nginx: X-Forwarded-For and X-Real-IP are $remote_addr, the client realip found.
    assert_eq!(map["x-forwarded-for"], "10.0.0.1");
    assert_eq!(map["x-real-ip"], "10.0.0.1");
    assert_eq!(map["x-forwarded-proto"], "spoofed");
    assert_eq!(map["x-forwarded-port"], "1");
    assert_eq!(map["x-forwarded-host"], "spoofed.example");
}

#[test]
fn compute_full_forwarded_for_keeps_the_client_s_list_and_adds_the_peer() {
    let (mut map, fields) = forwarded_with(SPOOFED, true, true);
    fields.apply(&mut map);
    assert_eq!(map["x-forwarded-for"], "10.0.0.1, 10.0.0.2, 192.0.2.7");
    assert_eq!(map["x-real-ip"], "10.0.0.1");
    // Without a list from the client: the peer alone.
    let (mut map, fields) = forwarded_with(&[], true, true);
    fields.apply(&mut map);
    assert_eq!(map["x-forwarded-for"], "192.0.2.7");
}

#[test]
fn forwarded_fields_written_inline_equal_those_set_in_the_map() {
    for trusted in [false, true] {
        for client_fields in [SPOOFED, &[("x-other", "kept")][..], &[]] {
            let (mut map, fields) = forwarded_for(client_fields, trusted);
            let mut inline = Vec::new();
            fields.encode(&mut inline);
            let inline: Vec<(String, String)> = String::from_utf8(inline)
                .expect("ascii")
                .lines()
                .filter_map(|line| line.split_once(": "))
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect();
            let before: Vec<_> = names(&map).into_iter().map(str::to_owned).collect();
            fields.apply(&mut map);
            let mut in_map: Vec<(String, String)> = map
                .iter()
                .filter(|(name, _)| !before.iter().any(|b| b == name.as_str()))
                .map(|(name, value)| {
                    let value = value.to_str().expect("ascii").to_owned();
                    (name.as_str().to_owned(), value)
                })
                .collect();
            let mut inline_sorted = inline.clone();
            inline_sorted.sort();
            in_map.sort();
            assert_eq!(inline_sorted, in_map, "trusted={trusted} {client_fields:?}");
        }
    }
}

#[test]
fn applying_twice_changes_nothing() {
    // A retry on hyper's client applies the fields to the same map again.
    let (mut map, fields) = forwarded_for(SPOOFED, true);
    fields.apply(&mut map);
    let once = map.clone();
    fields.apply(&mut map);
    assert_eq!(map, once);
}

#[test]
fn response_content_length_beside_transfer_encoding_is_dropped() {
    let mut map = headers(&[
        ("transfer-encoding", "chunked"),
        ("content-length", "5"),
        ("x-a", "b"),
    ]);
    prepare_response(&mut map, false);
    assert_eq!(names(&map), ["x-a"]);
    let mut length_only = headers(&[("content-length", "5")]);
    prepare_response(&mut length_only, false);
    assert_eq!(length_only["content-length"], "5");
}

/// Regression: a response head read by hyper kept `Content-Length: 3, 3` (and two equal
/// lines, which hyper's server then refused to write); the codec hands on one number.
#[test]
fn response_content_lengths_become_one_number_or_none() {
    for (lines, expected) in [
        (&["3, 3"][..], Some("3")),
        (&["15", "15"][..], Some("15")),
        (&["007"][..], Some("007")),
        (&["3, 4"][..], None),
        (&["3", "4"][..], None),
        (&["three"][..], None),
        (&["-1"][..], None),
    ] {
        let pairs: Vec<(&str, &str)> = lines.iter().map(|l| ("content-length", *l)).collect();
        let mut map = headers(&pairs);
        prepare_response(&mut map, false);
        let kept: Vec<&str> = map
            .get_all("content-length")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(kept, expected.into_iter().collect::<Vec<_>>(), "{lines:?}");
    }
}
