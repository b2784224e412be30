//! What the network tests share: unique names, namespaces, stores, and a
//! guard that removes everything a test made, even when it fails.

#![allow(dead_code)]

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use skiff_network::{NetworkConfig, NetworkOptions, Networks};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Where tests claim their subnets.
const CLAIMS: &str = "/run/skiff-network-tests";

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
        let n = next();
        let bridge = format!("skt{}b{n}", tag());
        self.bridges.push(bridge.clone());
        let subnet = self.subnet();
        self.store
            .create(&NetworkOptions {
                name: format!("net{n}"),
                bridge_name: Some(bridge),
                subnet: Some(subnet),
                internal,
                dns_enabled: true,
                ..Default::default()
            })
            .unwrap()
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
    }
}
