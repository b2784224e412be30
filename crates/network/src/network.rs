//! Network definitions: what `skiff network create` records, its checks,
//! and the choice of a subnet no host route or other network uses.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cidr::{Ipv4Net, Ipv6Net};
use crate::error::{Error, Result};

/// The default network's name.
pub const DEFAULT_NETWORK: &str = "skiff";
/// The default network's bridge.
pub const DEFAULT_BRIDGE: &str = "skiff0";
/// The MTU of a network created without `-o mtu=N`.
pub const DEFAULT_MTU: u32 = 1500;
/// Where `--ipv6` without an IPv6 subnet looks for a free /64.
pub const IPV6_POOL: &str = "fd00:89::/48";

/// A network as the store keeps it (`ROOT/networks/<name>.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkConfig {
    /// The network's name.
    pub name: String,
    /// Always `bridge`.
    pub driver: String,
    /// The Linux bridge its containers attach to.
    pub bridge_name: String,
    /// Its IPv4 subnet.
    pub subnet: Ipv4Net,
    /// The bridge's own address, the containers' default route.
    pub gateway: Ipv4Addr,
    /// Its IPv6 subnet, on a dual-stack network (`--ipv6`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet6: Option<Ipv6Net>,
    /// The bridge's IPv6 address, the containers' IPv6 default route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<Ipv6Addr>,
    /// The part of the subnet that addresses are handed out from.
    pub ip_range: Option<Ipv4Net>,
    /// No way out: no masquerade, no forwarding beyond the bridge.
    pub internal: bool,
    /// The MTU of the bridge and the veth pairs.
    pub mtu: u32,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// Whether containers resolve each other's names (user-defined networks).
    pub dns_enabled: bool,
}

/// What `skiff network create` asks for; everything optional is chosen or
/// defaulted by [`crate::Networks::create`], and everything is checked there.
#[derive(Debug, Clone, Default)]
pub struct NetworkOptions {
    /// The network's name.
    pub name: String,
    /// The bridge's name; `skbr-<8 hex of the name>` when not given.
    pub bridge_name: Option<String>,
    /// `--subnet` as CIDR; a free /24 from 10.89.0.0 up when not given.
    pub subnet: Option<String>,
    /// `--gateway`; the subnet's first address when not given.
    pub gateway: Option<String>,
    /// `--ip-range` as CIDR, inside the subnet.
    pub ip_range: Option<String>,
    /// `--ipv6`: an IPv6 subnet besides the IPv4 one; a free /64 of
    /// [`IPV6_POOL`] when `subnet6` is not given.
    pub ipv6: bool,
    /// An IPv6 `--subnet` as CIDR (implies `ipv6`).
    pub subnet6: Option<String>,
    /// An IPv6 `--gateway`; the IPv6 subnet's first address when not given.
    pub gateway6: Option<String>,
    /// `--internal`.
    pub internal: bool,
    /// `-o mtu=N`.
    pub mtu: Option<u32>,
    /// `--label`s.
    pub labels: BTreeMap<String, String>,
    /// Whether to serve names (true for user-defined networks).
    pub dns_enabled: bool,
}

/// Checks a network name as Docker does: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn check_name(name: &str) -> Result<()> {
    let ok = name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "invalid network name {name:?}: use letters, digits, '_', '.' and '-', starting with a letter or digit"
    )))
}

/// Checks a Linux interface name: 1 to 15 bytes, no '/', ':' or spaces.
pub fn check_ifname(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace());
    if ok {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "invalid interface name {name:?}: 1 to 15 characters without '/', ':' or spaces"
    )))
}

/// The bridge name a network gets when none is given.
pub fn default_bridge_name(network: &str) -> String {
    let hash = Sha256::digest(network.as_bytes());
    format!("skbr-{}", &hex::encode(hash)[..8])
}

/// The first /`prefix` at or after `start` in 10.0.0.0/8 that overlaps none
/// of `taken` (host routes and other networks' subnets).
pub fn pick_subnet(start: Ipv4Net, taken: &[Ipv4Net]) -> Result<Ipv4Net> {
    let step = 1u64 << (32 - u32::from(start.prefix()));
    let end = u64::from(u32::from(Ipv4Addr::new(11, 0, 0, 0)));
    let mut at = u64::from(u32::from(start.addr()));
    while at + step <= end {
        let candidate = Ipv4Net::new(Ipv4Addr::from(at as u32), start.prefix())?;
        if !taken.iter().any(|t| t.overlaps(&candidate)) {
            return Ok(candidate);
        }
        at += step;
    }
    Err(Error::Conflict(format!(
        "no free /{} subnet left in 10.0.0.0/8 from {start}: give one with --subnet",
        start.prefix()
    )))
}

