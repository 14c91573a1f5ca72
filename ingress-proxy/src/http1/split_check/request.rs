//! A property of the request-head reader, checked by the unit tests and the `inline_request`
//! fuzz target: however a client's bytes are split into reads, the inline server takes the
//! same requests, and hands the connection to hyper at the same point with exactly the bytes
//! it has not consumed (hyper must see the stream as if it had read it from the start).

use bytes::BytesMut;
use http::{HeaderMap, Method, Uri, Version};

use crate::http1::{HeadLimits, Parsed, parse_request_head};

/// What a reading of the bytes took, and how it stopped.
#[derive(Debug, PartialEq, Eq)]
struct Reading {
    taken: Vec<Taken>,
    end: End,
}

#[derive(Debug, PartialEq, Eq)]
struct Taken {
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    keep_alive: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The bytes ran out inside a head: these are buffered.
    Incomplete(Vec<u8>),
    /// Handed to hyper with these bytes (the buffer and everything not yet read).
    HandOff(Vec<u8>),
}

/// Panics if reading `data` in the pieces `splits` describes differs from reading it whole, or
/// if a hand-off would lose or reorder bytes.
pub(crate) fn check_split_invariance(data: &[u8], splits: &[u8], small_limits: bool) {
    let limits = if small_limits {
        HeadLimits::new(64, 4)
    } else {
        HeadLimits::new(8 * 1024, 100)
    };
    let whole = read(data, limits, &[]);
    let pieces = read(data, limits, splits);
    assert_eq!(whole, pieces, "split {splits:?} changed the reading");
}

/// Reads `data` as a client would deliver it: in pieces of the sizes in `splits` (cycled; a 0
/// stands for 1), or all at once when `splits` is empty.
fn read(data: &[u8], limits: HeadLimits, splits: &[u8]) -> Reading {
    let mut sizes = splits.iter().map(|&s| usize::from(s.max(1))).cycle();
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let mut taken = Vec::new();
    // Bytes of the heads taken so far: everything before them in `data`.
    let mut consumed = 0;
    loop {
        let buffered = buf.len();
        match parse_request_head(&mut buf, limits) {
            Parsed::Inline(inline) => {
                assert!(buf.len() < buffered, "a taken head leaves the buffer");
                consumed += buffered - buf.len();
                let (parts, ()) = inline.request.into_parts();
                taken.push(Taken {
                    method: parts.method,
                    uri: parts.uri,
                    version: parts.version,
                    headers: parts.headers,
                    keep_alive: inline.keep_alive,
                });
            }
            Parsed::HandOff(_) => {
                let mut rest = buf.to_vec();
                rest.extend_from_slice(&data[fed..]);
                assert_eq!(
                    rest,
                    data[consumed..],
                    "hyper gets exactly the bytes after the heads taken"
                );
                return Reading {
                    taken,
                    end: End::HandOff(rest),
                };
            }
            Parsed::Partial if buf.len() != buffered => {
                panic!("an incomplete head changed the buffer")
            }
            Parsed::Partial if fed == data.len() => {
                return Reading {
                    taken,
                    end: End::Incomplete(buf.to_vec()),
                };
            }
            Parsed::Partial => {
                let size = sizes.next().unwrap_or(data.len());
                let until = (fed + size).min(data.len());
                buf.extend_from_slice(&data[fed..until]);
                fed = until;
            }
        }
    }
}
