use http::HeaderValue;
use proptest::prelude::*;

use super::*;

const MAX_BYTES: usize = 8 * 1024;
const MAX_FIELDS: usize = 100;
const LIMITS: HeadLimits = HeadLimits::new(MAX_BYTES, MAX_FIELDS);

fn parse(text: &str) -> (Parsed, BytesMut) {
    let mut buf = BytesMut::from(text);
    let parsed = parse_request_head(&mut buf, LIMITS);
    (parsed, buf)
}

fn inline(text: &str) -> (InlineRequest, BytesMut) {
    match parse(text) {
        (Parsed::Inline(inline), rest) => (inline, rest),
        (other, _) => panic!("expected an inline request, got {other:?}"),
    }
}

fn hand_off_reason(text: &str) -> &'static str {
    match parse(text) {
        (Parsed::HandOff(reason), rest) => {
            assert_eq!(rest, text.as_bytes(), "the buffer is left as it was");
            reason
        }
        (other, _) => panic!("expected a hand-off, got {other:?}"),
    }
}

#[test]
fn a_bodiless_request_is_taken_with_its_fields_and_the_rest_left_for_the_next() {
    let (inline, rest) = inline(
        "GET /a/b?c=d HTTP/1.1\r\nHost: a.example\r\nAccept: */*\r\nAccept: text/html\r\n\r\nGET /next",
    );
    let request = &inline.request;
    assert_eq!(request.method(), Method::GET);
    assert_eq!(request.uri(), "/a/b?c=d");
    assert_eq!(request.version(), Version::HTTP_11);
    assert_eq!(request.headers()["host"], "a.example");
    let accept: Vec<_> = request.headers().get_all("accept").iter().collect();
    assert_eq!(accept, ["*/*", "text/html"]);
    assert!(inline.keep_alive);
    assert_eq!(rest, "GET /next");
}

