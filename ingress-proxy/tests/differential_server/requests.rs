//! Generated client byte streams: one to three request heads (valid and not), each with the
//! body its framing fields announce, then a closing request, so that every stream ends with
//! the proxy closing the connection.
//!
//! Bodies always match what a server that accepts the framing would read, so no case leaves a
//! server waiting for bytes that never come.

use proptest::prelude::*;

use crate::common::framing::{Framing, TRAILERS, body};

/// The request that ends every stream: the server answers it and closes.
pub(crate) const CLOSING_REQUEST: &[u8] =
    b"GET /end HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n";

/// One generated request.
#[derive(Debug, Clone)]
pub(crate) struct RequestSpec {
    method: &'static str,
    target: &'static str,
    version: &'static str,
    /// Line ending of every line but the blank one: `\r\n`, or a bare `\n`.
    line_end: &'static str,
    /// Line ending of the blank line that ends the head.
    blank_line: &'static str,
    host: &'static [&'static str],
    fields: Vec<FieldSpec>,
    connection: Option<&'static str>,
    framing: Framing,
    /// Bytes of an `x-padding` field; 0 for none (large values make the head too large).
    padding: usize,
}

/// One extra header field and how it is written.
#[derive(Debug, Clone)]
pub(crate) struct FieldSpec {
    name: &'static str,
    value: &'static str,
    form: FieldForm,
}

#[derive(Debug, Clone, Copy)]
enum FieldForm {
    /// `name: value`
    Plain,
    /// `name:value`
    Tight,
    /// `name :value` (whitespace before the colon: RFC 9112 §5.1 says 400).
    SpaceBeforeColon,
    /// `name: \t value \t`
    PaddedWithTabs,
    /// `name: value` then an obs-fold continuation line ` more`.
    ObsFold,
}

impl RequestSpec {
    /// Appends the request's bytes (head, then body) to `out`; returns where the body starts
    /// and ends in `out` (empty when there is none).
    pub(crate) fn render(&self, out: &mut Vec<u8>) -> std::ops::Range<usize> {
        let eol = self.line_end;
        out.extend_from_slice(
            format!("{} {} {}{eol}", self.method, self.target, self.version).as_bytes(),
        );
        for host in self.host {
            out.extend_from_slice(format!("Host: {host}{eol}").as_bytes());
        }
        for field in &self.fields {
            let (name, value) = (field.name, field.value);
            let line = match field.form {
                FieldForm::Plain => format!("{name}: {value}{eol}"),
                FieldForm::Tight => format!("{name}:{value}{eol}"),
                FieldForm::SpaceBeforeColon => format!("{name} :{value}{eol}"),
                FieldForm::PaddedWithTabs => format!("{name}: \t{value} \t{eol}"),
                FieldForm::ObsFold => format!("{name}: {value}{eol} more{eol}"),
            };
            out.extend_from_slice(line.as_bytes());
        }
        if let Some(connection) = self.connection {
            out.extend_from_slice(format!("Connection: {connection}{eol}").as_bytes());
        }
        if self.padding > 0 {
            out.extend_from_slice(b"x-padding: ");
            out.resize(out.len() + self.padding, b'p');
            out.extend_from_slice(eol.as_bytes());
        }
        let body = self.framing.render_fields(eol, out);
        out.extend_from_slice(self.blank_line.as_bytes());
        let body_start = out.len();
        out.extend_from_slice(&body);
        body_start..out.len()
    }
}

/// `Transfer-Encoding` fields (one list per case, one field per entry).
const CODINGS: &[&[&str]] = &[
    &["gzip, chunked"],
    &["chunked, gzip"],
    &["gzip", "chunked"],
    &["chunked", "chunked"],
    &["identity"],
    &["Chunked"],
    &["chunked "],
];

/// Single `Host` fields other than the routed host as written in the Ingress.
const ODD_HOSTS: &[&[&str]] = &[&["A.EXAMPLE"], &["a.example:80"], &[""], &["other.example"]];

fn framing() -> impl Strategy<Value = Framing> {
    prop_oneof![
        8 => Just(Framing::None),
        2 => body().prop_map(Framing::Length),
        1 => body().prop_map(Framing::LengthTwice),
        1 => Just(Framing::LengthConflict),
        1 => Just(Framing::LengthListSame),
        1 => prop::sample::select(&["abc", "-1", "+3", "0x3", " ", "99999999999999999999"][..])
            .prop_map(Framing::LengthInvalid),
        2 => (body(), prop::sample::select(TRAILERS))
            .prop_map(|(body, trailers)| Framing::Chunked(body, trailers)),
        1 => prop::sample::select(
            &[
                "zz\r\nabc\r\n0\r\n\r\n",
                "3\r\nabcdef\r\n0\r\n\r\n",
                "3\r\nabc\r\n",
                "-1\r\n\r\n",
                "3\nabc\n0\n\n",
            ][..]
        )
        .prop_map(Framing::ChunkedMalformed),
        1 => body().prop_map(Framing::ChunkedWithLength),
        1 => prop::sample::select(CODINGS).prop_map(Framing::Codings),
    ]
}

