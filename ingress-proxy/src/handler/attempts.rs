//! The attempt loop of phase 4: one place where sending, retrying and passive health meet.

use std::time::Instant;

use http::{Request, StatusCode};

use super::balance::Pick;
use super::pages::Failure;
use super::upstream::{self, Exchange, FailureKind, Outgoing, PeerKey, Retry};
use super::{Shared, route_policy};
use crate::access_log::AccessRecord;
use crate::body::RequestBody;
use crate::config::UpstreamProtocol;

/// The attempt loop: sends, and after a failure asks the one retry policy
/// ([`upstream::Failure::retry`]) whether to go again, on the same endpoint (a stale pooled
/// connection) or on another (nothing was sent, and the route's `proxy-next-upstream`
/// allows it, [`route_policy::NextAttempts`]); a response with a status the route lists goes
/// on to another endpoint too, when the request can be sent again. Passive health hears of
/// endpoints that could not take the request, and of the one that answered.
#[allow(
    clippy::too_many_arguments,
    reason = "the loop's inputs, each used once; a struct would only rename them"
)]
pub(super) async fn attempts(
    shared: &Shared,
    protocol: UpstreamProtocol,
    mut pick: Option<&mut Pick>,
    first: PeerKey,
    mut request: Request<RequestBody>,
    outgoing: &Outgoing,
    mut next_attempts: route_policy::NextAttempts<'_>,
    record: &mut AccessRecord,
) -> Result<Exchange, Failure> {
    let idempotent = request.method().is_idempotent();
    let bodiless = outgoing.request_body.is_none();
    let (mut peer, mut fresh) = (first, false);
    let attempts_started = Instant::now();
    record.upstream = peer.address();
    // One `send` call site, so the request's future holds one attempt's state, not two.
    loop {
        // Kept only when a response status could send the request on again.
        let again = (bodiless && pick.is_some() && next_attempts.retries_statuses())
            .then(|| upstream::bodiless_copy(&request));
        let failed = match shared
            .upstream
            .send(protocol, peer.clone(), request, outgoing, fresh)
            .await
        {
            Ok(exchange) => {
                let status = exchange.response.status();
                let now = Instant::now();
                let next = match (&again, pick.as_deref_mut()) {
                    (Some(_), Some(pick))
                        if next_attempts.after_status(status.as_u16(), bodiless, now) =>
                    {
                        if status.is_server_error() {
                            pick.failed(now);
                        }
                        pick.next(now, None)
                    }
                    _ => None,
                };
                match (next, again) {
                    (Some(next), Some(again)) => {
                        tracing::debug!(%status, upstream = ?record.upstream, retry = %next, "upstream status retried on another endpoint");
                        shared.metrics.upstream_retries.inc();
                        next_attempts.moved_on();
                        (peer, fresh) = (PeerKey::Address(next), false);
                        record.upstream = peer.address();
                        request = *again;
                        continue;
                    }
                    _ => {
                        record.upstream_responded(status, attempts_started);
                        if let Some(pick) = &pick {
                            pick.succeeded();
                        }
                        return Ok(exchange);
                    }
                }
            }
            Err(failed) => failed,
        };
        let now = Instant::now();
        if failed.endpoint_unreachable() {
            shared.metrics.upstream_connect_failures.inc();
            if let Some(pick) = pick.as_deref() {
                pick.failed(now);
            }
        }
        let may_move = next_attempts.after_failure(failed.is_connect_timeout(), now);
        let next = match failed.retry(idempotent, may_move) {
            Retry::SameEndpoint => {
                fresh = true;
                Some(peer.clone())
            }
            Retry::OtherEndpoint => {
                fresh = false;
                next_attempts.moved_on();
                pick.as_deref_mut()
                    .and_then(|pick| pick.next(now, None))
                    .map(PeerKey::Address)
            }
            Retry::No => None,
        };
        match (next, failed.request) {
            (Some(next), Some(unsent)) => {
                tracing::debug!(error = %failed.error, upstream = ?record.upstream, retry = ?next, "upstream attempt failed; retrying");
                if next != peer {
                    shared.metrics.upstream_retries.inc();
                }
                peer = next;
                record.upstream = peer.address();
                request = *unsent;
            }
            _ => {
                tracing::debug!(error = %failed.error, upstream = ?record.upstream, "upstream request failed");
                record.body_error = Some(failed.error.to_string());
                let cell = outgoing.request_body.as_ref();
                let too_large = cell.is_some_and(|cell| cell.too_large());
                let timed_out = cell.is_some_and(|cell| cell.timed_out());
                return Err(match failed.error.kind() {
                    FailureKind::ClientBody if too_large => Failure::BodyTooLarge,
                    FailureKind::ClientBody if timed_out => Failure::RequestTimeout,
                    FailureKind::ClientBody => Failure::BadRequestBody,
                    _ if failed.error.status() == StatusCode::GATEWAY_TIMEOUT => {
                        Failure::UpstreamTimeout
                    }
                    _ => Failure::UpstreamFailed,
                });
            }
        }
    }
}
