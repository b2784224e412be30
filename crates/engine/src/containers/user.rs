//! `-u name[:group]`: the user and groups a container's process runs as,
//! looked up in the image's own `/etc/passwd` and `/etc/group`, read
//! through openat2(RESOLVE_IN_ROOT) so that an image's symlinks cannot point
//! the lookup at the host's files.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use skiff_runtime::resolve::openat_in_root;

use crate::{Error, Result};

/// Who the process is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user id.
    pub uid: u32,
    /// The primary group id.
    pub gid: u32,
    /// Supplementary groups (from /etc/group membership).
    pub additional_gids: Vec<u32>,
    /// The home directory, for `HOME`.
    pub home: String,
}

/// Resolves `spec` (`""`, `name`, `uid`, `name:group`, `uid:gid`) in the
/// root filesystem at `rootfs`.
pub fn resolve(rootfs: &Path, spec: &str) -> Result<Identity> {
    resolve_in_layers(&[rootfs.to_path_buf()], spec)
}

/// Resolves `spec` in the directories an overlay would merge, top first (an
/// ordinary user's container, whose root is mounted only in its own
/// namespaces): each file is read from the highest directory that has it,
/// and a whiteout there means the file is gone.
pub fn resolve_in_layers(dirs: &[PathBuf], spec: &str) -> Result<Identity> {
    let roots = dirs
        .iter()
        .map(|dir| {
            File::open(dir)
                .map(OwnedFd::from)
                .map_err(|e| Error::Io(format!("opening {}", dir.display()), e))
        })
        .collect::<Result<Vec<_>>>()?;
    let passwd = read_in_layers(&roots, "etc/passwd");
    let group = read_in_layers(&roots, "etc/group");
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if user.is_empty() { "0" } else { user };
    let entry = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 7 && (f[0] == user || f[2] == user));
    let (uid, mut gid, name, home) = match (entry, user.parse::<u32>()) {
        (Some(f), _) => (num(f[2])?, num(f[3])?, f[0].to_string(), f[5].to_string()),
        (None, Ok(uid)) => (uid, 0, String::new(), "/".to_string()),
        (None, Err(_)) => {
            return Err(Error::Invalid(format!(
                "unable to find user {user}: no matching entries in the image's /etc/passwd"
            )))
        }
    };
    if let Some(g) = grp {
        gid = match (lookup_group(&group, g), g.parse::<u32>()) {
            (Some(found), _) => found,
            (None, Ok(n)) => n,
            (None, Err(_)) => {
                return Err(Error::Invalid(format!(
                    "unable to find group {g}: no matching entries in the image's /etc/group"
                )))
            }
        };
    }
    let additional_gids = if grp.is_some() || name.is_empty() {
        Vec::new()
    } else {
        memberships(&group, &name, gid)
    };
    Ok(Identity {
        uid,
        gid,
        additional_gids,
        home,
    })
}

fn num(s: &str) -> Result<u32> {
    s.parse()
        .map_err(|_| Error::Invalid(format!("the image's /etc/passwd has a bad id {s:?}")))
}

fn lookup_group(group: &str, g: &str) -> Option<u32> {
    group
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 3 && f[0] == g)
        .and_then(|f| f[2].parse().ok())
}

fn memberships(group: &str, user: &str, primary: u32) -> Vec<u32> {
    group
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 4 && f[3].split(',').any(|m| m == user))
        .filter_map(|f| f[2].parse().ok())
        .filter(|g| *g != primary)
        .collect()
}

/// A file's text in the highest of `roots` that has it, or "" if it is
/// missing, whited out (a device node that does not open) or unreadable.
fn read_in_layers(roots: &[OwnedFd], path: &str) -> String {
    let flags = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK;
    for root in roots {
        match openat_in_root(root.as_raw_fd(), Path::new(path), flags) {
            Ok(fd) => {
                let mut text = String::new();
                let _ = File::from(fd).take(1 << 20).read_to_string(&mut text);
                return text;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(_) => break,
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rootfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nweb:x:33:33:web:/var/www:/bin/false\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\nweb:x:33:\nstaff:x:50:web\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn names_ids_and_groups() {
        let dir = rootfs();
        let web = resolve(dir.path(), "web").unwrap();
        assert_eq!(
            (web.uid, web.gid, web.additional_gids.clone()),
            (33, 33, vec![50])
        );
        assert_eq!(web.home, "/var/www");
        assert_eq!(resolve(dir.path(), "").unwrap().uid, 0);
        let numeric = resolve(dir.path(), "1000:staff").unwrap();
        assert_eq!((numeric.uid, numeric.gid), (1000, 50));
        assert_eq!(resolve(dir.path(), "7:8").unwrap().gid, 8);
        assert!(resolve(dir.path(), "nobody")
            .unwrap_err()
            .to_string()
            .contains("nobody"));
        assert!(resolve(dir.path(), "web:nogroup").is_err());
    }

    #[test]
    fn a_passwd_symlink_out_of_the_root_is_not_followed() {
        let dir = rootfs();
        std::fs::remove_file(dir.path().join("etc/passwd")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("etc/passwd")).unwrap();
        // Inside the root, /etc/passwd points at itself: the host's root user
        // must not be found through it.
        assert!(resolve(dir.path(), "root").is_err());
    }
}
