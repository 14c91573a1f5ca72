use http::HeaderValue;

use super::*;

const GET_11: RequestFacts = RequestFacts {
    head: false,
    version: Version::HTTP_11,
    keep_alive: true,
};

fn encode(
    status: u16,
    fields: &[(&'static str, &'static str)],
    body: SizeHint,
    request: RequestFacts,
) -> (String, Framing, bool) {
    let mut headers = HeaderMap::new();
    for (name, value) in fields {
        headers.append(*name, HeaderValue::from_static(value));
    }
    let mut out = Vec::new();
    let status = StatusCode::from_u16(status).expect("status");
    let (framing, keep_alive) = encode_response_head(
        status,
        &headers,
        &body,
        request,
        |out| out.extend_from_slice(b"Thu, 01 Jan 1970 00:00:00 GMT"),
        &mut out,
    );
    (String::from_utf8(out).expect("ascii"), framing, keep_alive)
}

#[test]
fn a_declared_length_is_kept_and_a_date_added_when_missing() {
    let (text, framing, keep_alive) = encode(
        200,
        &[("content-type", "text/plain"), ("content-length", "5")],
        SizeHint::default(),
        GET_11,
    );
    assert_eq!(
        text,
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\
         date: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n"
    );
    assert_eq!(framing, Framing::Length(5));
    assert!(keep_alive);
}

#[test]
fn a_body_of_known_size_gets_a_length_and_an_unknown_one_is_chunked() {
    let date = [("date", "Mon, 02 Jan 2006 15:04:05 GMT")];
    let (text, framing, _) = encode(404, &date, SizeHint::with_exact(12), GET_11);
    assert_eq!(
        text,
        "HTTP/1.1 404 Not Found\r\ndate: Mon, 02 Jan 2006 15:04:05 GMT\r\ncontent-length: 12\r\n\r\n"
    );
    assert_eq!(framing, Framing::Length(12));

    let (text, framing, keep_alive) = encode(200, &date, SizeHint::default(), GET_11);
    assert!(
        text.ends_with("transfer-encoding: chunked\r\n\r\n"),
        "{text}"
    );
    assert_eq!(framing, Framing::Chunked);
    assert!(keep_alive);
}

#[test]
fn an_http10_client_gets_a_body_until_close_or_keep_alive_when_the_length_is_known() {
    let request = RequestFacts {
        version: Version::HTTP_10,
        ..GET_11
    };
    let (text, framing, keep_alive) = encode(200, &[], SizeHint::default(), request);
    assert!(text.starts_with("HTTP/1.0 200 OK\r\n"), "{text}");
    assert_eq!(framing, Framing::UntilClose);
    assert!(!keep_alive);
    assert!(text.ends_with("connection: close\r\n\r\n"), "{text}");
    assert!(!text.contains("chunked"), "{text}");

    let (text, framing, keep_alive) = encode(200, &[], SizeHint::with_exact(3), request);
    assert_eq!(framing, Framing::Length(3));
    assert!(keep_alive);
    assert!(text.ends_with("connection: keep-alive\r\n\r\n"), "{text}");
}

#[test]
fn head_204_and_304_responses_have_no_body() {
    let head = RequestFacts {
        head: true,
        ..GET_11
    };
    let (text, framing, _) = encode(200, &[("content-length", "99")], SizeHint::default(), head);
    assert_eq!(framing, Framing::Empty);
    assert!(
        text.contains("content-length: 99\r\n"),
        "HEAD keeps the length: {text}"
    );

    let (text, framing, _) = encode(204, &[("content-length", "0")], SizeHint::default(), GET_11);
    assert_eq!(framing, Framing::Empty);
    assert!(!text.contains("content-length"), "{text}");
    assert!(!text.contains("chunked"), "{text}");

    let (_, framing, _) = encode(304, &[], SizeHint::default(), GET_11);
    assert_eq!(framing, Framing::Empty);
}

#[test]
fn framing_and_connection_fields_are_this_hops_own() {
    let (text, framing, keep_alive) = encode(
        200,
        &[
            ("transfer-encoding", "chunked"),
            ("connection", "keep-alive"),
            ("content-length", "x1"),
        ],
        SizeHint::with_exact(2),
        RequestFacts {
            keep_alive: false,
            ..GET_11
        },
    );
    assert!(!text.contains("x1"), "an invalid length is dropped: {text}");
    assert!(!text.contains("chunked"), "{text}");
    assert!(!text.contains("keep-alive"), "{text}");
    assert!(text.contains("content-length: 2\r\n"), "{text}");
    assert!(text.ends_with("connection: close\r\n\r\n"), "{text}");
    assert_eq!(framing, Framing::Length(2));
    assert!(!keep_alive);
}

#[test]
fn at_most_one_content_length_goes_out_and_never_beside_transfer_encoding() {
    type Fields = &'static [(&'static str, &'static str)];
    let cases: [(Fields, SizeHint, &str, Framing); 5] = [
        // A valid length, then an invalid one: both dropped, the body is chunked.
        (
            &[("content-length", "5"), ("content-length", "x")],
            SizeHint::default(),
            "transfer-encoding: chunked\r\n",
            Framing::Chunked,
        ),
        // Two different lengths: both dropped, the body's own size is used.
        (
            &[("content-length", "5"), ("content-length", "6")],
            SizeHint::with_exact(6),
            "content-length: 6\r\n",
            Framing::Length(6),
        ),
        // Agreeing lines and list elements: one line.
        (
            &[("content-length", "5"), ("content-length", "5, 5")],
            SizeHint::default(),
            "content-length: 5\r\n",
            Framing::Length(5),
        ),
        // A Transfer-Encoding given is dropped: the declared length frames the body.
        (
            &[("transfer-encoding", "chunked"), ("content-length", "5")],
            SizeHint::default(),
            "content-length: 5\r\n",
            Framing::Length(5),
        ),
        (
            &[("transfer-encoding", "gzip, chunked")],
            SizeHint::default(),
            "transfer-encoding: chunked\r\n",
            Framing::Chunked,
        ),
    ];
    for (fields, body, framing_line, framing) in cases {
        let (text, encoded, _) = encode(200, fields, body, GET_11);
        let lengths = text.matches("content-length").count();
        let codings = text.matches("transfer-encoding").count();
        assert_eq!(lengths + codings, 1, "{fields:?}: {text}");
        assert!(text.contains(framing_line), "{fields:?}: {text}");
        assert_eq!(encoded, framing, "{fields:?}");
    }
}
