//! The cgroup v2 manager, and the unified-hierarchy operations a hybrid host
//! also uses.

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use crate::fsutil;
use crate::path::levels;
use crate::{Cgroup, FreezerState, Result};

/// One cgroup inside a cgroup2 mount.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    mount: PathBuf,
    rel: PathBuf,
}

impl Tree {
    /// The cgroup `rel` (relative, already validated) under the cgroup2 `mount`.
    pub(crate) fn new(mount: &Path, rel: &Path) -> Self {
        Self {
            mount: mount.to_path_buf(),
            rel: rel.to_path_buf(),
        }
    }

    /// The cgroup's directory.
    pub(crate) fn dir(&self) -> PathBuf {
        self.mount.join(&self.rel)
    }

    /// Makes the cgroup's directory and any missing parents.
    pub(crate) fn create(&self) -> Result<()> {
        for level in levels(&self.rel) {
            fsutil::mkdir(&self.mount.join(level))?;
        }
        Ok(())
    }

    /// Controllers the hierarchy's root offers.
    pub(crate) fn available(&self) -> Result<Vec<String>> {
        let text = fsutil::read(&self.mount.join("cgroup.controllers"))?;
        Ok(text.split_whitespace().map(str::to_owned).collect())
    }

    /// Enables `wanted` controllers (every one offered when `None`) in the
    /// `cgroup.subtree_control` of each ancestor of the cgroup, from the root
    /// down, skipping those an ancestor does not offer or already enables.
    /// A controller the kernel refuses stays off; settings that need it then
    /// fail as unsupported because its files are missing.
    pub(crate) fn enable_controllers(&self, wanted: Option<&[&str]>) -> Result<()> {
        let mut ancestors = vec![self.mount.clone()];
        let all = levels(&self.rel);
        let parents = all.len().saturating_sub(1);
        ancestors.extend(all.into_iter().take(parents).map(|l| self.mount.join(l)));
        for dir in ancestors {
            let offered = fsutil::read(&dir.join("cgroup.controllers"))?;
            let control = dir.join("cgroup.subtree_control");
            let enabled = fsutil::read(&control)?;
            let missing: Vec<String> = offered
                .split_whitespace()
                .filter(|c| match wanted {
                    None => true,
                    Some(w) => w.contains(c),
                })
                .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
                .map(|c| format!("+{c}"))
                .collect();
            if missing.is_empty() || fsutil::write(&control, &missing.join(" ")).is_ok() {
                continue;
            }
            for one in &missing {
                // Refused controllers are left off on purpose (see above).
                let _ = fsutil::write(&control, one);
            }
        }
        Ok(())
    }

    /// Moves `pid` into the cgroup.
    pub(crate) fn add_process(&self, pid: i32) -> Result<()> {
        fsutil::write(&self.dir().join("cgroup.procs"), &pid.to_string())
    }

    /// Freezes or thaws through `cgroup.freeze`, waiting for `cgroup.events`.
    pub(crate) fn set_freezer(&self, state: FreezerState) -> Result<()> {
        let dir = self.dir();
        let control = fsutil::require(&dir, "cgroup.freeze", "the freezer")?;
        let value = match state {
            FreezerState::Frozen => "1",
            FreezerState::Thawed => "0",
        };
        fsutil::write(&control, value)?;
        if fsutil::wait_until(|_| Ok(self.freezer()? == state))? {
            Ok(())
        } else {
            if state == FreezerState::Frozen {
                // Leave the processes running rather than half frozen.
                fsutil::write(&control, "0")?;
            }
            Err(fsutil::timed_out(&dir.join("cgroup.events"), value))
        }
    }

    /// The freezer state reported by `cgroup.events`.
    pub(crate) fn freezer(&self) -> Result<FreezerState> {
        let events = fsutil::read(&self.dir().join("cgroup.events"))?;
        let frozen = events.lines().any(|line| line.trim() == "frozen 1");
        Ok(if frozen {
            FreezerState::Frozen
        } else {
            FreezerState::Thawed
        })
    }
}

/// A cgroup on a host with only the unified hierarchy.
#[derive(Debug)]
pub(crate) struct V2Manager {
    path: PathBuf,
    tree: Tree,
}

impl V2Manager {
    /// The manager for `path` (whose validated relative form is `rel`) under `mount`.
    pub(crate) fn new(path: &Path, mount: &Path, rel: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            tree: Tree::new(mount, rel),
        }
    }
}

impl Cgroup for V2Manager {
    fn path(&self) -> &Path {
        &self.path
    }

    fn create(&self) -> Result<()> {
        self.tree.create()?;
        self.tree.enable_controllers(None)
    }

    fn add_process(&self, pid: i32) -> Result<()> {
        self.tree.add_process(pid)
    }

    fn apply(&self, resources: &LinuxResources) -> Result<()> {
        crate::v2_resources::apply(&self.tree.dir(), resources)
    }

    fn pids(&self) -> Result<Vec<i32>> {
        fsutil::procs_recursive(&self.tree.dir())
    }

    fn set_freezer(&self, state: FreezerState) -> Result<()> {
        self.tree.set_freezer(state)
    }

    fn freezer(&self) -> Result<FreezerState> {
        self.tree.freezer()
    }

    fn destroy(&self) -> Result<()> {
        fsutil::remove_tree(&self.tree.dir())
    }

    fn stats(&self) -> crate::Stats {
        crate::v2_stats::collect(&self.tree.dir())
    }

    fn entry(&self) -> Result<Option<crate::Entry>> {
        crate::Entry::open(Some(&self.tree.dir()), &[]).map(Some)
    }
}
