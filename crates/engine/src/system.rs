//! The store as a whole: `system df` (what takes space and what could be
//! freed), `system prune`, `volume prune` and `info`.

use std::collections::HashSet;

use skiff_image::store::disk_usage;

use crate::containers::Status;
use crate::{Engine, Result};

/// One row of `system df`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpaceUse {
    /// How many there are.
    pub total: usize,
    /// How many are in use.
    pub active: usize,
    /// Bytes on disk.
    pub size: u64,
    /// Bytes that pruning would free.
    pub reclaimable: u64,
}

/// What `system df` reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskUse {
    /// Images (layers shared between images counted once).
    pub images: SpaceUse,
    /// Containers' own writable layers.
    pub containers: SpaceUse,
    /// Named volumes.
    pub volumes: SpaceUse,
}

impl DiskUse {
    fn bytes(&self) -> u64 {
        self.images.size + self.containers.size + self.volumes.size
    }
}

/// What `system prune` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Container ids.
    pub containers: Vec<String>,
    /// Image ids.
    pub images: Vec<String>,
    /// Volume names.
    pub volumes: Vec<String>,
    /// Bytes freed.
    pub reclaimed: u64,
}

/// What `info` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// The storage root.
    pub root: std::path::PathBuf,
    /// The run state root.
    pub runroot: std::path::PathBuf,
    /// `v1`, `v2` or `hybrid`.
    pub cgroup: String,
    /// The kernel release.
    pub kernel: String,
    /// Containers by state: running, paused, stopped (anything else).
    pub running: usize,
    /// Paused containers.
    pub paused: usize,
    /// Containers that are neither running nor paused.
    pub stopped: usize,
    /// Images in the store.
    pub images: usize,
}

impl Engine {
    /// What images, containers and volumes take on disk.
    pub fn disk_use(&self) -> Result<DiskUse> {
        Ok(DiskUse {
            images: self.image_space()?,
            containers: self.container_space()?,
            volumes: self.volume_space()?,
        })
    }

    fn image_space(&self) -> Result<SpaceUse> {
        let in_use = self.images_in_use()?;
        let images = self.store.images()?;
        let (mut seen, mut used) = (HashSet::new(), HashSet::new());
        let mut space = SpaceUse {
            total: images.len(),
            ..SpaceUse::default()
        };
        for image in &images {
            let active = in_use.contains(&image.id.to_string());
            space.active += usize::from(active);
            for layer in &image.layers {
                if active {
                    used.insert(layer.chain_id.clone());
                }
                seen.insert(layer.chain_id.clone());
            }
        }
        for chain_id in &seen {
            let size = self.store.layer(chain_id)?.map_or(0, |l| l.size);
            space.size += size;
            if !used.contains(chain_id) {
                space.reclaimable += size;
            }
        }
        Ok(space)
    }

    fn container_space(&self) -> Result<SpaceUse> {
        let mut space = SpaceUse::default();
        for view in self.containers()? {
            let size = self.container_size(&view.config.id);
            let active = matches!(
                view.state.status,
                Status::Running | Status::Paused | Status::Restarting
            );
            space.total += 1;
            space.size += size;
            match active {
                true => space.active += 1,
                false => space.reclaimable += size,
            }
        }
        Ok(space)
    }

    fn volume_space(&self) -> Result<SpaceUse> {
        let mut space = SpaceUse::default();
        for volume in self.volumes()? {
            let size = disk_usage(&volume.mountpoint);
            space.total += 1;
            space.size += size;
            match self.volume_users(&volume.name)?.is_empty() {
                true => space.reclaimable += size,
                false => space.active += 1,
            }
        }
        Ok(space)
    }

    /// Removes every volume no container uses; returns their names.
    pub fn prune_volumes(&self) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for volume in self.volumes()? {
            if self.volume_users(&volume.name)?.is_empty() {
                self.remove_volume(&volume.name)?;
                removed.push(volume.name);
            }
        }
        Ok(removed)
    }

    /// Removes stopped containers, then images without names (with `all`,
    /// every image no container uses), then with `volumes` unused volumes.
    pub fn prune_system(&self, all: bool, volumes: bool) -> Result<Pruned> {
        let before = self.disk_use()?.bytes();
        let containers = self.prune_containers()?;
        let images = self
            .prune_images(all)?
            .iter()
            .map(ToString::to_string)
            .collect();
        let volumes = match volumes {
            true => self.prune_volumes()?,
            false => Vec::new(),
        };
        let after = self.disk_use()?.bytes();
        Ok(Pruned {
            containers,
            images,
            volumes,
            reclaimed: before.saturating_sub(after),
        })
    }

    /// The engine's configuration and what it holds.
    pub fn info(&self) -> Result<Info> {
        let cgroup = match skiff_cgroups::detect() {
            Ok(skiff_cgroups::Layout::Unified) => "v2",
            Ok(skiff_cgroups::Layout::Legacy) => "v1",
            Ok(skiff_cgroups::Layout::Hybrid) => "hybrid",
            Err(_) => "unknown",
        };
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or_else(|_| "unknown".into(), |k| k.trim().to_string());
        let mut info = Info {
            root: self.options.root.clone(),
            runroot: self.options.runroot.clone(),
            cgroup: cgroup.into(),
            kernel,
            running: 0,
            paused: 0,
            stopped: 0,
            images: self.store.images()?.len(),
        };
        for view in self.containers()? {
            match view.state.status {
                Status::Running | Status::Restarting => info.running += 1,
                Status::Paused => info.paused += 1,
                _ => info.stopped += 1,
            }
        }
        Ok(info)
    }
}
