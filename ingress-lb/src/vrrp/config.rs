//! The `[vrrp]` section of ingress-lb's TOML configuration, field by field a keepalived
//! `vrrp_instance` (see the module docs of `vrrp` for the line-by-line translation).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use super::packet::{Authentication, Version};
use super::state::RouterConfig;

/// One VRRP instance (keepalived's `vrrp_instance`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VrrpConfig {
    /// keepalived `interface`: the link that carries adverts and receives the virtual addresses.
    pub interface: String,
    /// keepalived `virtual_router_id`, 1–255; the same on every router of the group.
    pub virtual_router_id: u8,
    /// keepalived `priority`, 1–254, or 255 for the address owner. Default 100 (keepalived's).
    #[serde(default = "default_priority")]
    pub priority: u8,
    /// keepalived `advert_int`, in seconds (default 1). Version 2: whole seconds 1–255;
    /// version 3: 0.01–40.95 in steps of 0.01.
    #[serde(default = "default_advert_int")]
    pub advert_int: f64,
    /// keepalived `virtual_ipaddress { … }`: addresses as `A.B.C.D` or `A.B.C.D/prefix`
    /// (default prefix /32, as keepalived).
    pub virtual_ipaddress: Vec<VirtualAddress>,
    /// keepalived `vrrp_version` (global): 2 or 3. Default 3 (RFC 5798); keepalived's own default
    /// is 2, and `authentication` needs 2.
    #[serde(default = "default_version")]
    pub version: u8,
    /// keepalived `state MASTER|BACKUP`: accepted so a keepalived.conf translates line for line;
    /// as in keepalived 2, the election decides (a router starts as backup unless priority is 255).
    #[serde(default)]
    pub state: Option<InitialState>,
    /// keepalived `nopreempt` is `preempt = false`. Default true: a higher-priority backup takes
    /// the address from a lower-priority master.
    #[serde(default = "default_true")]
    pub preempt: bool,
    /// keepalived `preempt_delay`, seconds (default 0): after start, or after leaving Fault, a
    /// backup waits this long before preempting a lower-priority master.
    #[serde(default)]
    pub preempt_delay: f64,
    /// keepalived `unicast_src_ip`: source of adverts. Default: the interface's first IPv4
    /// address (which is also the tie-breaker between equal priorities).
    #[serde(default)]
    pub unicast_src_ip: Option<Ipv4Addr>,
    /// keepalived `unicast_peer { … }`: when set, adverts go to these addresses instead of
    /// 224.0.0.18.
    #[serde(default)]
    pub unicast_peer: Vec<Ipv4Addr>,
    /// keepalived `authentication { auth_type PASS; auth_pass … }` (version 2 only).
    #[serde(default)]
    pub authentication: Option<AuthenticationConfig>,
    /// keepalived `track_script`: whether the balancer's own health (listeners bound, an
    /// upstream reachable) takes part. Default true.
    #[serde(default = "default_true")]
    pub track_balancer: bool,
    /// keepalived `vrrp_script … weight`: 0 (default) puts the router in Fault while unhealthy,
    /// so it never holds the address; −N lowers the priority by N while unhealthy; +N raises it
    /// by N while healthy. −253..=253.
    #[serde(default)]
    pub track_weight: i16,
}

/// keepalived's `authentication` block.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthenticationConfig {
    /// Only `PASS` (simple password; keepalived's `AH` is not supported).
    pub auth_type: String,
    /// Up to 8 characters (longer ones are cut to 8, as keepalived does).
    pub auth_pass: String,
}

/// keepalived `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum InitialState {
    /// `MASTER`
    #[serde(rename = "MASTER", alias = "master")]
    Master,
    /// `BACKUP`
    #[serde(rename = "BACKUP", alias = "backup")]
    Backup,
}

/// A virtual address with its prefix length, as `ip addr add` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct VirtualAddress {
    /// The address.
    pub address: Ipv4Addr,
    /// Prefix length, 0–32.
    pub prefix: u8,
}

