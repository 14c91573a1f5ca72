//! The host side of the virtual addresses: look up the interface, add and remove addresses over
//! rtnetlink (what `ip addr add/del` does), and announce them with gratuitous ARP.
//!
//! Gratuitous ARP needs an `AF_PACKET` socket; with `unsafe` forbidden and no maintained crate
//! that both offers a safe API for it and fits here, it is sent by iputils' `arping -U`
//! (Debian package `iputils-arping`) as a child process, the way keepalived's own notify
//! scripts often do.

use std::net::{IpAddr, Ipv4Addr};
use std::process::Stdio;

use futures::TryStreamExt;
use rtnetlink::packet_route::address::{AddressAttribute, AddressHeaderFlags, AddressMessage};
use tokio::process::Command;

use super::config::VirtualAddress;
use super::error::VrrpError;

/// Linux errno values the netlink answers carry (negated).
const EEXIST: i32 = 17;
const EADDRNOTAVAIL: i32 = 99;

/// keepalived's `garp_master_repeat`: gratuitous ARPs per burst.
pub(crate) const GARP_PER_BURST: u32 = 5;

/// One interface, reached over an rtnetlink connection owned by this value.
#[derive(Debug)]
pub(crate) struct Interface {
    name: String,
    index: u32,
    handle: rtnetlink::Handle,
    /// The netlink connection task; aborted on drop so no task outlives the driver.
    connection: tokio::task::JoinHandle<()>,
    /// Running `arping` bursts, killed when the addresses are removed so a former master never
    /// announces an address it no longer holds.
    arping: Vec<tokio::task::JoinHandle<()>>,
}

impl Interface {
    /// Opens rtnetlink and resolves `name` to its index.
    pub(crate) async fn open(name: &str) -> Result<Self, VrrpError> {
        let (connection, handle, _) =
            rtnetlink::new_connection().map_err(|source| VrrpError::Netlink {
                operation: "open rtnetlink socket",
                interface: name.to_owned(),
                reason: source.to_string(),
            })?;
        let connection = tokio::spawn(connection);
        let link = handle
            .link()
            .get()
            .match_name(name.to_owned())
            .execute()
            .try_next()
            .await;
        let index = match link {
            Ok(Some(link)) => link.header.index,
            Ok(None) | Err(_) => {
                connection.abort();
                return Err(VrrpError::NoInterface {
                    interface: name.to_owned(),
                });
            }
        };
        Ok(Self {
            name: name.to_owned(),
            index,
            handle,
            connection,
            arping: Vec::new(),
        })
    }

    /// The interface's primary IPv4 address (first non-secondary one not in `exclude`): the
    /// advert source keepalived would pick.
    pub(crate) async fn primary_ipv4(&self, exclude: &[Ipv4Addr]) -> Result<Ipv4Addr, VrrpError> {
        let messages = self.addresses().await?;
        messages
            .iter()
            .filter(|m| !m.header.flags.contains(AddressHeaderFlags::Secondary))
            .filter_map(ipv4_of)
            .find(|a| !exclude.contains(a))
            .ok_or_else(|| VrrpError::NoAddress {
                interface: self.name.clone(),
            })
    }

    /// `ip addr add VIP/prefix dev IFACE`; an address already present is success.
    pub(crate) async fn add(&self, vip: VirtualAddress) -> Result<(), VrrpError> {
        let result = self
            .handle
            .address()
            .add(self.index, IpAddr::V4(vip.address), vip.prefix)
            .execute()
            .await;
        match result {
            Err(error) if errno(&error) == Some(EEXIST) => Ok(()),
            other => other.map_err(|e| self.error("add address", vip, e)),
        }
    }

    /// `ip addr del VIP/prefix dev IFACE`; an absent address is success. Also stops running
    /// gratuitous-ARP bursts.
    pub(crate) async fn remove(&mut self, vip: VirtualAddress) -> Result<(), VrrpError> {
        self.stop_arping();
        for message in self.addresses().await? {
            if ipv4_of(&message) != Some(vip.address) {
                continue;
            }
            match self.handle.address().del(message).execute().await {
                Err(error) if errno(&error) == Some(EADDRNOTAVAIL) => {}
                other => other.map_err(|e| self.error("remove address", vip, e))?,
            }
        }
        Ok(())
    }

    /// Starts one burst of [`GARP_PER_BURST`] unsolicited ARPs for `vip`, one per second
    /// (iputils arping accepts whole-second intervals only), without waiting for it.
    pub(crate) fn announce(&mut self, vip: Ipv4Addr) -> Result<(), VrrpError> {
        self.arping.retain(|task| !task.is_finished());
        let mut child = Command::new("arping")
            .args([
                "-q",
                "-U",
                "-c",
                &GARP_PER_BURST.to_string(),
                "-I",
                &self.name,
            ])
            .arg(vip.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| VrrpError::Arping {
                interface: self.name.clone(),
                source,
            })?;
        let interface = self.name.clone();
        self.arping.push(tokio::spawn(async move {
            match child.wait().await {
                Ok(status) if status.success() => {}
                Ok(status) => tracing::warn!(%interface, %vip, %status, "arping failed"),
                Err(error) => tracing::warn!(%interface, %vip, %error, "arping failed"),
            }
        }));
        Ok(())
    }

    fn stop_arping(&mut self) {
        // Aborting the task drops its `Child`, which kills arping (`kill_on_drop`); tokio reaps
        // the process in the background.
        for task in self.arping.drain(..) {
            task.abort();
        }
    }

    async fn addresses(&self) -> Result<Vec<AddressMessage>, VrrpError> {
        self.handle
            .address()
            .get()
            .set_link_index_filter(self.index)
            .execute()
            .try_collect()
            .await
            .map_err(|e| VrrpError::Netlink {
                operation: "list addresses",
                interface: self.name.clone(),
                reason: e.to_string(),
            })
    }

    fn error(
        &self,
        operation: &'static str,
        vip: VirtualAddress,
        error: rtnetlink::Error,
    ) -> VrrpError {
        VrrpError::Netlink {
            operation,
            interface: self.name.clone(),
            reason: format!("{vip}: {error}"),
        }
    }
}

impl Drop for Interface {
    fn drop(&mut self) {
        self.stop_arping();
        self.connection.abort();
    }
}

fn ipv4_of(message: &AddressMessage) -> Option<Ipv4Addr> {
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point links.
    let local = message.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(IpAddr::V4(v4)) => Some(*v4),
        _ => None,
    });
    local.or_else(|| {
        message.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(IpAddr::V4(v4)) => Some(*v4),
            _ => None,
        })
    })
}

fn errno(error: &rtnetlink::Error) -> Option<i32> {
    match error {
        rtnetlink::Error::NetlinkError(message) => Some(-message.raw_code()),
        _ => None,
    }
}
