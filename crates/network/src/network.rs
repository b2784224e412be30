//! Network definitions: what `skiff network create` records, its checks,
//! and the choice of a subnet no host route or other network uses.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cidr::Ipv4Net;
use crate::error::{Error, Result};

/// The default network's name.
pub const DEFAULT_NETWORK: &str = "skiff";
/// The default network's bridge.
pub const DEFAULT_BRIDGE: &str = "skiff0";
/// The MTU of a network created without `-o mtu=N`.
pub const DEFAULT_MTU: u32 = 1500;

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

impl NetworkConfig {
    /// Builds and checks a network from `opts`, with `subnet` already
    /// chosen when the options gave none.
    pub fn from_options(opts: &NetworkOptions, subnet: Ipv4Net) -> Result<NetworkConfig> {
        check_name(&opts.name)?;
        let bridge_name = opts
            .bridge_name
            .clone()
            .unwrap_or_else(|| default_bridge_name(&opts.name));
        check_ifname(&bridge_name)?;
        let gateway = match &opts.gateway {
            None => subnet.first_host(),
            Some(g) => g.parse().map_err(|_| {
                Error::Invalid(format!("invalid gateway {g:?}: not an IPv4 address"))
            })?,
        };
        let ip_range = opts.ip_range.as_deref().map(str::parse).transpose()?;
        let config = NetworkConfig {
            name: opts.name.clone(),
            driver: "bridge".into(),
            bridge_name,
            subnet,
            gateway,
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
        if !(68..=65535).contains(&self.mtu) {
            return Err(Error::Invalid(format!(
                "invalid mtu {}: 68 to 65535",
                self.mtu
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
        let err = NetworkConfig::from_options(&o, net)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("gateway 10.202.0.1 is not a host address"),
            "{err}"
        );
        o.gateway = Some("10.201.0.255".into());
        assert!(NetworkConfig::from_options(&o, net).is_err());
        let mut o = opts("n1");
        o.ip_range = Some("10.201.1.0/28".into());
        let err = NetworkConfig::from_options(&o, net)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not inside subnet"), "{err}");
        assert!(NetworkConfig::from_options(&opts("-bad"), net).is_err());
        let mut o = opts("n1");
        o.bridge_name = Some("a-very-long-bridge-name".into());
        assert!(NetworkConfig::from_options(&o, net).is_err());
        let mut o = opts("n1");
        o.mtu = Some(10);
        assert!(NetworkConfig::from_options(&o, net).is_err());
        let ok = NetworkConfig::from_options(&opts("n1"), net).unwrap();
        assert_eq!(ok.gateway, Ipv4Addr::new(10, 201, 0, 1));
        assert_eq!(ok.bridge_name.len(), 13);
    }
}
