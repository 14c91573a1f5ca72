//! Failed attempts, classified by what they mean rather than by which client produced them,
//! and the one retry policy that reads the classification.
//!
//! | kind | sent? | whose fault | retry |
//! |---|---|---|---|
//! | [`FailureKind::Connect`] | nothing | endpoint | another endpoint, any method, as `proxy-next-upstream` allows (`error`, or `timeout` for a connect timeout; 3 tries) |
//! | [`FailureKind::NotSent`] | nothing | connection | pooled: the next connection, any method; new: another endpoint, as for `Connect` |
//! | [`FailureKind::Stale`] | maybe | keep-alive race | the next connection, idempotent methods only |
//! | [`FailureKind::Timeout`] | yes | endpoint | no (`504`) |
//! | [`FailureKind::Protocol`] | yes | endpoint | no (`502`) |
//! | [`FailureKind::Io`] | yes | endpoint | no (`502`) |
//! | [`FailureKind::ClientBody`] | partly | client | no (`400`), endpoint not blamed |

use std::fmt;
use std::io;
use std::time::Duration;

use http::Request;

use super::inline::ExchangeError;
use crate::body::RequestBody;

/// What a failed attempt means for the request and the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureKind {
    /// No connection could be made (refused, unreachable, connect timeout, TLS handshake):
    /// nothing was sent.
    Connect,
    /// The connection failed before any of the request was written: nothing was sent.
    NotSent,
    /// A reused connection closed before any byte of a response arrived: the upstream had
    /// closed it as the request went out (a keep-alive race), and may have seen the request.
    Stale,
    /// No response head within the read timeout.
    Timeout,
    /// The upstream's response was not valid HTTP.
    Protocol,
    /// The connection failed after the request was (possibly) sent.
    Io,
    /// Reading the request body from the client failed (malformed framing, client gone).
    ClientBody,
}

/// Why an upstream attempt failed.
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {cause}")]
pub(crate) struct UpstreamError {
    kind: FailureKind,
    #[source]
    cause: Cause,
}

/// The underlying error, kept for the log line.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Cause {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error(transparent)]
    Hyper(#[from] hyper::Error),
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    #[error("no response head within {0:?}")]
    Timeout(Duration),
}

/// A failed attempt: why, whether it used a pooled connection, and the request when it can
/// be sent again (none of its body was read).
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: UpstreamError,
    /// Whether the attempt used a connection taken from the pool.
    pub(crate) pooled: bool,
    /// Boxed: failures are rare, and the common `Result` stays small.
    pub(crate) request: Option<Box<Request<RequestBody>>>,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Send again to the same endpoint, on the next pooled connection or a new one; the
    /// endpoint is not at fault.
    SameEndpoint,
    /// The endpoint is at fault (passive health); send once more to another endpoint.
    OtherEndpoint,
    /// Give up: answer with [`UpstreamError::status`].
    No,
}

