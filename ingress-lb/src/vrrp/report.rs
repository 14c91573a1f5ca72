//! What the running VRRP instance last did, for the admin listener's `/api/status` and the
//! dashboard: state (MASTER, BACKUP, FAULT, INIT), configured and effective priority, the
//! virtual addresses, and the last transition with its time. Written by the driver on every
//! transition; read by the admin listener. A driver that failed to start says why.

use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use super::state::State;

/// The shared record (one small lock, taken on transitions and per admin request).
#[derive(Debug, Default)]
pub(crate) struct VrrpReport {
    status: Mutex<VrrpStatus>,
}

/// One reading of [`VrrpReport`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct VrrpStatus {
    /// `INIT`, `BACKUP`, `MASTER` or `FAULT`; `None` before the driver starts.
    pub(crate) state: Option<&'static str>,
    /// The configured priority.
    pub(crate) priority: u8,
    /// The priority advertised now (lowered by `track_weight` while the balancer is unhealthy).
    pub(crate) effective_priority: u8,
    /// The interface the instance runs on.
    pub(crate) interface: String,
    /// `virtual_router_id`.
    pub(crate) virtual_router_id: u8,
    /// The virtual addresses (`address/prefix`).
    pub(crate) virtual_addresses: Vec<String>,
    /// The last transition: `(from, to, Unix seconds)`.
    pub(crate) last_transition: Option<(&'static str, &'static str, u64)>,
    /// Why the driver is not running, when it stopped on an error.
    pub(crate) error: Option<String>,
}

impl VrrpReport {
    /// Records the instance's configuration before it starts.
    pub(crate) fn starting(&self, config: &super::VrrpConfig) {
        let mut status = self.lock();
        status.state = Some(name(State::Initialize));
        status.priority = config.priority;
        status.effective_priority = config.priority;
        status.interface = config.interface.clone();
        status.virtual_router_id = config.virtual_router_id;
        status.virtual_addresses = config
            .virtual_ipaddress
            .iter()
            .map(|v| format!("{}/{}", v.address, v.prefix))
            .collect();
        status.error = None;
    }

    /// Records a transition.
    pub(crate) fn transition(&self, from: State, to: State, effective_priority: u8) {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let mut status = self.lock();
        status.state = Some(name(to));
        status.effective_priority = effective_priority;
        status.last_transition = Some((name(from), name(to), now));
    }

    /// Records why the driver stopped.
    pub(crate) fn failed(&self, error: String) {
        self.lock().error = Some(error);
    }

    /// The current reading.
    pub(crate) fn read(&self) -> VrrpStatus {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VrrpStatus> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// keepalived's names for the states.
fn name(state: State) -> &'static str {
    match state {
        State::Initialize => "INIT",
        State::Backup => "BACKUP",
        State::Master => "MASTER",
        State::Fault => "FAULT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transition_is_recorded_with_its_time() {
        let report = VrrpReport::default();
        report.transition(State::Backup, State::Master, 100);
        let status = report.read();
        assert_eq!(status.state, Some("MASTER"));
        assert_eq!(status.effective_priority, 100);
        let (from, to, at) = status.last_transition.expect("transition");
        assert_eq!((from, to), ("BACKUP", "MASTER"));
        assert!(at > 1_700_000_000);
    }
}
