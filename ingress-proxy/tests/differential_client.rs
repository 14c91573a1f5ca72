//! The inline HTTP/1.1 client held to hyper's: generated upstream responses, written by a
//! scripted upstream in arbitrary pieces, reach a client through a proxy with `inline_http1`
//! on and through one with it off; the client must see the same thing.
//!
//! Each case starts fresh upstreams and proxies (so no pooled connection carries over), sends
//! one bodiless `GET` or `HEAD` from hyper's client, and compares the status, the header fields
//! (a normalised multiset; `date` is left out because it is the time of writing) and the body,
//! or that both failed. A failure is compared as a kind only (no response; a body cut short),
//! not by its message, since the two clients word their errors differently.

mod common;
#[path = "differential_client/responses.rs"]
mod responses;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use common::differential::{
    CASE_DEADLINE, Pair, escaped, normalised, pieces, positions, run_cases, runtime,
};
use common::*;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use ingress_proxy::ProxyConfig;
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the client saw.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// A response: status, header fields without `date`, and the body or that it failed.
    Response {
        status: u16,
        fields: Vec<(String, String)>,
        body: Result<String, &'static str>,
    },
    /// No response: the request failed.
    Failed,
    /// Nothing within [`CASE_DEADLINE`].
    TimedOut,
}

/// An upstream that answers every request with `response` (rendered for its method), written
/// in pieces cut at `cut_at`, then closes the connection.
async fn scripted_upstream(
    response: Arc<responses::ResponseSpec>,
    cut_at: Vec<usize>,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer(stream, response.clone(), cut_at.clone()));
        }
    });
    address
}

async fn answer(mut stream: TcpStream, response: Arc<responses::ResponseSpec>, cut_at: Vec<usize>) {
    let _ = stream.set_nodelay(true);
    let mut head = Vec::new();
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout(CASE_DEADLINE, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => head.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    }
    let bytes = response.render(head.starts_with(b"HEAD "));
    for piece in pieces(&bytes, &cut_at) {
        if stream.write_all(piece).await.is_err() || stream.flush().await.is_err() {
            return;
        }
        tokio::task::yield_now().await;
    }
    let _ = stream.shutdown().await;
}

/// Sends `method /path` for `a.example` to `proxy` from a fresh hyper client.
async fn request(proxy: SocketAddr, method: Method) -> Seen {
    let client = http1_client();
    let request = Request::builder()
        .method(method)
        .uri(format!("http://{proxy}/path?q=1"))
        .header("host", "a.example")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let exchange = async {
        let Ok(response) = client.request(request).await else {
            return Seen::Failed;
        };
        let (parts, body) = response.into_parts();
        let fields = normalised(
            parts
                .headers
                .iter()
                .filter(|(name, _)| *name != http::header::DATE)
                .map(|(name, value)| (name.as_str(), value.as_bytes())),
        );
        let body = match body.collect().await {
            Ok(collected) => Ok(String::from_utf8_lossy(&collected.to_bytes()).into_owned()),
            Err(_) => Err("body failed"),
        };
        Seen::Response {
            status: parts.status.as_u16(),
            fields,
            body,
        }
    };
    tokio::time::timeout(CASE_DEADLINE, exchange)
        .await
        .unwrap_or(Seen::TimedOut)
}

/// What a client sees for `method` through each proxy when the upstream answers `response`
/// in pieces cut at `cut_at`: `[inline, hyper]`.
async fn outcomes(
    response: responses::ResponseSpec,
    cut_at: Vec<usize>,
    method: Method,
) -> [Seen; 2] {
    let response = Arc::new(response);
    let inline_upstream = scripted_upstream(response.clone(), cut_at.clone()).await;
    let hyper_upstream = scripted_upstream(response, cut_at).await;
    let (_inline_writer, inline_reader) = web_table(&[inline_upstream]);
    let (_hyper_writer, hyper_reader) = web_table(&[hyper_upstream]);
    let pair = Pair::start(inline_reader, hyper_reader, ProxyConfig::default()).await;
    let (inline, hyper) = tokio::join!(
        request(pair.inline.http, method.clone()),
        request(pair.hyper.http, method)
    );
    [inline, hyper]
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![3 => Just(Method::GET), 1 => Just(Method::HEAD)]
}

/// A body that failed part way is a failure, as is no response at all: which one a client
/// sees depends on whether the proxy had written the head before the body failed (hyper's
/// server holds the head back until the first body bytes), which is not behaviour to hold.
fn failures_alike(seen: Seen) -> Seen {
    match seen {
        Seen::Response { body: Err(_), .. } => Seen::Failed,
        seen => seen,
    }
}

