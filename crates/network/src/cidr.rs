//! Subnets in CIDR notation (`10.88.0.0/16`, `fd00:89::/64`), as the
//! store keeps them.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

/// Defines a subnet type over an address type and the unsigned integer of
/// its bits: the network address (host bits zero) and a prefix length,
/// what both families share, CIDR text (`form` in errors) and serde as
/// that text.
macro_rules! subnet_type {
    ($(#[$doc:meta])* $net:ident, $addr:ty, $bits:ty, $form:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $net {
            addr: $addr,
            prefix: u8,
        }

        impl $net {
            /// The subnet of `addr`/`prefix`; host bits of `addr` are cleared.
            pub fn new(addr: $addr, prefix: u8) -> Result<$net, Error> {
                if u32::from(prefix) > <$bits>::BITS {
                    return Err(Error::Invalid(format!(
                        "invalid prefix length /{prefix}: at most {}",
                        <$bits>::BITS
                    )));
                }
                let net = $net { addr, prefix };
                Ok($net {
                    addr: <$addr>::from(<$bits>::from(addr) & net.mask()),
                    prefix,
                })
            }

            /// The network address.
            pub fn addr(&self) -> $addr {
                self.addr
            }

            /// The prefix length.
            pub fn prefix(&self) -> u8 {
                self.prefix
            }

            fn mask(&self) -> $bits {
                <$bits>::MAX
                    .checked_shl(<$bits>::BITS - u32::from(self.prefix))
                    .unwrap_or(0)
            }

            /// The last address of the subnet.
            pub fn last(&self) -> $addr {
                <$addr>::from(<$bits>::from(self.addr) | !self.mask())
            }

            /// Whether `ip` is inside the subnet.
            pub fn contains(&self, ip: $addr) -> bool {
                <$bits>::from(ip) & self.mask() == <$bits>::from(self.addr)
            }

            /// Whether the two subnets share any address.
            pub fn overlaps(&self, other: &$net) -> bool {
                self.contains(other.addr) || other.contains(self.addr)
            }
        }

        impl fmt::Display for $net {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}/{}", self.addr, self.prefix)
            }
        }

        impl FromStr for $net {
            type Err = Error;

            /// Parses the CIDR form. Host bits must be zero, as Docker
            /// requires, so a typo such as `10.1.2.3/16` is caught rather
            /// than silently widened.
            fn from_str(s: &str) -> Result<$net, Error> {
                parse_cidr(s, $form, <$bits>::BITS as u8, $net::new, |n| n.addr)
            }
        }

        impl Serialize for $net {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $net {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$net, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

subnet_type!(
    /// An IPv4 subnet: a network address (host bits zero) and a prefix length.
    Ipv4Net, Ipv4Addr, u32, "A.B.C.D/N"
);

subnet_type!(
    /// An IPv6 subnet: a network address (host bits zero, the subnet-router
    /// anycast address) and a prefix length.
    Ipv6Net, Ipv6Addr, u128, "fd00:89::/64"
);

impl Ipv4Net {
    /// Whether `other` lies wholly inside this subnet.
    pub fn covers(&self, other: &Ipv4Net) -> bool {
        self.prefix <= other.prefix && self.contains(other.addr)
    }

    /// The broadcast address (the last one of the subnet).
    pub fn broadcast(&self) -> Ipv4Addr {
        self.last()
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

/// Parses `ADDR/N` with at most `max` prefix bits and no host bits set;
/// `form` names the expected form in errors.
fn parse_cidr<A, N>(
    s: &str,
    form: &str,
    max: u8,
    make: impl Fn(A, u8) -> Result<N, Error>,
    addr_of: impl Fn(&N) -> A,
) -> Result<N, Error>
where
    A: FromStr + PartialEq + Copy,
    N: fmt::Display,
{
    let bad = |why: &str| Error::Invalid(format!("invalid subnet {s:?}: {why}"));
    let (addr, prefix) = s
        .split_once('/')
        .ok_or_else(|| bad(&format!("expected {form}")))?;
    let addr: A = addr
        .parse()
        .map_err(|_| bad(&format!("not an address as in {form}")))?;
    let prefix: u8 = prefix
        .parse()
        .ok()
        .filter(|p| *p <= max)
        .ok_or_else(|| bad(&format!("prefix length must be 0 to {max}")))?;
    let net = make(addr, prefix)?;
    if addr_of(&net) != addr {
        return Err(bad(&format!("host bits set (did you mean {net}?)")));
    }
    Ok(net)
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
    fn parses_and_checks_v6() {
        let n: Ipv6Net = "fd42:1:2:3::/64".parse().unwrap();
        assert_eq!(n.addr(), "fd42:1:2:3::".parse::<Ipv6Addr>().unwrap());
        assert_eq!(n.last().to_string(), "fd42:1:2:3:ffff:ffff:ffff:ffff");
        assert!(n.contains("fd42:1:2:3::9".parse().unwrap()));
        assert!(!n.contains("fd42:1:2:4::9".parse().unwrap()));
        assert!(n.overlaps(&"fd42:1::/32".parse().unwrap()));
        assert!(!n.overlaps(&"fd42:1:2:4::/64".parse().unwrap()));
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, "\"fd42:1:2:3::/64\"");
        assert_eq!(serde_json::from_str::<Ipv6Net>(&json).unwrap(), n);
        for bad in ["fd00::", "fd00::/129", "10.0.0.0/8", "fd00::1/64", "x::/64"] {
            let err = bad.parse::<Ipv6Net>().unwrap_err().to_string();
            assert!(err.contains("invalid subnet"), "{bad}: {err}");
        }
        let err = "fd00::1/64".parse::<Ipv6Net>().unwrap_err().to_string();
        assert!(err.contains("did you mean fd00::/64"), "{err}");
    }

    #[test]
    fn refuses_bad_cidrs() {
        for bad in ["10.0.0.0", "10.0.0.0/33", "10.0.0/8", "x/8", "10.1.2.3/16"] {
            let err = bad.parse::<Ipv4Net>().unwrap_err().to_string();
            assert!(err.contains("invalid subnet"), "{bad}: {err}");
        }
    }
}
