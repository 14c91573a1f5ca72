//! Message bodies (RFC 9112 §6.3, §7.1): [`BodyDecoder`] takes a `Content-Length`, chunked or
//! read-until-close body out of a connection's read buffer; the chunked encoder
//! ([`encode_chunk_size`], [`CHUNK_END`], [`LAST_CHUNK`]) writes one.
//!
//! Budgets, each kept with checked arithmetic and an error when exceeded: a chunk-size line
//! (with extensions and its line end) within [`MAX_CHUNK_LINE`] bytes; the trailer section
//! (every line with its line end, bare LF or CRLF, as actually consumed, and the blank line)
//! within [`MAX_TRAILERS`] bytes; a chunk size of at most 16 hexadecimal digits.

use bytes::{Bytes, BytesMut};

use super::WireError;

/// Longest chunk-size line (with extensions and line end) accepted, in bytes.
pub(super) const MAX_CHUNK_LINE: usize = 4096;
/// Largest trailer section accepted, in bytes (trailers are read and dropped).
pub(super) const MAX_TRAILERS: usize = 16 * 1024;

/// Takes a body's bytes out of the connection's read buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BodyDecoder {
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// `Content-Length` bytes still to come.
    Length(u64),
    /// Expecting a chunk-size line.
    ChunkSize,
    /// Inside a chunk's data.
    ChunkData(u64),
    /// Expecting the line end after a chunk's data.
    ChunkEnd,
    /// After the last chunk: trailer lines until a blank one; bytes of trailers consumed so
    /// far (never more than [`MAX_TRAILERS`]).
    Trailers(usize),
    /// Everything until the connection closes.
    UntilClose,
    Done,
}

/// One step of [`BodyDecoder::decode`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decoded {
    Data(Bytes),
    /// The buffer holds no more of the body: read more from the connection.
    NeedMore,
    /// The body has ended.
    End,
}

/// The end of a chunk's data.
pub(crate) const CHUNK_END: &[u8] = b"\r\n";

/// The last chunk and the empty trailer section.
pub(crate) const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

impl BodyDecoder {
    pub(crate) fn length(length: u64) -> Self {
        let state = if length == 0 {
            State::Done
        } else {
            State::Length(length)
        };
        BodyDecoder { state }
    }

    pub(crate) fn chunked() -> Self {
        BodyDecoder {
            state: State::ChunkSize,
        }
    }

    pub(crate) fn until_close() -> Self {
        BodyDecoder {
            state: State::UntilClose,
        }
    }

    /// Whether the whole body has been decoded.
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Bytes still expected, when the framing says.
    pub(crate) fn remaining(&self) -> Option<u64> {
        match self.state {
            State::Length(n) => Some(n),
            State::Done => Some(0),
            _ => None,
        }
    }

    /// Takes the next piece of body data (or framing) from the front of `buf`.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, WireError> {
        loop {
            match self.state {
                State::Done => return Ok(Decoded::End),
                State::Length(remaining) => {
                    if buf.is_empty() {
                        return Ok(Decoded::NeedMore);
                    }
                    let (data, left) = take_up_to(buf, remaining);
                    self.state = if left == 0 {
                        State::Done
                    } else {
                        State::Length(left)
                    };
                    return Ok(Decoded::Data(data));
                }
                State::UntilClose => {
                    if buf.is_empty() {
                        return Ok(Decoded::NeedMore);
                    }
                    return Ok(Decoded::Data(buf.split().freeze()));
                }
                State::ChunkSize => {
                    let Some((line, _)) =
                        take_line(buf, MAX_CHUNK_LINE, "chunk-size line too long")?
                    else {
                        return Ok(Decoded::NeedMore);
                    };
                    let size = chunk_size(&line)?;
                    self.state = if size == 0 {
                        State::Trailers(0)
                    } else {
                        State::ChunkData(size)
                    };
                }
                State::ChunkData(remaining) => {
                    if buf.is_empty() {
                        return Ok(Decoded::NeedMore);
                    }
                    let (data, left) = take_up_to(buf, remaining);
                    self.state = if left == 0 {
                        State::ChunkEnd
                    } else {
                        State::ChunkData(left)
                    };
                    return Ok(Decoded::Data(data));
                }
                State::ChunkEnd => {
                    let Some((line, _)) = take_line(buf, 2, "no CRLF after chunk data")? else {
                        return Ok(Decoded::NeedMore);
                    };
                    if !line.is_empty() {
                        return Err(WireError::Chunk("no CRLF after chunk data"));
                    }
                    self.state = State::ChunkSize;
                }
                State::Trailers(seen) => {
                    const TOO_LARGE: WireError = WireError::Chunk("trailers too large");
                    let budget = MAX_TRAILERS.checked_sub(seen).ok_or(TOO_LARGE)?;
                    let Some((line, consumed)) = take_line(buf, budget, "trailers too large")?
                    else {
                        return Ok(Decoded::NeedMore);
                    };
                    self.state = if line.is_empty() {
                        State::Done
                    } else {
                        let seen = seen
                            .checked_add(consumed)
                            .filter(|&seen| seen <= MAX_TRAILERS)
                            .ok_or(TOO_LARGE)?;
                        State::Trailers(seen)
                    };
                }
            }
        }
    }

    /// The connection closed: the end of an until-close body, else the body was cut short.
    pub(crate) fn decode_eof(&mut self) -> Result<Decoded, WireError> {
        match self.state {
            State::UntilClose | State::Done => {
                self.state = State::Done;
                Ok(Decoded::End)
            }
            _ => Err(WireError::Truncated),
        }
    }
}