impl FailureKind {
    fn as_str(self) -> &'static str {
        match self {
            FailureKind::Connect => "connecting to the upstream",
            FailureKind::NotSent => "upstream connection closed before the request was sent",
            FailureKind::Stale => "reused upstream connection closed before a response",
            FailureKind::Timeout => "upstream timed out",
            FailureKind::Protocol => "invalid upstream response",
            FailureKind::Io => "upstream connection failed",
            FailureKind::ClientBody => "reading the request body from the client",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl UpstreamError {
    pub(crate) fn new(kind: FailureKind, cause: impl Into<Cause>) -> Self {
        UpstreamError {
            kind,
            cause: cause.into(),
        }
    }

    pub(crate) fn kind(&self) -> FailureKind {
        self.kind
    }

    /// The status the client gets when no retry follows.
    pub(crate) fn status(&self) -> http::StatusCode {
        match self.kind {
            FailureKind::Timeout => http::StatusCode::GATEWAY_TIMEOUT,
            FailureKind::Connect if self.is_timeout() => http::StatusCode::GATEWAY_TIMEOUT,
            FailureKind::ClientBody => http::StatusCode::BAD_REQUEST,
            FailureKind::Connect
            | FailureKind::NotSent
            | FailureKind::Stale
            | FailureKind::Protocol
            | FailureKind::Io => http::StatusCode::BAD_GATEWAY,
        }
    }

    fn is_timeout(&self) -> bool {
        match &self.cause {
            Cause::Timeout(_) => true,
            Cause::Io(error) => error.kind() == io::ErrorKind::TimedOut,
            Cause::Hyper(_) | Cause::Exchange(_) => false,
        }
    }
}

impl Failure {
    /// Whether the endpoint could not take the request at all (refused, unreachable, a new
    /// connection that closed at once): passive health counts it against the endpoint.
    pub(crate) fn endpoint_unreachable(&self) -> bool {
        match self.error.kind {
            FailureKind::Connect => true,
            FailureKind::NotSent => !self.pooled,
            _ => false,
        }
    }

    /// The one retry policy. `may_move`: the route's `proxy-next-upstream` allows going on
    /// to another endpoint after this failure (its conditions, tries and time).
    pub(crate) fn retry(&self, idempotent: bool, may_move: bool) -> Retry {
        if self.request.is_none() {
            return Retry::No;
        }
        match (self.error.kind, self.pooled) {
            (FailureKind::NotSent, true) => Retry::SameEndpoint,
            (FailureKind::Stale, true) if idempotent => Retry::SameEndpoint,
            (FailureKind::Connect | FailureKind::NotSent, _) if may_move => Retry::OtherEndpoint,
            _ => Retry::No,
        }
    }

    /// Whether the attempt failed by a connect timeout (`proxy-next-upstream`'s `timeout`),
    /// as opposed to an error (`error`).
    pub(crate) fn is_connect_timeout(&self) -> bool {
        self.error.kind == FailureKind::Connect && self.error.is_timeout()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(kind: FailureKind, pooled: bool, resendable: bool) -> Failure {
        Failure {
            error: UpstreamError::new(kind, io::Error::from(io::ErrorKind::ConnectionReset)),
            pooled,
            request: resendable.then(|| Box::new(Request::new(RequestBody::empty()))),
        }
    }

    #[test]
    fn retry_policy_table() {
        use FailureKind::*;
        use Retry::*;
        // (kind, pooled, resendable, idempotent, may move on) → decision
        let table = [
            (Connect, false, true, false, true, OtherEndpoint),
            (Connect, false, true, true, false, No),
            (NotSent, true, true, false, true, SameEndpoint),
            (NotSent, true, true, false, false, SameEndpoint),
            (NotSent, false, true, false, true, OtherEndpoint),
            (NotSent, false, true, false, false, No),
            (Stale, true, true, true, true, SameEndpoint),
            (Stale, true, true, false, true, No),
            (Stale, true, false, true, true, No),
            (Timeout, false, true, true, true, No),
            (Protocol, true, true, true, true, No),
            (Io, true, true, true, true, No),
            (ClientBody, false, true, true, true, No),
            (Connect, false, false, true, true, No),
        ];
        for (kind, pooled, resendable, idempotent, may_move, expected) in table {
            let decided = failure(kind, pooled, resendable).retry(idempotent, may_move);
            assert_eq!(
                decided, expected,
                "{kind:?} pooled={pooled} resendable={resendable} idempotent={idempotent} may_move={may_move}"
            );
        }
    }

    #[test]
    fn statuses_follow_the_kind() {
        let status = |kind| failure(kind, false, false).error.status().as_u16();
        assert_eq!(status(FailureKind::Timeout), 504);
        assert_eq!(status(FailureKind::ClientBody), 400);
        assert_eq!(status(FailureKind::Protocol), 502);
        let connect_timeout = UpstreamError::new(
            FailureKind::Connect,
            io::Error::from(io::ErrorKind::TimedOut),
        );
        assert_eq!(connect_timeout.status().as_u16(), 504);
    }
}