/// The differences between the two that are known and named, each tested on its own below:
/// the name of the one `inline` and `hyper` show, if they show one and nothing else.
fn named_difference(
    method: &Method,
    response: &responses::ResponseSpec,
    inline: &Seen,
    hyper: &Seen,
) -> Option<&'static str> {
    if let Some(defect) = response.known_defect() {
        return Some(defect);
    }
    match (inline, hyper) {
        (
            Seen::Response {
                status: inline_status,
                fields: inline_fields,
                body: inline_body,
            },
            Seen::Response {
                status: hyper_status,
                fields: hyper_fields,
                body: hyper_body,
            },
        ) if inline_status == hyper_status && inline_body == hyper_body => {
            let without = |fields: &[(String, String)], name: &str| -> Vec<(String, String)> {
                fields.iter().filter(|(n, _)| n != name).cloned().collect()
            };
            if without(inline_fields, "content-length") == without(hyper_fields, "content-length") {
                if *method == Method::HEAD {
                    return Some("HEAD: Content-Length of the answer");
                }
                if *inline_status == 304 {
                    return Some("304: the upstream's Content-Length");
                }
                return None;
            }
            let chunked = ("transfer-encoding".to_owned(), "chunked".to_owned());
            if response.is_http10()
                && without(inline_fields, "transfer-encoding") == *hyper_fields
                && inline_fields.contains(&chunked)
            {
                return Some("HTTP/1.0 close-delimited response relayed");
            }
            None
        }
        (Seen::Response { body: Ok(_), .. }, Seen::Failed)
            if response.framing().has_bare_lf_chunks() =>
        {
            Some("bare-LF chunk lines")
        }
        _ => None,
    }
}

#[test]
fn inline_client_and_hyper_pass_generated_responses_alike() {
    let runtime = runtime();
    let named = std::sync::atomic::AtomicU32::new(0);
    run_cases(
        128,
        (
            responses::response(),
            common::differential::cuts(),
            method(),
        ),
        &runtime,
        |(response, cuts, method)| {
            let named = &named;
            async move {
                let bytes = response.render(method == Method::HEAD);
                let cut_at = positions(&cuts, bytes.len());
                let [inline, hyper] = outcomes(response.clone(), cut_at, method.clone()).await;
                let (inline, hyper) = (failures_alike(inline), failures_alike(hyper));
                if inline != hyper
                    && named_difference(&method, &response, &inline, &hyper).is_some()
                {
                    // Tested on its own below; counted so that a drift shows.
                    named.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return Ok(());
                }
                prop_assert_eq!(
                    &inline,
                    &hyper,
                    "{} answered with {} (inline left, hyper right)",
                    method,
                    escaped(&bytes)
                );
                Ok(())
            }
        },
    );
    let named = named.into_inner();
    assert!(named < 64, "{named} of 128 cases showed named differences");
}

/// Asserts a client sees the same through both proxies when the upstream answers `raw`.
async fn assert_alike(method: Method, raw: &'static str) {
    let [inline, hyper] = outcomes(responses::ResponseSpec::raw(raw), Vec::new(), method).await;
    assert_eq!(
        failures_alike(inline),
        failures_alike(hyper),
        "inline left, hyper right"
    );
}

#[tokio::test]
async fn a_chunked_response_with_extensions_and_trailers_in_pieces_is_passed_alike() {
    // A fixed sample of the generator's valid cases, to show the comparison passes on them.
    let raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
               3;name=value\r\nabc\r\n2\r\nde\r\n0\r\nx-trailer: t\r\n\r\n";
    let [inline, hyper] = outcomes(
        responses::ResponseSpec::raw(raw),
        vec![5, 40, 52],
        Method::GET,
    )
    .await;
    assert_eq!(inline, hyper);
    assert!(
        matches!(&inline, Seen::Response { status: 200, body: Ok(body), .. } if body == "abcde"),
        "{inline:?}"
    );
}

