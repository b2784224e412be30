//! Containers on networks: the network modes (`none`, `host`,
//! `container:ID`, `slirp4netns`, `bridge` for the default network `skiff`,
//! or a network's name), wiring a container's namespace when it starts and unwiring it when
//! it stops, its `/etc/hosts` and `/etc/resolv.conf`, the DNS responder of
//! each network that has one, and the `network` commands.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use skiff_network::etc_files::{self, HostsOptions, ResolvOptions};
use skiff_network::{ConnectOptions, NetworkConfig, NetworkOptions, Networks, PortMapping};

use crate::containers::driver::Created;
use crate::containers::{ContainerConfig, NetAttachment};
use crate::{slirp, Engine, Error, Result};

/// How a container is networked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Its own namespace with only `lo`.
    None,
    /// The host's namespace.
    Host,
    /// Another container's namespace.
    Container(String),
    /// Its own namespace, reaching out through a slirp4netns process.
    Slirp,
    /// Its own namespace on these networks (the first is `eth0`).
    Networks(Vec<String>),
}

/// The network a container gets without `--network`: the default bridge
/// network for root; for an ordinary user, who may make no links,
/// slirp4netns.
pub fn default_network() -> String {
    match crate::rootless::active() {
        true => slirp::NETWORK.into(),
        false => "bridge".into(),
    }
}

/// The mode that `--network VALUE` and later connects give.
pub fn mode(config: &ContainerConfig) -> Mode {
    match config.network.as_str() {
        "none" => Mode::None,
        "host" => Mode::Host,
        other if slirp::Options::of(other).is_some() => Mode::Slirp,
        other => match other.strip_prefix("container:") {
            Some(target) => Mode::Container(target.to_string()),
            None => {
                let first = if other == "bridge" || other.is_empty() {
                    skiff_network::DEFAULT_NETWORK.to_string()
                } else {
                    other.to_string()
                };
                let mut all = vec![first];
                all.extend(config.net.extra_networks.iter().cloned());
                Mode::Networks(all)
            }
        },
    }
}

/// The network store for an engine root: the system's (`/var/lib/skiff`)
/// uses the table `inet skiff` and bridge `skiff0`; any other root gets a
/// table and default bridge named from a hash of its path, so that stores
/// side by side on one host never touch each other's rules or links.
pub fn open_networks(root: &Path) -> Result<Networks> {
    let store = Networks::open(root.join("network")).map_err(net_err)?;
    if root == Path::new(skiff_image::store::DEFAULT_ROOT) {
        return Ok(store);
    }
    let hash = skiff_image::Digest::sha256_of(root.as_os_str().as_bytes());
    let tag = &hash.hex()[..8];
    Ok(store
        .with_table(&format!("skiff_{tag}"))
        .with_default_bridge(&format!("sk{tag}0")))
}

/// A network crate error, kept as clear as it came.
pub fn net_err(e: skiff_network::Error) -> Error {
    match e {
        skiff_network::Error::Io { .. } => Error::Runtime(e.to_string()),
        other => Error::Invalid(other.to_string()),
    }
}

impl Engine {
    /// Checks a new container's networking flags before it is recorded.
    pub(crate) fn validate_net(&self, config: &ContainerConfig) -> Result<()> {
        for p in &config.net.publish {
            p.parse::<PortMapping>().map_err(net_err)?;
        }
        match mode(config) {
            Mode::Networks(names) => {
                if names[0] == skiff_network::DEFAULT_NETWORK {
                    self.networks.ensure_default().map_err(net_err)?;
                }
                self.networks.get(&names[0]).map_err(net_err)?;
            }
            Mode::Container(target) => {
                self.containers.find(&target)?;
            }
            Mode::Slirp => {
                slirp_options(config)?;
                slirp::binary()?;
                slirp::check_ports(&self.port_mappings(config)?)?;
            }
            Mode::None | Mode::Host if !config.net.publish.is_empty() => {
                return Err(Error::Invalid(format!(
                    "-p needs a network; the container's network is {}",
                    config.network
                )));
            }
            Mode::None | Mode::Host => {}
        }
        Ok(())
    }