/// The first /64 of [`IPV6_POOL`] that overlaps none of `taken`.
pub fn pick_subnet6(taken: &[Ipv6Net]) -> Result<Ipv6Net> {
    let pool: Ipv6Net = IPV6_POOL.parse()?;
    let start = u128::from(pool.addr());
    (0..1u128 << (64 - pool.prefix()))
        .map(|n| Ipv6Net::new(Ipv6Addr::from(start + (n << 64)), 64))
        .find(|c| {
            c.as_ref()
                .is_ok_and(|c| !taken.iter().any(|t| t.overlaps(c)))
        })
        .unwrap_or_else(|| {
            Err(Error::Conflict(format!(
                "no free IPv6 /64 left in {pool}: give one with --subnet"
            )))
        })
}

fn parse_gateway<A: FromStr>(gateway: &str, family: &str) -> Result<A> {
    gateway.parse().map_err(|_| {
        Error::Invalid(format!(
            "invalid gateway {gateway:?}: not an {family} address"
        ))
    })
}

impl NetworkConfig {
    /// Builds and checks a network from `opts`, with `subnet` (and
    /// `subnet6` on a dual-stack network) already chosen when the options
    /// gave none.
    pub fn from_options(
        opts: &NetworkOptions,
        subnet: Ipv4Net,
        subnet6: Option<Ipv6Net>,
    ) -> Result<NetworkConfig> {
        check_name(&opts.name)?;
        let bridge_name = opts
            .bridge_name
            .clone()
            .unwrap_or_else(|| default_bridge_name(&opts.name));
        check_ifname(&bridge_name)?;
        let gateway = match &opts.gateway {
            None => subnet.first_host(),
            Some(g) => parse_gateway(g, "IPv4")?,
        };
        let gateway6 = match (&opts.gateway6, subnet6) {
            (Some(g), Some(_)) => Some(parse_gateway(g, "IPv6")?),
            (Some(g), None) => {
                return Err(Error::Invalid(format!(
                    "IPv6 gateway {g} needs an IPv6 subnet: add --ipv6"
                )))
            }
            (None, net) => net.map(|n| Ipv6Addr::from(u128::from(n.addr()) + 1)),
        };
        let ip_range = opts.ip_range.as_deref().map(str::parse).transpose()?;
        let config = NetworkConfig {
            name: opts.name.clone(),
            driver: "bridge".into(),
            bridge_name,
            subnet,
            gateway,
            subnet6,
            gateway6,
            ip_range,
            internal: opts.internal,
            mtu: opts.mtu.unwrap_or(DEFAULT_MTU),
            labels: opts.labels.clone(),
            dns_enabled: opts.dns_enabled,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks the parts against each other.
    pub fn validate(&self) -> Result<()> {
        if self.subnet.prefix() > 30 {
            return Err(Error::Invalid(format!(
                "subnet {} is too small: use /30 or larger",
                self.subnet
            )));
        }
        if !self.subnet.contains(self.gateway) || self.subnet.is_reserved(self.gateway) {
            return Err(Error::Invalid(format!(
                "gateway {} is not a host address of subnet {}",
                self.gateway, self.subnet
            )));
        }
        if let Some(range) = self.ip_range {
            if !self.subnet.covers(&range) {
                return Err(Error::Invalid(format!(
                    "ip range {range} is not inside subnet {}",
                    self.subnet
                )));
            }
        }
        self.validate_v6()?;
        if !(68..=65535).contains(&self.mtu) {
            return Err(Error::Invalid(format!(
                "invalid mtu {}: 68 to 65535",
                self.mtu
            )));
        }
        Ok(())
    }

    /// Checks the IPv6 subnet's size and the IPv6 gateway.
    fn validate_v6(&self) -> Result<()> {
        let (net, gateway) = match (self.subnet6, self.gateway6) {
            (None, None) => return Ok(()),
            (Some(net), Some(gateway)) => (net, gateway),
            _ => {
                return Err(Error::Invalid(format!(
                    "network {}: an IPv6 subnet and gateway go together",
                    self.name
                )))
            }
        };
        if !(48..=120).contains(&net.prefix()) {
            return Err(Error::Invalid(format!(
                "IPv6 subnet {net} is out of bounds: use a prefix from /48 to /120"
            )));
        }
        if !net.contains(gateway) || gateway == net.addr() {
            return Err(Error::Invalid(format!(
                "IPv6 gateway {gateway} is not a host address of subnet {net}"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(name: &str) -> NetworkOptions {
        NetworkOptions {
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn picks_a_subnet_clear_of_routes() {
        let start: Ipv4Net = "10.88.0.0/16".parse().unwrap();
        assert_eq!(pick_subnet(start, &[]).unwrap(), start);
        let taken = [
            "10.88.5.0/24".parse().unwrap(),
            "10.89.0.0/16".parse().unwrap(),
        ];
        assert_eq!(
            pick_subnet(start, &taken).unwrap().to_string(),
            "10.90.0.0/16"
        );
        let all: Ipv4Net = "10.0.0.0/8".parse().unwrap();
        assert!(pick_subnet(start, &[all]).is_err());
    }

    #[test]
    fn checks_gateway_range_name_and_mtu() {
        let net: Ipv4Net = "10.201.0.0/24".parse().unwrap();
        let mut o = opts("n1");
        o.gateway = Some("10.202.0.1".into());
        let err = NetworkConfig::from_options(&o, net, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("gateway 10.202.0.1 is not a host address"),
            "{err}"
        );
        o.gateway = Some("10.201.0.255".into());
        assert!(NetworkConfig::from_options(&o, net, None).is_err());
        let mut o = opts("n1");
        o.ip_range = Some("10.201.1.0/28".into());
        let err = NetworkConfig::from_options(&o, net, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not inside subnet"), "{err}");
        assert!(NetworkConfig::from_options(&opts("-bad"), net, None).is_err());
        let mut o = opts("n1");
        o.bridge_name = Some("a-very-long-bridge-name".into());
        assert!(NetworkConfig::from_options(&o, net, None).is_err());
        let mut o = opts("n1");
        o.mtu = Some(10);
        assert!(NetworkConfig::from_options(&o, net, None).is_err());
        let ok = NetworkConfig::from_options(&opts("n1"), net, None).unwrap();
        assert_eq!(ok.gateway, Ipv4Addr::new(10, 201, 0, 1));
        assert_eq!(ok.bridge_name.len(), 13);
    }

    #[test]
    fn picks_an_ipv6_subnet_clear_of_routes() {
        let first = pick_subnet6(&[]).unwrap();
        assert_eq!(first.to_string(), "fd00:89::/64");
        let taken = [first, "fd00:89:0:1::/64".parse().unwrap()];
        assert_eq!(
            pick_subnet6(&taken).unwrap().to_string(),
            "fd00:89:0:2::/64"
        );
        assert!(pick_subnet6(&["fd00::/16".parse().unwrap()]).is_err());
    }

    #[test]
    fn checks_ipv6_prefix_and_gateway() {
        let net: Ipv4Net = "10.201.0.0/24".parse().unwrap();
        let v6 = |s: &str| Some(s.parse::<Ipv6Net>().unwrap());
        let ok = NetworkConfig::from_options(&opts("n6"), net, v6("fd42::/64")).unwrap();
        assert_eq!(ok.gateway6, Some("fd42::1".parse().unwrap()));
        for (subnet, why) in [("fd42::/40", "/48 to /120"), ("fd42::/124", "/48 to /120")] {
            let err = NetworkConfig::from_options(&opts("n6"), net, v6(subnet))
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{subnet}: {err}");
        }
        let mut o = opts("n6");
        for gw in ["fd43::1", "fd42::"] {
            o.gateway6 = Some(gw.into());
            let err = NetworkConfig::from_options(&o, net, v6("fd42::/64"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!("IPv6 gateway {gw} is not")), "{err}");
        }
        o.gateway6 = Some("fd42::fe".into());
        let custom = NetworkConfig::from_options(&o, net, v6("fd42::/64")).unwrap();
        assert_eq!(custom.gateway6, Some("fd42::fe".parse().unwrap()));
        assert!(NetworkConfig::from_options(&o, net, None).is_err());
    }
}
