//! Network commands, `port`, and the DNS responder's entry point.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use skiff_engine::containers::view::ContainerView;
use skiff_engine::Engine;
use skiff_network::NetworkOptions;

use crate::cli::{
    ForceArg, InternalDnsArgs, NamesArg, NetworkConnectArgs, NetworkCreateArgs, PortArgs, QuietArg,
};
use crate::format::table;
use crate::parse;

/// `network create`
pub fn create(engine: &Engine, a: NetworkCreateArgs) -> Result<u8> {
    if a.driver != "bridge" {
        bail!(
            "unknown network driver {:?}: bridge is the only one",
            a.driver
        );
    }
    let mut mtu = None;
    let mut bridge_name = None;
    for o in &a.opt {
        match o.split_once('=') {
            Some(("mtu" | "com.docker.network.driver.mtu", v)) => {
                mtu = Some(
                    v.parse()
                        .map_err(|_| anyhow::anyhow!("invalid -o {o:?}: mtu is a number"))?,
                )
            }
            Some(("com.docker.network.bridge.name", v)) => bridge_name = Some(v.to_string()),
            _ => {
                bail!("unknown network option {o:?}: mtu=N or com.docker.network.bridge.name=NAME")
            }
        }
    }
    let (subnet, subnet6) = by_family("--subnet", &a.subnet)?;
    let (gateway, gateway6) = by_family("--gateway", &a.gateway)?;
    let opts = NetworkOptions {
        name: a.name.clone(),
        bridge_name,
        subnet,
        gateway,
        ip_range: a.ip_range,
        ipv6: a.ipv6 || subnet6.is_some(),
        subnet6,
        gateway6,
        internal: a.internal,
        mtu,
        labels: parse::labels(&a.label),
        dns_enabled: true,
    };
    let network = engine.create_network(&opts)?;
    println!("{}", network.name);
    Ok(0)
}

/// Sorts repeated `flag` values into the IPv4 one and the IPv6 one (with
/// a ':'); more than one of a family is refused.
fn by_family(flag: &str, values: &[String]) -> Result<(Option<String>, Option<String>)> {
    let (v6, v4): (Vec<&String>, Vec<&String>) = values.iter().partition(|v| v.contains(':'));
    for (family, given) in [("IPv4", &v4), ("IPv6", &v6)] {
        if given.len() > 1 {
            bail!("at most one {family} {flag}: got {given:?}");
        }
    }
    Ok((
        v4.first().map(|v| v.to_string()),
        v6.first().map(|v| v.to_string()),
    ))
}

/// `network ls`
pub fn list(engine: &Engine, a: QuietArg) -> Result<u8> {
    let networks = engine.list_networks()?;
    if a.quiet {
        networks.iter().for_each(|n| println!("{}", n.name));
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = networks
        .iter()
        .map(|n| {
            vec![
                n.name.clone(),
                n.driver.clone(),
                n.bridge_name.clone(),
                n.subnet6
                    .map_or(n.subnet.to_string(), |s6| format!("{},{s6}", n.subnet)),
                n.internal.to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(&["NAME", "DRIVER", "BRIDGE", "SUBNET", "INTERNAL"], &rows)
    );
    Ok(0)
}

/// `network inspect`
pub fn inspect(engine: &Engine, a: NamesArg) -> Result<u8> {
    super::print_docs(&a.names, |n| engine.inspect_network(n))
}

/// `network rm`
pub fn remove(engine: &Engine, a: NamesArg) -> Result<u8> {
    Ok(super::for_each_name(&a.names, |n| engine.remove_network(n)))
}

/// `network prune`
pub fn prune(engine: &Engine, _: ForceArg) -> Result<u8> {
    super::print_deleted("Deleted Networks", &engine.prune_networks()?);
    Ok(0)
}

/// `network connect`
pub fn connect(engine: &Engine, a: NetworkConnectArgs) -> Result<u8> {
    engine.connect_network(&a.network, &a.container)?;
    Ok(0)
}

/// `network disconnect`
pub fn disconnect(engine: &Engine, a: NetworkConnectArgs) -> Result<u8> {
    engine.disconnect_network(&a.network, &a.container)?;
    Ok(0)
}

/// A container's published ports: each container port (`80/tcp`) with
/// the host addresses it is published on (`127.0.0.1:8080`).
pub fn published(view: &ContainerView) -> Result<BTreeMap<String, Vec<String>>> {
    let mut lines = BTreeMap::new();
    for attachment in &view.state.networks {
        for spec in &attachment.ports {
            let m: skiff_network::PortMapping = spec.parse()?;
            let ip = m.host_ip.map_or("0.0.0.0".to_string(), |ip| ip.to_string());
            for (host, inside) in m.pairs() {
                let inside = format!("{inside}/{}", m.protocol);
                lines
                    .entry(inside)
                    .or_insert_with(Vec::new)
                    .push(format!("{ip}:{host}"));
            }
        }
    }
    Ok(lines)
}

/// `port`: `80/tcp -> 127.0.0.1:8080` for each published port.
pub fn port(engine: &Engine, a: PortArgs) -> Result<u8> {
    let lines = published(&engine.container(&a.container)?)?;
    let wanted = a.port.map(|p| {
        if p.contains('/') {
            p
        } else {
            format!("{p}/tcp")
        }
    });
    for (inside, outside) in &lines {
        if wanted.as_ref().is_none_or(|w| w == inside) {
            for o in outside {
                println!("{inside} -> {o}");
            }
        }
    }
    if wanted.is_some_and(|w| !lines.contains_key(&w)) {
        bail!("no public port for that container port");
    }
    Ok(0)
}

/// `internal-dns`: serves a network's names until killed.
pub fn serve_dns(a: &InternalDnsArgs) -> Result<u8> {
    skiff_network::dns::serve(&a.network, a.listen, &a.records, a.upstream.clone())?;
    Ok(0)
}
