//! The engine run by an ordinary user ("rootless"): where its store and run
//! state go, and the user namespace its containers and layers live in,
//! mapping 0 to the user's own ids and 1 and up to the user's subordinate
//! ranges in `/etc/subuid` and `/etc/subgid` (written by `newuidmap` and
//! `newgidmap`). See `docs/rootless.md`.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use skiff_image::userns::{IdMaps, IdRange};

use crate::containers::ContainerConfig;
use crate::{Error, Result};

/// The fewest subordinate ids of each kind the engine works with: container
/// ids 0 to 65536, so that every id a usual image uses (`nobody` is 65534)
/// has a host id. `useradd` gives every new user exactly this many.
pub const MIN_SUBORDINATE_IDS: u64 = 65536;

/// Whether the engine runs as an ordinary user (effective uid not 0).
pub fn active() -> bool {
    !nix::unistd::geteuid().is_root()
}

/// The storage root when none is given: `/var/lib/skiff` for root; for an
/// ordinary user `$XDG_DATA_HOME/skiff`, else `~/.local/share/skiff`.
pub fn default_root() -> PathBuf {
    if !active() {
        return PathBuf::from(skiff_image::store::DEFAULT_ROOT);
    }
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    if let Some(data) = std::env::var_os("XDG_DATA_HOME").and_then(absolute) {
        return data.join("skiff");
    }
    let home = std::env::var_os("HOME").and_then(absolute).or_else(|| {
        nix::unistd::User::from_uid(nix::unistd::geteuid())
            .ok()
            .flatten()
            .map(|u| u.dir)
    });
    match home {
        Some(home) => home.join(".local/share/skiff"),
        None => PathBuf::from(format!("/tmp/skiff-data-{}", nix::unistd::geteuid())),
    }
}

/// The run state root when none is given: `/run/skiff` for root; for an
/// ordinary user `skiff` in its runtime directory (`$XDG_RUNTIME_DIR`, else
/// `/run/user/UID` where it exists), else `/tmp/skiff-run-UID`.
pub fn default_runroot() -> PathBuf {
    if !active() {
        return PathBuf::from("/run/skiff");
    }
    match skiff_runtime::state::user_runtime_dir() {
        Some(dir) => dir.join("skiff"),
        None => PathBuf::from(format!("/tmp/skiff-run-{}", nix::unistd::geteuid())),
    }
}

/// Makes an ordinary user's directory `dir` (mode 0700 where it is new) and
/// checks that it is the user's own: one that someone else made first (in
/// `/tmp`) could be rewritten under the user.
pub fn own_dir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::Io(format!("creating {}", dir.display()), e))?;
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| Error::Io(format!("reading {}", dir.display()), e))?;
    let me = nix::unistd::geteuid().as_raw();
    if !meta.is_dir() || meta.uid() != me {
        return Err(Error::Invalid(format!(
            "{} is not a directory of uid {me}'s own (its owner is uid {}): remove it, \
             or give skiff another --root and --runroot",
            dir.display(),
            meta.uid()
        )));
    }
    Ok(())
}

/// The caller's name, for `/etc/subuid` and the messages.
fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(uid.into())
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |u| u.name)
}

/// The ranges (start, count) `file` gives the user named `name` or `id`.
fn subordinate_ranges(text: &str, name: &str, id: u32) -> Vec<(u32, u64)> {
    let id = id.to_string();
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().split(':');
            let (owner, start, count) = (fields.next()?, fields.next()?, fields.next()?);
            if owner != name && owner != id {
                return None;
            }
            let count: u64 = count.parse().ok().filter(|c| *c > 0)?;
            Some((start.parse().ok()?, count))
        })
        .collect()
}

/// One kind of id's map: 0 to the user's own id, then the subordinate
/// ranges from 1 on, in the order the file lists them.
fn map_of(own: u32, ranges: &[(u32, u64)]) -> Vec<IdRange> {
    let mut map = vec![IdRange {
        container: 0,
        host: own,
        size: 1,
    }];
    let mut next: u64 = 1;
    for (start, count) in ranges {
        let size = (*count).min(u64::from(u32::MAX) - next);
        if size == 0 {
            break;
        }
        map.push(IdRange {
            container: next as u32,
            host: *start,
            size: size as u32,
        });
        next += size;
    }
    map
}

