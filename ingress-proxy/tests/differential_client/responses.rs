//! Generated upstream responses: interim `1xx` responses, a status line (HTTP/1.1, HTTP/1.0,
//! and invalid ones), header fields (odd whitespace, obs-fold, bare LF), and a body framed by
//! `Content-Length`, chunked coding (extensions, trailers) or the end of the connection, valid
//! or not (short, conflicting, malformed, `Transfer-Encoding` with `Content-Length`).
//!
//! The scripted upstream closes the connection after writing the response, so a body that is
//! cut short ends at once rather than at the proxy's read timeout.

use proptest::prelude::*;

use crate::common::framing::{Framing, TRAILERS, body};

/// One generated response.
#[derive(Debug, Clone)]
pub(crate) struct ResponseSpec {
    interim: &'static [&'static str],
    version: &'static str,
    status: &'static str,
    line_end: &'static str,
    fields: Vec<&'static str>,
    framing: Framing,
    /// The whole response as written, instead of the parts above (named regression tests).
    raw: Option<&'static str>,
}

impl ResponseSpec {
    /// A fixed response: `raw` is written as is (for named regression tests).
    pub(crate) fn raw(raw: &'static str) -> ResponseSpec {
        ResponseSpec {
            interim: &[],
            version: "",
            status: "",
            line_end: "",
            fields: Vec::new(),
            framing: Framing::None,
            raw: Some(raw),
        }
    }

    /// The bytes an upstream writes in answer to a request (`head_request`: to `HEAD`, so
    /// without a body).
    pub(crate) fn render(&self, head_request: bool) -> Vec<u8> {
        if let Some(raw) = self.raw {
            return raw.as_bytes().to_vec();
        }
        let eol = self.line_end;
        let mut out = Vec::new();
        for interim in self.interim {
            out.extend_from_slice(interim.as_bytes());
        }
        out.extend_from_slice(format!("{} {}{eol}", self.version, self.status).as_bytes());
        for field in &self.fields {
            out.extend_from_slice(format!("{field}{eol}").as_bytes());
        }
        let body = self.framing.render_fields(eol, &mut out);
        out.extend_from_slice(eol.as_bytes());
        if !head_request {
            out.extend_from_slice(&body);
        }
        out
    }

    /// Whether the response runs into one of the known defects being fixed on branch
    /// `codec/lead` (each has an ignored regression test in `differential_client.rs`).
    pub(crate) fn known_defect(&self) -> Option<&'static str> {
        (self.version == "HTTP/1.0" && self.framing.has_transfer_coding())
            .then_some("an HTTP/1.0 upstream response with Transfer-Encoding")
    }

    /// Whether the final status line says HTTP/1.0.
    pub(crate) fn is_http10(&self) -> bool {
        self.version == "HTTP/1.0"
    }

    /// The body's framing.
    pub(crate) fn framing(&self) -> &Framing {
        &self.framing
    }
}

const INTERIM: &[&[&str]] = &[
    &["HTTP/1.1 100 Continue\r\n\r\n"],
    &["HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"],
    &[
        "HTTP/1.1 100 Continue\r\n\r\n",
        "HTTP/1.1 102 Processing\r\n\r\n",
    ],
];

fn framing() -> impl Strategy<Value = Framing> {
    prop_oneof![
        6 => body().prop_map(Framing::Length),
        1 => body().prop_map(Framing::LengthShort),
        1 => body().prop_map(Framing::LengthLong),
        1 => body().prop_map(Framing::LengthTwice),
        1 => Just(Framing::LengthConflict),
        1 => prop::sample::select(&["abc", "-1", "+3", "3, 3", "99999999999999999999"][..])
            .prop_map(Framing::LengthInvalid),
        4 => (body(), prop::sample::select(TRAILERS))
            .prop_map(|(body, trailers)| Framing::Chunked(body, trailers)),
        2 => prop::sample::select(
            &[
                "zz\r\nabc\r\n0\r\n\r\n",
                "3\r\nabcdef\r\n0\r\n\r\n",
                "3\r\nabc\r\n",
                "5\r\nab",
                "3\nabc\n0\n\n",
                "3;ext\r\nabc\r\n0\r\n",
                "fffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
            ][..]
        )
        .prop_map(Framing::ChunkedMalformed),
        2 => body().prop_map(Framing::UntilClose),
        1 => body().prop_map(Framing::ChunkedWithLength),
        1 => body().prop_map(Framing::NotChunkedLast),
    ]
}

/// One response, mostly valid.
pub(crate) fn response() -> impl Strategy<Value = ResponseSpec> {
    let interim = prop_oneof![6 => Just(&[][..]), 1 => prop::sample::select(INTERIM)];
    let version = prop_oneof![
        6 => Just("HTTP/1.1"),
        2 => Just("HTTP/1.0"),
        1 => prop::sample::select(&["HTTP/1.2", "HTTP/2", "http/1.1", "ICY"][..]),
    ];
    let status = prop_oneof![
        6 => prop::sample::select(
            &["200 OK", "201 Created", "206 Partial Content", "301 Moved", "404 Not Found",
              "500 Internal Server Error", "503 Service Unavailable"][..]
        ),
        1 => prop::sample::select(&["204 No Content", "304 Not Modified"][..]),
        1 => prop::sample::select(&["200", "200 ", "299 Odd", "999 Big", "099 Small", "20 Short", "abc"][..]),
    ];
    let line_end = prop_oneof![8 => Just("\r\n"), 1 => Just("\n")];
    let field = prop::sample::select(
        &[
            "x-custom: v",
            "Server: upstream",
            "Set-Cookie: a=1",
            "Set-Cookie: b=2",
            "Connection: close",
            "Connection: keep-alive",
            "Keep-Alive: timeout=5",
            "Content-Type: text/plain",
            "Cache-Control: no-cache",
            "x_under: v",
            "x-padded: \t v \t",
            "x-empty:",
            "x-space : v",
            "x-folded: a\r\n b",
            "Trailer: x-trailer",
            "x-caf\u{e9}: v",
            "x-value: caf\u{e9}",
        ][..],
    );
    (
        (interim, version, status, line_end),
        (proptest::collection::vec(field, 0..4), framing()),
    )
        .prop_map(
            |((interim, version, status, line_end), (fields, framing))| ResponseSpec {
                interim,
                version,
                status,
                line_end,
                fields,
                framing,
                raw: None,
            },
        )
}
