//! Message framing cases for the differential tests, shared by both roles (a request's body
//! and a response's body are framed by the same rules, RFC 9112 §6): the framing header fields
//! a generated message carries and the body bytes that follow its head.

/// How a generated message's body is framed, and the body.
#[derive(Debug, Clone)]
pub enum Framing {
    /// No framing field and no body (a request), or a body delimited by the close (a response).
    None,
    /// No framing field, and this body (delimited by the close: responses only).
    UntilClose(Vec<u8>),
    /// `Content-Length` equal to the body's length.
    Length(Vec<u8>),
    /// `Content-Length` larger than the body that follows (cut short by the close).
    LengthShort(Vec<u8>),
    /// `Content-Length` smaller than the bytes that follow.
    LengthLong(Vec<u8>),
    /// Two `Content-Length` fields with the same value.
    LengthTwice(Vec<u8>),
    /// Two `Content-Length` fields that disagree.
    LengthConflict,
    /// One `Content-Length: 3, 3` field.
    LengthListSame,
    /// A `Content-Length` that is not a plain number, then `abc`.
    LengthInvalid(&'static str),
    /// Chunked: the body in chunks of up to 5 bytes (the first with an extension), then the
    /// last chunk with these trailer fields.
    Chunked(Vec<u8>, &'static [&'static str]),
    /// `Transfer-Encoding: chunked` and this malformed (or cut short) chunked body.
    ChunkedMalformed(&'static str),
    /// `Transfer-Encoding: chunked` and a `Content-Length` of the body's length.
    ChunkedWithLength(Vec<u8>),
    /// One `Transfer-Encoding` field per coding, then `abc` chunked.
    Codings(&'static [&'static str]),
    /// `Transfer-Encoding: gzip` (not chunked last), then this body until the close.
    NotChunkedLast(Vec<u8>),
}

/// Trailer sections for [`Framing::Chunked`].
pub const TRAILERS: &[&[&str]] = &[&[], &["x-trailer: t"], &["a: 1", "b: 2"]];

impl Framing {
    /// Whether the head carries a framing field.
    pub fn has_framing_fields(&self) -> bool {
        !matches!(self, Framing::None | Framing::UntilClose(_))
    }

    /// Whether the head carries a `Transfer-Encoding` field.
    pub fn has_transfer_coding(&self) -> bool {
        matches!(
            self,
            Framing::Chunked(..)
                | Framing::ChunkedMalformed(_)
                | Framing::ChunkedWithLength(_)
                | Framing::Codings(_)
                | Framing::NotChunkedLast(_)
        )
    }

    /// Whether the chunked body ends its lines with a bare LF.
    pub fn has_bare_lf_chunks(&self) -> bool {
        matches!(self, Framing::ChunkedMalformed(body) if body.contains('\n') && !body.contains('\r'))
    }

    /// Writes the framing fields, each ended by `eol`, to `out`; returns the body bytes.
    pub fn render_fields(&self, eol: &str, out: &mut Vec<u8>) -> Vec<u8> {
        let mut field = |line: String| out.extend_from_slice(format!("{line}{eol}").as_bytes());
        let length = |body: &[u8]| format!("Content-Length: {}", body.len());
        match self {
            Framing::None => Vec::new(),
            Framing::UntilClose(body) => body.clone(),
            Framing::Length(body) => {
                field(length(body));
                body.clone()
            }
            Framing::LengthShort(body) => {
                field(format!("Content-Length: {}", body.len() + 5));
                body.clone()
            }
            Framing::LengthLong(body) => {
                field(length(body));
                [body.as_slice(), b"extra"].concat()
            }
            Framing::LengthTwice(body) => {
                field(length(body));
                field(length(body));
                body.clone()
            }
            Framing::LengthConflict => {
                field("Content-Length: 3".to_owned());
                field("Content-Length: 4".to_owned());
                b"abcd".to_vec()
            }
            Framing::LengthListSame => {
                field("Content-Length: 3, 3".to_owned());
                b"abc".to_vec()
            }
            Framing::LengthInvalid(value) => {
                field(format!("Content-Length: {value}"));
                b"abc".to_vec()
            }
            Framing::Chunked(body, trailers) => {
                field("Transfer-Encoding: chunked".to_owned());
                chunked(body, trailers)
            }
            Framing::ChunkedMalformed(body) => {
                field("Transfer-Encoding: chunked".to_owned());
                body.as_bytes().to_vec()
            }
            Framing::ChunkedWithLength(body) => {
                field("Transfer-Encoding: chunked".to_owned());
                field(length(body));
                chunked(body, &[])
            }
            Framing::Codings(codings) => {
                for coding in *codings {
                    field(format!("Transfer-Encoding: {coding}"));
                }
                chunked(b"abc", &[])
            }
            Framing::NotChunkedLast(body) => {
                field("Transfer-Encoding: gzip".to_owned());
                body.clone()
            }
        }
    }
}

/// `body` in chunks of up to 5 bytes (the first with an extension), the last chunk, trailers.
fn chunked(body: &[u8], trailers: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, chunk) in body.chunks(5).enumerate() {
        let extension = if i == 0 { ";name=value" } else { "" };
        out.extend_from_slice(format!("{:x}{extension}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n");
    for trailer in trailers {
        out.extend_from_slice(format!("{trailer}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Short bodies of lower-case letters.
pub fn body() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    proptest::collection::vec(b'a'..=b'z', 0..24)
}
