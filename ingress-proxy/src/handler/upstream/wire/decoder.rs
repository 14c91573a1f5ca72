//! Response bodies: `Content-Length`, chunked (RFC 9112 §7.1) or until the connection closes.

use bytes::{Bytes, BytesMut};

use super::WireError;

/// Longest chunk-size line (with extensions) or trailer section accepted, in bytes.
pub(crate) const MAX_CHUNK_LINE: usize = 4096;
const MAX_TRAILERS: usize = 16 * 1024;

/// Takes a response body's bytes out of the connection's read buffer.
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
    /// Expecting the CRLF after a chunk's data.
    ChunkEnd,
    /// After the last chunk: trailer lines until a blank one; bytes of trailers seen so far.
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
                    let Some(line) = take_line(buf, MAX_CHUNK_LINE, "chunk-size line too long")?
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
                    let Some(line) = take_line(buf, 2, "no CRLF after chunk data")? else {
                        return Ok(Decoded::NeedMore);
                    };
                    if !line.is_empty() {
                        return Err(WireError::Chunk("no CRLF after chunk data"));
                    }
                    self.state = State::ChunkSize;
                }
                State::Trailers(seen) => {
                    let Some(line) = take_line(buf, MAX_TRAILERS - seen, "trailers too large")?
                    else {
                        return Ok(Decoded::NeedMore);
                    };
                    self.state = if line.is_empty() {
                        State::Done
                    } else {
                        State::Trailers(seen + line.len() + 2)
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

/// Up to `remaining` bytes from the front of `buf`, and how many of `remaining` are left.
fn take_up_to(buf: &mut BytesMut, remaining: u64) -> (Bytes, u64) {
    let take = usize::try_from(remaining).map_or(buf.len(), |r| r.min(buf.len()));
    (buf.split_to(take).freeze(), remaining - take as u64)
}

/// Removes one line (without its CRLF, or a bare LF) from the front of `buf`; `None` if no line
/// end has arrived within `limit` bytes yet.
fn take_line(
    buf: &mut BytesMut,
    limit: usize,
    too_long: &'static str,
) -> Result<Option<BytesMut>, WireError> {
    let Some(end) = buf.iter().take(limit.max(2)).position(|&b| b == b'\n') else {
        return if buf.len() >= limit.max(2) {
            Err(WireError::Chunk(too_long))
        } else {
            Ok(None)
        };
    };
    let mut line = buf.split_to(end + 1);
    line.truncate(end);
    if line.last() == Some(&b'\r') {
        line.truncate(end - 1);
    }
    Ok(Some(line))
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
    Ok(line[..digits].iter().fold(0u64, |n, &digit| {
        // Checked above: at most 16 hex digits, so no overflow.
        let value = (digit as char).to_digit(16).unwrap_or(0);
        (n << 4) | u64::from(value)
    }))
}
