//! A 100 MiB body streamed through the proxy in both directions at once, with bounded memory.
//!
//! Alone in its own test binary so the peak-RSS measurement sees no other test's allocations.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use ingress_proxy::ProxyConfig;

const TOTAL: u64 = 100 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;
/// The proxy's memory bound: its buffers are a few KiB per connection; the rest of this
/// allowance is the test's own client and backend. Buffering one body whole would exceed it.
/// (Kernel socket buffers, which loopback autotuning grows to tens of MiB, are not in RSS.)
const MAX_PEAK_GROWTH_KIB: u64 = 64 * 1024;

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mib_body_streams_both_ways_with_bounded_memory() {
    let web = backend::start("web", false).await;
    let (_writer, reader) = web_table(&[web.address]);
    // No body limit (ingress-nginx's `proxy-body-size: 0`): the default 1 MiB would refuse it.
    let mut config = ProxyConfig::default();
    config.limits.max_request_body_bytes = 0;
    let proxy = Proxy::start(reader, config).await;

    // Reset the peak-RSS mark (Linux: "5" clears VmHWM), then record the baseline.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let baseline = status_kib("VmHWM:").or_else(|| status_kib("VmRSS:"));

    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let chunk = Bytes::from(vec![b'z'; CHUNK]);
    let upload = futures::stream::iter((0..TOTAL as usize / CHUNK).map(move |_| {
        counter.fetch_add(CHUNK as u64, Ordering::SeqCst);
        Ok::<_, std::convert::Infallible>(Frame::data(chunk.clone()))
    }));
    let request = Request::post(format!("http://{}/echo", proxy.http))
        .header("host", "a.example")
        .body(StreamBody::new(upload))
        .expect("request");
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = tokio::time::timeout(Duration::from_secs(30), client.request(request))
        .await
        .expect("response head within 30 s")
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);

    let mut body = response.into_body();
    let mut received = 0u64;
    let mut max_in_flight = 0u64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while let Some(frame) = tokio::time::timeout_at(deadline, body.frame())
        .await
        .expect("body within 120 s")
    {
        let frame = frame.expect("body frame");
        if let Some(data) = frame.data_ref() {
            assert!(data.iter().all(|b| *b == b'z'), "echoed bytes intact");
            received += data.len() as u64;
            max_in_flight = max_in_flight.max(sent.load(Ordering::SeqCst).saturating_sub(received));
        }
    }
    assert_eq!(received, TOTAL, "every byte came back");
    let peak = status_kib("VmHWM:");
    eprintln!("max in flight: {max_in_flight} bytes; peak RSS {baseline:?} → {peak:?} KiB");
    // The echo streamed back while the upload was still running: nothing on the way waited
    // for the whole body.
    assert!(
        max_in_flight < TOTAL,
        "upload ran {max_in_flight} bytes ahead of the echoed download"
    );
    if let (Some(baseline), Some(peak)) = (baseline, status_kib("VmHWM:")) {
        let growth = peak.saturating_sub(baseline);
        assert!(
            growth < MAX_PEAK_GROWTH_KIB,
            "peak RSS grew by {growth} KiB while streaming 2 × 100 MiB"
        );
    }
}
