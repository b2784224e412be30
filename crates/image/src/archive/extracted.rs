//! An archive unpacked into staging: plain files and directories only, with
//! the archive's relative symbolic links kept as a table and followed by
//! name, so nothing an archive says can reach outside its directory.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

const MAX_LINK_DEPTH: usize = 16;

/// An extracted archive.
pub struct Extracted {
    root: PathBuf,
    links: HashMap<String, String>,
}

impl Extracted {
    /// Extracts the tar stream `data` under `root` (an empty directory).
    pub fn extract(data: &mut dyn Read, root: &Path) -> Result<Extracted> {
        fs::create_dir_all(root).map_err(|e| Error::io("creating", root, e))?;
        let mut links = HashMap::new();
        let mut archive = tar::Archive::new(data);
        let entries = archive.entries().map_err(|e| bad_archive(&e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| bad_archive(&e))?;
            let raw = entry.path().map_err(|e| bad_archive(&e))?.into_owned();
            let name = normalize(&raw)?;
            let kind = entry.header().entry_type();
            if kind.is_symlink() {
                let target = entry
                    .link_name()
                    .map_err(|e| bad_archive(&e))?
                    .ok_or_else(|| Error::Other(format!("archive link {name} has no target")))?;
                let parent = Path::new(&name).parent().unwrap_or(Path::new(""));
                let resolved = normalize(&parent.join(target))?;
                links.insert(name, resolved);
            } else if kind.is_dir() {
                let dir = root.join(&name);
                fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
            } else if kind.is_file() {
                let path = root.join(&name);
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent).map_err(|e| Error::io("creating", parent, e))?;
                }
                let mut file = File::create(&path).map_err(|e| Error::io("creating", &path, e))?;
                io::copy(&mut entry, &mut file).map_err(|e| Error::io("writing", &path, e))?;
            }
        }
        Ok(Extracted {
            root: root.to_path_buf(),
            links,
        })
    }

    /// The path of the archive member `name`, following the archive's links.
    pub fn path(&self, name: &str) -> Result<PathBuf> {
        let mut name = normalize(Path::new(name))?;
        for _ in 0..MAX_LINK_DEPTH {
            match self.resolve_once(&name) {
                Some(next) => name = next,
                None => {
                    let path = self.root.join(&name);
                    return match fs::symlink_metadata(&path) {
                        Ok(m) if m.is_file() => Ok(path),
                        _ => Err(Error::Other(format!("the archive has no file {name:?}"))),
                    };
                }
            }
        }
        Err(Error::Other(format!(
            "too many links resolving {name:?} in the archive"
        )))
    }

    /// Whether the archive has the member `name`.
    pub fn has(&self, name: &str) -> bool {
        self.path(name).is_ok()
    }

    /// The bytes of the member `name`.
    pub fn read(&self, name: &str) -> Result<Vec<u8>> {
        let path = self.path(name)?;
        fs::read(&path).map_err(|e| Error::io("reading", &path, e))
    }

    /// Rewrites the first link on the way to `name`, if any.
    fn resolve_once(&self, name: &str) -> Option<String> {
        let mut prefix = String::new();
        for part in name.split('/') {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            if let Some(target) = self.links.get(&prefix) {
                let rest = &name[prefix.len()..];
                return Some(format!("{target}{rest}"));
            }
        }
        None
    }
}

/// A member name as a relative path inside the archive; `..` that climbs
/// above the archive's root is refused.
fn normalize(path: &Path) -> Result<String> {
    let mut parts: Vec<String> = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(Error::Other(format!(
                        "archive member {:?} points outside the archive",
                        path.display()
                    )));
                }
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    if parts.is_empty() {
        return Ok(String::new());
    }
    Ok(parts.join("/"))
}

fn bad_archive(e: &io::Error) -> Error {
    Error::Other(format!("malformed image archive: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_inside_and_escapes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, "blobs/sha256/aa", &b"hi"[..])
            .unwrap();
        let mut l = tar::Header::new_gnu();
        l.set_entry_type(tar::EntryType::Symlink);
        l.set_size(0);
        b.append_link(&mut l, "x/layer.tar", "../blobs/sha256/aa")
            .unwrap();
        let data = b.into_inner().unwrap();
        let ex = Extracted::extract(&mut &data[..], &dir.path().join("a")).unwrap();
        assert_eq!(ex.read("x/layer.tar").unwrap(), b"hi");
        assert!(!ex.has("missing"));
        assert!(normalize(Path::new("../x")).is_err());
        assert!(normalize(Path::new("/a/../b")).unwrap() == "b");
    }
}
