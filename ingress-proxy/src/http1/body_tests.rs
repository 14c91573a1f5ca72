use proptest::prelude::*;

use super::*;

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
        let _ = crate::http1::parse_response_head(&mut BytesMut::from(&input[..]), false);
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
fn chunk_sizes_are_lowercase_hexadecimal() {
    for (length, line) in [
        (0, "0\r\n"),
        (1, "1\r\n"),
        (255, "ff\r\n"),
        (4096, "1000\r\n"),
        (usize::MAX, "ffffffffffffffff\r\n"),
    ] {
        let mut out = Vec::new();
        encode_chunk_size(length, &mut out);
        assert_eq!(out, line.as_bytes());
    }
}

#[test]
fn encoded_chunks_decode_to_their_data() {
    let mut wire = Vec::new();
    for data in [&b"hello"[..], &[b'x'; 300][..]] {
        encode_chunk_size(data.len(), &mut wire);
        wire.extend_from_slice(data);
        wire.extend_from_slice(CHUNK_END);
    }
    wire.extend_from_slice(LAST_CHUNK);
    let (body, rest) = decode_in_pieces(BodyDecoder::chunked(), &wire, &[7], false).unwrap();
    let mut expected = b"hello".to_vec();
    expected.extend_from_slice(&[b'x'; 300]);
    assert_eq!(body, expected);
    assert!(rest.is_empty());
}

/// A trailer section of `lines`, each `length` bytes of `x` before `line_end`, then `after`.
fn trailers(lines: usize, length: usize, line_end: &[u8], after: &[u8]) -> Vec<u8> {
    let mut wire = b"0\r\n".to_vec();
    for _ in 0..lines {
        wire.extend(std::iter::repeat_n(b'x', length));
        wire.extend_from_slice(line_end);
    }
    wire.extend_from_slice(after);
    wire
}

#[test]
fn the_trailer_budget_counts_the_bytes_consumed_and_never_wraps() {
    // A line of exactly the budget: counted as consumed (budget reached), so the next byte is
    // over it. (A bare-LF line was once counted as a CRLF line, which put the count past the
    // budget, and the next budget, `MAX_TRAILERS - seen`, wrapped: the decoder then buffered
    // without bound. Bare LF is now refused outright; the count stays checked.)
    let exact = trailers(1, MAX_TRAILERS - 2, b"\r\n", &[b'y'; 3 * MAX_TRAILERS]);
    let bare = trailers(1, MAX_TRAILERS - 1, b"\n", &[b'y'; 3 * MAX_TRAILERS]);
    for pieces in [&[4096][..], &[1], &[usize::MAX]] {
        let result = decode_in_pieces(BodyDecoder::chunked(), &exact, pieces, false);
        assert_eq!(
            result.map(|(body, _)| body),
            Err(WireError::Chunk("trailers too large")),
            "{pieces:?}"
        );
        let result = decode_in_pieces(BodyDecoder::chunked(), &bare, pieces, false);
        assert_eq!(
            result.map(|(body, _)| body),
            Err(WireError::Chunk("chunk line not ended by CRLF")),
            "{pieces:?}"
        );
    }
}

#[test]
fn trailers_within_the_budget_are_dropped_and_over_it_rejected() {
    let cases: [(Vec<u8>, Result<(), WireError>); 6] = [
        (trailers(0, 0, b"", b"\r\n"), Ok(())),
        (trailers(1, 10, b"\r\n", b"\r\n"), Ok(())),
        // Bare LF ends no chunk line (RFC 9112 §7.1; hyper refuses it too).
        (
            trailers(2, 10, b"\n", b"\n"),
            Err(WireError::Chunk("chunk line not ended by CRLF")),
        ),
        // 15 CRLF lines of 1 KiB and a blank line: 15 * 1026 + 2 bytes, within 16 KiB.
        (trailers(15, 1024, b"\r\n", b"\r\n"), Ok(())),
        // 16 such lines: 16 * 1026 bytes, over 16 KiB.
        (
            trailers(16, 1024, b"\r\n", b"\r\n"),
            Err(WireError::Chunk("trailers too large")),
        ),
        // One CRLF line of the whole budget leaves no room for the blank line.
        (
            trailers(1, MAX_TRAILERS - 2, b"\r\n", b"\r\n"),
            Err(WireError::Chunk("trailers too large")),
        ),
    ];
    for (wire, expected) in cases {
        for pieces in [&[1][..], &[100], &[usize::MAX]] {
            let result = decode_in_pieces(BodyDecoder::chunked(), &wire, pieces, false);
            assert_eq!(
                result.map(|(body, _)| assert!(body.is_empty())),
                expected,
                "{} bytes in pieces of {pieces:?}",
                wire.len()
            );
        }
    }
}
