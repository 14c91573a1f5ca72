//! HTTP/2 limits on the wire, with hand-written frames (RFC 9113) so the test controls exactly
//! what the proxy receives: the advertised concurrent-stream limit, and the rapid-reset defence
//! (CVE-2023-44487) closing an abusive connection while other clients keep being served.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use http::StatusCode;
use ingress_proxy::{Limits, ProxyConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;
const CANCEL: u32 = 0x8;
const ENHANCE_YOUR_CALM: u32 = 0xb;

/// One frame: 9-byte header (length, type, flags, stream id), then the payload.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).expect("small frame");
    let mut out = length.to_be_bytes()[1..].to_vec();
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// `GET http://a.example/` as an HPACK block: indexed `:method GET`, `:scheme http`, `:path /`,
/// and `:authority` as a literal without indexing (name index 1).
fn get_request_block() -> Vec<u8> {
    let mut block = vec![0x82, 0x86, 0x84, 0x01, 9];
    block.extend_from_slice(b"a.example");
    block
}

/// Frames received until `stop` says so, EOF, or 5 s.
async fn read_frames(
    stream: &mut TcpStream,
    mut stop: impl FnMut(u8, &[u8]) -> bool,
) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    let mut buffer = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        while buffer.len() >= 9 {
            let length = u32::from_be_bytes([0, buffer[0], buffer[1], buffer[2]]) as usize;
            if buffer.len() < 9 + length {
                break;
            }
            let kind = buffer[3];
            let payload = buffer[9..9 + length].to_vec();
            buffer.drain(..9 + length);
            let done = stop(kind, &payload);
            frames.push((kind, payload));
            if done {
                return frames;
            }
        }
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return frames,
            Ok(Ok(n)) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn h2_connection(address: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let mut hello = PREFACE.to_vec();
    hello.extend(frame(SETTINGS, 0, 0, &[]));
    stream.write_all(&hello).await.expect("preface");
    stream
}

/// `GET http://a.example/` on stream 1 of a new HTTP/2 connection; the response status if it
/// is one the HPACK static table indexes (200 → `0x88`, 404 → `0x8d`, 503 has none).
async fn h2_get_status(address: SocketAddr) -> Option<u16> {
    let mut stream = h2_connection(address).await;
    stream
        .write_all(&frame(HEADERS, 0x5, 1, &get_request_block()))
        .await
        .expect("request");
    let frames = read_frames(&mut stream, |kind, _| kind == HEADERS || kind == GOAWAY).await;
    let (_, block) = frames.iter().find(|(kind, _)| *kind == HEADERS)?;
    match block.first()? {
        0x88 => Some(200),
        0x8d => Some(404),
        _ => None,
    }
}

/// `count` streams (ids 1, 3, 5, …), each opened with a GET and at once cancelled.
fn cancelled_streams(count: u32) -> Vec<u8> {
    let block = get_request_block();
    let mut burst = Vec::new();
    for i in 0..count {
        let id = 2 * i + 1;
        // END_STREAM | END_HEADERS
        burst.extend(frame(HEADERS, 0x5, id, &block));
        burst.extend(frame(RST_STREAM, 0, id, &CANCEL.to_be_bytes()));
    }
    burst
}

/// A proxy for one backend, allowing 20 streams reset before they were accepted.
async fn proxy_with_reset_limit_20() -> Proxy {
    let web = backend::start("web", false).await;
    // The reader keeps the published snapshot; no further changes are made.
    let (_, reader) = web_table(&[web.address]);
    let config = limits_config(Limits {
        http2_max_pending_accept_reset_streams: 20,
        ..Limits::default()
    });
    Proxy::start(reader, config).await
}

fn limits_config(limits: Limits) -> ProxyConfig {
    ProxyConfig {
        limits,
        ..ProxyConfig::default()
    }
}

#[tokio::test]
async fn the_concurrent_stream_limit_is_advertised() {
    let web = backend::start("web", false).await;
    let (_writer, reader) = web_table(&[web.address]);
    let config = limits_config(Limits {
        http2_max_concurrent_streams: 7,
        ..Limits::default()
    });
    let proxy = Proxy::start(reader, config).await;
    let mut stream = h2_connection(proxy.http).await;
    let frames = read_frames(&mut stream, |kind, _| kind == SETTINGS).await;
    let (_, settings) = frames
        .iter()
        .find(|(kind, _)| *kind == SETTINGS)
        .expect("the proxy sends its SETTINGS");
    let advertised = settings.chunks_exact(6).find_map(|setting| {
        (u16::from_be_bytes([setting[0], setting[1]]) == SETTINGS_MAX_CONCURRENT_STREAMS)
            .then(|| u32::from_be_bytes([setting[2], setting[3], setting[4], setting[5]]))
    });
    assert_eq!(advertised, Some(7));
}

#[tokio::test]
async fn a_rapid_reset_burst_gets_goaway_and_other_clients_are_served() {
    let proxy = proxy_with_reset_limit_20().await;

    // 200 streams opened and cancelled at once, in one write: more than 20 are reset before
    // the server could accept them.
    let mut attacker = h2_connection(proxy.http).await;
    // The proxy may close the connection before reading everything.
    let _ = attacker.write_all(&cancelled_streams(200)).await;
    let frames = read_frames(&mut attacker, |kind, _| kind == GOAWAY).await;
    let goaway = frames
        .iter()
        .find(|(kind, _)| *kind == GOAWAY)
        .map(|(_, payload)| payload)
        .expect("the proxy answers the burst with GOAWAY");
    let code = u32::from_be_bytes([goaway[4], goaway[5], goaway[6], goaway[7]]);
    assert_eq!(code, ENHANCE_YOUR_CALM);

    // Everyone else is unaffected.
    assert_eq!(h2_get_status(proxy.http).await, Some(200));
    let answer = get(&http1_client(), proxy.http, "a.example", "/").await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn cancelled_streams_under_the_limit_do_not_close_the_connection() {
    let proxy = proxy_with_reset_limit_20().await;
    let mut client = h2_connection(proxy.http).await;
    let mut burst = cancelled_streams(5);
    // Then a normal request on stream 11, whose response must arrive.
    burst.extend(frame(HEADERS, 0x5, 11, &get_request_block()));
    client.write_all(&burst).await.expect("write");
    let frames = read_frames(&mut client, |kind, _| kind == GOAWAY || kind == HEADERS).await;
    assert!(
        frames.iter().all(|(kind, _)| *kind != GOAWAY),
        "no GOAWAY for 5 cancelled streams"
    );
    let response = frames.iter().find(|(kind, _)| *kind == HEADERS);
    assert_eq!(
        response.and_then(|(_, block)| block.first()),
        Some(&0x88),
        "stream 11 got `:status 200`"
    );
}
