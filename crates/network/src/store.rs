//! The network store, under one root (`/var/lib/skiff/network` for the
//! engine):
//!
//! ```text
//! ROOT/networks/<name>.json   network definitions (NetworkConfig)
//! ROOT/ipam/<name>.json       endpoints: addresses, veths, names, ports
//! ROOT/dns/<name>.json        the names the network's DNS responder serves
//! ROOT/lock                   held for every change, and while reading
//!                             what a change must see whole
//! ```
//!
//! Every file is written atomically, and every change is made under the
//! lock, so two `skiff` processes never hand out one address twice.

use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::cidr::{Ipv4Net, Ipv6Net};
use crate::error::{Error, Result};
use crate::fsutil::{
    create_dir_all, read_json, remove_file, write_json_atomic, write_json_replace,
};
use crate::ipam::Allocations;
use crate::netlink::Netlink;
use crate::network::{
    pick_subnet, pick_subnet6, NetworkConfig, NetworkOptions, DEFAULT_BRIDGE, DEFAULT_NETWORK,
};

/// The nftables table (family `inet`) skiff's rules live in by default.
pub const DEFAULT_TABLE: &str = "skiff";

/// An open network store.
#[derive(Debug, Clone)]
pub struct Networks {
    root: PathBuf,
    table: String,
    default_bridge: String,
}

/// The store's lock, held until dropped.
pub(crate) struct StoreLock {
    _file: File,
}

