//! Finding the cgroup hierarchies from `/proc/self/mountinfo`.

use std::path::{Path, PathBuf};

use crate::{Error, Layout, Result};

/// Controller names a cgroup v1 mount may carry in its super options.
const V1_CONTROLLERS: &[&str] = &[
    "blkio",
    "cpu",
    "cpuacct",
    "cpuset",
    "debug",
    "devices",
    "freezer",
    "hugetlb",
    "memory",
    "misc",
    "net_cls",
    "net_prio",
    "perf_event",
    "pids",
    "rdma",
];

/// One cgroup v1 hierarchy: its controllers (and `name=` label) and where it is mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct V1Hierarchy {
    /// Controllers bound to the hierarchy, e.g. `["cpu", "cpuacct"]` or `["name=systemd"]`.
    pub(crate) controllers: Vec<String>,
    /// Mount point of the hierarchy.
    pub(crate) mount_point: PathBuf,
}

impl V1Hierarchy {
    /// Whether `controller` is bound to this hierarchy.
    pub(crate) fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// The cgroup filesystems mounted on this host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Mounts {
    /// cgroup v1 hierarchies, one per distinct controller set.
    pub(crate) v1: Vec<V1Hierarchy>,
    /// The first cgroup2 mount point, if any.
    pub(crate) unified: Option<PathBuf>,
}

/// The fields of one mountinfo line this crate uses.
#[derive(Debug, PartialEq, Eq)]
struct MountEntry {
    mount_point: PathBuf,
    fstype: String,
    super_options: String,
}

impl Mounts {
    /// Reads `/proc/self/mountinfo`.
    pub(crate) fn read() -> Result<Self> {
        let file = Path::new("/proc/self/mountinfo");
        let text = std::fs::read_to_string(file).map_err(|source| Error::Io {
            op: "read",
            path: file.to_path_buf(),
            source,
        })?;
        Ok(Self::parse(&text))
    }

    /// Collects the cgroup mounts from the text of a mountinfo file.
    pub(crate) fn parse(text: &str) -> Self {
        let mut mounts = Mounts::default();
        for entry in text.lines().filter_map(parse_line) {
            match entry.fstype.as_str() {
                "cgroup2" if mounts.unified.is_none() => mounts.unified = Some(entry.mount_point),
                "cgroup" => {
                    let controllers: Vec<String> = entry
                        .super_options
                        .split(',')
                        .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                        .map(str::to_owned)
                        .collect();
                    let seen = mounts.v1.iter().any(|h| h.controllers == controllers);
                    if !controllers.is_empty() && !seen {
                        mounts.v1.push(V1Hierarchy {
                            controllers,
                            mount_point: entry.mount_point,
                        });
                    }
                }
                _ => {}
            }
        }
        mounts
    }

    /// The layout these mounts make.
    pub(crate) fn layout(&self) -> Result<Layout> {
        let has_v1_controllers = self
            .v1
            .iter()
            .any(|h| h.controllers.iter().any(|c| !c.starts_with("name=")));
        match (has_v1_controllers, self.unified.is_some()) {
            (true, true) => Ok(Layout::Hybrid),
            (true, false) => Ok(Layout::Legacy),
            (false, true) => Ok(Layout::Unified),
            (false, false) => Err(Error::Unsupported(
                "no cgroup filesystem is mounted (see /proc/self/mountinfo)".into(),
            )),
        }
    }
}

/// Parses one mountinfo line:
/// `id parent major:minor root mount_point options [optional...] - fstype source super_options`.
fn parse_line(line: &str) -> Option<MountEntry> {
    let (left, right) = line.split_once(" - ")?;
    let mount_point = left.split(' ').nth(4)?;
    let mut right = right.split(' ');
    let fstype = right.next()?;
    let super_options = right.nth(1)?;
    Some(MountEntry {
        mount_point: PathBuf::from(unescape(mount_point)),
        fstype: fstype.to_owned(),
        super_options: super_options.to_owned(),
    })
}

/// Undoes the kernel's octal escapes (`\040` for a space, ...) in a mountinfo field.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(d) => {
                let value = d.iter().fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:7 - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:9 master:2 - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,release_agent=/x,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
99 31 0:29 / /mnt/cpu\\040copy rw,relatime - cgroup cgroup rw,cpu,cpuacct
";

    #[test]
    fn parses_one_line() {
        let entry = parse_line(
            "36 25 0:33 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate",
        )
        .unwrap();
        assert_eq!(entry.mount_point, PathBuf::from("/sys/fs/cgroup"));
        assert_eq!(entry.fstype, "cgroup2");
        assert_eq!(entry.super_options, "rw,nsdelegate");
        assert!(parse_line("garbage").is_none());
    }

    #[test]
    fn unescapes_octal() {
        assert_eq!(unescape("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape("/mnt/a\\\\b"), "/mnt/a\\\\b");
        assert_eq!(unescape("/mnt/x\\04"), "/mnt/x\\04");
    }

    #[test]
    fn finds_hybrid_hierarchies() {
        let mounts = Mounts::parse(HYBRID);
        assert_eq!(mounts.layout().unwrap(), Layout::Hybrid);
        assert_eq!(
            mounts.unified,
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let names: Vec<Vec<String>> = mounts.v1.iter().map(|h| h.controllers.clone()).collect();
        assert_eq!(
            names,
            vec![
                vec!["cpu".to_string(), "cpuacct".to_string()],
                vec!["cpuset".to_string()],
                vec!["memory".to_string()],
                vec!["name=systemd".to_string()],
            ]
        );
        assert!(mounts.v1[0].has("cpuacct"));
        assert_eq!(
            mounts.v1[0].mount_point,
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
        );
    }

    #[test]
    fn detects_unified_and_legacy() {
        let unified = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(Mounts::parse(unified).layout().unwrap(), Layout::Unified);
        let with_named =
            format!("{unified}40 30 0:37 / /run/systemd rw - cgroup cgroup rw,name=systemd\n");
        assert_eq!(
            Mounts::parse(&with_named).layout().unwrap(),
            Layout::Unified
        );
        let legacy = "35 31 0:32 / /cg/memory rw - cgroup cgroup rw,memory\n";
        assert_eq!(Mounts::parse(legacy).layout().unwrap(), Layout::Legacy);
        assert!(matches!(
            Mounts::parse("").layout(),
            Err(Error::Unsupported(_))
        ));
    }
}
