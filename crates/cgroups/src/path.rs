//! Validation of cgroup paths given to [`crate::open`].

use std::path::{Component, Path, PathBuf};

use crate::{Error, Result};

/// Checks that `path` is absolute, names something below the root and has no
/// `..` component; returns it relative to the hierarchy roots (no leading `/`).
pub(crate) fn relative(path: &Path) -> Result<PathBuf> {
    if !path.is_absolute() {
        return Err(Error::Invalid(format!(
            "cgroup path {} must be absolute",
            path.display()
        )));
    }
    let mut rel = PathBuf::new();
    for component in path.components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(part) => rel.push(part),
            Component::ParentDir | Component::Prefix(_) => {
                return Err(Error::Invalid(format!(
                    "cgroup path {} must not contain '..'",
                    path.display()
                )))
            }
        }
    }
    if rel.as_os_str().is_empty() {
        return Err(Error::Invalid(format!(
            "cgroup path {} names the root cgroup",
            path.display()
        )));
    }
    Ok(rel)
}

/// The levels of `rel` from the top down: `a/b/c` gives `a`, `a/b`, `a/b/c`.
pub(crate) fn levels(rel: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut current = PathBuf::new();
    for component in rel.components() {
        current.push(component);
        out.push(current.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_absolute_paths() {
        assert_eq!(
            relative(Path::new("/skiff/abc")).unwrap(),
            PathBuf::from("skiff/abc")
        );
        assert_eq!(
            relative(Path::new("/skiff/./abc/")).unwrap(),
            PathBuf::from("skiff/abc")
        );
    }

    #[test]
    fn rejects_bad_paths() {
        for bad in ["/skiff/../etc", "/..", "skiff/abc", "/", "/./"] {
            assert!(
                matches!(relative(Path::new(bad)), Err(Error::Invalid(_))),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn levels_go_top_down() {
        assert_eq!(
            levels(Path::new("a/b/c")),
            vec![
                PathBuf::from("a"),
                PathBuf::from("a/b"),
                PathBuf::from("a/b/c")
            ]
        );
    }
}