/// A `[vrrp]` field with an invalid value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[vrrp] field `{field}`: {reason}")]
pub struct VrrpConfigError {
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl VrrpConfig {
    /// Checks every field and builds the state machine's parameters; `primary_address` is the
    /// advert source (`unicast_src_ip`, or the interface's first IPv4 address).
    pub fn router_config(
        &self,
        primary_address: Ipv4Addr,
    ) -> Result<RouterConfig, VrrpConfigError> {
        let error = |field, reason: String| VrrpConfigError { field, reason };
        if self.interface.is_empty() || self.interface.len() > 15 {
            return Err(error(
                "interface",
                format!("{:?} is not a Linux interface name", self.interface),
            ));
        }
        if self.virtual_router_id == 0 {
            return Err(error("virtual_router_id", "must be 1–255".into()));
        }
        if self.priority == 0 {
            return Err(error(
                "priority",
                "must be 1–255 (0 is reserved for a master leaving)".into(),
            ));
        }
        let version = match self.version {
            2 => Version::V2,
            3 => Version::V3,
            other => return Err(error("version", format!("{other} is not 2 or 3"))),
        };
        let interval_centis = interval_centis(self.advert_int, version).ok_or_else(|| {
            error(
                "advert_int",
                format!(
                    "{} s is not valid for version {}",
                    self.advert_int, self.version
                ),
            )
        })?;
        if self.virtual_ipaddress.is_empty() {
            return Err(error(
                "virtual_ipaddress",
                "needs at least one address".into(),
            ));
        }
        if self.virtual_ipaddress.len() > 255 {
            return Err(error(
                "virtual_ipaddress",
                "at most 255 addresses fit in an advert".into(),
            ));
        }
        if !(self.preempt_delay.is_finite() && (0.0..=3600.0).contains(&self.preempt_delay)) {
            return Err(error(
                "preempt_delay",
                format!("{} s is not within 0–3600", self.preempt_delay),
            ));
        }
        if !(-253..=253).contains(&self.track_weight) {
            return Err(error(
                "track_weight",
                format!("{} is not within −253..=253", self.track_weight),
            ));
        }
        let authentication = match (&self.authentication, version) {
            (None, _) => Authentication::None,
            (Some(_), Version::V3) => {
                return Err(error(
                    "authentication",
                    "version 3 has no authentication; set version = 2".into(),
                ));
            }
            (Some(auth), Version::V2) => {
                if !auth.auth_type.eq_ignore_ascii_case("PASS") {
                    return Err(error(
                        "authentication.auth_type",
                        format!("{:?} is not supported (only PASS)", auth.auth_type),
                    ));
                }
                if auth.auth_pass.is_empty() {
                    return Err(error(
                        "authentication.auth_pass",
                        "must not be empty".into(),
                    ));
                }
                Authentication::password(&auth.auth_pass)
            }
        };
        Ok(RouterConfig {
            virtual_router_id: self.virtual_router_id,
            version,
            priority: self.priority,
            interval_centis,
            preempt: self.preempt,
            preempt_delay: Duration::from_secs_f64(self.preempt_delay),
            track_weight: self.track_weight,
            primary_address,
            virtual_addresses: self.virtual_ipaddress.iter().map(|v| v.address).collect(),
            authentication,
        })
    }
}

/// Seconds → centiseconds, if the version can carry it.
fn interval_centis(seconds: f64, version: Version) -> Option<u16> {
    if !seconds.is_finite() || seconds <= 0.0 {
        return None;
    }
    let centis = (seconds * 100.0).round();
    if (centis / 100.0 - seconds).abs() > 1e-9 {
        return None;
    }
    let max = match version {
        Version::V2 => 25_500.0,
        Version::V3 => 4095.0,
    };
    if centis > max {
        return None;
    }
    // 1 ≤ centis ≤ 25500 here, so the cast is exact.
    let centis = centis as u16;
    (version == Version::V3 || centis.is_multiple_of(100)).then_some(centis)
}

fn default_priority() -> u8 {
    100
}

fn default_advert_int() -> f64 {
    1.0
}

fn default_version() -> u8 {
    3
}

fn default_true() -> bool {
    true
}

impl FromStr for VirtualAddress {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: Ipv4Addr = address
            .parse()
            .map_err(|_| format!("{text:?}: {address:?} is not an IPv4 address"))?;
        let prefix = match prefix {
            None => 32,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= 32)
                .ok_or_else(|| format!("{text:?}: prefix {p:?} is not 0–32"))?,
        };
        if address.is_unspecified() || address.is_multicast() || address.is_broadcast() {
            return Err(format!("{text:?} cannot be a virtual address"));
        }
        Ok(Self { address, prefix })
    }
}

impl TryFrom<String> for VirtualAddress {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl fmt::Display for VirtualAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

impl fmt::Debug for AuthenticationConfig {
    // Never print the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticationConfig")
            .field("auth_type", &self.auth_type)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
