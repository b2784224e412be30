//! IPv4 subnets in CIDR notation (`10.88.0.0/16`), as the store keeps them.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

/// An IPv4 subnet: a network address (host bits zero) and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Net {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Net {
    /// The subnet of `addr`/`prefix`; host bits of `addr` are cleared.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Ipv4Net, Error> {
        if prefix > 32 {
            return Err(Error::Invalid(format!(
                "invalid prefix length /{prefix}: at most 32"
            )));
        }
        let net = Ipv4Net { addr, prefix };
        Ok(Ipv4Net {
            addr: Ipv4Addr::from(u32::from(addr) & net.mask()),
            prefix,
        })
    }

    /// The network address.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    fn mask(&self) -> u32 {
        u32::MAX
            .checked_shl(32 - u32::from(self.prefix))
            .unwrap_or(0)
    }

    /// The broadcast address (the last one of the subnet).
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }

    /// Whether `ip` is inside the subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr)
    }

    /// Whether the two subnets share any address.
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }

    /// Whether `other` lies wholly inside this subnet.
    pub fn covers(&self, other: &Ipv4Net) -> bool {
        self.prefix <= other.prefix && self.contains(other.addr)
    }

    /// The first address usable by a host (the network address plus one,
    /// except for /31 and /32 where every address is usable).
    pub fn first_host(&self) -> Ipv4Addr {
        if self.prefix >= 31 {
            self.addr
        } else {
            Ipv4Addr::from(u32::from(self.addr) + 1)
        }
    }

    /// Whether `ip` is the network or the broadcast address, which no host
    /// may have (on subnets larger than /31).
    pub fn is_reserved(&self, ip: Ipv4Addr) -> bool {
        self.prefix < 31 && (ip == self.addr || ip == self.broadcast())
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Ipv4Net {
    type Err = Error;

    /// Parses `A.B.C.D/N`. Host bits must be zero, as Docker requires, so a
    /// typo such as `10.1.2.3/16` is caught rather than silently widened.
    fn from_str(s: &str) -> Result<Ipv4Net, Error> {
        let bad = |why: &str| Error::Invalid(format!("invalid subnet {s:?}: {why}"));
        let (addr, prefix) = s.split_once('/').ok_or_else(|| bad("expected A.B.C.D/N"))?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad("not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| bad("prefix length must be 0 to 32"))?;
        let net = Ipv4Net::new(addr, prefix)?;
        if net.addr != addr {
            return Err(bad(&format!("host bits set (did you mean {net}?)")));
        }
        Ok(net)
    }
}

impl Serialize for Ipv4Net {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ipv4Net {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ipv4Net, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks() {
        let n: Ipv4Net = "10.88.0.0/16".parse().unwrap();
        assert_eq!(n.broadcast(), Ipv4Addr::new(10, 88, 255, 255));
        assert!(n.contains(Ipv4Addr::new(10, 88, 3, 4)));
        assert!(!n.contains(Ipv4Addr::new(10, 89, 0, 1)));
        assert!(n.overlaps(&"10.88.4.0/24".parse().unwrap()));
        assert!(!n.overlaps(&"10.89.0.0/16".parse().unwrap()));
        assert_eq!(n.first_host(), Ipv4Addr::new(10, 88, 0, 1));
    }

    #[test]
    fn refuses_bad_cidrs() {
        for bad in ["10.0.0.0", "10.0.0.0/33", "10.0.0/8", "x/8", "10.1.2.3/16"] {
            let err = bad.parse::<Ipv4Net>().unwrap_err().to_string();
            assert!(err.contains("invalid subnet"), "{bad}: {err}");
        }
    }
}
