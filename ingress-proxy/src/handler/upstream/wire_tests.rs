use super::decoder::MAX_CHUNK_LINE;
use super::*;
use http::HeaderValue;
use proptest::prelude::*;

fn head(text: &str) -> Result<Option<ResponseHead>, WireError> {
    parse_response_head(&mut BytesMut::from(text), false)
}

/// Feeds `input` to a decoder in the given piece sizes; the body bytes, or the first error.
fn decode_in_pieces(
    mut decoder: BodyDecoder,
    input: &[u8],
    pieces: &[usize],
    eof: bool,
) -> Result<(Vec<u8>, BytesMut), WireError> {
    let mut buf = BytesMut::new();
    let mut body = Vec::new();
    let mut rest = input;
    let mut sizes = pieces.iter().copied().cycle();
    loop {
        match decoder.decode(&mut buf)? {
            Decoded::Data(data) => body.extend_from_slice(&data),
            Decoded::End => return Ok((body, buf)),
            Decoded::NeedMore if rest.is_empty() => {
                if !eof {
                    return Err(WireError::Truncated);
                }
                match decoder.decode_eof()? {
                    Decoded::End => return Ok((body, buf)),
                    other => panic!("unexpected {other:?} at end of input"),
                }
            }
            Decoded::NeedMore => {
                let size = sizes.next().unwrap_or(1).clamp(1, rest.len());
                buf.extend_from_slice(&rest[..size]);
                rest = &rest[size..];
            }
        }
    }
}

/// The reference: chunked encoding as RFC 9112 §7.1 writes it.
fn chunk_encode(body: &[u8], sizes: &[usize], extension: bool, trailer: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    let mut sizes = sizes.iter().copied().cycle();
    while !rest.is_empty() {
        let size = sizes.next().unwrap_or(1).clamp(1, rest.len());
        out.extend_from_slice(format!("{size:X}").as_bytes());
        if extension {
            out.extend_from_slice(b";name=value");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&rest[..size]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[size..];
    }
    out.extend_from_slice(b"0\r\n");
    if trailer {
        out.extend_from_slice(b"grpc-status: 0\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

proptest! {
    #[test]
    fn chunked_bodies_decode_to_what_was_encoded(
        body in proptest::collection::vec(any::<u8>(), 0..2000),
        chunk_sizes in proptest::collection::vec(1usize..300, 1..8),
        read_sizes in proptest::collection::vec(1usize..64, 1..8),
        extension: bool,
        trailer: bool,
        next in proptest::collection::vec(any::<u8>(), 0..20),
    ) {
        let mut wire = chunk_encode(&body, &chunk_sizes, extension, trailer);
        let framed = wire.len();
        // Whatever follows the body (the next response) stays in the buffer, unread.
        wire.extend_from_slice(&next);
        let mut decoder = BodyDecoder::chunked();
        let mut buf = BytesMut::from(&wire[..]);
        let mut decoded = Vec::new();
        loop {
            match decoder.decode(&mut buf).unwrap() {
                Decoded::Data(data) => decoded.extend_from_slice(&data),
                Decoded::End => break,
                Decoded::NeedMore => panic!("the whole body was in the buffer"),
            }
        }
        prop_assert_eq!(&decoded, &body);
        prop_assert_eq!(&buf[..], &wire[framed..]);

        let (pieces, _) = decode_in_pieces(BodyDecoder::chunked(), &wire[..framed], &read_sizes, false).unwrap();
        prop_assert_eq!(pieces, body);
    }

    #[test]
    fn length_bodies_take_exactly_their_length(
        body in proptest::collection::vec(any::<u8>(), 0..2000),
        next in proptest::collection::vec(any::<u8>(), 0..20),
        read_sizes in proptest::collection::vec(1usize..64, 1..8),
    ) {
        let mut wire = body.clone();
        wire.extend_from_slice(&next);
        let mut decoder = BodyDecoder::length(body.len() as u64);
        let mut buf = BytesMut::from(&wire[..]);
        let mut decoded = Vec::new();
        while let Decoded::Data(data) = decoder.decode(&mut buf).unwrap() {
            decoded.extend_from_slice(&data);
        }
        prop_assert!(decoder.is_done());
        prop_assert_eq!(&decoded, &body);
        prop_assert_eq!(&buf[..], &next[..]);

        let (pieces, _) = decode_in_pieces(BodyDecoder::length(body.len() as u64), &body, &read_sizes, false).unwrap();
        prop_assert_eq!(pieces, body);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(
        input in proptest::collection::vec(any::<u8>(), 0..600),
        read_sizes in proptest::collection::vec(1usize..64, 1..8),
    ) {
        let _ = decode_in_pieces(BodyDecoder::chunked(), &input, &read_sizes, true);
        let _ = parse_response_head(&mut BytesMut::from(&input[..]), false);
    }
}

#[test]
fn bodies_cut_short_are_errors_and_until_close_bodies_end_at_close() {
    let truncated = decode_in_pieces(BodyDecoder::length(10), b"12345", &[3], true);
    assert_eq!(truncated, Err(WireError::Truncated));
    let truncated = decode_in_pieces(BodyDecoder::chunked(), b"5\r\n12", &[3], true);
    assert_eq!(truncated, Err(WireError::Truncated));
    let (body, _) = decode_in_pieces(BodyDecoder::until_close(), b"all of it", &[4], true).unwrap();
    assert_eq!(body, b"all of it");
}

#[test]
fn malformed_chunks_are_rejected() {
    for (input, why) in [
        (&b"zz\r\n"[..], "invalid chunk size"),
        (b"\r\n", "invalid chunk size"),
        (b"11111111111111111\r\n", "invalid chunk size"),
        (b"5 x\r\n", "invalid chunk size"),
        (b"2\r\nabXY", "no CRLF after chunk data"),
    ] {
        let result = decode_in_pieces(BodyDecoder::chunked(), input, &[64], true);
        assert_eq!(result, Err(WireError::Chunk(why)), "{input:?}");
    }
    let long_line = vec![b'1'; MAX_CHUNK_LINE + 10];
    let result = decode_in_pieces(BodyDecoder::chunked(), &long_line, &[64], true);
    assert_eq!(result, Err(WireError::Chunk("chunk-size line too long")));
}

#[test]
fn request_heads_are_encoded_in_wire_form() {
    let mut headers = HeaderMap::new();
    headers.insert(header::HOST, HeaderValue::from_static("a.example"));
    headers.append("x-multi", HeaderValue::from_static("1"));
    headers.append("x-multi", HeaderValue::from_static("2"));
    let mut out = Vec::new();
    encode_request_head(&Method::GET, "/p?q=1", &headers, None, &mut out);
    assert_eq!(
        &out[..],
        b"GET /p?q=1 HTTP/1.1\r\nhost: a.example\r\nx-multi: 1\r\nx-multi: 2\r\n\r\n"
    );
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
    let many: String = (0..=MAX_HEADERS).map(|i| format!("x-{i}: v\r\n")).collect();
    assert_eq!(
        head(&format!("HTTP/1.1 200 OK\r\n{many}\r\n")).unwrap_err(),
        WireError::HeadTooLarge
    );
    let huge = format!("HTTP/1.1 200 OK\r\nx: {}", "v".repeat(MAX_HEAD_BYTES));
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
        split_check::check_split_invariance(&response, head_request, &splits);
    }

    #[test]
    fn arbitrary_bytes_read_the_same_however_split(
        data in proptest::collection::vec(any::<u8>(), 0..300),
        splits in proptest::collection::vec(any::<u8>(), 1..6),
    ) {
        split_check::check_split_invariance(&data, false, &splits);
    }
}