#[test]
fn persistence_follows_the_version_and_the_connection_field() {
    let cases = [
        ("GET / HTTP/1.1\r\n\r\n", true),
        ("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false),
        ("GET / HTTP/1.1\r\nConnection: foo, Close\r\n\r\n", false),
        ("GET / HTTP/1.0\r\n\r\n", false),
        ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
    ];
    for (text, keep_alive) in cases {
        assert_eq!(inline(text).0.keep_alive, keep_alive, "{text:?}");
    }
}

#[test]
fn an_absolute_form_target_keeps_its_authority() {
    let (inline, _) = inline("GET http://b.example:8080/x HTTP/1.1\r\n\r\n");
    assert_eq!(
        inline.request.uri().authority().map(|a| a.as_str()),
        Some("b.example:8080")
    );
    assert_eq!(inline.request.uri().path(), "/x");
}

#[test]
fn an_incomplete_head_asks_for_more_and_consumes_nothing() {
    let (parsed, rest) = parse("GET / HTTP/1.1\r\nHost: a.exa");
    assert!(matches!(parsed, Parsed::Partial), "{parsed:?}");
    assert_eq!(rest, "GET / HTTP/1.1\r\nHost: a.exa");
}

#[test]
fn bodies_upgrades_expect_and_connect_go_to_hyper() {
    let cases = [
        (
            "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
            "request has a body",
        ),
        (
            "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            "request has a body",
        ),
        (
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "request has a body",
        ),
        (
            "PUT / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
            "request has Expect",
        ),
        (
            "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
            "request asks for an upgrade",
        ),
        ("CONNECT a.example:443 HTTP/1.1\r\n\r\n", "CONNECT"),
    ];
    for (text, reason) in cases {
        assert_eq!(hand_off_reason(text), reason, "{text:?}");
    }
}

#[test]
fn the_http2_preface_and_malformed_heads_go_to_hyper() {
    hand_off_reason("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    hand_off_reason("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n");
    hand_off_reason("GET / HTTP/3.0\r\n\r\n");
    hand_off_reason("GET /\x7f HTTP/1.1\r\n\r\n");
}

#[test]
fn heads_over_the_limits_go_to_hyper() {
    let fields: String = (0..=MAX_FIELDS).map(|i| format!("x-{i}: v\r\n")).collect();
    hand_off_reason(&format!("GET / HTTP/1.1\r\n{fields}\r\n"));
    let long = format!("GET / HTTP/1.1\r\nx: {}\r\n\r\n", "v".repeat(MAX_BYTES));
    hand_off_reason(&long);
    // Not complete yet, but already past the limit: no use reading more.
    let partial = format!("GET / HTTP/1.1\r\nx: {}", "v".repeat(MAX_BYTES));
    hand_off_reason(&partial);

    let few = HeadLimits::new(8 * 1024, 2);
    let mut buf = BytesMut::from("GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n");
    assert!(matches!(
        parse_request_head(&mut buf, few),
        Parsed::HandOff(_)
    ));
}

proptest! {
    /// Splitting a request stream anywhere never changes what is parsed: a head is taken only
    /// once whole, and the bytes after it stay in the buffer.
    #[test]
    fn a_head_is_parsed_the_same_however_it_arrives(
        path in "/[a-z0-9/]{0,20}",
        fields in proptest::collection::vec(("[a-z][a-z-]{0,10}", "[ -~]{0,20}"), 0..8),
        split in 0usize..400,
    ) {
        let mut text = format!("GET {path} HTTP/1.1\r\n");
        for (name, value) in &fields {
            // Keep to fields that do not change how the request is taken.
            prop_assume!(!matches!(name.as_str(), "content-length" | "transfer-encoding" | "expect" | "upgrade" | "connection"));
            text.push_str(&format!("{name}: {}\r\n", value.trim()));
        }
        text.push_str("\r\nNEXT");
        let split = split.min(text.len());
        let mut buf = BytesMut::from(&text.as_bytes()[..split]);
        let mut parsed = parse_request_head(&mut buf, LIMITS);
        if matches!(parsed, Parsed::Partial) {
            buf.extend_from_slice(&text.as_bytes()[split..]);
            parsed = parse_request_head(&mut buf, LIMITS);
        } else {
            buf.extend_from_slice(&text.as_bytes()[split..]);
        }
        let Parsed::Inline(inline) = parsed else {
            panic!("expected an inline request: {parsed:?}");
        };
        prop_assert_eq!(inline.request.uri().path(), if path.is_empty() { "/" } else { path.as_str() });
        prop_assert_eq!(inline.request.headers().len(), fields.len());
        for (name, value) in &fields {
            let got: Vec<_> = inline.request.headers().get_all(name.as_str()).iter().map(|v| v.as_bytes().to_vec()).collect();
            prop_assert!(got.contains(&value.trim().as_bytes().to_vec()));
        }
        prop_assert_eq!(&buf[..], b"NEXT");
    }
}

/// Pieces of request streams: valid heads of every kind the reader tells apart, and noise.
fn stream_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_owned()),
        Just("HEAD /h?q HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".to_owned()),
        Just("GET http://b:1/x HTTP/1.1\r\nConnection: close\r\n\r\n".to_owned()),
        Just("POST /p HTTP/1.1\r\nContent-Length: 2\r\n\r\nab".to_owned()),
        Just("GET /u HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n".to_owned()),
        Just("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_owned()),
        Just("\r\n".to_owned()),
        "[ -~]{0,30}(\r\n)?",
        "GET /[a-z]{0,70} HTTP/1.1\r\n([a-z]{1,3}: [a-z]{0,5}\r\n){0,6}\r\n",
    ]
}

proptest! {
    /// However a stream of pipelined heads is split into reads, the same requests are taken
    /// and a hand-off passes hyper exactly the bytes not consumed (with the default limits and
    /// with small ones that heads run into).
    #[test]
    fn reads_of_any_size_take_the_same_requests_and_hand_off_the_same_bytes(
        pieces in proptest::collection::vec(stream_piece(), 0..6),
        splits in proptest::collection::vec(any::<u8>(), 0..8),
        small_limits in any::<bool>(),
    ) {
        let data = pieces.concat();
        crate::http1::split_check::request::check_split_invariance(data.as_bytes(), &splits, small_limits);
    }
}

#[test]
fn request_heads_are_encoded_in_wire_form() {
    let mut headers = HeaderMap::new();
    headers.insert(header::HOST, HeaderValue::from_static("a.example"));
    headers.append("x-multi", HeaderValue::from_static("1"));
    headers.append("x-multi", HeaderValue::from_static("2"));
    let mut out = Vec::new();
    encode_request_head(
        &Method::GET,
        "/p?q=1",
        &headers,
        |out| out.extend_from_slice(b"x-extra: 1\r\n"),
        &mut out,
    );
    assert_eq!(
        &out[..],
        b"GET /p?q=1 HTTP/1.1\r\nhost: a.example\r\nx-multi: 1\r\nx-multi: 2\r\nx-extra: 1\r\n\r\n"
    );
}
