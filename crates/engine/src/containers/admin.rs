//! Bookkeeping operations on containers: rename, size, prune, and which
//! images containers hold.

use std::collections::HashSet;

use super::record::Status;
use crate::{Engine, Error, Result};

impl Engine {
    /// Gives container `what` the name `new`.
    pub fn rename_container(&self, what: &str, new: &str) -> Result<()> {
        let id = self.containers.find(what)?;
        let _lock = self.containers.lock(&id)?;
        let mut config = self.containers.config(&id)?;
        if config.name == new.trim_start_matches('/') {
            return Err(Error::Conflict(format!("container is already named {new}")));
        }
        self.containers.rename(&id, &config.name, new)?;
        config.name = new.trim_start_matches('/').to_string();
        self.containers.save_config(&config)
    }

    /// Bytes the container wrote to its own layer.
    pub fn container_size(&self, id: &str) -> u64 {
        skiff_image::store::disk_usage(&self.containers.dir(id).join("upper"))
    }

    /// Removes every container that is not running; returns their ids.
    pub fn prune_containers(&self) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for view in self.containers()? {
            if matches!(
                view.state.status,
                Status::Exited | Status::Created | Status::Dead
            ) {
                self.remove_container(&view.config.id, false)?;
                removed.push(view.config.id);
            }
        }
        Ok(removed)
    }

    /// The ids of the images that containers were made from.
    pub fn images_in_use(&self) -> Result<HashSet<String>> {
        Ok(self
            .containers()?
            .into_iter()
            .map(|v| v.config.image_id)
            .collect())
    }
}
