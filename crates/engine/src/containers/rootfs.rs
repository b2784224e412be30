//! A container's root filesystem: its image's layers under an overlay with
//! the container's own upper and work directories, mounted at
//! `bundle/rootfs` while the container runs.

use std::path::{Path, PathBuf};

use skiff_image::overlay::{absolute_overlay_options, mount_overlay};
use skiff_image::store::{create_dir_all, Store};

use crate::{Error, Result};

/// The mount point in the container's directory `dir`.
pub fn target(dir: &Path) -> PathBuf {
    dir.join("bundle/rootfs")
}

/// Mounts the overlay of image `image_id` for the container in `dir`.
pub fn mount(store: &Store, image_id: &str, dir: &Path) -> Result<PathBuf> {
    let image = image_of(store, image_id)?;
    let target = target(dir);
    for sub in [dir.join("upper"), dir.join("work"), target.clone()] {
        create_dir_all(&sub)?;
    }
    if is_mounted(&target) {
        return Ok(target);
    }
    mount_overlay(
        store,
        &image.chain_ids(),
        &dir.join("upper"),
        &dir.join("work"),
        &target,
    )?;
    Ok(target)
}

/// The overlay mount options of the container in `dir` for its runtime to
/// mount inside the container's own namespaces (`userxattr` for an ordinary
/// user's, whose overlay may be mounted nowhere else); makes the upper,
/// work and mount point directories. Nothing is mounted on the host, so
/// nothing is unmounted there either: the mount goes with the container's
/// mount namespace. Fails when the options exceed the page mount(2) takes
/// (absolute layer names are longer than the short ones [`mount`] uses).
pub fn namespace_options(
    store: &Store,
    image_id: &str,
    dir: &Path,
    userxattr: bool,
) -> Result<String> {
    let image = image_of(store, image_id)?;
    for sub in [dir.join("upper"), dir.join("work"), target(dir)] {
        create_dir_all(&sub)?;
    }
    Ok(absolute_overlay_options(
        store,
        &image.chain_ids(),
        &dir.join("upper"),
        &dir.join("work"),
        userxattr,
    )?)
}

/// The directories the container's root merges, top first: its upper
/// directory, then the image's layers from the top down.
pub fn layer_dirs(store: &Store, image_id: &str, dir: &Path) -> Result<Vec<PathBuf>> {
    let image = image_of(store, image_id)?;
    let mut dirs = vec![dir.join("upper")];
    dirs.extend(image.chain_ids().iter().rev().map(|c| store.layer_diff(c)));
    Ok(dirs)
}

fn image_of(store: &Store, image_id: &str) -> Result<skiff_image::store::ImageRecord> {
    store.resolve(image_id).map_err(|_| {
        Error::NotFound(format!(
            "the container's image {image_id} is no longer in the store"
        ))
    })
}

/// Unmounts the container's root filesystem if it is mounted.
pub fn unmount(dir: &Path) -> Result<()> {
    let target = target(dir);
    if !is_mounted(&target) {
        return Ok(());
    }
    nix::mount::umount2(&target, nix::mount::MntFlags::MNT_DETACH)
        .map_err(|e| Error::Io(format!("unmounting {}", target.display()), e.into()))
}

/// Whether `path` is a mount point (its device differs from its parent's).
fn is_mounted(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(me), Some(Ok(parent))) = (
        std::fs::metadata(path),
        path.parent().map(std::fs::metadata),
    ) else {
        return false;
    };
    me.dev() != parent.dev() || me.ino() == parent.ino()
}
