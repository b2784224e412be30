//! Connecting a container's network namespace to a network, and undoing it.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::ipam::Endpoint;
use crate::netlink::{Netlink, VethSpec};
use crate::network::{check_ifname, NetworkConfig};
use crate::ports::PortMapping;
use crate::store::Networks;
use crate::{dns, mac};

/// How a container joins a network.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The interface's name inside the namespace: `eth0`, `eth1` for a
    /// second network.
    pub ifname: String,
    /// A static address (`--ip`); the next free one when `None`.
    pub ip: Option<Ipv4Addr>,
    /// A MAC address (`--mac-address`); a random local one when `None`.
    pub mac: Option<String>,
    /// The names other containers on the network resolve to this one: the
    /// engine passes the container's name, short id and `--network-alias`es.
    pub aliases: Vec<String>,
    /// The interface's MTU; the network's when `None`.
    pub mtu: Option<u32>,
    /// Ports to publish on the host (`-p`), forwarded to this address.
    pub ports: Vec<PortMapping>,
}

impl Default for ConnectOptions {
    fn default() -> ConnectOptions {
        ConnectOptions {
            ifname: "eth0".into(),
            ip: None,
            mac: None,
            aliases: Vec::new(),
            mtu: None,
            ports: Vec::new(),
        }
    }
}

/// What a connection made, for the engine to record and show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The network's name.
    pub network: String,
    /// The interface's name inside the namespace.
    pub ifname: String,
    /// The container's address.
    pub ip: Ipv4Addr,
    /// The subnet's prefix length.
    pub prefix: u8,
    /// The gateway (the bridge's address, and the DNS server where the
    /// network has one).
    pub gateway: Ipv4Addr,
    /// The container's IPv6 address, on a dual-stack network.
    pub ip6: Option<Ipv6Addr>,
    /// The IPv6 subnet's prefix length, on a dual-stack network.
    pub prefix6: Option<u8>,
    /// The IPv6 gateway, on a dual-stack network.
    pub gateway6: Option<Ipv6Addr>,
    /// The interface's MAC address.
    pub mac: String,
    /// The host end of the veth pair.
    pub host_veth: String,
    /// The published ports, with the host ports that were chosen.
    pub ports: Vec<PortMapping>,
}

/// The host end's name for `container_id` on `network`: the same after a
/// crash as before it, so whatever is left over is found and replaced.
pub fn host_veth_name(container_id: &str, network: &str) -> String {
    let hash = Sha256::digest(format!("{container_id}\0{network}").as_bytes());
    format!("veth{}", &hex::encode(hash)[..8])
}

impl Networks {
    /// Wires the namespace at `netns` (`/proc/PID/ns/net` or a bind-mounted
    /// namespace file) to `network`: creates the bridge and its rules if
    /// missing, a veth pair with its peer named `opts.ifname` inside, the
    /// addresses (IPv6 too on a dual-stack network), `lo` up and the
    /// default routes, and publishes `opts.ports`.
    /// On error, everything it made is undone.
    pub fn connect(
        &self,
        network: &str,
        container_id: &str,
        netns: &Path,
        opts: &ConnectOptions,
    ) -> Result<Attachment> {
        let _lock = self.lock()?;
        let net = self.get(network)?;
        check_ifname(&opts.ifname)?;
        let old = self.endpoints(network)?;
        if old.endpoints.contains_key(container_id) {
            return Err(Error::Conflict(format!(
                "container {container_id} is already connected to network {network}"
            )));
        }
        let endpoint = Endpoint {
            ip: old.allocate(&net, opts.ip)?,
            ip6: old.allocate6(&net)?,
            mac: match &opts.mac {
                Some(m) => mac::format(mac::parse(m)?),
                None => mac::format(mac::random()),
            },
            ifname: opts.ifname.clone(),
            host_veth: host_veth_name(container_id, network),
            aliases: opts.aliases.clone(),
            ports: self.claim_ports(&opts.ports)?,
        };
        let mut new = old.clone();
        new.insert(container_id, endpoint.clone());
        let created_bridge = self.ensure_bridge(&net)?;
        let mtu = opts.mtu.unwrap_or(net.mtu);
        let made = wire(&net, &endpoint, netns, mtu)
            .and_then(|()| self.apply_rules(Some((network, &new))))
            .and_then(|()| self.save_endpoints(network, &new))
            .and_then(|()| self.add_names(&net, container_id, &endpoint));
        if let Err(e) = made {
            self.undo_connect(&net, container_id, &endpoint, created_bridge);
            let _ = self.save_endpoints(network, &old);
            let _ = self.apply_rules(None);
            return Err(e);
        }
        Ok(attachment(&net, endpoint))
    }

    fn undo_connect(
        &self,
        net: &NetworkConfig,
        container_id: &str,
        endpoint: &Endpoint,
        created_bridge: bool,
    ) {
        if let Ok(mut nl) = Netlink::new() {
            let _ = nl.delete_link(&endpoint.host_veth);
            if created_bridge {
                let _ = nl.delete_link(&net.bridge_name);
            }
        }
        if net.dns_enabled {
            let _ = dns::records::remove(&self.dns_records_path(&net.name), container_id);
        }
    }

    fn add_names(&self, net: &NetworkConfig, container_id: &str, e: &Endpoint) -> Result<()> {
        if !net.dns_enabled || e.aliases.is_empty() {
            return Ok(());
        }
        let record = dns::records::Record {
            container_id: container_id.into(),
            names: e.aliases.clone(),
            ips: std::iter::once(e.ip.into())
                .chain(e.ip6.map(Into::into))
                .collect(),
        };
        dns::records::add(&self.dns_records_path(&net.name), record)
    }