    /// The network namespace a container joins (`container:ID`), if any.
    pub(crate) fn joined_netns(&self, config: &ContainerConfig) -> Result<Option<String>> {
        let Mode::Container(target) = mode(config) else {
            return Ok(None);
        };
        let view = self.container(&target)?;
        if view.state.pid <= 0 {
            return Err(Error::Conflict(format!(
                "cannot join the network of container {}: it is not running",
                view.config.name
            )));
        }
        Ok(Some(format!("/proc/{}/ns/net", view.state.pid)))
    }

    /// Wires the namespace of the container's init (`created`) to its
    /// networks and writes its `/etc` files; on failure nothing stays
    /// connected.
    pub(crate) fn connect_container(
        &self,
        config: &ContainerConfig,
        created: &Created,
    ) -> Result<Vec<NetAttachment>> {
        let pid = created.pid;
        let mut attachments = Vec::new();
        if let Mode::Slirp = mode(config) {
            let netns = created.netns.as_ref().ok_or_else(|| {
                Error::Runtime("the runtime handed back no network namespace".into())
            })?;
            let namespaces = slirp::Namespaces {
                net: netns,
                user: created.userns.as_ref(),
            };
            let ports = self.port_mappings(config)?;
            let files = self.slirp_files(&config.id);
            let mac = config.net.mac.as_deref();
            let options = slirp_options(config)?;
            attachments.push(slirp::start(&files, &namespaces, options, mac, &ports)?);
        }
        if let Mode::Networks(names) = mode(config) {
            self.networks.ensure_rules().map_err(net_err)?;
            let netns = PathBuf::from(format!("/proc/{pid}/ns/net"));
            for (i, name) in names.iter().enumerate() {
                match self.connect_one(config, name, i, &netns) {
                    Ok(a) => attachments.push(a),
                    Err(e) => {
                        self.disconnect_all(&config.id, &attachments);
                        return Err(e);
                    }
                }
            }
        }
        self.write_net_files(config, &attachments)?;
        Ok(attachments)
    }

    fn connect_one(
        &self,
        config: &ContainerConfig,
        name: &str,
        index: usize,
        netns: &Path,
    ) -> Result<NetAttachment> {
        let network = self.networks.get(name).map_err(net_err)?;
        let mut aliases = vec![config.name.clone(), config.id[..12].to_string()];
        aliases.extend(config.net.aliases.iter().cloned());
        let ports = if index == 0 {
            self.port_mappings(config)?
        } else {
            Vec::new()
        };
        let ip = match (&config.net.ip, index) {
            (Some(ip), 0) => Some(
                ip.parse::<Ipv4Addr>()
                    .map_err(|_| Error::Invalid(format!("invalid --ip {ip:?}")))?,
            ),
            _ => None,
        };
        let opts = ConnectOptions {
            ifname: format!("eth{index}"),
            ip,
            mac: if index == 0 {
                config.net.mac.clone()
            } else {
                None
            },
            aliases,
            mtu: None,
            ports,
        };
        let a = self
            .networks
            .connect(name, &config.id, netns, &opts)
            .map_err(net_err)?;
        if network.dns_enabled {
            self.ensure_dns(&network)?;
        }
        Ok(NetAttachment {
            network: a.network,
            ifname: a.ifname,
            ip: a.ip.to_string(),
            prefix: a.prefix,
            gateway: a.gateway.to_string(),
            ip6: a.ip6.map(|ip| ip.to_string()).unwrap_or_default(),
            prefix6: a.prefix6.unwrap_or(0),
            gateway6: a.gateway6.map(|ip| ip.to_string()).unwrap_or_default(),
            mac: a.mac,
            ports: a.ports.iter().map(|p| p.to_string()).collect(),
        })
    }

