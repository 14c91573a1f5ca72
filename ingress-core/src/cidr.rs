//! Address ranges as ingress-nginx's keys and annotations write them: a comma-separated list
//! of CIDRs (`10.0.0.0/8, 2001:db8::/32`), a bare address meaning that address alone.
//! Used by `proxy-real-ip-cidr` (which peers may name the client) and the source-range lists.
//!
//! ```
//! use ingress_core::CidrList;
//!
//! let list = CidrList::parse("10.0.0.0/8, 192.168.1.7 ,2001:db8::/32").unwrap();
//! assert!(list.contains("10.1.2.3".parse().unwrap()));
//! assert!(list.contains("192.168.1.7".parse().unwrap()));
//! assert!(!list.contains("192.168.1.8".parse().unwrap()));
//! assert!(list.contains("2001:db8::1".parse().unwrap()));
//! // An IPv4 address carried in IPv6 (`::ffff:a.b.c.d`) is matched as IPv4.
//! assert!(list.contains("::ffff:10.0.0.1".parse().unwrap()));
//! assert_eq!(CidrList::parse("10.0.0.0/33").unwrap_err(), "10.0.0.0/33 is not a CIDR or an IP address");
//! ```

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

/// A list of address ranges.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CidrList {
    ranges: Vec<IpNet>,
}

impl CidrList {
    /// Parses a comma-separated list; an empty list is valid (it contains nothing). The error
    /// names the first entry that is neither a CIDR nor an address.
    pub fn parse(text: &str) -> Result<CidrList, String> {
        let mut ranges = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let range = match entry.parse::<IpNet>() {
                Ok(net) => net.trunc(),
                Err(_) => match entry.parse::<IpAddr>() {
                    Ok(address) => IpNet::from(address),
                    Err(_) => return Err(format!("{entry} is not a CIDR or an IP address")),
                },
            };
            ranges.push(range);
        }
        Ok(CidrList { ranges })
    }

    /// Whether `address` is in one of the ranges.
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.ranges.iter().any(|range| range.contains(&address))
    }

    /// Whether the list has no range.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

impl fmt::Display for CidrList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, range) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{range}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_as_ingress_nginx_writes_them() {
        let list = CidrList::parse(" 10.0.0.0/8 ,, 172.16.5.9/16, ::1 ").unwrap();
        assert_eq!(list.to_string(), "10.0.0.0/8,172.16.0.0/16,::1/128");
        assert!(list.contains("172.16.200.1".parse().unwrap()));
        assert!(list.contains("::1".parse().unwrap()));
        assert!(!list.contains("::2".parse().unwrap()));
        assert!(CidrList::parse("").unwrap().is_empty());
        for bad in ["10.0.0.0/8,nope", "300.1.1.1", "10.0.0.0/", "fe80::1%eth0"] {
            assert!(CidrList::parse(bad).is_err(), "{bad}");
        }
    }
}