/// Intended difference (the `http1` module docs): an HTTP/1.0 upstream response with
/// `Transfer-Encoding` is read by its transfer coding inline (then the connection closes);
/// hyper's client refuses it, so the proxy answers 502 with the fast paths off.
#[tokio::test]
async fn an_http10_response_with_transfer_encoding_is_read_by_its_coding_inline() {
    let [inline, hyper] = outcomes(
        responses::ResponseSpec::raw(
            "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        ),
        Vec::new(),
        Method::GET,
    )
    .await;
    assert!(
        matches!(&inline, Seen::Response { status: 200, body: Ok(body), .. } if body == "abc"),
        "{inline:?}"
    );
    assert!(
        matches!(hyper, Seen::Response { status: 502, .. }),
        "{hyper:?}"
    );
}

/// Regression: the inline server's own pages answered HEAD without the Content-Length of
/// the body a GET would get (hyper's server writes it).
#[tokio::test]
async fn head_answered_by_the_proxy_has_the_same_content_length() {
    assert_alike(Method::HEAD, "HTTP/1.1 abc\r\n\r\n").await;
}

/// Regression: hyper's path passed `3, 3` on verbatim; both now hand on one number.
#[tokio::test]
async fn head_with_a_listed_content_length_is_passed_alike() {
    assert_alike(
        Method::HEAD,
        "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n",
    )
    .await;
}

/// Intended difference: a `304`'s `Content-Length` (the selected representation's length,
/// RFC 9110 §8.6) is passed on inline, as nginx does; hyper's server drops it.
#[tokio::test]
async fn not_modified_keeps_its_content_length_inline() {
    let [inline, hyper] = outcomes(
        responses::ResponseSpec::raw("HTTP/1.1 304 Not Modified\r\nContent-Length: 13\r\n\r\n"),
        Vec::new(),
        Method::GET,
    )
    .await;
    let length = ("content-length".to_owned(), "13".to_owned());
    assert!(
        matches!(&inline, Seen::Response { status: 304, fields, body: Ok(body) }
            if fields.contains(&length) && body.is_empty()),
        "{inline:?}"
    );
    assert!(
        matches!(&hyper, Seen::Response { status: 304, fields, .. } if !fields.contains(&length)),
        "{hyper:?}"
    );
}

/// Regression: two equal `Content-Length` lines reach the client as one (the codec judges
/// every length line together and writes at most one).
#[tokio::test]
async fn repeated_content_length_lines_are_passed_alike() {
    assert_alike(
        Method::GET,
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
    )
    .await;
}

/// Regression: hyper's path passed `3, 3` on verbatim; both now hand on one number.
#[tokio::test]
async fn a_listed_content_length_is_passed_alike() {
    assert_alike(
        Method::GET,
        "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc",
    )
    .await;
}

/// Regression: with the fast paths off, a HEAD answered with two equal `Content-Length`
/// lines got no answer at all (hyper's server refused to write both).
#[tokio::test]
async fn head_with_two_content_length_lines_is_answered_alike() {
    assert_alike(
        Method::HEAD,
        "HTTP/1.1 404 Not Found\r\nContent-Length: 15\r\nContent-Length: 15\r\n\r\n",
    )
    .await;
}

/// Intended difference: an HTTP/1.0 body delimited by the upstream's close reaches an HTTP/1.1
/// client chunked inline, so the client's connection stays open; hyper's server relays it
/// delimited by closing the client's connection too. The bytes are the same.
#[tokio::test]
async fn an_http10_close_delimited_body_is_relayed_chunked_inline() {
    let [inline, hyper] = outcomes(
        responses::ResponseSpec::raw("HTTP/1.0 200 OK\r\n\r\nabc"),
        Vec::new(),
        Method::GET,
    )
    .await;
    let chunked = ("transfer-encoding".to_owned(), "chunked".to_owned());
    assert!(
        matches!(&inline, Seen::Response { status: 200, fields, body: Ok(body) }
            if fields.contains(&chunked) && body == "abc"),
        "{inline:?}"
    );
    assert!(
        matches!(&hyper, Seen::Response { status: 200, fields, body: Ok(body) }
            if !fields.contains(&chunked) && body == "abc"),
        "{hyper:?}"
    );
}

#[tokio::test]
async fn bare_lf_chunk_lines_are_treated_alike() {
    assert_alike(
        Method::GET,
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n",
    )
    .await;
}

/// A chunked response whose trailer section holds one bare-LF line of 16 KiB - 1 bytes (the
/// inline client's trailer budget, less the LF), then a normal trailer line.
fn trailer_line_at_the_budget() -> &'static str {
    let mut raw =
        String::from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n");
    raw.push_str("x-long: ");
    raw.push_str(&"t".repeat(16 * 1024 - 1 - "x-long: ".len()));
    raw.push_str("\nx-after: a\r\n\r\n");
    Box::leak(raw.into_boxed_str())
}

/// Regression: a bare-LF trailer line at the budget made the inline client's budget
/// arithmetic overflow (a panic in debug builds, unbounded buffering in release).
#[tokio::test]
async fn a_trailer_line_at_the_budget_is_refused_without_a_panic() {
    // Both fail the body (alike as outcomes), so what tells them apart is the panic in the
    // proxy's code; a panic hook records it (the process-wide hook is restored after).
    let panicked = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let previous = Arc::new(std::panic::take_hook());
    {
        let (panicked, previous) = (panicked.clone(), previous.clone());
        std::panic::set_hook(Box::new(move |info| {
            if info
                .location()
                .is_some_and(|at| at.file().contains("/src/"))
            {
                panicked.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            previous(info);
        }));
    }
    let [inline, hyper] = outcomes(
        responses::ResponseSpec::raw(trailer_line_at_the_budget()),
        Vec::new(),
        Method::GET,
    )
    .await;
    drop(std::panic::take_hook());
    std::panic::set_hook(Box::new(move |info| previous(info)));
    assert_eq!(failures_alike(inline), failures_alike(hyper));
    assert!(
        !panicked.load(std::sync::atomic::Ordering::SeqCst),
        "the proxy panicked on a trailer line at the budget"
    );
}
