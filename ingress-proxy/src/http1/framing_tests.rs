use http::HeaderName;

use super::*;

/// Field lines, in order.
type Fields = &'static [(&'static str, &'static str)];
/// How a response body is delimited, and whether the connection persists.
type Outcome = Result<(BodyDecoder, bool), WireError>;

const V10: Version = Version::HTTP_10;
const V11: Version = Version::HTTP_11;

fn noted(fields: &[(&str, &str)]) -> FramingFields {
    let mut framing = FramingFields::default();
    for (name, value) in fields {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("a field name");
        framing.note(&name, value.as_bytes());
    }
    framing
}

fn response(version: Version, fields: &[(&str, &str)]) -> Outcome {
    noted(fields).response_body(StatusCode::OK, version, false)
}

#[test]
fn content_length_lines_and_elements_must_agree() {
    let cases: [(Fields, Option<u64>); 9] = [
        (&[("content-length", "5")], Some(5)),
        (&[("content-length", "5, 5")], Some(5)),
        (&[("content-length", "5"), ("content-length", "5")], Some(5)),
        (&[("content-length", "5"), ("content-length", "6")], None),
        (&[("content-length", "5, 6")], None),
        (&[("content-length", "5"), ("content-length", "x")], None),
        (&[("content-length", "x"), ("content-length", "5")], None),
        (&[("content-length", "+5")], None),
        (&[("content-length", "99999999999999999999")], None),
    ];
    for (fields, expected) in cases {
        let framing = noted(fields);
        assert_eq!(framing.content_length(), expected, "{fields:?}");
        assert!(framing.declares_body(), "{fields:?}");
    }
    assert_eq!(
        noted(&[("content-length", "9999999999999999999")]).content_length(),
        Some(9_999_999_999_999_999_999)
    );
    assert!(!noted(&[("x-other", "1")]).declares_body());
    assert!(noted(&[("transfer-encoding", "gzip")]).declares_body());
}

#[test]
fn every_transfer_encoding_line_counts_and_chunked_must_come_last() {
    let chunked = Ok((BodyDecoder::chunked(), true));
    let until_close = Ok((BodyDecoder::until_close(), false));
    let cases: [(Fields, Outcome); 9] = [
        (&[("transfer-encoding", "chunked")], chunked.clone()),
        (&[("transfer-encoding", "gzip, Chunked")], chunked.clone()),
        (
            &[
                ("transfer-encoding", "gzip"),
                ("transfer-encoding", "chunked"),
            ],
            chunked.clone(),
        ),
        // Empty list elements are ignored (RFC 9110 §5.6.1).
        (&[("transfer-encoding", "chunked, ")], chunked.clone()),
        (
            &[("transfer-encoding", "chunked"), ("transfer-encoding", "")],
            chunked,
        ),
        (
            &[
                ("transfer-encoding", "chunked"),
                ("transfer-encoding", "gzip"),
            ],
            until_close.clone(),
        ),
        (
            &[("transfer-encoding", "chunked, gzip")],
            until_close.clone(),
        ),
        (&[("transfer-encoding", "gzip")], until_close.clone()),
        (&[("transfer-encoding", "")], until_close),
    ];
    for (fields, expected) in cases {
        assert_eq!(response(V11, fields), expected, "{fields:?}");
    }
}

#[test]
fn transfer_encoding_overrides_content_length_but_the_connection_closes() {
    let cases: [(Fields, Outcome); 4] = [
        (
            &[("transfer-encoding", "chunked"), ("content-length", "3")],
            Ok((BodyDecoder::chunked(), false)),
        ),
        (
            &[("content-length", "3"), ("transfer-encoding", "gzip")],
            Ok((BodyDecoder::until_close(), false)),
        ),
        // Conflicting lengths are an error, whatever else came.
        (
            &[("transfer-encoding", "chunked"), ("content-length", "3, 4")],
            Err(WireError::ContentLength),
        ),
        (
            &[("content-length", "3"), ("content-length", "4")],
            Err(WireError::ContentLength),
        ),
    ];
    for (fields, expected) in cases {
        assert_eq!(response(V11, fields), expected, "{fields:?}");
    }
}

#[test]
fn http10_with_transfer_encoding_is_read_by_it_then_closed() {
    let fields = [
        ("connection", "keep-alive"),
        ("transfer-encoding", "chunked"),
    ];
    assert_eq!(response(V10, &fields), Ok((BodyDecoder::chunked(), false)));
    let fields = [("connection", "keep-alive"), ("content-length", "2")];
    assert_eq!(response(V10, &fields), Ok((BodyDecoder::length(2), true)));
}

#[test]
fn every_connection_line_counts() {
    let cases: [(Version, Fields, bool); 8] = [
        (V11, &[], true),
        (V11, &[("connection", "Close")], false),
        (V11, &[("connection", "te"), ("connection", "close")], false),
        (
            V11,
            &[("connection", "keep-alive"), ("connection", "close")],
            false,
        ),
        (V10, &[], false),
        (V10, &[("connection", "foo, Keep-Alive")], true),
        (
            V10,
            &[("connection", "keep-alive"), ("connection", "close")],
            false,
        ),
        (
            V10,
            &[("connection", "close"), ("connection", "keep-alive")],
            false,
        ),
    ];
    for (version, fields, persists) in cases {
        assert_eq!(
            noted(fields).persists(version),
            persists,
            "{version:?} {fields:?}"
        );
    }
}

#[test]
fn bodiless_responses_ignore_the_framing_fields() {
    let fields = noted(&[("content-length", "x"), ("transfer-encoding", "chunked")]);
    for (status, head_request) in [
        (StatusCode::NO_CONTENT, false),
        (StatusCode::NOT_MODIFIED, false),
        (StatusCode::CONTINUE, false),
        (StatusCode::OK, true),
    ] {
        assert_eq!(
            fields.response_body(status, V11, head_request),
            Ok((BodyDecoder::length(0), true)),
            "{status} HEAD={head_request}"
        );
    }
}

#[test]
fn without_framing_fields_a_response_runs_until_close() {
    assert_eq!(response(V11, &[]), Ok((BodyDecoder::until_close(), false)));
}
