//! Claiming host ports: refusing one another container publishes, and
//! choosing a free one for `-p 80`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};

use crate::error::{Error, Result};
use crate::ports::{PortMapping, Protocol};
use crate::store::Networks;

/// Where host ports are chosen for `-p CONTAINERPORT`: Linux's default
/// ephemeral range.
const EPHEMERAL: std::ops::RangeInclusive<u16> = 32768..=60999;

impl Networks {
    /// Checks `requested` against every port published in the store (and
    /// against each other) and fills in host ports left at 0.
    pub(crate) fn claim_ports(&self, requested: &[PortMapping]) -> Result<Vec<PortMapping>> {
        let mut taken: Vec<(String, PortMapping)> = Vec::new();
        for net in self.list()? {
            for (id, e) in self.endpoints(&net.name)?.endpoints {
                taken.extend(e.ports.into_iter().map(|p| (id.clone(), p)));
            }
        }
        let mut out = Vec::new();
        for port in requested {
            if matches!(port.host_ip, Some(IpAddr::V6(_))) {
                return Err(Error::Invalid(format!(
                    "cannot publish {port}: IPv6 host addresses are not supported yet"
                )));
            }
            let mut port = *port;
            if port.host_port == 0 {
                port.host_port = free_port(&port, &taken)?;
            }
            if let Some((id, other)) = taken.iter().find(|(_, t)| t.conflicts_with(&port)) {
                return Err(Error::Conflict(format!(
                    "port {port} is already published by container {id} as {other}"
                )));
            }
            taken.push(("this container".into(), port));
            out.push(port);
        }
        Ok(out)
    }
}

fn free_port(port: &PortMapping, taken: &[(String, PortMapping)]) -> Result<u16> {
    free_host_port(port, |c| taken.iter().any(|(_, t)| t.conflicts_with(c)))
}

/// A host port for `port`, whose own is left at 0: the first of Linux's
/// ephemeral range from which all its ports fit, none is `taken`, and a
/// host socket could have each (one a host program already listens on
/// would never see its connections).
pub fn free_host_port(port: &PortMapping, taken: impl Fn(&PortMapping) -> bool) -> Result<u16> {
    EPHEMERAL
        .filter(|first| u32::from(*first) + u32::from(port.range) <= 65536)
        .map(|p| PortMapping {
            host_port: p,
            ..*port
        })
        .find(|c| !taken(c) && bindable(c))
        .map(|c| c.host_port)
        .ok_or_else(|| Error::Conflict(format!("no free host port for {port}")))
}

fn bindable(port: &PortMapping) -> bool {
    let ip = port.host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    port.pairs().all(|(host, _)| {
        let addr = SocketAddr::new(ip, host);
        match port.protocol {
            Protocol::Tcp => TcpListener::bind(addr).is_ok(),
            Protocol::Udp => UdpSocket::bind(addr).is_ok(),
        }
    })
}
