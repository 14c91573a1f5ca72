//! VRRP (RFC 5798) virtual-IP failover: a pure state machine and its I/O driver.

mod config;
mod packet;
mod state;

pub use config::{AuthenticationConfig, InitialState, VirtualAddress, VrrpConfig, VrrpConfigError};
pub use packet::{
    Advertisement, Authentication, IPPROTO_VRRP, Ipv4Header, PacketError, VRRP_MULTICAST, VRRP_TTL,
    Version, parse_ipv4,
};
pub use state::{Action, Discard, GARP_REPEAT_DELAY, Router, RouterConfig, State};
