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

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::cidr::Ipv4Net;
use crate::error::{Error, Result};
use crate::fsutil::{create_dir_all, read_json, remove_file, write_json_atomic};
use crate::ipam::Allocations;
use crate::netlink::Netlink;
use crate::network::{pick_subnet, NetworkConfig, NetworkOptions, DEFAULT_BRIDGE, DEFAULT_NETWORK};

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

    /// The endpoints (containers, addresses, ports) of network `name`.
    pub fn endpoints(&self, name: &str) -> Result<Allocations> {
        Ok(read_json(&self.ipam_path(name))?.unwrap_or_default())
    }

    pub(crate) fn save_endpoints(&self, name: &str, allocations: &Allocations) -> Result<()> {
        write_json_atomic(&self.ipam_path(name), allocations)
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
        let routes = Netlink::new()?.ipv4_route_destinations()?;
        let owner = self.config_path(&opts.name);
        let subnet = match &opts.subnet {
            Some(s) => s.parse()?,
            None => {
                let mut taken: Vec<Ipv4Net> = others.iter().map(|n| n.subnet).collect();
                taken.extend(&routes);
                loop {
                    let candidate = pick_subnet(pool_start.parse()?, &taken)?;
                    if crate::claims::claim(&candidate, &owner)? {
                        break candidate;
                    }
                    taken.push(candidate);
                }
            }
        };
        let made = NetworkConfig::from_options(opts, subnet).and_then(|config| {
            check_against(&config, &others, &routes)?;
            if opts.subnet.is_some() && !crate::claims::claim(&subnet, &owner)? {
                return Err(Error::Conflict(format!(
                    "subnet {subnet} is taken by a network of another skiff store on this host"
                )));
            }
            write_json_atomic(&owner, &config)?;
            Ok(config)
        });
        if made.is_err() {
            crate::claims::release(&subnet, &owner);
        }
        made
    }

    pub(crate) fn forget(&self, name: &str) -> Result<()> {
        if let Ok(config) = self.get(name) {
            crate::claims::release(&config.subnet, &self.config_path(name));
        }
        remove_file(&self.ipam_path(name))?;
        remove_file(&self.dns_records_path(name))?;
        remove_file(&self.dns_records_path(name).with_extension("lock"))?;
        remove_file(&self.config_path(name))
    }
}

/// Refuses a network whose bridge or subnet another network has, or whose
/// subnet a host route (not one of skiff's own bridges) already covers.
fn check_against(
    config: &NetworkConfig,
    others: &[NetworkConfig],
    routes: &[Ipv4Net],
) -> Result<()> {
    for other in others {
        if other.bridge_name == config.bridge_name {
            return Err(Error::Conflict(format!(
                "bridge {} is already network {}'s",
                config.bridge_name, other.name
            )));
        }
        if other.subnet.overlaps(&config.subnet) {
            return Err(Error::Conflict(format!(
                "subnet {} overlaps network {}'s subnet {}",
                config.subnet, other.name, other.subnet
            )));
        }
    }
    let ours = |r: &Ipv4Net| others.iter().any(|o| o.subnet == *r);
    if let Some(route) = routes
        .iter()
        .find(|r| r.overlaps(&config.subnet) && !ours(r))
    {
        return Err(Error::Conflict(format!(
            "subnet {} overlaps the host's route to {route}: choose another --subnet",
            config.subnet
        )));
    }
    Ok(())
}
