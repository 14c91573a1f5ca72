//! The VRRP router state machine (RFC 5798 §6.4, with RFC 3768 timing for version 2), sans-IO.
//!
//! [`Router`] holds no socket and reads no clock: every input carries `now`, and every effect is
//! an [`Action`] the driver drains with [`Router::poll_action`]. [`Router::poll_timeout`] says when
//! [`Router::handle_timeout`] must next be called. The same inputs in the same order always
//! produce the same actions, which is what lets the tests simulate N routers on one clock.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::packet::{Advertisement, Authentication, Ipv4Header, VRRP_TTL, Version};

/// keepalived's `garp_master_delay`: the second burst of gratuitous ARPs follows the first by 5 s.
pub const GARP_REPEAT_DELAY: Duration = Duration::from_secs(5);

/// The parameters of one virtual router, already validated (see `VrrpConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterConfig {
    /// Virtual router id shared by every router of the group.
    pub virtual_router_id: u8,
    /// Wire version spoken and accepted.
    pub version: Version,
    /// Configured priority, 1–255 (255 = address owner).
    pub priority: u8,
    /// Advertisement interval, in centiseconds (a multiple of 100 for version 2).
    pub interval_centis: u16,
    /// Whether a higher-priority backup takes over from a lower-priority master.
    pub preempt: bool,
    /// After start (or leaving Fault), how long a backup waits before it may preempt.
    pub preempt_delay: Duration,
    /// Health tracking: 0 = Fault while unhealthy; < 0 = priority lowered by |w| while
    /// unhealthy; > 0 = priority raised by w while healthy (keepalived's `weight`).
    pub track_weight: i16,
    /// This router's own address: the advert source and the tie-breaker between equal priorities.
    pub primary_address: Ipv4Addr,
    /// The virtual addresses carried in adverts.
    pub virtual_addresses: Vec<Ipv4Addr>,
    /// Version 2 authentication (ignored for version 3).
    pub authentication: Authentication,
}

/// RFC 5798 router states, plus keepalived's Fault (health tracking says "do not serve").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Not started, or shut down.
    Initialize,
    /// Watching the master; takes over when it goes quiet.
    Backup,
    /// Owns the virtual addresses and advertises them.
    Master,
    /// Health tracking failed with `track_weight = 0`: silent, never master.
    Fault,
}

/// An effect the driver must carry out, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send one advertisement with this priority (0 = "I am leaving, take over now").
    SendAdvert {
        /// Priority to put on the wire.
        priority: u8,
    },
    /// Configure the virtual addresses on the interface.
    AddVirtualAddresses,
    /// Remove the virtual addresses from the interface.
    RemoveVirtualAddresses,
    /// Send a burst of gratuitous ARPs for every virtual address.
    GratuitousArp,
    /// The state changed (for logs and metrics).
    Transition {
        /// State left.
        from: State,
        /// State entered.
        to: State,
    },
}

/// Why a received packet was dropped (RFC 5798 §7.1 checks). Dropping is normal on a shared
/// segment (other routers' groups), so this is information, not an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Discard {
    /// IP TTL is not 255: the packet crossed a router.
    #[error("advert TTL {0} is not 255")]
    Ttl(u8),
    /// Another group's advert.
    #[error("advert is for virtual_router_id {0}")]
    VirtualRouterId(u8),
    /// Version differs from the configured one.
    #[error("advert version {0:?} differs from configured version")]
    Version(Version),
    /// Version 2 authentication does not match.
    #[error("advert authentication does not match")]
    Authentication,
    /// Version 2 requires every router of the group to use the same interval.
    #[error("advert interval {0} cs differs from configured advert_int (version 2)")]
    Interval(u16),
    /// Our own advert looped back.
    #[error("advert is our own")]
    Own,
}

/// One virtual router's state machine.
#[derive(Debug)]
pub struct Router {
    config: RouterConfig,
    state: State,
    /// Whether the balancer can serve (tracked health).
    healthy: bool,
    /// The master's advert interval as last learned (version 3 lets it differ from ours).
    master_interval_centis: u16,
    /// Master: when the next advert is due.
    advert_due: Option<Instant>,
    /// Backup: when the master is declared dead.
    master_down_at: Option<Instant>,
    /// Master: when the second gratuitous-ARP burst is due.
    garp_repeat_at: Option<Instant>,
    /// Backup: preemption is held off until this instant (`preempt_delay`).
    preempt_allowed_at: Option<Instant>,
    actions: VecDeque<Action>,
}

