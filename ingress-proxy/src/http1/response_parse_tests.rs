use proptest::prelude::*;

use super::*;
use crate::http1::MAX_FIELDS;
use crate::http1::split_check;

fn head(text: &str) -> Result<Option<ResponseHead>, WireError> {
    parse_response_head(&mut BytesMut::from(text), false)
}

#[test]
fn response_heads_give_status_headers_framing_and_reuse() {
    let parsed = head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello")
        .unwrap()
        .unwrap();
    assert_eq!(parsed.status, StatusCode::OK);
    assert_eq!(parsed.headers["x-a"], "b");
    assert_eq!(parsed.body.remaining(), Some(5));
    assert!(parsed.keep_alive);

    let partial = head("HTTP/1.1 200 OK\r\nContent-Le").unwrap();
    assert!(partial.is_none());

    let chunked = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(chunked.body, BodyDecoder::chunked());
    assert!(chunked.keep_alive);

    let close = head("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n")
        .unwrap()
        .unwrap();
    assert!(!close.keep_alive);

    let until_close = head("HTTP/1.1 200 OK\r\n\r\n").unwrap().unwrap();
    assert_eq!(until_close.body, BodyDecoder::until_close());
    assert!(!until_close.keep_alive);

    let old = head("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(old.version, Version::HTTP_10);
    assert!(!old.keep_alive);
    let old_kept = head("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\n")
        .unwrap()
        .unwrap();
    assert!(old_kept.keep_alive);

    let both = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(both.body, BodyDecoder::chunked());
    assert!(!both.keep_alive, "TE with CL must not be reused");

    let not_chunked = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(not_chunked.body, BodyDecoder::until_close());
}

#[test]
fn bodiless_responses_have_no_body_whatever_the_headers_say() {
    for text in [
        "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
        "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
    ] {
        let parsed = head(text).unwrap().unwrap();
        assert!(parsed.body.is_done(), "{text}");
        assert!(parsed.keep_alive, "{text}");
    }
    let mut buf = BytesMut::from("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
    let parsed = parse_response_head(&mut buf, true).unwrap().unwrap();
    assert!(parsed.body.is_done(), "a response to HEAD has no body");
}

#[test]
fn interim_responses_are_skipped() {
    let mut buf = BytesMut::from(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
    );
    let parsed = parse_response_head(&mut buf, false).unwrap().unwrap();
    assert_eq!(parsed.status, StatusCode::CREATED);
    assert!(buf.is_empty());
    assert_eq!(
        head("HTTP/1.1 101 Switching Protocols\r\n\r\n").unwrap_err(),
        WireError::UnexpectedSwitch
    );
}

#[test]
fn invalid_heads_are_rejected_with_the_reason() {
    assert_eq!(
        head("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n").unwrap_err(),
        WireError::ContentLength
    );
    assert_eq!(
        head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n").unwrap_err(),
        WireError::ContentLength
    );
    assert_eq!(
        head("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n").unwrap_err(),
        WireError::ContentLength
    );
    let same = head("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(same.body.remaining(), Some(5));
    assert!(matches!(
        head("HTTP/1.1 2000 OK\r\n\r\n"),
        Err(WireError::Head(_))
    ));
    assert!(matches!(head("NOT HTTP\r\n\r\n"), Err(WireError::Head(_))));
    let many: String = (0..=MAX_FIELDS).map(|i| format!("x-{i}: v\r\n")).collect();
    assert_eq!(
        head(&format!("HTTP/1.1 200 OK\r\n{many}\r\n")).unwrap_err(),
        WireError::HeadTooLarge
    );
    let huge = format!(
        "HTTP/1.1 200 OK\r\nx: {}",
        "v".repeat(RESPONSE_HEAD_LIMITS.max_bytes())
    );
    assert_eq!(head(&huge).unwrap_err(), WireError::HeadTooLarge);
}

/// A plausible upstream response: a status line, some fields (framing ones among them), then
/// a body framed (or misframed) accordingly, and maybe the start of the next response.
fn plausible_response() -> impl Strategy<Value = Vec<u8>> {
    let status = prop::sample::select(vec![100u16, 103, 200, 204, 301, 304, 404, 500, 999]);
    let field = prop::sample::select(vec![
        "Content-Length: 5",
        "Content-Length: 0",
        "Content-Length: 5, 5",
        "Content-Length: 7, 5",
        "Content-Length: x",
        "Transfer-Encoding: chunked",
        "Transfer-Encoding: gzip, chunked",
        "Transfer-Encoding: gzip",
        "Connection: close",
        "Connection: keep-alive",
        "X-Any: value",
        "Bad Field: x",
    ]);
    let body = prop::sample::select(vec![
        "hello",
        "5\r\nhello\r\n0\r\n\r\n",
        "3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n",
        "zz\r\n",
        "5\r\nhelloXX",
        "",
        "HTTP/1.1 200 OK\r\n\r\n",
    ]);
    (
        status,
        prop::bool::ANY,
        proptest::collection::vec(field, 0..4),
        proptest::collection::vec(body, 0..3),
    )
        .prop_map(|(status, old, fields, bodies)| {
            let mut out = format!("HTTP/1.{} {status} Reason\r\n", if old { 0 } else { 1 });
            for field in fields {
                out.push_str(field);
                out.push_str("\r\n");
            }
            out.push_str("\r\n");
            for body in bodies {
                out.push_str(body);
            }
            out.into_bytes()
        })
}

proptest! {
    #[test]
    fn readings_do_not_depend_on_how_the_bytes_are_split(
        response in plausible_response(),
        head_request: bool,
        // Mostly small reads, so that framing (CRLFs, size lines) is split every way.
        splits in proptest::collection::vec(prop_oneof![3 => 0u8..4, 1 => any::<u8>()], 1..6),
    ) {
        split_check::response::check_split_invariance(&response, head_request, &splits);
    }

    #[test]
    fn arbitrary_bytes_read_the_same_however_split(
        data in proptest::collection::vec(any::<u8>(), 0..300),
        splits in proptest::collection::vec(any::<u8>(), 1..6),
    ) {
        split_check::response::check_split_invariance(&data, false, &splits);
    }
}

#[test]
fn with_transfer_encoding_the_content_length_is_not_handed_on_and_the_connection_closes() {
    for text in [
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: gzip\r\n\r\n",
    ] {
        let parsed = head(text).unwrap().unwrap();
        assert!(
            !parsed.headers.contains_key(header::CONTENT_LENGTH),
            "{text:?}"
        );
        assert!(
            parsed.headers.contains_key(header::TRANSFER_ENCODING),
            "{text:?}"
        );
        assert_eq!(parsed.body.remaining(), None, "{text:?}");
        assert!(!parsed.keep_alive, "{text:?}");
    }
}

#[test]
fn an_http10_response_with_transfer_encoding_is_read_by_it_then_closed() {
    let parsed =
        head("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap()
            .unwrap();
    assert_eq!(parsed.body, BodyDecoder::chunked());
    assert!(!parsed.keep_alive);
}

#[test]
fn a_trailer_section_at_the_budget_is_read_the_same_however_split_and_stays_bounded() {
    // The end of the budget reached by a bare-LF line, then bytes without a line end: the
    // reader must fail (or wait) with a bounded buffer, never keep buffering.
    let mut response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n".to_vec();
    response.extend(std::iter::repeat_n(b'x', 16 * 1024 - 1));
    response.push(b'\n');
    response.extend(std::iter::repeat_n(b'y', 40 * 1024));
    for splits in [&[][..], &[64], &[255, 3]] {
        split_check::response::check_split_invariance(&response, false, splits);
    }
}