/// Writes the size line of a chunk of `length` bytes (the data and [`CHUNK_END`] follow).
pub(crate) fn encode_chunk_size(length: usize, out: &mut Vec<u8>) {
    const HEX_DIGITS: usize = (usize::BITS / 4) as usize;
    let mut digits = [0u8; HEX_DIGITS];
    let mut at = HEX_DIGITS;
    let mut rest = length;
    // At most HEX_DIGITS rounds: each takes four bits off `rest`, and `at` stays in range.
    loop {
        at -= 1;
        digits[at] = b"0123456789abcdef"[rest & 0xf];
        rest >>= 4;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
    out.extend_from_slice(b"\r\n");
}

/// Up to `remaining` bytes from the front of `buf`, and how many of `remaining` are left.
fn take_up_to(buf: &mut BytesMut, remaining: u64) -> (Bytes, u64) {
    let take = usize::try_from(remaining).map_or(buf.len(), |r| r.min(buf.len()));
    let left = remaining.saturating_sub(take as u64);
    (buf.split_to(take).freeze(), left)
}

/// Removes one line (without its CRLF; a bare LF is an error) from the front of `buf`, with the number
/// of bytes it took (line end included); `None` if no line end has arrived yet. A line whose
/// end is not within `limit` bytes is an error.
fn take_line(
    buf: &mut BytesMut,
    limit: usize,
    too_long: &'static str,
) -> Result<Option<(BytesMut, usize)>, WireError> {
    let Some(end) = buf.iter().take(limit).position(|&b| b == b'\n') else {
        return if buf.len() >= limit {
            Err(WireError::Chunk(too_long))
        } else {
            Ok(None)
        };
    };
    // RFC 9112 §7.1: chunk lines end with CRLF. A bare LF is refused, as hyper refuses it
    // (the leniency §2.2 allows is for the start line and fields, not chunked framing).
    if end == 0 || buf[end - 1] != b'\r' {
        return Err(WireError::Chunk("chunk line not ended by CRLF"));
    }
    let consumed = end + 1;
    let mut line = buf.split_to(consumed);
    line.truncate(end - 1);
    Ok(Some((line, consumed)))
}

/// The hexadecimal size at the start of a chunk-size line (extensions after `;` ignored).
fn chunk_size(line: &[u8]) -> Result<u64, WireError> {
    let digits = line
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(line.len());
    let rest = line[digits..].trim_ascii_start();
    if digits == 0 || digits > 16 || !(rest.is_empty() || rest.starts_with(b";")) {
        return Err(WireError::Chunk("invalid chunk size"));
    }
    // At most 16 hex digits: the shifts cannot overflow.
    Ok(line[..digits].iter().fold(0u64, |n, &digit| {
        let value = (digit as char).to_digit(16).unwrap_or(0);
        (n << 4) | u64::from(value)
    }))
}

#[cfg(test)]
#[path = "body_tests.rs"]
mod tests;