impl Router {
    /// A router in Initialize, healthy, that does nothing until [`Router::startup`].
    pub fn new(config: RouterConfig) -> Self {
        let master_interval_centis = config.interval_centis;
        Self {
            config,
            state: State::Initialize,
            healthy: true,
            master_interval_centis,
            advert_due: None,
            master_down_at: None,
            garp_repeat_at: None,
            preempt_allowed_at: None,
            actions: VecDeque::new(),
        }
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The validated configuration.
    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    /// The priority currently advertised: the configured one adjusted by health tracking,
    /// kept within 1–254 unless this is the address owner (255).
    pub fn effective_priority(&self) -> u8 {
        let base = self.config.priority;
        if base == 255 {
            return 255;
        }
        let weight = self.config.track_weight;
        let adjust = match (weight.signum(), self.healthy) {
            (1, true) | (-1, false) => weight,
            _ => 0,
        };
        let adjusted = (i16::from(base) + adjust).clamp(1, 254);
        // Clamped into 1..=254 just above, so it fits in u8.
        u8::try_from(adjusted).unwrap_or(1)
    }

    /// RFC 5798 §6.4.1 Startup event.
    pub fn startup(&mut self, now: Instant) {
        if self.state != State::Initialize {
            return;
        }
        self.preempt_allowed_at = Some(now + self.config.preempt_delay);
        if !self.healthy && self.config.track_weight == 0 {
            self.transition(State::Fault);
        } else if self.effective_priority() == 255 {
            self.become_master(now);
        } else {
            self.become_backup(now, self.config.interval_centis);
        }
    }

    /// RFC 5798 Shutdown event: a master says goodbye with priority 0 and drops the addresses.
    pub fn shutdown(&mut self, _now: Instant) {
        if self.state == State::Master {
            self.leave_master();
        }
        self.clear_timers();
        if self.state != State::Initialize {
            self.transition(State::Initialize);
        }
    }

    /// The tracked health changed (`healthy` = the balancer can serve).
    pub fn set_health(&mut self, now: Instant, healthy: bool) {
        if self.healthy == healthy {
            return;
        }
        let before = self.effective_priority();
        self.healthy = healthy;
        if self.state == State::Initialize {
            return;
        }
        if self.config.track_weight == 0 {
            if !healthy {
                if self.state == State::Master {
                    self.leave_master();
                }
                self.clear_timers();
                self.transition(State::Fault);
            } else if self.state == State::Fault {
                self.preempt_allowed_at = Some(now + self.config.preempt_delay);
                self.become_backup(now, self.config.interval_centis);
            }
            return;
        }
        if self.state == State::Master && self.effective_priority() != before {
            // Tell the group at once so a now-better backup can preempt without waiting.
            self.send_advert(now);
        }
    }

    /// A packet arrived: `header` from the IP layer, `advert` already decoded and checksummed.
    pub fn handle_advert(
        &mut self,
        now: Instant,
        header: &Ipv4Header,
        advert: &Advertisement,
    ) -> Result<(), Discard> {
        self.check(header, advert)?;
        let theirs = advert.priority;
        match self.state {
            State::Initialize | State::Fault => {}
            State::Backup => {
                if theirs == 0 {
                    self.master_down_at = Some(now + self.skew(advert.interval_centis));
                } else if !self.config.preempt
                    || theirs >= self.effective_priority()
                    || self.preempt_allowed_at.is_some_and(|at| now < at)
                {
                    self.master_interval_centis = advert.interval_centis;
                    self.master_down_at = Some(now + self.master_down_interval());
                }
                // Else: a lower-priority master and we may preempt. Ignore it; our master-down
                // timer fires and we take over (RFC 5798 §6.4.2).
            }
            State::Master => {
                let ours = self.effective_priority();
                if theirs == 0 {
                    self.send_advert(now);
                } else if theirs > ours
                    || (theirs == ours && header.source > self.config.primary_address)
                {
                    self.leave_master_for_backup(now, advert.interval_centis);
                }
            }
        }
        Ok(())
    }

    /// Runs the timers that are due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Backup => {
                if self.master_down_at.is_some_and(|at| at <= now) {
                    self.become_master(now);
                }
            }
            State::Master => {
                if self.advert_due.is_some_and(|at| at <= now) {
                    self.send_advert(now);
                }
                if self.garp_repeat_at.is_some_and(|at| at <= now) {
                    self.garp_repeat_at = None;
                    self.actions.push_back(Action::GratuitousArp);
                }
            }
            State::Initialize | State::Fault => {}
        }
    }

    /// The earliest instant at which [`Router::handle_timeout`] has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.advert_due, self.master_down_at, self.garp_repeat_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next effect to carry out.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn check(&self, header: &Ipv4Header, advert: &Advertisement) -> Result<(), Discard> {
        if header.ttl != VRRP_TTL {
            return Err(Discard::Ttl(header.ttl));
        }
        if header.source == self.config.primary_address {
            return Err(Discard::Own);
        }
        if advert.virtual_router_id != self.config.virtual_router_id {
            return Err(Discard::VirtualRouterId(advert.virtual_router_id));
        }
        if advert.version != self.config.version {
            return Err(Discard::Version(advert.version));
        }
        if self.config.version == Version::V2 {
            if advert.authentication != self.config.authentication {
                return Err(Discard::Authentication);
            }
            if advert.interval_centis != self.config.interval_centis {
                return Err(Discard::Interval(advert.interval_centis));
            }
        }
        Ok(())
    }

    /// RFC 5798 Skew_Time: (256 − priority) × interval / 256 (RFC 3768: in whole seconds / 256).
    fn skew(&self, interval_centis: u16) -> Duration {
        let factor = 256 - u64::from(self.effective_priority());
        let interval = match self.config.version {
            Version::V3 => u64::from(interval_centis) * 10,
            Version::V2 => 1000,
        };
        Duration::from_millis(factor * interval / 256)
    }

    /// 3 × Master_Adver_Interval + Skew_Time.
    fn master_down_interval(&self) -> Duration {
        let interval = Duration::from_millis(u64::from(self.master_interval_centis) * 10);
        3 * interval + self.skew(self.master_interval_centis)
    }

    fn own_interval(&self) -> Duration {
        Duration::from_millis(u64::from(self.config.interval_centis) * 10)
    }

    fn become_master(&mut self, now: Instant) {
        self.master_down_at = None;
        self.transition(State::Master);
        self.actions.push_back(Action::AddVirtualAddresses);
        self.send_advert(now);
        self.actions.push_back(Action::GratuitousArp);
        self.garp_repeat_at = Some(now + GARP_REPEAT_DELAY);
    }

    fn become_backup(&mut self, now: Instant, master_interval_centis: u16) {
        self.master_interval_centis = master_interval_centis;
        self.advert_due = None;
        self.garp_repeat_at = None;
        self.master_down_at = Some(now + self.master_down_interval());
        self.transition(State::Backup);
    }

    fn leave_master_for_backup(&mut self, now: Instant, master_interval_centis: u16) {
        self.actions.push_back(Action::RemoveVirtualAddresses);
        self.become_backup(now, master_interval_centis);
    }

    /// Master → anything but Backup-by-election: hand over at once with a priority-0 advert.
    fn leave_master(&mut self) {
        self.actions.push_back(Action::SendAdvert { priority: 0 });
        self.actions.push_back(Action::RemoveVirtualAddresses);
    }

    fn send_advert(&mut self, now: Instant) {
        let priority = self.effective_priority();
        self.actions.push_back(Action::SendAdvert { priority });
        self.advert_due = Some(now + self.own_interval());
    }

    fn clear_timers(&mut self) {
        self.advert_due = None;
        self.master_down_at = None;
        self.garp_repeat_at = None;
    }

    fn transition(&mut self, to: State) {
        let from = self.state;
        if from != to {
            self.state = to;
            self.actions.push_back(Action::Transition { from, to });
        }
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
