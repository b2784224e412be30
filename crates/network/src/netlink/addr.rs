//! Addresses and routes.

use std::net::IpAddr;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::Netlink;
use crate::cidr::{Ipv4Net, Ipv6Net};
use crate::error::Result;

fn family(ip: IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

impl Netlink {
    /// Adds `ip/prefix` to link `index`: an IPv4 address with its
    /// broadcast address, an IPv6 one without duplicate address detection
    /// (usable at once). An address already there is replaced rather than
    /// refused, so a bridge left by a crash is simply re-addressed.
    pub fn add_address(&mut self, index: u32, ip: IpAddr, prefix: u8) -> Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.family = family(ip);
        msg.header.prefix_len = prefix;
        msg.header.index = index;
        msg.attributes = vec![AddressAttribute::Local(ip), AddressAttribute::Address(ip)];
        match ip {
            IpAddr::V4(v4) if prefix < 31 => {
                if let Ok(net) = Ipv4Net::new(v4, prefix) {
                    msg.attributes
                        .push(AddressAttribute::Broadcast(net.broadcast()));
                }
            }
            IpAddr::V4(_) => {}
            IpAddr::V6(_) => msg
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad)),
        }
        self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_REPLACE,
            &format!("adding address {ip}/{prefix} to link {index}"),
        )
    }

    /// Adds the default route (of `gateway`'s family) through `gateway`
    /// on link `index`.
    pub fn add_default_route(&mut self, index: u32, gateway: IpAddr) -> Result<()> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = family(gateway);
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Static;
        msg.header.scope = RouteScope::Universe;
        msg.header.kind = RouteType::Unicast;
        msg.attributes = vec![
            RouteAttribute::Gateway(RouteAddress::from(gateway)),
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
        self.route_destinations(AddressFamily::Inet, |dst, prefix| match dst {
            RouteAddress::Inet(ip) => Ipv4Net::new(ip, prefix).ok(),
            _ => None,
        })
    }

    /// The same for IPv6 routes (link-local `fe80::/64` included).
    pub fn ipv6_route_destinations(&mut self) -> Result<Vec<Ipv6Net>> {
        self.route_destinations(AddressFamily::Inet6, |dst, prefix| match dst {
            RouteAddress::Inet6(ip) => Ipv6Net::new(ip, prefix).ok(),
            _ => None,
        })
    }

    /// The destinations of `family`'s unicast routes other than default
    /// routes, as `subnet` makes them from an address and a prefix length.
    fn route_destinations<N>(
        &mut self,
        family: AddressFamily,
        subnet: impl Fn(RouteAddress, u8) -> Option<N>,
    ) -> Result<Vec<N>> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = family;
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
            for attr in route.attributes {
                if let RouteAttribute::Destination(dst) = attr {
                    out.extend(subnet(dst, prefix));
                }
            }
        }
        Ok(out)
    }
}
