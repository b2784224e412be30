//! How a new process gets into its cgroup without being moved by another.
//!
//! Moving another process (writing its pid to `cgroup.procs`) takes the
//! kernel's global threadgroup lock for writing, and the first such move
//! after a quiet spell waits for an RCU grace period: 5-25 ms on a small
//! machine, most of a short container's start. Two ways in avoid it: a child
//! cloned straight into a cgroup2 directory (`clone3` with
//! `CLONE_INTO_CGROUP`), and a single-threaded process moving itself on a
//! cgroup v1 hierarchy by writing `0` to the `tasks` file (since Linux 6.0
//! the kernel then moves only the calling thread and skips the lock).

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};

use crate::fsutil::io;
use crate::{Error, Result};

/// The open files through which a process enters a cgroup. They are opened
/// by the runtime before it clones the process, so that the kernel checks
/// the runtime's credentials: the process may by then be in a user
/// namespace that could not open them itself.
#[derive(Debug, Default)]
pub struct Entry {
    clone_into: Option<File>,
    tasks: Vec<(PathBuf, File)>,
}

impl Entry {
    /// Opens the cgroup2 directory `clone_into` and the v1 `tasks` files of
    /// the directories `v1_dirs`.
    pub(crate) fn open(clone_into: Option<&Path>, v1_dirs: &[PathBuf]) -> Result<Self> {
        let clone_into = clone_into
            .map(|dir| File::open(dir).map_err(|e| io("open", dir, e)))
            .transpose()?;
        let tasks = v1_dirs
            .iter()
            .map(|dir| {
                let path = dir.join("tasks");
                let file = File::options().write(true).open(&path);
                file.map(|f| (path.clone(), f))
                    .map_err(|e| io("open", &path, e))
            })
            .collect::<Result<_>>()?;
        Ok(Entry { clone_into, tasks })
    }

    /// The cgroup2 directory to clone the process into, if the cgroup has one.
    pub fn clone_into(&self) -> Option<RawFd> {
        self.clone_into.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// Moves the calling thread into the cgroup on every v1 hierarchy. Call
    /// it only in a single-threaded process: a thread moves alone.
    pub fn enter_self(&self) -> Result<()> {
        for (path, file) in &self.tasks {
            let mut file = file;
            file.write_all(b"0").map_err(|source| Error::Write {
                path: path.clone(),
                value: "0".into(),
                source,
            })?;
        }
        Ok(())
    }
}
