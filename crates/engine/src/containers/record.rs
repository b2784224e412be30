//! What the engine records about a container: how it was asked to run
//! (`container.json`, written once) and what became of it (`state.json`,
//! rewritten at every change).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A bind mount, named volume or tmpfs, as `-v` and `--mount` give them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountSpec {
    /// `bind`, `volume` or `tmpfs`.
    pub kind: String,
    /// Host path (bind) or volume name (volume); empty for tmpfs.
    pub source: String,
    /// Path inside the container.
    pub target: String,
    /// Mounted read-only.
    pub readonly: bool,
    /// Extra mount options (tmpfs size, mode, propagation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// When the monitor starts a container again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Never (the default).
    #[default]
    No,
    /// After a non-zero exit, at most this many times (0: no limit).
    OnFailure(u32),
    /// Always, unless stopped by the user.
    Always,
    /// Always, unless stopped by the user (also across reboots, for Docker).
    UnlessStopped,
}

/// Resource limits (`--memory`, `--cpus`, ...). Zero and `None` mean unset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// Memory limit in bytes.
    pub memory: Option<i64>,
    /// Memory plus swap in bytes (-1: unlimited swap).
    pub memory_swap: Option<i64>,
    /// CPU quota in CPUs (0.5 = half a CPU).
    pub cpus: Option<f64>,
    /// Relative CPU weight (Docker's 2..262144, 1024 default).
    pub cpu_shares: Option<u64>,
    /// Maximum number of processes.
    pub pids_limit: Option<i64>,
}

/// How a container was asked to run: the image's defaults merged with the
/// flags of `create`/`run`, as Docker merges them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerConfig {
    /// 64 hex characters.
    pub id: String,
    /// Unique name, without Docker's leading `/`.
    pub name: String,
    /// The image as the user named it.
    pub image: String,
    /// The image id.
    pub image_id: String,
    /// When it was created (RFC 3339).
    pub created: String,
    /// The executable and arguments (entrypoint and cmd merged).
    pub args: Vec<String>,
    /// The entrypoint part of `args`.
    pub entrypoint: Vec<String>,
    /// The command part of `args`.
    pub cmd: Vec<String>,
    /// `NAME=value` pairs.
    pub env: Vec<String>,
    /// Working directory.
    pub working_dir: String,
    /// User as given (`name`, `uid`, `uid:gid`, ...), empty for root.
    pub user: String,
    /// Hostname.
    pub hostname: String,
    /// A pseudo-terminal.
    pub tty: bool,
    /// Keep stdin open.
    pub open_stdin: bool,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Signal that `stop` sends.
    pub stop_signal: String,
    /// Seconds `stop` waits before SIGKILL.
    pub stop_timeout: u64,
    /// Mounts.
    pub mounts: Vec<MountSpec>,
    /// Root filesystem read-only.
    pub read_only: bool,
    /// Resource limits.
    pub resources: Resources,
    /// Rlimits: (type, soft, hard), e.g. ("RLIMIT_NOFILE", 1024, 1024).
    pub ulimits: Vec<(String, u64, u64)>,
    /// Capabilities added (`CAP_*`).
    pub cap_add: Vec<String>,
    /// Capabilities dropped (`CAP_*`, or `ALL`).
    pub cap_drop: Vec<String>,
    /// All capabilities, all devices, no seccomp, no masked paths.
    pub privileged: bool,
    /// A seccomp profile file, `unconfined`, or empty for the default.
    pub seccomp: String,
    /// Set no_new_privileges.
    pub no_new_privileges: bool,
    /// Host devices to add (`/dev/x[:/dev/y[:rwm]]`).
    pub devices: Vec<String>,
    /// Run skiff's init as pid 1.
    pub init: bool,
    /// Restart policy.
    pub restart: RestartPolicy,
    /// Remove the container when it exits.
    pub auto_remove: bool,
    /// `none`, `host`, or a network name (bridges come with networks).
    pub network: String,
    /// An external OCI runtime binary, empty for the built-in one.
    pub runtime: String,
    /// Log rotation: bytes per file (0: no rotation).
    pub log_max_size: u64,
    /// Log rotation: files kept.
    pub log_max_file: u32,
    /// Exposed ports from the image (`80/tcp`).
    pub exposed_ports: Vec<String>,
    /// How it is networked, beyond the mode in `network`.
    #[serde(default)]
    pub net: NetConfig,
}