    /// Takes the container off `network`: deletes its veth pair (the kernel
    /// deletes the peer), releases its address, its names and its ports.
    /// A container that is not connected is not an error, so cleanup after
    /// a crash can always call it.
    pub fn disconnect(&self, network: &str, container_id: &str) -> Result<()> {
        self.take_off(network, container_id, true)
    }

    /// [`Networks::disconnect`] for a container whose processes are all
    /// gone: its veth pair is left to the kernel, which deletes it with the
    /// container's network namespace, in the background. Deleting it here
    /// would wait for the kernel to unregister both ends (15-35 ms, two
    /// RCU grace periods), work the namespace's end does anyway.
    pub fn release(&self, network: &str, container_id: &str) -> Result<()> {
        self.take_off(network, container_id, false)
    }

    fn take_off(&self, network: &str, container_id: &str, delete_veth: bool) -> Result<()> {
        let _lock = self.lock()?;
        let net = self.get(network)?;
        let mut allocations = self.endpoints(network)?;
        if delete_veth {
            Netlink::new()?.delete_link(&host_veth_name(container_id, network))?;
        }
        if allocations.endpoints.remove(container_id).is_none() {
            return Ok(());
        }
        self.save_endpoints(network, &allocations)?;
        if net.dns_enabled {
            dns::records::remove(&self.dns_records_path(network), container_id)?;
        }
        self.apply_rules(None)
    }

    /// Deletes network `name`: its bridge, its rules and its files.
    /// Refused while containers are attached, unless `force`, which
    /// disconnects them first.
    pub fn remove_network(&self, name: &str, force: bool) -> Result<()> {
        let _lock = self.lock()?;
        let net = self.get(name)?;
        let allocations = self.endpoints(name)?;
        if !allocations.endpoints.is_empty() && !force {
            let ids: Vec<&str> = allocations.endpoints.keys().map(String::as_str).collect();
            return Err(Error::Conflict(format!(
                "network {name} has containers attached ({}): disconnect them first",
                ids.join(", ")
            )));
        }
        let mut nl = Netlink::new()?;
        for endpoint in allocations.endpoints.values() {
            nl.delete_link(&endpoint.host_veth)?;
        }
        nl.delete_link(&net.bridge_name)?;
        self.forget(name)?;
        self.apply_rules(None)
    }
}

fn attachment(net: &NetworkConfig, e: Endpoint) -> Attachment {
    Attachment {
        network: net.name.clone(),
        ifname: e.ifname,
        ip: e.ip,
        prefix: net.subnet.prefix(),
        gateway: net.gateway,
        ip6: e.ip6,
        prefix6: net.subnet6.map(|s| s.prefix()),
        gateway6: net.gateway6,
        mac: e.mac,
        host_veth: e.host_veth,
        ports: e.ports,
    }
}

/// Makes the veth pair and configures both ends: the addresses and
/// default routes of each family the network has. A leftover host end of
/// the same name (from a crash) is deleted first.
fn wire(net: &NetworkConfig, e: &Endpoint, netns: &Path, mtu: u32) -> Result<()> {
    let ns = File::open(netns).map_err(|err| Error::io("opening network namespace", netns, err))?;
    let mut host = Netlink::new()?;
    host.delete_link(&e.host_veth)?;
    let bridge = find(&mut host, &net.bridge_name)?;
    host.create_veth(&VethSpec {
        host_name: &e.host_veth,
        peer_name: &e.ifname,
        peer_netns: ns.as_raw_fd(),
        peer_mac: mac::parse(&e.mac)?,
        mtu,
    })?;
    let veth = find(&mut host, &e.host_veth)?;
    host.set_up(veth.index, Some(bridge.index))?;
    configure_inside(net, e, netns)
}

/// Inside the namespace: `lo` up, the interface's addresses, up, and the
/// default routes.
fn configure_inside(net: &NetworkConfig, e: &Endpoint, netns: &Path) -> Result<()> {
    let mut inside = Netlink::in_netns(netns)?;
    let lo = find(&mut inside, "lo")?;
    inside.set_up(lo.index, None)?;
    let eth = find(&mut inside, &e.ifname)?;
    inside.add_address(eth.index, e.ip.into(), net.subnet.prefix())?;
    if let (Some(ip6), Some(subnet6)) = (e.ip6, net.subnet6) {
        inside.add_address(eth.index, ip6.into(), subnet6.prefix())?;
    }
    inside.set_up(eth.index, None)?;
    add_default_route(&mut inside, eth.index, net.gateway.into())?;
    match net.gateway6 {
        Some(gateway6) if e.ip6.is_some() => {
            add_default_route(&mut inside, eth.index, gateway6.into())
        }
        _ => Ok(()),
    }
}

/// Adds a default route; a second network (eth1) leaves the first one's.
fn add_default_route(nl: &mut Netlink, index: u32, gateway: IpAddr) -> Result<()> {
    match nl.add_default_route(index, gateway) {
        Err(Error::Netlink { source, .. }) if source.raw_os_error() == Some(libc::EEXIST) => Ok(()),
        other => other,
    }
}

pub(crate) fn find(nl: &mut Netlink, name: &str) -> Result<crate::netlink::LinkInfo> {
    nl.link_by_name(name)?
        .ok_or_else(|| Error::Other(format!("link {name} vanished while being set up")))
}
