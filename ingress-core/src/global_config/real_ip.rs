//! The client's address as ingress-nginx's `realip` configuration finds it: with
//! `use-forwarded-headers`, a peer inside `proxy-real-ip-cidr` may name the client in
//! `forwarded-for-header` (nginx's `real_ip_header`, `set_real_ip_from`, `real_ip_recursive
//! on`): the addresses of that header are read from the right, trusted ones skipped, and the
//! first untrusted one is the client (the leftmost when all are trusted). Otherwise, and for
//! a peer outside the ranges, the client is the peer.
//!
//! ```
//! use std::collections::BTreeMap;
//! use ingress_core::{GlobalConfig, ObjectKey};
//!
//! let data: BTreeMap<String, String> = [
//!     ("use-forwarded-headers", "true"),
//!     ("proxy-real-ip-cidr", "10.0.0.0/8"),
//! ].into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
//! let (config, _) = GlobalConfig::default().updated_from(&ObjectKey::new("ns", "cm"), &data);
//! let balancer = "10.0.0.2".parse().unwrap();
//! // A client, then a trusted hop: the client is the first untrusted address from the right.
//! let header = [&b"203.0.113.7, 10.0.0.9"[..]];
//! assert_eq!(config.client_address(balancer, header.into_iter()), "203.0.113.7".parse::<std::net::IpAddr>().unwrap());
//! // A peer outside the ranges cannot name anyone.
//! let stranger = "198.51.100.1".parse().unwrap();
//! assert_eq!(config.client_address(stranger, header.into_iter()), stranger);
//! ```

use std::net::IpAddr;

use super::GlobalConfig;

impl GlobalConfig {
    /// Whether `peer` may name the client, scheme and port (`use-forwarded-headers` and the
    /// peer inside `proxy-real-ip-cidr`).
    pub fn trusts(&self, peer: IpAddr) -> bool {
        self.use_forwarded_headers && self.proxy_real_ip_cidr.contains(peer)
    }

    /// The client's address for a request from `peer` whose `forwarded-for-header` field
    /// values are `forwarded`: nginx's realip rules — a peer outside `proxy-real-ip-cidr` (or
    /// without `use-forwarded-headers`) is the client; else the header's addresses are read
    /// from the right, trusted ones skipped, and the first untrusted one is the client (the
    /// leftmost when all are trusted; an entry that is not an address ends the walk).
    pub fn client_address<'a>(
        &self,
        peer: IpAddr,
        forwarded: impl Iterator<Item = &'a [u8]>,
    ) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let values: Vec<&[u8]> = forwarded.collect();
        let mut client = peer;
        for entry in values
            .iter()
            .rev()
            .flat_map(|value| value.rsplit(|b| *b == b','))
        {
            let Some(address) = std::str::from_utf8(entry)
                .ok()
                .and_then(|text| text.trim().parse::<IpAddr>().ok())
            else {
                // nginx stops at the first entry that is not an address.
                break;
            };
            client = address;
            if !self.proxy_real_ip_cidr.contains(address) {
                break;
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ObjectKey;

    fn config(pairs: &[(&str, &str)]) -> GlobalConfig {
        let data = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        GlobalConfig::default()
            .updated_from(&ObjectKey::new("ns", "cm"), &data)
            .0
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_client_is_the_first_untrusted_address_from_the_right() {
        let trusted = config(&[
            ("use-forwarded-headers", "true"),
            ("proxy-real-ip-cidr", "10.0.0.0/8"),
        ]);
        let peer = ip("10.0.0.1");
        let cases: [(&[&str], &str); 6] = [
            (&[], "10.0.0.1"),
            (&["1.1.1.1"], "1.1.1.1"),
            (&["9.9.9.9, 1.1.1.1, 10.0.0.5"], "1.1.1.1"),
            // Two field lines read as one list.
            (&["9.9.9.9", "1.1.1.1, 10.0.0.5"], "1.1.1.1"),
            // All trusted: the leftmost.
            (&["10.0.0.7, 10.0.0.5"], "10.0.0.7"),
            // Garbage stops the walk at the last good address.
            (&["1.1.1.1, nonsense, 10.0.0.5"], "10.0.0.5"),
        ];
        for (values, expected) in cases {
            let values = values.iter().map(|v| v.as_bytes());
            assert_eq!(trusted.client_address(peer, values), ip(expected));
        }
    }

    #[test]
    fn ingress_nginx_s_defaults_trust_only_with_use_forwarded_headers_and_only_ipv4_peers() {
        let header = [&b"1.1.1.1"[..]];
        let off = GlobalConfig::default();
        assert_eq!(
            off.client_address(ip("10.0.0.1"), header.into_iter()),
            ip("10.0.0.1")
        );
        let on = config(&[("use-forwarded-headers", "true")]);
        assert_eq!(
            on.client_address(ip("10.0.0.1"), header.into_iter()),
            ip("1.1.1.1")
        );
        // proxy-real-ip-cidr's default is 0.0.0.0/0: an IPv6 peer is not trusted.
        assert_eq!(on.client_address(ip("::1"), header.into_iter()), ip("::1"));
    }
}
