//! Addresses and routes.

use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::Netlink;
use crate::cidr::Ipv4Net;
use crate::error::Result;

impl Netlink {
    /// Adds `ip/prefix` to link `index` (with its broadcast address);
    /// an address already there is replaced rather than refused, so a
    /// bridge left by a crash is simply re-addressed.
    pub fn add_address(&mut self, index: u32, ip: Ipv4Addr, prefix: u8) -> Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.prefix_len = prefix;
        msg.header.index = index;
        msg.attributes = vec![
            AddressAttribute::Local(IpAddr::V4(ip)),
            AddressAttribute::Address(IpAddr::V4(ip)),
        ];
        if let Ok(net) = Ipv4Net::new(ip, prefix) {
            if prefix < 31 {
                msg.attributes
                    .push(AddressAttribute::Broadcast(net.broadcast()));
            }
        }
        self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_REPLACE,
            &format!("adding address {ip}/{prefix} to link {index}"),
        )
    }

    /// Adds the default route through `gateway` on link `index`.
    pub fn add_default_route(&mut self, index: u32, gateway: Ipv4Addr) -> Result<()> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Static;
        msg.header.scope = RouteScope::Universe;
        msg.header.kind = RouteType::Unicast;
        msg.attributes = vec![
            RouteAttribute::Gateway(RouteAddress::Inet(gateway)),
            RouteAttribute::Oif(index),
        ];
        self.request(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            &format!("adding default route via {gateway}"),
        )
    }

    /// The destinations of the IPv4 routes in every table, except the
    /// default route (whose destination is everything) and local/broadcast
    /// entries: the subnets a new network must not collide with.
    pub fn ipv4_route_destinations(&mut self) -> Result<Vec<Ipv4Net>> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        let answers = self.dump(RouteNetlinkMessage::GetRoute(msg), "listing routes")?;
        let mut out = Vec::new();
        for answer in answers {
            let RouteNetlinkMessage::NewRoute(route) = answer else {
                continue;
            };
            let prefix = route.header.destination_prefix_length;
            if route.header.kind != RouteType::Unicast || prefix == 0 {
                continue;
            }
            for attr in &route.attributes {
                if let RouteAttribute::Destination(RouteAddress::Inet(dst)) = attr {
                    out.extend(Ipv4Net::new(*dst, prefix));
                }
            }
        }
        Ok(out)
    }
}
