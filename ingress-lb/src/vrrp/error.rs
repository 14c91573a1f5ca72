//! Why the VRRP driver could not start or stopped: one error type shared by the driver and
//! the interface it configures (its own module so neither imports the other for it).

use std::io;

use super::config::VrrpConfigError;

/// Why the VRRP driver could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VrrpError {
    /// The `[vrrp]` section is invalid.
    #[error(transparent)]
    Config(#[from] VrrpConfigError),
    /// `[vrrp] interface` names no interface of this network namespace.
    #[error("[vrrp] field `interface`: no interface named {interface:?}")]
    NoInterface {
        /// The configured name.
        interface: String,
    },
    /// The interface has no IPv4 address to send adverts from (set `unicast_src_ip`).
    #[error("[vrrp] interface {interface:?} has no IPv4 address to send adverts from")]
    NoAddress {
        /// The configured name.
        interface: String,
    },
    /// An rtnetlink request failed.
    #[error("[vrrp] interface {interface:?}: {operation}: {reason}")]
    Netlink {
        /// What was being done.
        operation: &'static str,
        /// The configured interface.
        interface: String,
        /// The kernel's answer.
        reason: String,
    },
    /// The raw socket for IP protocol 112 failed (needs CAP_NET_RAW).
    #[error("[vrrp] interface {interface:?}: raw socket for IP protocol 112: {source}")]
    Socket {
        /// The configured interface.
        interface: String,
        /// The OS error.
        source: io::Error,
    },
    /// `arping` (Debian package iputils-arping) could not be started for gratuitous ARP.
    #[error("[vrrp] interface {interface:?}: cannot run arping (package iputils-arping): {source}")]
    Arping {
        /// The configured interface.
        interface: String,
        /// The OS error.
        source: io::Error,
    },
}