    /// `-p` specs, and with `-P` every exposed port on a free host port.
    fn port_mappings(&self, config: &ContainerConfig) -> Result<Vec<PortMapping>> {
        let mut specs = config.net.publish.clone();
        if config.net.publish_all {
            specs.extend(config.exposed_ports.iter().cloned());
        }
        specs.iter().map(|s| s.parse().map_err(net_err)).collect()
    }

    /// Takes the container off every network it is on.
    pub(crate) fn disconnect_all(&self, id: &str, attachments: &[NetAttachment]) {
        for a in attachments {
            match a.network == slirp::NETWORK {
                true => slirp::stop(&self.slirp_files(id)),
                false => {
                    let _ = self.networks.disconnect(&a.network, id);
                }
            }
        }
    }

    /// Where the container's slirp4netns keeps its socket, pid and output.
    fn slirp_files(&self, id: &str) -> slirp::Files {
        slirp::Files::new(&self.options.runroot, &self.containers.dir(id), id)
    }

    /// Takes the container off the networks of its mode, whether or not
    /// the state recorded them (a crash between connect and record). Called
    /// once its processes are gone: the kernel deletes its veth pairs with
    /// its network namespace.
    pub(crate) fn disconnect_container(&self, config: &ContainerConfig) {
        match mode(config) {
            Mode::Networks(names) => {
                for name in names {
                    let _ = self.networks.release(&name, &config.id);
                }
            }
            Mode::Slirp => slirp::stop(&self.slirp_files(&config.id)),
            Mode::None | Mode::Host | Mode::Container(_) => {}
        }
    }

