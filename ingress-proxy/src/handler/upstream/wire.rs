//! The HTTP/1.1 client wire format, without I/O: request heads out, response heads and bodies
//! in (RFC 9112).
//!
//! [`encode_request_head`] writes a request line and headers. [`parse_response_head`] turns
//! the bytes read so far into a response head once it is complete, and says how its body is
//! framed and whether the connection can carry another request. [`BodyDecoder`] then takes the
//! body's bytes out of the same buffer: a `Content-Length`, chunked, or read-until-close body.
//! Trailers of a chunked body are read and dropped (as nginx does for HTTP/1.1 upstreams).

use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Version};

use super::super::headers::ForwardedFields;

/// Most response header fields accepted (hyper's and nginx's order of magnitude).
pub(crate) const MAX_HEADERS: usize = 100;
/// Largest response head accepted, in bytes (nginx: `proxy_buffer_size`, 4 or 8 KiB).
pub(crate) const MAX_HEAD_BYTES: usize = 32 * 1024;
/// Longest chunk-size line (with extensions) or trailer section accepted, in bytes.
const MAX_CHUNK_LINE: usize = 4096;
const MAX_TRAILERS: usize = 16 * 1024;

/// Why an upstream's response could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum WireError {
    #[error("malformed response head: {0}")]
    Head(httparse::Error),
    #[error("response head larger than {MAX_HEAD_BYTES} bytes")]
    HeadTooLarge,
    #[error("response header field {0:?} is not valid")]
    Header(String),
    #[error("response status {0} is not valid")]
    Status(u16),
    #[error("invalid Content-Length")]
    ContentLength,
    #[error("101 Switching Protocols to a request that asked for no upgrade")]
    UnexpectedSwitch,
    #[error("malformed chunked body: {0}")]
    Chunk(&'static str),
    #[error("connection closed before the body ended")]
    Truncated,
}

/// A parsed response head, with how its body is framed.
#[derive(Debug)]
pub(crate) struct ResponseHead {
    pub(crate) status: StatusCode,
    pub(crate) version: Version,
    pub(crate) headers: HeaderMap,
    pub(crate) body: BodyDecoder,
    /// Whether the connection may carry another request once the body has ended.
    pub(crate) keep_alive: bool,
}

/// Writes `METHOD target HTTP/1.1`, the header fields and the blank line to `out`. With
/// `forwarded`, the client's `X-Forwarded-*` fields are replaced by (or, `X-Forwarded-For`,
/// folded into) those.
pub(crate) fn encode_request_head(
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    forwarded: Option<&ForwardedFields<'_>>,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        if forwarded.is_some() && ForwardedFields::replaces(name) {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(forwarded) = forwarded {
        forwarded.encode(headers, out);
    }
    out.extend_from_slice(b"\r\n");
}

/// Parses a response head from the front of `buf` and removes it from there.
///
/// `Ok(None)`: the head is not complete yet (read more). Interim `1xx` responses (other than
/// `101`) are consumed and skipped. `head_request` says the request was `HEAD`, whose response
/// has no body whatever its headers say.
pub(crate) fn parse_response_head(
    buf: &mut BytesMut,
    head_request: bool,
) -> Result<Option<ResponseHead>, WireError> {
    loop {
        let Some(head) = parse_one(buf)? else {
            return Ok(None);
        };
        if head.status == StatusCode::SWITCHING_PROTOCOLS {
            return Err(WireError::UnexpectedSwitch);
        }
        if head.status.is_informational() {
            continue;
        }
        let version = head.version;
        let headers = head.headers;
        let (body, framing_allows_reuse) = framing(head.status, &headers, head_request)?;
        let keep_alive = framing_allows_reuse && connection_persists(version, &headers);
        return Ok(Some(ResponseHead {
            status: head.status,
            version,
            headers,
            body,
            keep_alive,
        }));
    }
}

struct RawHead {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
}