/// The user's maps, from `/etc/subuid` and `/etc/subgid`; a user without
/// ranges there, or with fewer than [`MIN_SUBORDINATE_IDS`], is told how to
/// get them.
pub fn id_maps() -> Result<IdMaps> {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    let name = user_name(uid);
    let mut maps = Vec::new();
    for (file, own, kind, flag) in [
        ("/etc/subuid", uid, "uid", "--add-subuids"),
        ("/etc/subgid", gid, "gid", "--add-subgids"),
    ] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let ranges = subordinate_ranges(&text, &name, uid);
        let total: u64 = ranges.iter().map(|r| r.1).sum();
        let fix = format!(
            "as root, give it a range of its own, e.g. `usermod {flag} 100000-165535 {name}` \
             (pick ids no other user has)"
        );
        if ranges.is_empty() {
            return Err(Error::Invalid(format!(
                "{name} (uid {uid}) has no subordinate {kind}s in {file}: an ordinary \
                 user's containers map their {kind}s onto them; {fix}"
            )));
        }
        if total < MIN_SUBORDINATE_IDS {
            return Err(Error::Invalid(format!(
                "{name} (uid {uid}) has {total} subordinate {kind}s in {file}, too few: \
                 skiff needs at least {MIN_SUBORDINATE_IDS}, so that the {kind}s 0 to \
                 {MIN_SUBORDINATE_IDS} images use exist in the container; {fix}"
            )));
        }
        maps.push(map_of(own, &ranges));
    }
    let gids = maps.pop().expect("two maps");
    let uids = maps.pop().expect("two maps");
    Ok(IdMaps { uids, gids })
}

/// `newuidmap` and `newgidmap`, or an error saying how to get them.
pub fn map_helpers() -> Result<(PathBuf, PathBuf)> {
    skiff_runtime::idmap::helpers().map_err(|missing| {
        let [uid_env, gid_env] = skiff_runtime::idmap::HELPER_ENV;
        Error::Invalid(format!(
            "{missing} is not installed: an ordinary user's containers need newuidmap and \
             newgidmap to map their ids; install Debian's package uidmap (or name them \
             in {uid_env} and {gid_env})"
        ))
    })
}

/// Refuses, before the container is recorded, what an ordinary user's
/// container cannot have: another runtime (the root overlay is mounted by
/// skiff's own, inside the container's namespaces) and bridge networks
/// (links, bridges and nftables rules need root on the host).
pub fn check_container(config: &ContainerConfig) -> Result<()> {
    if !config.runtime.is_empty() {
        return Err(Error::Invalid(format!(
            "--runtime {}: an ordinary user's containers run under skiff's own runtime, \
             which mounts their root inside their namespaces",
            config.runtime
        )));
    }
    if let crate::net::Mode::Networks(_) = crate::net::mode(config) {
        return Err(Error::Invalid(format!(
            "--network {}: bridge networks need root (links, bridges and nftables rules \
             on the host); an ordinary user's containers take --network slirp4netns (their \
             default), none or host",
            config.network
        )));
    }
    Ok(())
}

/// The spec's `uidMappings` or `gidMappings` for `ranges`.
pub fn spec_mappings(ranges: &[IdRange]) -> serde_json::Value {
    ranges
        .iter()
        .map(|r| serde_json::json!({"containerID": r.container, "hostID": r.host, "size": r.size}))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_by_name_or_id() {
        let text = "alice:100000:65536\n1001:300000:10\nbob:165536:65536\nbad line\n";
        assert_eq!(
            subordinate_ranges(text, "alice", 1001),
            vec![(100000, 65536), (300000, 10)]
        );
        assert!(subordinate_ranges(text, "carol", 1002).is_empty());
    }

    #[test]
    fn maps_start_with_the_users_own_id() {
        let map = map_of(1001, &[(100000, 65536), (300000, 10)]);
        let lines: Vec<(u32, u32, u32)> =
            map.iter().map(|r| (r.container, r.host, r.size)).collect();
        assert_eq!(
            lines,
            vec![(0, 1001, 1), (1, 100000, 65536), (65537, 300000, 10)]
        );
    }
}
