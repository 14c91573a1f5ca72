//! A property of the response reader, checked by the unit tests and the `upstream_response`
//! fuzz target: however the upstream's bytes are split into reads, the outcome is the same.
//!
//! The bytes are read once whole and once in pieces (sizes taken from `splits`). The response
//! heads must be equal (or both readings fail), and the bodies that follow must decode to the
//! same bytes and end the same way: the end of the body, more bytes needed, or the same error.

use bytes::BytesMut;

use crate::http1::body::{MAX_CHUNK_LINE, MAX_TRAILERS};
use crate::http1::response::ResponseHead;
use crate::http1::{BodyDecoder, Decoded, RESPONSE_HEAD_LIMITS, WireError, parse_response_head};

/// How a reading of the bytes went.
#[derive(Debug, PartialEq, Eq)]
struct Reading {
    head: Option<HeadSummary>,
    /// The body bytes decoded, and how decoding stopped.
    body: Vec<u8>,
    end: End,
}

#[derive(Debug, PartialEq, Eq)]
struct HeadSummary {
    status: http::StatusCode,
    version: http::Version,
    headers: http::HeaderMap,
    decoder: BodyDecoder,
    keep_alive: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The head could not be read (any reason: an error may show at a different byte when
    /// the bytes come in pieces, so only failure itself is compared).
    HeadFailed,
    /// The bytes ran out before a complete head.
    HeadIncomplete,
    Body,
    NeedMore,
    Failed(WireError),
}

/// Panics if reading `data` in the pieces `splits` describes differs from reading it whole.
pub(crate) fn check_split_invariance(data: &[u8], head_request: bool, splits: &[u8]) {
    let whole = read(data, head_request, &[]);
    let pieces = read(data, head_request, splits);
    assert_eq!(whole, pieces, "split {splits:?} changed the reading");
    if let Some(head) = &whole.head
        && let Some(length) = head.decoder.remaining()
    {
        assert!(
            whole.body.len() as u64 <= length,
            "more body than Content-Length"
        );
    }
}

/// Reads `data` as an upstream would deliver it: in pieces of the sizes in `splits` (cycled;
/// a 0 stands for 1), or all at once when `splits` is empty.
fn read(data: &[u8], head_request: bool, splits: &[u8]) -> Reading {
    let mut sizes = splits.iter().map(|&s| usize::from(s.max(1))).cycle();
    let mut rest = data;
    let mut buf = BytesMut::new();
    let mut feed = |buf: &mut BytesMut| -> bool {
        if rest.is_empty() {
            return false;
        }
        let size = sizes.next().unwrap_or(rest.len()).min(rest.len());
        buf.extend_from_slice(&rest[..size]);
        rest = &rest[size..];
        true
    };
    let head = loop {
        match parse_response_head(&mut buf, head_request) {
            Ok(Some(head)) => break head,
            Ok(None) => assert!(
                buf.len() < RESPONSE_HEAD_LIMITS.max_bytes(),
                "an incomplete head is buffered only up to the limit"
            ),
            Err(_) => return reading(None, Vec::new(), End::HeadFailed),
        }
        if !feed(&mut buf) {
            return reading(None, Vec::new(), End::HeadIncomplete);
        }
    };
    let ResponseHead {
        status,
        version,
        headers,
        body: mut decoder,
        keep_alive,
    } = head;
    let summary = HeadSummary {
        status,
        version,
        headers,
        decoder: decoder.clone(),
        keep_alive,
    };
    let mut body = Vec::new();
    let end = loop {
        match decoder.decode(&mut buf) {
            Ok(Decoded::Data(data)) => body.extend_from_slice(&data),
            Ok(Decoded::End) => break End::Body,
            Ok(Decoded::NeedMore) => {
                // What a decoder waits on is one framing line: bounded by its budget.
                assert!(
                    buf.len() < MAX_CHUNK_LINE.max(MAX_TRAILERS),
                    "{} bytes buffered waiting for more body",
                    buf.len()
                );
                if !feed(&mut buf) {
                    break End::NeedMore;
                }
            }
            Err(error) => break End::Failed(error),
        }
    };
    reading(Some(summary), body, end)
}

fn reading(head: Option<HeadSummary>, body: Vec<u8>, end: End) -> Reading {
    Reading { head, body, end }
}
