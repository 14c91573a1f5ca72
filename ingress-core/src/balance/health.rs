//! Passive health: nginx's `max_fails` / `fail_timeout` bookkeeping for one peer.
//!
//! This mirrors `ngx_http_upstream_free_round_robin_peer` and the availability test of
//! `ngx_http_upstream_get_peer` field for field (`fails`, `accessed`, `checked`), so a
//! configuration translated from nginx ejects and readmits peers at the same moments:
//!
//! - A failure increments `fails` and stamps both `accessed` and `checked` with `now`.
//! - A peer is unavailable while `max_fails > 0`, `fails >= max_fails` and no more than
//!   `fail_timeout` has passed since `checked`. Each failure restarts that window, so failures
//!   closer together than `fail_timeout` accumulate.
//! - Picking a peer whose window has expired stamps `checked = now`; a success after such a pick
//!   (`accessed < checked`) resets `fails` to zero. A success inside the window does not reset
//!   the count: that is what "`max_fails` failures within `fail_timeout`" means in nginx.
//! - After ejection the first pick past `fail_timeout` is a single probe: a success readmits the
//!   peer, a failure ejects it again for another `fail_timeout`.

use std::time::{Duration, Instant};

/// nginx's default `max_fails`.
pub const DEFAULT_MAX_FAILS: u32 = 1;
/// nginx's default `fail_timeout` (10 seconds).
pub const DEFAULT_FAIL_TIMEOUT: Duration = Duration::from_secs(10);

/// Failure accounting for one peer (see the module docs for the exact rules).
#[derive(Debug, Clone)]
pub(crate) struct PassiveHealth {
    /// 0 disables ejection entirely, as in nginx.
    max_fails: u32,
    /// Both the window that failures must fall in and the length of an ejection.
    fail_timeout: Duration,
    /// Failures since the last reset.
    fails: u32,
    /// Time of the last failure (nginx `accessed`); `None` means "never", i.e. the epoch.
    accessed: Option<Instant>,
    /// Start of the current window (nginx `checked`); `None` means "never".
    checked: Option<Instant>,
}

impl PassiveHealth {
    pub(crate) fn new(max_fails: u32, fail_timeout: Duration) -> Self {
        Self {
            max_fails,
            fail_timeout,
            fails: 0,
            accessed: None,
            checked: None,
        }
    }

    /// Whether more than `fail_timeout` has passed since `checked` (always true if never checked).
    fn window_expired(&self, now: Instant) -> bool {
        self.checked
            .is_none_or(|checked| now.saturating_duration_since(checked) > self.fail_timeout)
    }

    /// nginx: `max_fails && fails >= max_fails && now - checked <= fail_timeout` means skip.
    pub(crate) fn is_available(&self, now: Instant) -> bool {
        self.max_fails == 0 || self.fails < self.max_fails || self.window_expired(now)
    }

    /// Called when the peer has been chosen.
    pub(crate) fn on_pick(&mut self, now: Instant) {
        if self.window_expired(now) {
            self.checked = Some(now);
        }
    }

    /// Records a failure; returns true when this failure ejects the peer.
    pub(crate) fn on_failure(&mut self, now: Instant) -> bool {
        self.fails = self.fails.saturating_add(1);
        self.accessed = Some(now);
        self.checked = Some(now);
        self.max_fails != 0 && self.fails >= self.max_fails
    }

    /// Records a success: resets the count when the peer was picked after its window expired.
    pub(crate) fn on_success(&mut self) {
        // `None < Some(_)` mirrors nginx's zero-initialised `accessed`.
        if self.accessed < self.checked {
            self.fails = 0;
        }
    }

    /// While ejected: how long until the next pick may probe the peer again.
    pub(crate) fn ejected_for(&self, now: Instant) -> Option<Duration> {
        if self.is_available(now) {
            return None;
        }
        let elapsed = self.checked.map_or(Duration::ZERO, |checked| {
            now.saturating_duration_since(checked)
        });
        Some(self.fail_timeout.saturating_sub(elapsed))
    }

    pub(crate) fn max_fails(&self) -> u32 {
        self.max_fails
    }