fn parse_one(buf: &mut BytesMut) -> Result<Option<RawHead>, WireError> {
    // Where each field's name and value sit in `buf`, to slice them out of the frozen head
    // without copying.
    // (Offsets fit in `u16`: a head is at most `MAX_HEAD_BYTES`.)
    let mut spans = [(0u16, 0u16, 0u16, 0u16); MAX_HEADERS];
    let (length, status, version, count) = {
        let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut []);
        let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut response,
            buf,
            &mut fields,
        );
        let length = match parsed {
            Ok(httparse::Status::Complete(length)) => length,
            Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => {
                return Err(WireError::HeadTooLarge);
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => return Err(WireError::HeadTooLarge),
            Err(error) => return Err(WireError::Head(error)),
        };
        if length > MAX_HEAD_BYTES {
            return Err(WireError::HeadTooLarge);
        }
        let base = buf.as_ptr() as usize;
        let count = response.headers.len();
        let offset = |field: &[u8]| (field.as_ptr() as usize - base) as u16;
        for (span, field) in spans.iter_mut().zip(response.headers.iter()) {
            let name = offset(field.name.as_bytes());
            let value = offset(field.value);
            *span = (
                name,
                name + field.name.len() as u16,
                value,
                value + field.value.len() as u16,
            );
        }
        // httparse fills both on a complete parse.
        let code = response.code.unwrap_or(0);
        let version = match response.version {
            Some(0) => Version::HTTP_10,
            _ => Version::HTTP_11,
        };
        (length, code, version, count)
    };
    let status = StatusCode::from_u16(status).map_err(|_| WireError::Status(status))?;
    let head = buf.split_to(length).freeze();
    let mut headers = HeaderMap::with_capacity(count);
    for &(name_start, name_end, value_start, value_end) in &spans[..count] {
        let (name_start, name_end) = (usize::from(name_start), usize::from(name_end));
        let (value_start, value_end) = (usize::from(value_start), usize::from(value_end));
        let name = HeaderName::from_bytes(&head[name_start..name_end])
            .map_err(|_| invalid_field(&head[name_start..name_end]))?;
        let value = HeaderValue::from_maybe_shared(head.slice(value_start..value_end))
            .map_err(|_| invalid_field(&head[name_start..name_end]))?;
        headers.append(name, value);
    }
    Ok(Some(RawHead {
        status,
        version,
        headers,
    }))
}

fn invalid_field(name: &[u8]) -> WireError {
    WireError::Header(String::from_utf8_lossy(name).into_owned())
}

/// How the body is delimited (RFC 9112 §6.3), and whether that framing allows reuse.
fn framing(
    status: StatusCode,
    headers: &HeaderMap,
    head_request: bool,
) -> Result<(BodyDecoder, bool), WireError> {
    if head_request || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        return Ok((BodyDecoder::length(0), true));
    }
    if let Some(last) = headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .next_back()
    {
        let chunked = last
            .as_bytes()
            .rsplit(|&b| b == b',')
            .next()
            .is_some_and(|coding| coding.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        // With both Transfer-Encoding and Content-Length the message is suspect: read it by
        // Transfer-Encoding, then close (RFC 9112 §6.3, rule 3).
        let reusable = chunked && !headers.contains_key(header::CONTENT_LENGTH);
        let decoder = if chunked {
            BodyDecoder::chunked()
        } else {
            BodyDecoder::until_close()
        };
        return Ok((decoder, reusable));
    }
    match content_length(headers)? {
        Some(length) => Ok((BodyDecoder::length(length), true)),
        None => Ok((BodyDecoder::until_close(), false)),
    }
}

/// The `Content-Length`, if any: every value (and list element) must be the same number.
fn content_length(headers: &HeaderMap) -> Result<Option<u64>, WireError> {
    let mut length = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        for element in value.as_bytes().split(|&b| b == b',') {
            let element = element.trim_ascii();
            if element.is_empty() || element.len() > 19 || !element.iter().all(u8::is_ascii_digit) {
                return Err(WireError::ContentLength);
            }
            let parsed = element
                .iter()
                .fold(0u64, |n, digit| n * 10 + u64::from(digit - b'0'));
            if length.is_some_and(|seen| seen != parsed) {
                return Err(WireError::ContentLength);
            }
            length = Some(parsed);
        }
    }
    Ok(length)
}

/// HTTP/1.1 persists unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
fn connection_persists(version: Version, headers: &HeaderMap) -> bool {
    let has = |token: &str| {
        headers.get_all(header::CONNECTION).iter().any(|value| {
            value
                .as_bytes()
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
        })
    };
    if version == Version::HTTP_10 {
        has("keep-alive")
    } else {
        !has("close")
    }
}

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
                    let take = usize::try_from(remaining).map_or(buf.len(), |r| r.min(buf.len()));
                    let left = remaining - take as u64;
                    self.state = if left == 0 {
                        State::Done
                    } else {
                        State::Length(left)
                    };
                    return Ok(Decoded::Data(buf.split_to(take).freeze()));
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
                    let take = usize::try_from(remaining).map_or(buf.len(), |r| r.min(buf.len()));
                    let left = remaining - take as u64;
                    self.state = if left == 0 {
                        State::ChunkEnd
                    } else {
                        State::ChunkData(left)
                    };
                    return Ok(Decoded::Data(buf.split_to(take).freeze()));
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

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