    /// `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf` in the
    /// container's directory, written in place (they are bind-mounted).
    pub(crate) fn write_net_files(
        &self,
        config: &ContainerConfig,
        attachments: &[NetAttachment],
    ) -> Result<()> {
        let dir = self.containers.dir(&config.id);
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text)
                .map_err(|e| Error::Io(format!("writing {}", path.display()), e))
        };
        write("hostname", &etc_files::hostname(&config.hostname))?;
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        match mode(config) {
            Mode::Host => {
                write(
                    "hosts",
                    &std::fs::read_to_string("/etc/hosts").unwrap_or_default(),
                )?;
                return write("resolv.conf", &host_resolv);
            }
            Mode::Container(target) => {
                let other = self.containers.dir(&self.containers.find(&target)?);
                for f in ["hosts", "resolv.conf"] {
                    write(
                        f,
                        &std::fs::read_to_string(other.join(f)).unwrap_or_default(),
                    )?;
                }
                return Ok(());
            }
            Mode::None | Mode::Slirp | Mode::Networks(_) => {}
        }
        let mut extra = Vec::new();
        for h in &config.net.add_hosts {
            extra.push(etc_files::parse_add_host(h).map_err(net_err)?);
        }
        let mut aliases = vec![config.name.clone()];
        aliases.extend(config.net.aliases.iter().cloned());
        let hosts = HostsOptions {
            hostname: config.hostname.clone(),
            ips: attachments
                .iter()
                .flat_map(|a| [&a.ip, &a.ip6])
                .filter_map(|ip| ip.parse().ok())
                .collect(),
            aliases,
            extra,
        };
        write("hosts", &etc_files::hosts(&hosts))?;
        let dns_gateway = match mode(config) {
            Mode::Slirp => Some(IpAddr::V4(slirp::DNS)),
            _ => attachments
                .iter()
                .find(|a| self.networks.get(&a.network).is_ok_and(|n| n.dns_enabled))
                .and_then(|a| a.gateway.parse().ok()),
        };
        let resolv = ResolvOptions {
            dns: config
                .net
                .dns
                .iter()
                .map(|d| {
                    d.parse()
                        .map_err(|_| Error::Invalid(format!("invalid --dns {d:?}")))
                })
                .collect::<Result<_>>()?,
            search: config.net.dns_search.clone(),
            options: config.net.dns_options.clone(),
            network_dns: dns_gateway,
        };
        write(
            "resolv.conf",
            &etc_files::resolv_conf(&host_resolv, &resolv),
        )
    }

    /// Starts the network's DNS responder on its gateway unless it runs.
    fn ensure_dns(&self, network: &NetworkConfig) -> Result<()> {
        let pid_file = self.dns_pid_file(&network.name);
        if dns_running(&pid_file) {
            return Ok(());
        }
        let exe =
            std::env::current_exe().map_err(|e| Error::Io("finding skiff's binary".into(), e))?;
        let mut cmd = std::process::Command::new(exe);
        cmd.args(["internal-dns", "--network", &network.name])
            .arg("--listen")
            .arg(SocketAddr::new(IpAddr::V4(network.gateway), 53).to_string())
            .arg("--records")
            .arg(self.networks.dns_records_path(&network.name));
        for upstream in self.dns_upstreams() {
            cmd.arg("--upstream").arg(upstream.to_string());
        }
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // SAFETY: setsid and sigprocmask are async-signal-safe. The child
        // leaves our session, to outlive this command, and gets an empty
        // signal mask: the monitor that may start it blocks SIGTERM, and a
        // mask survives exec.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                libc::setsid();
                let mut none: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut none);
                libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| Error::Io("starting the DNS responder".into(), e))?;
        let start = skiff_runtime::state::proc_stat(child.id() as i32).map_or(0, |s| s.1);
        std::fs::write(&pid_file, format!("{} {start}\n", child.id()))
            .map_err(|e| Error::Io(format!("writing {}", pid_file.display()), e))
    }

    /// The servers the DNS responders forward to: `$SKIFF_DNS_UPSTREAM`
    /// (comma-separated `IP:PORT`), or the host's resolv.conf.
    fn dns_upstreams(&self) -> Vec<SocketAddr> {
        match std::env::var("SKIFF_DNS_UPSTREAM") {
            Ok(list) => list
                .split(',')
                .filter_map(|s| s.trim().parse().ok())
                .collect(),
            Err(_) => skiff_network::dns::upstreams_from_resolv_conf(
                &std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
            ),
        }
    }

    fn dns_pid_file(&self, network: &str) -> PathBuf {
        self.networks
            .root()
            .join("dns")
            .join(format!("{network}.pid"))
    }

    /// Stops the network's DNS responder, if one runs.
    fn stop_dns(&self, network: &str) {
        let pid_file = self.dns_pid_file(network);
        if let Some((pid, start)) = read_pid_file(&pid_file) {
            if skiff_runtime::state::process_alive(pid, start) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
        }
        let _ = std::fs::remove_file(pid_file);
    }

    /// `network create`.
    pub fn create_network(&self, opts: &NetworkOptions) -> Result<NetworkConfig> {
        if self.userns().is_some() {
            return Err(Error::Invalid(
                "network create: bridge networks need root (links, bridges and nftables \
                 rules on the host); an ordinary user's containers take --network slirp4netns \
                 (their default), none or host"
                    .into(),
            ));
        }
        self.networks.create(opts).map_err(net_err)
    }

    /// `network ls`: every network, the default one included (for root:
    /// an ordinary user has none, and claims no subnet for one).
    pub fn list_networks(&self) -> Result<Vec<NetworkConfig>> {
        if self.userns().is_none() {
            self.networks.ensure_default().map_err(net_err)?;
        }
        self.networks.list().map_err(net_err)
    }

    /// `network inspect`: the network and the containers on it.
    pub fn inspect_network(&self, name: &str) -> Result<serde_json::Value> {
        if name == skiff_network::DEFAULT_NETWORK {
            self.networks.ensure_default().map_err(net_err)?;
        }
        let network = self.networks.get(name).map_err(net_err)?;
        let endpoints = self.networks.endpoints(name).map_err(net_err)?;
        let mut doc = serde_json::to_value(&network).unwrap_or_default();
        doc["containers"] = serde_json::to_value(&endpoints).unwrap_or_default();
        Ok(doc)
    }

    /// `network rm`: refused while containers are on it.
    pub fn remove_network(&self, name: &str) -> Result<()> {
        let users: Vec<String> = self
            .containers()?
            .into_iter()
            .filter(|c| matches!(mode(&c.config), Mode::Networks(n) if n.iter().any(|x| x == name)))
            .map(|c| c.config.name)
            .collect();
        if !users.is_empty() {
            return Err(Error::Conflict(format!(
                "network {name} has containers ({}): remove them or disconnect them first",
                users.join(", ")
            )));
        }
        self.networks.remove_network(name, true).map_err(net_err)?;
        self.stop_dns(name);
        Ok(())
    }

    /// `network prune`: every network no container uses but the default.
    pub fn prune_networks(&self) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for n in self.networks.list().map_err(net_err)? {
            if n.name != skiff_network::DEFAULT_NETWORK && self.remove_network(&n.name).is_ok() {
                removed.push(n.name);
            }
        }
        Ok(removed)
    }

    /// `network connect`: a running container joins another network as
    /// `ethN`, and joins it again whenever it starts.
    pub fn connect_network(&self, network: &str, what: &str) -> Result<NetAttachment> {
        let id = self.containers.find(what)?;
        let _lock = self.containers.lock(&id)?;
        let mut config = self.containers.config(&id)?;
        let Mode::Networks(names) = mode(&config) else {
            return Err(Error::Invalid(format!(
                "container {} uses network {}: it cannot join others",
                config.name, config.network
            )));
        };
        if names.iter().any(|n| n == network) {
            return Err(Error::Conflict(format!(
                "container {} is already on network {network}",
                config.name
            )));
        }
        self.networks.get(network).map_err(net_err)?;
        let mut state = self.live_state(&id)?;
        let attachment = match state.pid > 0 {
            true => {
                let netns = PathBuf::from(format!("/proc/{}/ns/net", state.pid));
                Some(self.connect_one(&config, network, names.len(), &netns)?)
            }
            false => None,
        };
        config.net.extra_networks.push(network.to_string());
        self.containers.save_config(&config)?;
        if let Some(a) = &attachment {
            state.networks.push(a.clone());
            self.containers.save_state(&id, &state)?;
            self.write_net_files(&config, &state.networks)?;
        }
        attachment.ok_or_else(|| {
            Error::Conflict(format!(
                "container {} is not running; it joins {network} when it starts",
                config.name
            ))
        })
    }

    /// `network disconnect`.
    pub fn disconnect_network(&self, network: &str, what: &str) -> Result<()> {
        let id = self.containers.find(what)?;
        let _lock = self.containers.lock(&id)?;
        let mut config = self.containers.config(&id)?;
        let mut state = self.live_state(&id)?;
        let before = config.net.extra_networks.len();
        config.net.extra_networks.retain(|n| n != network);
        if config.net.extra_networks.len() == before {
            return Err(Error::NotFound(format!(
                "container {} is not on network {network} (or it is its first)",
                config.name
            )));
        }
        self.networks.disconnect(network, &id).map_err(net_err)?;
        state.networks.retain(|a| a.network != network);
        self.containers.save_config(&config)?;
        self.containers.save_state(&id, &state)?;
        self.write_net_files(&config, &state.networks)
    }
}

/// The options of a container on slirp4netns.
fn slirp_options(config: &ContainerConfig) -> Result<slirp::Options> {
    slirp::Options::of(&config.network).unwrap_or(Ok(slirp::Options::default()))
}

/// A pid file's pid and start time.
pub(crate) fn read_pid_file(path: &Path) -> Option<(i32, u64)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut words = text.split_whitespace();
    Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?))
}

fn dns_running(pid_file: &Path) -> bool {
    read_pid_file(pid_file)
        .is_some_and(|(pid, start)| skiff_runtime::state::process_alive(pid, start))
}