    pub(crate) fn fails(&self) -> u32 {
        self.fails
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[derive(Debug, Clone, Copy)]
    enum Step {
        /// Pick at this many seconds.
        Pick(u64),
        Fail(u64),
        Success,
        /// Expect availability at this many seconds.
        Available(u64, bool),
    }
    use Step::*;

    #[test]
    fn follows_nginx_max_fails_and_fail_timeout() {
        let cases: &[(&str, u32, u64, &[Step])] = &[
            (
                "one_failure_ejects_with_defaults",
                1,
                10,
                &[
                    Pick(0),
                    Fail(0),
                    Available(0, false),
                    Available(10, false),
                    Available(11, true),
                ],
            ),
            (
                "max_fails_zero_never_ejects",
                0,
                10,
                &[Pick(0), Fail(0), Fail(0), Fail(0), Available(0, true)],
            ),
            (
                "below_max_fails_stays_available",
                3,
                30,
                &[Pick(0), Fail(0), Pick(1), Fail(1), Available(1, true)],
            ),
            (
                "third_failure_in_window_ejects",
                3,
                30,
                &[
                    Pick(0),
                    Fail(0),
                    Pick(1),
                    Fail(1),
                    Pick(2),
                    Fail(2),
                    Available(2, false),
                    Available(32, false),
                    Available(33, true),
                ],
            ),
            (
                "success_inside_window_does_not_reset",
                2,
                30,
                &[
                    Pick(0),
                    Fail(0),
                    Pick(1),
                    Success,
                    Pick(2),
                    Fail(2),
                    Available(2, false),
                ],
            ),
            (
                "success_after_window_resets",
                2,
                30,
                &[
                    Pick(0),
                    Fail(0),
                    Pick(31),
                    Success,
                    Pick(32),
                    Fail(32),
                    Available(32, true),
                ],
            ),
            (
                "probe_failure_ejects_again",
                1,
                10,
                &[
                    Pick(0),
                    Fail(0),
                    Pick(11),
                    Fail(11),
                    Available(20, false),
                    Available(22, true),
                ],
            ),
            (
                "probe_success_readmits",
                1,
                10,
                &[
                    Pick(0),
                    Fail(0),
                    Pick(11),
                    Success,
                    Available(11, true),
                    Pick(12),
                    Fail(12),
                    Available(12, false),
                ],
            ),
            (
                "failures_refresh_the_window",
                3,
                30,
                &[
                    Pick(0),
                    Fail(0),
                    Pick(25),
                    Fail(25),
                    Pick(50),
                    Fail(50),
                    Available(50, false),
                ],
            ),
        ];
        let epoch = Instant::now();
        for (name, max_fails, timeout, steps) in cases {
            let mut health = PassiveHealth::new(*max_fails, Duration::from_secs(*timeout));
            for step in *steps {
                match *step {
                    Pick(t) => health.on_pick(epoch + S * t as u32),
                    Fail(t) => {
                        health.on_failure(epoch + S * t as u32);
                    }
                    Success => health.on_success(),
                    Available(t, want) => {
                        assert_eq!(
                            health.is_available(epoch + S * t as u32),
                            want,
                            "{name}: {step:?}"
                        )
                    }
                }
            }
        }
    }

    #[test]
    fn on_failure_reports_the_ejecting_failure() {
        let now = Instant::now();
        let mut health = PassiveHealth::new(2, DEFAULT_FAIL_TIMEOUT);
        assert!(!health.on_failure(now));
        assert!(health.on_failure(now));
        assert_eq!(health.fails(), 2);
        assert!(!PassiveHealth::new(0, DEFAULT_FAIL_TIMEOUT).on_failure(now));
    }

    #[test]
    fn an_ejection_says_how_long_it_lasts() {
        let start = Instant::now();
        let mut health = PassiveHealth::new(1, 10 * S);
        assert_eq!(health.ejected_for(start), None);
        health.on_failure(start);
        assert_eq!(health.ejected_for(start), Some(10 * S));
        assert_eq!(health.ejected_for(start + 4 * S), Some(6 * S));
        // Unavailable up to and including fail_timeout (nginx's `<=`), available after it.
        assert_eq!(health.ejected_for(start + 10 * S), Some(Duration::ZERO));
        assert_eq!(health.ejected_for(start + 11 * S), None);
    }
}