/// A container's networking flags (`-p`, `--network-alias`, `--dns`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetConfig {
    /// `-p` specs, as given.
    pub publish: Vec<String>,
    /// `-P`: every exposed port to a free host port.
    pub publish_all: bool,
    /// `--network-alias`.
    pub aliases: Vec<String>,
    /// `--ip`.
    pub ip: Option<String>,
    /// `--mac-address`.
    pub mac: Option<String>,
    /// `--dns`.
    pub dns: Vec<String>,
    /// `--dns-search`.
    pub dns_search: Vec<String>,
    /// `--dns-option`.
    pub dns_options: Vec<String>,
    /// `--add-host NAME:IP`.
    pub add_hosts: Vec<String>,
    /// Networks joined after creation (`network connect`), in order.
    pub extra_networks: Vec<String>,
}

/// A network the container is on, while it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetAttachment {
    /// The network's name.
    pub network: String,
    /// The interface inside (`eth0`).
    pub ifname: String,
    /// Its address.
    pub ip: String,
    /// The prefix length.
    pub prefix: u8,
    /// The gateway.
    pub gateway: String,
    /// Its IPv6 address on a dual-stack network, else empty.
    #[serde(default)]
    pub ip6: String,
    /// The IPv6 prefix length, 0 without one.
    #[serde(default)]
    pub prefix6: u8,
    /// The IPv6 gateway, else empty.
    #[serde(default)]
    pub gateway6: String,
    /// The MAC address.
    pub mac: String,
    /// Published ports, as `-p` specs with the host port chosen.
    pub ports: Vec<String>,
}

/// The states Docker names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Made, not started.
    Created,
    /// Its process runs.
    Running,
    /// Frozen.
    Paused,
    /// Restarting after an exit.
    Restarting,
    /// Its process ended.
    Exited,
    /// Being removed.
    Removing,
    /// Could not be started or stopped; remove it.
    Dead,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = serde_json::to_value(self).ok();
        f.write_str(s.as_ref().and_then(|v| v.as_str()).unwrap_or("unknown"))
    }
}

/// What became of a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerState {
    /// Its status as last recorded.
    pub status: Status,
    /// The container's init on the host (0 when not running).
    pub pid: i32,
    /// Its start time in clock ticks since boot (to tell a reused pid).
    pub pid_start: u64,
    /// The monitor's pid (0 when none).
    pub monitor_pid: i32,
    /// The monitor's start time in ticks.
    pub monitor_start: u64,
    /// The last exit code.
    pub exit_code: i32,
    /// An error that stopped it, if any.
    pub error: String,
    /// When it last started (RFC 3339, empty if never).
    pub started_at: String,
    /// When it last exited (RFC 3339, empty if never).
    pub finished_at: String,
    /// How often the monitor restarted it.
    pub restart_count: u32,
    /// Stopped by the user (restart policies do not apply).
    pub stopped_by_user: bool,
    /// The overlay mount of its root filesystem, while mounted.
    pub rootfs_mounted: Option<PathBuf>,
    /// The networks it is on, while it runs.
    #[serde(default)]
    pub networks: Vec<NetAttachment>,
}

impl ContainerState {
    /// The state of a container just made.
    pub fn created() -> ContainerState {
        ContainerState {
            status: Status::Created,
            pid: 0,
            pid_start: 0,
            monitor_pid: 0,
            monitor_start: 0,
            exit_code: 0,
            error: String::new(),
            started_at: String::new(),
            finished_at: String::new(),
            restart_count: 0,
            stopped_by_user: false,
            rootfs_mounted: None,
            networks: Vec::new(),
        }
    }
}
