//! Address management: who holds which address on a network, kept in
//! `ROOT/ipam/<network>.json` together with what was made for each holder
//! (its veth, its names, its published ports), so that disconnecting and
//! re-creating rules never need anything but the store.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::network::NetworkConfig;
use crate::ports::PortMapping;

/// A container's place on one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Its address.
    pub ip: Ipv4Addr,
    /// Its IPv6 address, on a dual-stack network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<Ipv6Addr>,
    /// Its interface's MAC address, `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// Its interface's name inside its namespace.
    pub ifname: String,
    /// The host end of its veth pair.
    pub host_veth: String,
    /// The names other containers find it by.
    pub aliases: Vec<String>,
    /// Its published ports, with host ports chosen.
    pub ports: Vec<PortMapping>,
}

/// One network's endpoints, by container id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocations {
    /// Container id to endpoint.
    pub endpoints: BTreeMap<String, Endpoint>,
    /// The address handed out last: the next search starts after it, so
    /// that a released address is not reused before the range wraps (the
    /// kernel removes a dead container's veth a little after `rm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Ipv4Addr>,
    /// The IPv6 address handed out last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last6: Option<Ipv6Addr>,
}

impl Allocations {
    /// Records `endpoint` for container `id`, and its addresses as the
    /// last handed out.
    pub fn insert(&mut self, id: &str, endpoint: Endpoint) {
        self.last = Some(endpoint.ip);
        self.last6 = endpoint.ip6.or(self.last6);
        self.endpoints.insert(id.to_string(), endpoint);
    }

    fn holder(&self, ip: Ipv4Addr) -> Option<&str> {
        self.endpoints
            .iter()
            .find(|(_, e)| e.ip == ip)
            .map(|(id, _)| id.as_str())
    }

    /// An address for a new endpoint of `net`: `requested` if it is a free
    /// host address of the subnet, else the first free one of the range
    /// after the last handed out, wrapping around (never the network,
    /// gateway or broadcast address).
    pub fn allocate(&self, net: &NetworkConfig, requested: Option<Ipv4Addr>) -> Result<Ipv4Addr> {
        match requested {
            Some(ip) => self.check_static(net, ip).map(|()| ip),
            None => self.next_free(net),
        }
    }

    fn check_static(&self, net: &NetworkConfig, ip: Ipv4Addr) -> Result<()> {
        if !net.subnet.contains(ip) || net.subnet.is_reserved(ip) {
            return Err(Error::Invalid(format!(
                "address {ip} is not a host address of network {}'s subnet {}",
                net.name, net.subnet
            )));
        }
        if ip == net.gateway {
            return Err(Error::Conflict(format!(
                "address {ip} is network {}'s gateway",
                net.name
            )));
        }
        if let Some(holder) = self.holder(ip) {
            return Err(Error::Conflict(format!(
                "address {ip} on network {} is in use by container {holder}",
                net.name
            )));
        }
        Ok(())
    }

    fn next_free(&self, net: &NetworkConfig) -> Result<Ipv4Addr> {
        let range = net.ip_range.unwrap_or(net.subnet);
        let used: BTreeSet<Ipv4Addr> = self.endpoints.values().map(|e| e.ip).collect();
        let (first, last) = (u32::from(range.addr()), u32::from(range.broadcast()));
        let start = after(self.last.map(u32::from), first, last);
        (start..=last)
            .chain(first..start)
            .map(Ipv4Addr::from)
            .find(|ip| !net.subnet.is_reserved(*ip) && *ip != net.gateway && !used.contains(ip))
            .ok_or_else(|| {
                Error::Conflict(format!(
                    "network {} has no free address left in {range}",
                    net.name
                ))
            })
    }

    /// An IPv6 address for a new endpoint of a dual-stack network: the
    /// first free one of its IPv6 subnet after the last handed out, never the subnet-router anycast
    /// address (the subnet's `::0`) or the gateway. `None` on an IPv4-only
    /// network.
    pub fn allocate6(&self, net: &NetworkConfig) -> Result<Option<Ipv6Addr>> {
        let Some(subnet) = net.subnet6 else {
            return Ok(None);
        };
        let used: BTreeSet<Ipv6Addr> = self.endpoints.values().filter_map(|e| e.ip6).collect();
        let (first, last) = (u128::from(subnet.addr()) + 1, u128::from(subnet.last()));
        let start = after(self.last6.map(u128::from), first, last);
        (start..=last)
            .chain(first..start)
            .map(Ipv6Addr::from)
            .find(|ip| Some(*ip) != net.gateway6 && !used.contains(ip))
            .map(Some)
            .ok_or_else(|| {
                Error::Conflict(format!(
                    "network {} has no free IPv6 address left in {subnet}",
                    net.name
                ))
            })
    }
}

