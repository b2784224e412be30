//! What the network tests share: unique names, namespaces, stores, and a
//! guard that removes everything a test made, even when it fails.

#![allow(dead_code)]

use std::fs::File;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use skiff_network::{NetworkConfig, NetworkOptions, Networks};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Where tests claim their subnets.
const CLAIMS: &str = "/run/skiff-network-tests";

/// Where stores claim their networks' subnets host-wide.
const STORE_CLAIMS: &str = "/run/skiff-subnets";

/// A number unique within this process.
pub fn next() -> u32 {
    COUNTER.fetch_add(1, Ordering::SeqCst)
}

/// The short unique tag of this process, for names of at most 15 bytes.
pub fn tag() -> u32 {
    std::process::id() % 100_000
}

/// Runs a command, returning its output.
pub fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd).args(args).output().expect("spawn")
}

/// Everything one test made: removed on drop.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub store: Networks,
    netns: Vec<String>,
    bridges: Vec<String>,
    claims: Vec<PathBuf>,
}

impl Env {
    /// A fresh store with an nftables table of its own.
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let table = format!("skt{}x{}", tag(), next());
        let store = Networks::open(dir.path()).unwrap().with_table(&table);
        Env {
            dir,
            store,
            netns: Vec::new(),
            bridges: Vec::new(),
            claims: Vec::new(),
        }
    }

    /// A subnet 10.2xx.N.0/24 unique among the tests running now: claimed
    /// by creating a file under /run (tmpfs, so a killed test's claims go
    /// at the next boot) and released on drop; the store itself refuses
    /// one a host route already covers.
    pub fn subnet(&mut self) -> String {
        std::fs::create_dir_all(CLAIMS).unwrap();
        for _ in 0..1000 {
            let second = 200 + (tag() + next() / 256) % 55;
            let third = next() % 256;
            let subnet = format!("10.{second}.{third}.0/24");
            let claim = PathBuf::from(CLAIMS).join(subnet.replace('/', "_"));
            if std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&claim)
                .is_ok()
            {
                self.claims.push(claim);
                return subnet;
            }
        }
        panic!("no free test subnet");
    }

    /// Creates a network with a unique bridge and subnet.
    pub fn network(&mut self, internal: bool) -> NetworkConfig {
        self.network_with(|o| o.internal = internal)
    }

    /// Creates a dual-stack network with a unique bridge and subnets.
    pub fn network6(&mut self) -> NetworkConfig {
        let subnet6 = subnet6();
        self.network_with(|o| o.subnet6 = Some(subnet6))
    }

    /// Creates a network with a unique bridge and IPv4 subnet, and the
    /// options `change` sets.
    pub fn network_with(&mut self, change: impl FnOnce(&mut NetworkOptions)) -> NetworkConfig {
        let n = next();
        let bridge = format!("skt{}b{n}", tag());
        self.bridges.push(bridge.clone());
        let mut opts = NetworkOptions {
            name: format!("net{n}"),
            bridge_name: Some(bridge),
            subnet: Some(self.subnet()),
            dns_enabled: true,
            ..Default::default()
        };
        change(&mut opts);
        self.store.create(&opts).unwrap()
    }

    /// A new named network namespace; returns its name.
    pub fn netns(&mut self) -> String {
        let name = format!("skn{}n{}", tag(), next());
        let out = run("ip", &["netns", "add", &name]);
        assert!(out.status.success(), "ip netns add: {:?}", out);
        self.netns.push(name.clone());
        name
    }

    /// Runs `args` inside namespace `ns`.
    pub fn exec(&self, ns: &str, args: &[&str]) -> Output {
        let mut all = vec!["netns", "exec", ns];
        all.extend(args);
        run("ip", &all)
    }

    /// Whether `from` can ping `to` (one packet, one second).
    pub fn ping(&self, from: &str, to: Ipv4Addr) -> bool {
        self.exec(from, &["ping", "-c1", "-W1", &to.to_string()])
            .status
            .success()
    }

    /// Whether `from` can ping `to` over IPv6 (one packet, two seconds).
    pub fn ping6(&self, from: &str, to: Ipv6Addr) -> bool {
        self.exec(from, &["ping", "-6", "-c1", "-W2", &to.to_string()])
            .status
            .success()
    }

    /// Whether the nftables table of this store exists.
    pub fn table_exists(&self) -> bool {
        run("nft", &["list", "table", "inet", self.store.table()])
            .status
            .success()
    }

    /// Whether a link of that name exists in the host's namespace.
    pub fn link_exists(&self, name: &str) -> bool {
        run("ip", &["link", "show", name]).status.success()
    }
}

/// An IPv6 /64 unique among the tests running now: the process id and a
/// counter in a ULA prefix of the tests' own (a host route there would
/// make the store refuse it, never share it).
pub fn subnet6() -> String {
    let pid = std::process::id();
    format!("fd7e:{:x}:{:x}:{:x}::/64", pid >> 16, pid & 0xffff, next())
}

/// The path of a named namespace.
pub fn netns_path(name: &str) -> PathBuf {
    PathBuf::from(format!("/run/netns/{name}"))
}

/// Runs `f` on a thread that joined namespace `ns` (servers "inside" it).
pub fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let file = File::open(netns_path(ns)).unwrap();
    std::thread::spawn(move || {
        // SAFETY: setns on an open namespace fd moves only this thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
}

impl Drop for Env {
    fn drop(&mut self) {
        for ns in &self.netns {
            let _ = run("ip", &["netns", "del", ns]);
        }
        for br in &self.bridges {
            let _ = run("ip", &["link", "del", br]);
        }
        let _ = run("nft", &["delete", "table", "inet", self.store.table()]);
        for claim in &self.claims {
            let _ = std::fs::remove_file(claim);
        }
        self.release_store_claims();
    }
}

impl Env {
    /// Removes the host-wide subnet claims of this test's store (its
    /// networks are not removed one by one).
    fn release_store_claims(&self) {
        let Ok(claims) = std::fs::read_dir(STORE_CLAIMS) else {
            return;
        };
        for claim in claims.flatten() {
            let holder = std::fs::read_to_string(claim.path()).unwrap_or_default();
            if std::path::Path::new(&holder).starts_with(self.dir.path()) {
                let _ = std::fs::remove_file(claim.path());
            }
        }
    }
}
