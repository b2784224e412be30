//! A network's bridge: made on first use, addressed with the gateway (and
//! the IPv6 gateway on a dual-stack network).

use crate::error::Result;
use crate::netlink::Netlink;
use crate::network::NetworkConfig;
use crate::store::Networks;
use crate::sysctl;

impl Networks {
    /// Makes sure the bridge of `net` exists, has the gateway address and
    /// is up, with forwarding on. Returns whether it was created now, so a
    /// failed connect knows to delete it again.
    pub(crate) fn ensure_bridge(&self, net: &NetworkConfig) -> Result<bool> {
        let mut nl = Netlink::new()?;
        let created = match nl.link_by_name(&net.bridge_name)? {
            Some(_) => false,
            None => {
                nl.create_bridge(&net.bridge_name, net.mtu)?;
                true
            }
        };
        let configured = configure(&mut nl, net);
        if configured.is_err() && created {
            let _ = nl.delete_link(&net.bridge_name);
        }
        configured.map(|()| created)
    }
}

fn configure(nl: &mut Netlink, net: &NetworkConfig) -> Result<()> {
    let bridge = crate::connect::find(nl, &net.bridge_name)?;
    nl.add_address(bridge.index, net.gateway.into(), net.subnet.prefix())?;
    if let (Some(subnet6), Some(gateway6)) = (net.subnet6, net.gateway6) {
        sysctl::enable_ipv6(&net.bridge_name)?;
        nl.add_address(bridge.index, gateway6.into(), subnet6.prefix())?;
        if !net.internal {
            sysctl::enable_ipv6_forward()?;
        }
    }
    nl.set_up(bridge.index, None)?;
    sysctl::enable_ip_forward()?;
    sysctl::enable_route_localnet(&net.bridge_name)
}