/// Where a search of `first..=last` starts: after `previous` when that is
/// inside the range and not its end, else at `first`.
fn after<T>(previous: Option<T>, first: T, last: T) -> T
where
    T: Copy + PartialOrd + std::ops::Add<Output = T> + From<u8>,
{
    match previous {
        Some(p) if p >= first && p < last => p + T::from(1),
        _ => first,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::NetworkOptions;

    fn endpoint(ip: Ipv4Addr) -> Endpoint {
        Endpoint {
            ip,
            ip6: None,
            mac: String::new(),
            ifname: "eth0".into(),
            host_veth: String::new(),
            aliases: Vec::new(),
            ports: Vec::new(),
        }
    }

    #[test]
    fn hands_out_free_addresses_and_checks_static_ones() {
        let opts = NetworkOptions {
            name: "n".into(),
            ..Default::default()
        };
        let net =
            NetworkConfig::from_options(&opts, "10.201.0.0/29".parse().unwrap(), None).unwrap();
        let mut a = Allocations::default();
        let mut got = Vec::new();
        for i in 0..5 {
            let ip = a.allocate(&net, None).unwrap();
            a.insert(&format!("c{i}"), endpoint(ip));
            got.push(ip.octets()[3]);
        }
        assert_eq!(got, [2, 3, 4, 5, 6]);
        assert!(a
            .allocate(&net, None)
            .unwrap_err()
            .to_string()
            .contains("no free address"));
        a.endpoints.remove("c1");
        assert_eq!(
            a.allocate(&net, None).unwrap(),
            Ipv4Addr::new(10, 201, 0, 3)
        );
        let in_use = a
            .allocate(&net, Some(Ipv4Addr::new(10, 201, 0, 2)))
            .unwrap_err();
        assert!(in_use.to_string().contains("in use by container c0"));
        assert!(a
            .allocate(&net, Some(Ipv4Addr::new(10, 201, 0, 7)))
            .is_err());
        assert!(a
            .allocate(&net, Some(Ipv4Addr::new(10, 201, 0, 1)))
            .is_err());
        assert!(a.allocate(&net, Some(Ipv4Addr::new(10, 9, 0, 3))).is_err());
        assert_eq!(
            a.allocate(&net, Some(Ipv4Addr::new(10, 201, 0, 3)))
                .unwrap()
                .octets()[3],
            3
        );
    }

    #[test]
    fn released_addresses_wait_for_the_range_to_wrap() {
        let opts = NetworkOptions {
            name: "w".into(),
            ..Default::default()
        };
        let net =
            NetworkConfig::from_options(&opts, "10.202.0.0/24".parse().unwrap(), None).unwrap();
        let mut a = Allocations::default();
        for i in 0..3 {
            let ip = a.allocate(&net, None).unwrap();
            a.insert(&format!("c{i}"), endpoint(ip));
        }
        a.endpoints.remove("c0");
        assert_eq!(
            a.allocate(&net, None).unwrap(),
            Ipv4Addr::new(10, 202, 0, 5)
        );
        a.last = Some(Ipv4Addr::new(10, 202, 0, 254));
        assert_eq!(
            a.allocate(&net, None).unwrap(),
            Ipv4Addr::new(10, 202, 0, 2)
        );
        a.last = Some(Ipv4Addr::new(10, 9, 0, 1));
        assert_eq!(
            a.allocate(&net, None).unwrap(),
            Ipv4Addr::new(10, 202, 0, 2)
        );
    }

    #[test]
    fn hands_out_and_releases_ipv6_addresses() {
        let opts = NetworkOptions {
            name: "n6".into(),
            gateway6: Some("fd42::2".into()),
            ..Default::default()
        };
        let v4 = "10.201.0.0/24".parse().unwrap();
        let net =
            NetworkConfig::from_options(&opts, v4, Some("fd42::/120".parse().unwrap())).unwrap();
        let mut a = Allocations::default();
        let mut got = Vec::new();
        for i in 0..3 {
            let mut e = endpoint(a.allocate(&net, None).unwrap());
            e.ip6 = a.allocate6(&net).unwrap();
            got.push(e.ip6.unwrap().to_string());
            a.insert(&format!("c{i}"), e);
        }
        assert_eq!(got, ["fd42::1", "fd42::3", "fd42::4"]);
        a.endpoints.remove("c1");
        assert_eq!(
            a.allocate6(&net).unwrap(),
            Some("fd42::5".parse().unwrap()),
            "a released address waits until the range wraps"
        );
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Allocations>(&json).unwrap(), a);
        let v4_only = NetworkConfig::from_options(&opts, v4, None);
        assert!(v4_only.is_err(), "an IPv6 gateway needs an IPv6 subnet");
        let net4 = NetworkConfig {
            subnet6: None,
            gateway6: None,
            ..net
        };
        assert_eq!(Allocations::default().allocate6(&net4).unwrap(), None);
    }

    #[test]
    fn old_endpoints_load_without_ipv6() {
        let old = r#"{"endpoints":{"c":{"ip":"10.1.0.2","mac":"","ifname":"eth0","host_veth":"v","aliases":[],"ports":[]}}}"#;
        let a: Allocations = serde_json::from_str(old).unwrap();
        assert_eq!(a.endpoints["c"].ip6, None);
    }
}
