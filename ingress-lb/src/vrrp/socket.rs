//! The raw IPv4 socket for protocol 112, driven by tokio.
//!
//! tokio has no raw-socket type, and its `AsyncFd` constructors are deprecated in favour of
//! `unsafe` ones. A raw socket is datagram-oriented like UDP, so it is handed to tokio as a
//! `UdpSocket` (safe `From` conversions; the approach surge-ping uses for ICMP): only
//! `recv` and `send_to`, which map to the plain `recvfrom`/`sendto` system calls, are used.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::net::UdpSocket;

use super::packet::{IPPROTO_VRRP, VRRP_MULTICAST, VRRP_TTL};

/// A raw socket bound to one interface that receives every protocol-112 datagram arriving on it
/// (IPv4 header included) and sends adverts with TTL 255.
#[derive(Debug)]
pub(crate) struct VrrpSocket {
    inner: UdpSocket,
}

impl VrrpSocket {
    /// Opens the socket on `interface`. `source` is the advert source address; with
    /// `multicast` the socket joins 224.0.0.18 and sends from `source` on that interface.
    pub(crate) fn open(interface: &str, source: Ipv4Addr, multicast: bool) -> io::Result<Self> {
        let socket = Socket::new(
            Domain::IPV4,
            Type::RAW,
            Some(Protocol::from(i32::from(IPPROTO_VRRP))),
        )?;
        socket.bind_device(Some(interface.as_bytes()))?;
        socket.set_ttl_v4(u32::from(VRRP_TTL))?;
        socket.set_multicast_ttl_v4(u32::from(VRRP_TTL))?;
        socket.set_nonblocking(true)?;
        if multicast {
            // Routers of the group share the segment; our own adverts need not come back.
            socket.set_multicast_loop_v4(false)?;
            socket.set_multicast_if_v4(&source)?;
            socket.join_multicast_v4(&VRRP_MULTICAST, &source)?;
        } else {
            // Binding a raw socket fixes the source and filters received datagrams to those
            // addressed to it: exactly unicast VRRP. (Not done for multicast: it would filter
            // out 224.0.0.18.)
            socket.bind(&SockAddr::from(SocketAddrV4::new(source, 0)))?;
        }
        let inner = UdpSocket::from_std(std::net::UdpSocket::from(socket))?;
        Ok(Self { inner })
    }

    /// Receives one datagram (IPv4 header + VRRP message) into `buf`.
    pub(crate) async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.recv(buf).await
    }

    /// Sends one VRRP message to `destination` (the kernel adds the IPv4 header; the port of
    /// the socket address is ignored by raw sockets).
    pub(crate) async fn send_to(&self, message: &[u8], destination: Ipv4Addr) -> io::Result<()> {
        let address = SocketAddr::V4(SocketAddrV4::new(destination, 0));
        self.inner.send_to(message, address).await.map(|_| ())
    }
}
