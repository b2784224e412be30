//! Control groups for skiff: one [`Cgroup`] trait, with managers for cgroup v1,
//! cgroup v2 and hybrid hosts (v1 controllers beside a cgroup2 mount), chosen by
//! looking at what the host has mounted.

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use crate::mountinfo::Mounts;
use crate::v1::V1Manager;
use crate::v2::V2Manager;

mod bpf;
mod convert;
mod entry;
mod fsutil;
#[cfg(test)]
mod host_tests;
mod mountinfo;
mod path;
mod stats;
#[cfg(test)]
mod test_support;
mod v1;
mod v1_resources;
mod v1_stats;
mod v2;
mod v2_devices;
#[cfg(test)]
mod v2_host_tests;
mod v2_resources;
mod v2_stats;

pub use entry::Entry;
pub use stats::{
    BlkioEntry, BlkioStats, CpuStats, CpuUsage, HugetlbStats, MemoryEntry, MemoryStats, PidsStats,
    Stats, Throttling,
};

/// Errors from cgroup operations; each names the file or directory involved.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A cgroup file or directory could not be read, written, made or removed.
    #[error("cgroup {op} {path}: {source}")]
    Io {
        /// What was being done ("write", "mkdir", ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A value could not be written to a cgroup file.
    #[error("cgroup write {value:?} to {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The value that was being written.
        value: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The container asked for something this host or layout cannot do.
    #[error("{0}")]
    Unsupported(String),
    /// A value in the spec is out of range or malformed.
    #[error("invalid cgroup setting: {0}")]
    Invalid(String),
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// How the host's cgroup hierarchies are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Only the unified (v2) hierarchy at /sys/fs/cgroup.
    Unified,
    /// Only v1 controller hierarchies.
    Legacy,
    /// v1 controllers plus a cgroup2 mount (possibly holding controllers).
    Hybrid,
}

/// Freezer state of a cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreezerState {
    /// Processes run.
    Thawed,
    /// Processes are frozen.
    Frozen,
}

/// One container's cgroup, across every hierarchy the host has.
pub trait Cgroup {
    /// The cgroup path relative to the hierarchy roots (always absolute, e.g. `/skiff/abc`).
    fn path(&self) -> &Path;
    /// Create the cgroup directories (parents too); existing ones are reused.
    fn create(&self) -> Result<()>;
    /// Move a process (all its threads) into the cgroup.
    fn add_process(&self, pid: i32) -> Result<()>;
    /// Write the OCI resources to the controllers.
    fn apply(&self, resources: &LinuxResources) -> Result<()>;
    /// Pids of the processes in the cgroup (and below it).
    fn pids(&self) -> Result<Vec<i32>>;
    /// Freeze or thaw every process in the cgroup, returning once the state holds.
    fn set_freezer(&self, state: FreezerState) -> Result<()>;
    /// The current freezer state.
    fn freezer(&self) -> Result<FreezerState>;
    /// Remove the cgroup and every cgroup below it; a cgroup that does not exist is fine.
    fn destroy(&self) -> Result<()>;
    /// Usage statistics; counters the host lacks read as zero.
    fn stats(&self) -> Stats;
    /// Opens the ways a new process enters the cgroup by itself (see
    /// [`Entry`]); `None` when it must be moved with
    /// [`add_process`](Cgroup::add_process).
    fn entry(&self) -> Result<Option<Entry>> {
        Ok(None)
    }
}

/// A cgroup hierarchy mounted on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// `cgroup` (v1) or `cgroup2`.
    pub fstype: &'static str,
    /// The mount data that makes another mount of it: its controllers (and
    /// `name=`) for v1, empty for cgroup2.
    pub options: String,
}

/// The hierarchies mounted on this host: v1 ones first, then the cgroup2 mount.
pub fn hierarchies() -> Result<Vec<Hierarchy>> {
    let mounts = Mounts::read()?;
    let v1 = mounts.v1.into_iter().map(|h| Hierarchy {
        options: h.controllers.join(","),
        mount_point: h.mount_point,
        fstype: "cgroup",
    });
    let v2 = mounts.unified.into_iter().map(|mount_point| Hierarchy {
        mount_point,
        fstype: "cgroup2",
        options: String::new(),
    });
    Ok(v1.chain(v2).collect())
}

/// Detect the host's layout from /proc/self/mountinfo.
pub fn detect() -> Result<Layout> {
    Mounts::read()?.layout()
}

/// Open the manager for `path` (absolute, relative to the hierarchy roots) on this host.
///
/// Paths with `..` components, relative paths and the root itself are
/// [`Error::Invalid`]. Nothing is created until [`Cgroup::create`].
pub fn open(path: &Path) -> Result<Box<dyn Cgroup>> {
    let rel = crate::path::relative(path)?;
    let mounts = Mounts::read()?;
    let layout = mounts.layout()?;
    let Mounts { v1, unified } = mounts;
    Ok(match (layout, unified) {
        (Layout::Unified, Some(mount)) => Box::new(V2Manager::new(path, &mount, &rel)),
        (Layout::Hybrid, Some(mount)) => Box::new(V1Manager::new(path, &rel, v1, Some(&mount))),
        _ => Box::new(V1Manager::new(path, &rel, v1, None)),
    })
}

/// Send `signal` to every process in `cgroup` (and below it). Processes that
/// exit meanwhile are skipped. The cgroup is frozen while signalling when a
/// freezer is available, so no process escapes by forking.
pub fn kill_all(cgroup: &dyn Cgroup, signal: i32) -> Result<()> {
    let frozen = cgroup.set_freezer(FreezerState::Frozen).is_ok();
    let sent = signal_pids(cgroup, signal);
    if frozen {
        cgroup.set_freezer(FreezerState::Thawed)?;
    }
    sent
}

fn signal_pids(cgroup: &dyn Cgroup, signal: i32) -> Result<()> {
    for pid in cgroup.pids()? {
        // SAFETY: kill(2) takes plain integers and has no memory effects.
        if unsafe { libc::kill(pid, signal) } != 0 {
            let source = std::io::Error::last_os_error();
            if source.raw_os_error() != Some(libc::ESRCH) {
                return Err(Error::Io {
                    op: "kill",
                    path: PathBuf::from(format!("/proc/{pid}")),
                    source,
                });
            }
        }
    }
    Ok(())
}
