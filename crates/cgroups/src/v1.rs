//! The cgroup v1 manager. On hybrid hosts it also places processes in the
//! cgroup2 mount, whose controllers (such as hugetlb) it uses when v1 lacks them.

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use crate::fsutil;
use crate::mountinfo::V1Hierarchy;
use crate::path::levels;
use crate::v2::Tree;
use crate::{Cgroup, Error, FreezerState, Result};

/// One cgroup across every v1 hierarchy (plus the unified one on hybrid hosts).
#[derive(Debug)]
pub(crate) struct V1Manager {
    path: PathBuf,
    rel: PathBuf,
    hierarchies: Vec<V1Hierarchy>,
    unified: Option<Tree>,
}

impl V1Manager {
    /// The manager for `path` (validated relative form `rel`) in `hierarchies`,
    /// and in the cgroup2 mount `unified` on hybrid hosts.
    pub(crate) fn new(
        path: &Path,
        rel: &Path,
        hierarchies: Vec<V1Hierarchy>,
        unified: Option<&Path>,
    ) -> Self {
        Self {
            path: path.to_path_buf(),
            rel: rel.to_path_buf(),
            hierarchies,
            unified: unified.map(|mount| Tree::new(mount, rel)),
        }
    }

    /// The cgroup's directory in the hierarchy holding `controller`, if mounted.
    pub(crate) fn dir(&self, controller: &str) -> Option<PathBuf> {
        self.hierarchies
            .iter()
            .find(|h| h.has(controller))
            .map(|h| h.mount_point.join(&self.rel))
    }

    /// Like [`V1Manager::dir`], but an unmounted controller is
    /// [`Error::Unsupported`] naming what needed it.
    pub(crate) fn require(&self, controller: &str, what: &str) -> Result<PathBuf> {
        self.dir(controller).ok_or_else(|| {
            Error::Unsupported(format!(
                "{what} needs the cgroup v1 {controller} controller, which is not mounted"
            ))
        })
    }

    /// The cgroup in the cgroup2 mount of a hybrid host.
    pub(crate) fn unified(&self) -> Option<&Tree> {
        self.unified.as_ref()
    }

    /// The cgroup's directory in every v1 hierarchy.
    fn v1_dirs(&self) -> Vec<PathBuf> {
        self.hierarchies
            .iter()
            .map(|h| h.mount_point.join(&self.rel))
            .collect()
    }

    /// Every directory of the cgroup: one per v1 hierarchy, then the unified one.
    fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs = self.v1_dirs();
        dirs.extend(self.unified.iter().map(Tree::dir));
        dirs
    }

    /// Fills empty `cpuset.cpus` and `cpuset.mems` from the parent at every
    /// level of the cpuset hierarchy, top down; the kernel refuses tasks in a
    /// cpuset with neither.
    fn inherit_cpuset(&self) -> Result<()> {
        let Some(hierarchy) = self.hierarchies.iter().find(|h| h.has("cpuset")) else {
            return Ok(());
        };
        let mut parent = hierarchy.mount_point.clone();
        for level in levels(&self.rel) {
            let dir = hierarchy.mount_point.join(level);
            for file in ["cpuset.cpus", "cpuset.mems"] {
                let own = dir.join(file);
                if fsutil::read(&own)?.trim().is_empty() {
                    fsutil::write(&own, fsutil::read(&parent.join(file))?.trim())?;
                }
            }
            parent = dir;
        }
        Ok(())
    }

    /// The directory whose `cgroup.procs` lists the cgroup's processes.
    fn procs_dir(&self) -> Result<PathBuf> {
        ["pids", "freezer", "memory", "cpu"]
            .iter()
            .find_map(|c| self.dir(c))
            .or_else(|| self.dirs().into_iter().next())
            .ok_or_else(|| Error::Unsupported("no cgroup v1 hierarchy is mounted".into()))
    }

    fn freezer_state(&self) -> Result<(PathBuf, String)> {
        let dir = self.require("freezer", "the freezer")?;
        let file = fsutil::require(&dir, "freezer.state", "the freezer")?;
        let state = fsutil::read(&file)?.trim().to_owned();
        Ok((file, state))
    }
}

impl Cgroup for V1Manager {
    fn path(&self) -> &Path {
        &self.path
    }

    fn create(&self) -> Result<()> {
        for hierarchy in &self.hierarchies {
            for level in levels(&self.rel) {
                fsutil::mkdir(&hierarchy.mount_point.join(level))?;
            }
        }
        if let Some(tree) = &self.unified {
            tree.create()?;
        }
        self.inherit_cpuset()
    }

    fn add_process(&self, pid: i32) -> Result<()> {
        self.inherit_cpuset()?;
        for dir in self.dirs() {
            fsutil::write(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    fn apply(&self, resources: &LinuxResources) -> Result<()> {
        crate::v1_resources::apply(self, resources)
    }

    fn entry(&self) -> Result<Option<crate::Entry>> {
        let unified = self.unified.as_ref().map(Tree::dir);
        crate::Entry::open(unified.as_deref(), &self.v1_dirs()).map(Some)
    }

    fn pids(&self) -> Result<Vec<i32>> {
        fsutil::procs_recursive(&self.procs_dir()?)
    }

    fn set_freezer(&self, state: FreezerState) -> Result<()> {
        let (file, _) = self.freezer_state()?;
        let wanted = match state {
            FreezerState::Frozen => "FROZEN",
            FreezerState::Thawed => "THAWED",
        };
        fsutil::write(&file, wanted)?;
        let reached = fsutil::wait_until(|attempt| {
            // Tasks in uninterruptible sleep can leave it FREEZING; asking again helps.
            if attempt % 10 == 9 {
                fsutil::write(&file, wanted)?;
            }
            Ok(fsutil::read(&file)?.trim() == wanted)
        })?;
        if reached {
            return Ok(());
        }
        if state == FreezerState::Frozen {
            // Leave the processes running rather than half frozen.
            fsutil::write(&file, "THAWED")?;
        }
        Err(fsutil::timed_out(&file, wanted))
    }

    fn freezer(&self) -> Result<FreezerState> {
        let (_, state) = self.freezer_state()?;
        Ok(if state == "FROZEN" {
            FreezerState::Frozen
        } else {
            FreezerState::Thawed
        })
    }

    fn destroy(&self) -> Result<()> {
        let mut first_error = None;
        for dir in self.dirs() {
            if let Err(e) = fsutil::remove_tree(&dir) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn stats(&self) -> crate::Stats {
        crate::v1_stats::collect(self)
    }
}