impl Networks {
    /// Opens (creating if needed) the store at `root`, with its rules in
    /// the nftables table `inet skiff`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Networks> {
        let store = Networks {
            root: root.into(),
            table: DEFAULT_TABLE.into(),
            default_bridge: DEFAULT_BRIDGE.into(),
        };
        for dir in ["networks", "ipam", "dns"] {
            create_dir_all(&store.root.join(dir))?;
        }
        Ok(store)
    }

    /// The same store with its rules in the nftables table `inet <table>`
    /// (tests give each store a table of its own).
    pub fn with_table(mut self, table: &str) -> Networks {
        self.table = table.into();
        self
    }

    /// The same store with the default network on bridge `name` (stores
    /// other than the system's, side by side on one host, each need one).
    pub fn with_default_bridge(mut self, name: &str) -> Networks {
        self.default_bridge = name.into();
        self
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The name of the store's nftables table (family `inet`).
    pub fn table(&self) -> &str {
        &self.table
    }

    pub(crate) fn lock(&self) -> Result<StoreLock> {
        let path = self.root.join("lock");
        let file = File::create(&path).map_err(|e| Error::io("creating", &path, e))?;
        file.lock().map_err(|e| Error::io("locking", &path, e))?;
        Ok(StoreLock { _file: file })
    }

    fn config_path(&self, name: &str) -> PathBuf {
        self.root.join("networks").join(format!("{name}.json"))
    }

    pub(crate) fn ipam_path(&self, name: &str) -> PathBuf {
        self.root.join("ipam").join(format!("{name}.json"))
    }

    /// The DNS records file of network `name`, as [`crate::dns::serve`]
    /// reads it.
    pub fn dns_records_path(&self, name: &str) -> PathBuf {
        self.root.join("dns").join(format!("{name}.json"))
    }

    /// The network called `name`.
    pub fn get(&self, name: &str) -> Result<NetworkConfig> {
        crate::network::check_name(name).map_err(|_| Error::UnknownNetwork(name.into()))?;
        read_json(&self.config_path(name))?.ok_or_else(|| Error::UnknownNetwork(name.into()))
    }

    /// Every network, by name.
    pub fn list(&self) -> Result<Vec<NetworkConfig>> {
        let dir = self.root.join("networks");
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io("reading", &dir, e))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("reading", &dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(name) = name.strip_suffix(".json").filter(|n| !n.starts_with('.')) {
                out.push(self.get(name)?);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The endpoints (containers, addresses, ports) of network `name`. A
    /// record a power cut emptied (see [`Networks::save_endpoints`]) reads
    /// as none: no container survives a power cut.
    pub fn endpoints(&self, name: &str) -> Result<Allocations> {
        let path = self.ipam_path(name);
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == 0) {
            return Ok(Allocations::default());
        }
        Ok(read_json(&path)?.unwrap_or_default())
    }

    /// Records the endpoints of network `name`, replaced by a rename but not
    /// fsynced: they describe running containers only, so what a power cut
    /// loses was gone anyway, and an fsync on every start and stop cost
    /// milliseconds (more under load).
    pub(crate) fn save_endpoints(&self, name: &str, allocations: &Allocations) -> Result<()> {
        write_json_replace(&self.ipam_path(name), allocations)
    }

    /// Records a new network after checking it: a free name and bridge, a
    /// subnet that overlaps no other network nor any host route.
    pub fn create(&self, opts: &NetworkOptions) -> Result<NetworkConfig> {
        let _lock = self.lock()?;
        self.create_locked(opts, "10.89.0.0/24")
    }

    /// The default network `skiff` (bridge `skiff0`), recorded on first
    /// use with 10.88.0.0/16, or the next free /16 when a host route or
    /// another network overlaps it.
    pub fn ensure_default(&self) -> Result<NetworkConfig> {
        let _lock = self.lock()?;
        if let Some(config) = read_json(&self.config_path(DEFAULT_NETWORK))? {
            return Ok(config);
        }
        let opts = NetworkOptions {
            name: DEFAULT_NETWORK.into(),
            bridge_name: Some(self.default_bridge.clone()),
            ..Default::default()
        };
        self.create_locked(&opts, "10.88.0.0/16")
    }

    fn create_locked(&self, opts: &NetworkOptions, pool_start: &str) -> Result<NetworkConfig> {
        crate::network::check_name(&opts.name)?;
        let others = self.list()?;
        if others.iter().any(|n| n.name == opts.name) {
            return Err(Error::NetworkExists(opts.name.clone()));
        }
        let mut nl = Netlink::new()?;
        let ctx = Context {
            routes: nl.ipv4_route_destinations()?,
            routes6: nl.ipv6_route_destinations()?,
            owner: self.config_path(&opts.name),
            others,
        };
        let subnet = match &opts.subnet {
            Some(s) => s.parse()?,
            None => {
                let mut taken: Vec<Ipv4Net> = ctx.others.iter().map(|n| n.subnet).collect();
                taken.extend(&ctx.routes);
                let start = pool_start.parse()?;
                claim_free(taken, &ctx.owner, |t| pick_subnet(start, t))?
            }
        };
        let made = choose_subnet6(opts, &ctx).and_then(|subnet6| {
            let made = record(opts, subnet, subnet6, &ctx);
            if let (Err(_), Some(s6)) = (&made, subnet6) {
                crate::claims::release(&s6, &ctx.owner);
            }
            made
        });
        if made.is_err() {
            crate::claims::release(&subnet, &ctx.owner);
        }
        made
    }

    pub(crate) fn forget(&self, name: &str) -> Result<()> {
        if let Ok(config) = self.get(name) {
            crate::claims::release(&config.subnet, &self.config_path(name));
            if let Some(subnet6) = config.subnet6 {
                crate::claims::release(&subnet6, &self.config_path(name));
            }
        }
        remove_file(&self.ipam_path(name))?;
        remove_file(&self.dns_records_path(name))?;
        remove_file(&self.dns_records_path(name).with_extension("lock"))?;
        remove_file(&self.config_path(name))
    }
}

/// What a new network is checked against.
struct Context {
    /// The store's other networks.
    others: Vec<NetworkConfig>,
    /// The host's IPv4 routes.
    routes: Vec<Ipv4Net>,
    /// The host's IPv6 routes.
    routes6: Vec<Ipv6Net>,
    /// The new network's config file, which its subnet claims name.
    owner: PathBuf,
}

/// The first subnet `pick` finds clear of `taken` that this host's other
/// stores have not claimed, claimed for `owner`.
fn claim_free<N: Copy + fmt::Display>(
    mut taken: Vec<N>,
    owner: &Path,
    pick: impl Fn(&[N]) -> Result<N>,
) -> Result<N> {
    loop {
        let candidate = pick(&taken)?;
        if crate::claims::claim(&candidate, owner)? {
            return Ok(candidate);
        }
        taken.push(candidate);
    }
}

/// The IPv6 subnet of a dual-stack network: the one given, or a free /64
/// (claimed) with `--ipv6` alone; none without either.
fn choose_subnet6(opts: &NetworkOptions, ctx: &Context) -> Result<Option<Ipv6Net>> {
    match (&opts.subnet6, opts.ipv6) {
        (Some(s), _) => s.parse().map(Some),
        (None, true) => {
            let mut taken: Vec<Ipv6Net> = ctx.others.iter().filter_map(|n| n.subnet6).collect();
            taken.extend(&ctx.routes6);
            claim_free(taken, &ctx.owner, pick_subnet6).map(Some)
        }
        (None, false) => Ok(None),
    }
}

/// Builds, checks and writes the network, claiming the subnets the
/// options gave (chosen ones were claimed when chosen).
fn record(
    opts: &NetworkOptions,
    subnet: Ipv4Net,
    subnet6: Option<Ipv6Net>,
    ctx: &Context,
) -> Result<NetworkConfig> {
    let config = NetworkConfig::from_options(opts, subnet, subnet6)?;
    check_against(&config, ctx)?;
    if opts.subnet.is_some() {
        claim_given(&subnet, &ctx.owner)?;
    }
    if let (Some(s6), Some(_)) = (subnet6, &opts.subnet6) {
        claim_given(&s6, &ctx.owner)?;
    }
    write_json_atomic(&ctx.owner, &config)?;
    Ok(config)
}

fn claim_given(subnet: &dyn fmt::Display, owner: &Path) -> Result<()> {
    if crate::claims::claim(subnet, owner)? {
        return Ok(());
    }
    Err(Error::Conflict(format!(
        "subnet {subnet} is taken by a network of another skiff store on this host"
    )))
}

/// Refuses a network whose bridge or subnets another network has, or whose
/// subnets a host route (not one of skiff's own bridges) already covers.
fn check_against(config: &NetworkConfig, ctx: &Context) -> Result<()> {
    if let Some(other) = ctx
        .others
        .iter()
        .find(|o| o.bridge_name == config.bridge_name)
    {
        return Err(Error::Conflict(format!(
            "bridge {} is already network {}'s",
            config.bridge_name, other.name
        )));
    }
    let theirs = ctx.others.iter().map(|o| (o.name.as_str(), o.subnet));
    check_overlap(config.subnet, theirs, &ctx.routes, Ipv4Net::overlaps)?;
    let Some(subnet6) = config.subnet6 else {
        return Ok(());
    };
    let theirs6 = ctx
        .others
        .iter()
        .filter_map(|o| Some((o.name.as_str(), o.subnet6?)));
    check_overlap(subnet6, theirs6, &ctx.routes6, Ipv6Net::overlaps)
}

/// Refuses `mine` when it overlaps another network's subnet (`theirs`, by
/// network name) or a host route that is not one of those networks'.
fn check_overlap<'a, N: Copy + PartialEq + fmt::Display>(
    mine: N,
    theirs: impl Iterator<Item = (&'a str, N)> + Clone,
    routes: &[N],
    overlaps: impl Fn(&N, &N) -> bool,
) -> Result<()> {
    if let Some((name, other)) = theirs.clone().find(|(_, o)| overlaps(o, &mine)) {
        return Err(Error::Conflict(format!(
            "subnet {mine} overlaps network {name}'s subnet {other}"
        )));
    }
    let ours = |r: &N| theirs.clone().any(|(_, o)| o == *r);
    if let Some(route) = routes.iter().find(|r| overlaps(r, &mine) && !ours(r)) {
        return Err(Error::Conflict(format!(
            "subnet {mine} overlaps the host's route to {route}: choose another --subnet"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(name: &str, subnet: &str, subnet6: Option<&str>) -> NetworkConfig {
        let opts = NetworkOptions {
            name: name.into(),
            ..Default::default()
        };
        let subnet6 = subnet6.map(|s| s.parse().unwrap());
        NetworkConfig::from_options(&opts, subnet.parse().unwrap(), subnet6).unwrap()
    }

    #[test]
    fn refuses_overlapping_ipv6_subnets_and_routes() {
        let ctx = Context {
            others: vec![network("a", "10.201.0.0/24", Some("fd42:1::/64"))],
            routes: Vec::new(),
            routes6: vec!["fd42:1::/64".parse().unwrap(), "fd00::/64".parse().unwrap()],
            owner: PathBuf::new(),
        };
        let clash = network("b", "10.201.1.0/24", Some("fd42:1::/48"));
        let err = check_against(&clash, &ctx).unwrap_err().to_string();
        assert!(
            err.contains("fd42:1::/48 overlaps network a's subnet fd42:1::/64"),
            "{err}"
        );
        let routed = network("c", "10.201.2.0/24", Some("fd00::/64"));
        let err = check_against(&routed, &ctx).unwrap_err().to_string();
        assert!(err.contains("the host's route to fd00::/64"), "{err}");
        let clear = network("d", "10.201.3.0/24", Some("fd42:2::/64"));
        assert!(check_against(&clear, &ctx).is_ok());
        assert!(check_against(&network("e", "10.201.4.0/24", None), &ctx).is_ok());
    }
}