fn field() -> impl Strategy<Value = FieldSpec> {
    let names = prop::sample::select(
        &[
            "x-custom",
            "X-Mixed-Case",
            "x_under_score",
            "accept",
            "user-agent",
            "te",
            "keep-alive",
            "proxy-connection",
            "x-forwarded-for",
            "x-forwarded-proto",
            "x-real-ip",
            "upgrade",
            "expect",
            "trailer",
            "bad name",
            "x-\u{e9}",
        ][..],
    );
    let values = prop::sample::select(
        &[
            "v",
            "a, b",
            "",
            "  spaced  ",
            "tab\there",
            "100-continue",
            "websocket",
            "trailers",
            "1.2.3.4",
            "caf\u{e9}",
            "ctl\u{1}char",
        ][..],
    );
    let forms = prop_oneof![
        6 => Just(FieldForm::Plain),
        1 => Just(FieldForm::Tight),
        1 => Just(FieldForm::SpaceBeforeColon),
        1 => Just(FieldForm::PaddedWithTabs),
        1 => Just(FieldForm::ObsFold),
    ];
    (names, values, forms).prop_map(|(name, value, form)| FieldSpec { name, value, form })
}

/// One request, mostly valid.
fn request() -> impl Strategy<Value = RequestSpec> {
    let method = prop_oneof![
        6 => Just("GET"),
        2 => prop::sample::select(
            &["HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "PURGE", "CONNECT", "TRACE"][..]
        ),
        1 => prop::sample::select(&["get", "G@T", ""][..]),
    ];
    let target = prop_oneof![
        6 => prop::sample::select(&["/", "/a/b?q=1", "/%20x", "/a//b/../c"][..]),
        1 => prop::sample::select(
            &["*", "http://a.example/abs", "a.example:443", "/a b", "/caf\u{e9}", "", "//x"][..]
        ),
    ];
    let version = prop_oneof![
        6 => Just("HTTP/1.1"),
        2 => Just("HTTP/1.0"),
        1 => prop::sample::select(&["HTTP/1.2", "HTTP/2.0", "http/1.1", "HTTP/1"][..]),
    ];
    let line_end = prop_oneof![8 => Just("\r\n"), 1 => Just("\n")];
    let blank_line = prop_oneof![8 => Just("\r\n"), 1 => Just("\n")];
    let host = prop_oneof![
        8 => Just(&["a.example"][..]),
        1 => Just(&[][..]),
        1 => Just(&["a.example", "a.example"][..]),
        1 => Just(&["a.example", "b.example"][..]),
        1 => prop::sample::select(ODD_HOSTS),
    ];
    let connection = prop_oneof![
        6 => Just(None),
        1 => prop::sample::select(
            &["close", "keep-alive", "Close", "keep-alive, close", "upgrade", "x-custom", "te"][..]
        )
        .prop_map(Some),
    ];
    // 9 KiB passes hyper's 8 KiB initial read; 160 KiB is past the 64 KiB limit by more than
    // a read, which both answer `431` (a head just past the limit is a named difference).
    let padding = prop_oneof![8 => Just(0usize), 1 => Just(9 * 1024), 1 => Just(160 * 1024)];
    (
        (method, target, version, line_end, blank_line),
        (host, proptest::collection::vec(field(), 0..4), connection),
        (framing(), padding),
    )
        .prop_map(
            |(
                (method, target, version, line_end, blank_line),
                (host, fields, connection),
                (framing, padding),
            )| RequestSpec {
                method,
                target,
                version,
                line_end,
                blank_line,
                host,
                fields,
                connection,
                framing,
                padding,
            },
        )
}

/// The known difference `requests` runs into, if any; each has a regression test of its own
/// in `differential_server.rs`, and the property test does not compare such streams.
pub(crate) fn known_difference(requests: &[RequestSpec]) -> Option<&'static str> {
    requests
        .iter()
        .find(|request| {
            request.version == "HTTP/1.0"
                && request
                    .connection
                    .is_some_and(|tokens| tokens.contains("close") && tokens.contains("keep-alive"))
        })
        .map(|_| "HTTP/1.0 with `Connection: keep-alive, close`: the inline server keeps the connection")
}

/// Whether a request says HTTP/1.0.
pub(crate) fn has_http10(requests: &[RequestSpec]) -> bool {
    requests.iter().any(|request| request.version == "HTTP/1.0")
}

/// Whether a request's head is over the default 64 KiB limit.
pub(crate) fn oversized(requests: &[RequestSpec]) -> bool {
    requests.iter().any(|request| request.padding > 64 * 1024)
}

/// One to three requests, rendered, then [`CLOSING_REQUEST`].
pub(crate) fn stream() -> impl Strategy<Value = Vec<RequestSpec>> {
    proptest::collection::vec(request(), 1..=3)
}

/// The bytes of `requests` followed by [`CLOSING_REQUEST`], and the places where the stream
/// may not be cut: from the end of a head through the end of its body.
///
/// Why bodies are kept whole with their head: when the proxy answers a request before reading
/// all of its body (a `405` to `CONNECT`, a `404`, a chunked body whose trailer section is
/// still arriving), hyper's server keeps the connection only if the rest of the body is already
/// in its buffer, else it closes: timing, not behaviour. Requests with a body are served by
/// hyper in both modes, so the inline server has nothing to hold there; their heads are still
/// cut anywhere, which the inline server does see.
pub(crate) fn render(requests: &[RequestSpec]) -> (Vec<u8>, Vec<std::ops::Range<usize>>) {
    let mut out = Vec::new();
    let mut whole = Vec::new();
    for request in requests {
        let body = request.render(&mut out);
        if request.framing.has_framing_fields() {
            whole.push(body);
        }
    }
    out.extend_from_slice(CLOSING_REQUEST);
    (out, whole)
}
