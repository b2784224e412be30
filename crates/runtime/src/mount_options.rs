//! Parsing OCI mount options into mount(2) flags, propagation changes,
//! recursive mount_setattr(2) attributes and filesystem data.

use nix::mount::MsFlags;

/// `MOUNT_ATTR_*` values for mount_setattr(2).
pub mod attr {
    /// Read-only.
    pub const RDONLY: u64 = 0x1;
    /// No set-user-id.
    pub const NOSUID: u64 = 0x2;
    /// No device files.
    pub const NODEV: u64 = 0x4;
    /// No execution.
    pub const NOEXEC: u64 = 0x8;
    /// The access-time mask.
    pub const ATIME: u64 = 0x70;
    /// Relative access time (the mask's zero value).
    pub const RELATIME: u64 = 0x0;
    /// No access-time updates.
    pub const NOATIME: u64 = 0x10;
    /// Always update access times.
    pub const STRICTATIME: u64 = 0x20;
    /// No directory access-time updates.
    pub const NODIRATIME: u64 = 0x80;
    /// Do not follow symlinks.
    pub const NOSYMFOLLOW: u64 = 0x0020_0000;
}

/// Everything an OCI mount's `options` ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags to set.
    pub flags: MsFlags,
    /// Flags the options turn off explicitly (rw, suid, dev, ...).
    pub cleared: MsFlags,
    /// Propagation changes applied after mounting, in order.
    pub propagation: Vec<MsFlags>,
    /// Recursive attributes to set with mount_setattr.
    pub attr_set: u64,
    /// Recursive attributes to clear with mount_setattr.
    pub attr_clr: u64,
    /// A bind mount (`bind` or `rbind`).
    pub bind: bool,
    /// A recursive bind mount (`rbind`).
    pub recursive: bool,
    /// Copy the destination's contents into a new tmpfs.
    pub tmpcopyup: bool,
    /// Options passed to the filesystem as data.
    pub data: Vec<String>,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: Vec::new(),
            attr_set: 0,
            attr_clr: 0,
            bind: false,
            recursive: false,
            tmpcopyup: false,
            data: Vec::new(),
        }
    }
}

const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(256);

fn flag(name: &str) -> Option<(bool, MsFlags)> {
    Some(match name {
        "ro" => (true, MsFlags::MS_RDONLY),
        "rw" => (false, MsFlags::MS_RDONLY),
        "nosuid" => (true, MsFlags::MS_NOSUID),
        "suid" => (false, MsFlags::MS_NOSUID),
        "nodev" => (true, MsFlags::MS_NODEV),
        "dev" => (false, MsFlags::MS_NODEV),
        "noexec" => (true, MsFlags::MS_NOEXEC),
        "exec" => (false, MsFlags::MS_NOEXEC),
        "sync" => (true, MsFlags::MS_SYNCHRONOUS),
        "async" => (false, MsFlags::MS_SYNCHRONOUS),
        "dirsync" => (true, MsFlags::MS_DIRSYNC),
        "remount" => (true, MsFlags::MS_REMOUNT),
        "mand" => (true, MsFlags::MS_MANDLOCK),
        "nomand" => (false, MsFlags::MS_MANDLOCK),
        "noatime" => (true, MsFlags::MS_NOATIME),
        "atime" => (false, MsFlags::MS_NOATIME),
        "nodiratime" => (true, MsFlags::MS_NODIRATIME),
        "diratime" => (false, MsFlags::MS_NODIRATIME),
        "relatime" => (true, MsFlags::MS_RELATIME),
        "norelatime" => (false, MsFlags::MS_RELATIME),
        "strictatime" => (true, MsFlags::MS_STRICTATIME),
        "nostrictatime" => (false, MsFlags::MS_STRICTATIME),
        "lazytime" => (true, MsFlags::MS_LAZYTIME),
        "nolazytime" => (false, MsFlags::MS_LAZYTIME),
        "silent" => (true, MsFlags::MS_SILENT),
        "loud" => (false, MsFlags::MS_SILENT),
        "iversion" => (true, MsFlags::MS_I_VERSION),
        "noiversion" => (false, MsFlags::MS_I_VERSION),
        "nosymfollow" => (true, MS_NOSYMFOLLOW),
        "symfollow" => (false, MS_NOSYMFOLLOW),
        _ => return None,
    })
}

/// The propagation flags a name stands for (also used for `rootfsPropagation`).
pub fn propagation(name: &str) -> Option<MsFlags> {
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

fn recursive_attr(name: &str) -> Option<(bool, u64)> {
    Some(match name {
        "rro" => (true, attr::RDONLY),
        "rrw" => (false, attr::RDONLY),
        "rnosuid" => (true, attr::NOSUID),
        "rsuid" => (false, attr::NOSUID),
        "rnodev" => (true, attr::NODEV),
        "rdev" => (false, attr::NODEV),
        "rnoexec" => (true, attr::NOEXEC),
        "rexec" => (false, attr::NOEXEC),
        "rnodiratime" => (true, attr::NODIRATIME),
        "rdiratime" => (false, attr::NODIRATIME),
        "rnosymfollow" => (true, attr::NOSYMFOLLOW),
        "rsymfollow" => (false, attr::NOSYMFOLLOW),
        _ => return None,
    })
}

fn recursive_atime(name: &str) -> Option<u64> {
    Some(match name {
        "rnoatime" => attr::NOATIME,
        "rrelatime" => attr::RELATIME,
        "rstrictatime" => attr::STRICTATIME,
        _ => return None,
    })
}

/// The option names this runtime understands (for `features`).
pub const KNOWN: &[&str] = &[
    "acl",
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "iversion",
    "lazytime",
    "loud",
    "mand",
    "noacl",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "ratime",
    "rbind",
    "rdev",
    "rdiratime",
    "relatime",
    "remount",
    "rexec",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnostrictatime",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rrelatime",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "tmpcopyup",
    "unbindable",
];

/// Parse a mount's options. Names that are not mount flags go to the filesystem as data.
pub fn parse(options: &[String]) -> MountOptions {
    let mut o = MountOptions::default();
    for name in options {
        let name = name.as_str();
        if let Some((set, f)) = flag(name) {
            if set {
                o.flags |= f;
                o.cleared &= !f;
            } else {
                o.flags &= !f;
                o.cleared |= f;
            }
        } else if let Some(p) = propagation(name) {
            o.propagation.push(p);
        } else if let Some((set, a)) = recursive_attr(name) {
            if set {
                o.attr_set |= a;
                o.attr_clr &= !a;
            } else {
                o.attr_clr |= a;
                o.attr_set &= !a;
            }
        } else if let Some(a) = recursive_atime(name) {
            o.attr_clr |= attr::ATIME;
            o.attr_set = (o.attr_set & !attr::ATIME) | a;
        } else {
            match name {
                "defaults" | "ratime" | "rnorelatime" | "rnostrictatime" => {}
                "bind" => o.bind = true,
                "rbind" => {
                    o.bind = true;
                    o.recursive = true;
                }
                "tmpcopyup" => o.tmpcopyup = true,
                _ => o.data.push(name.to_string()),
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[&str]) -> MountOptions {
        parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_data_and_propagation() {
        let o = opts(&["nosuid", "ro", "mode=755", "size=1m", "rslave", "rbind"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_RDONLY);
        assert_eq!(o.data, vec!["mode=755", "size=1m"]);
        assert_eq!(o.propagation, vec![MsFlags::MS_SLAVE | MsFlags::MS_REC]);
        assert!(o.bind && o.recursive);
    }

    #[test]
    fn later_options_win() {
        let o = opts(&["ro", "rw", "rro", "rrw"]);
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
        assert!(o.cleared.contains(MsFlags::MS_RDONLY));
        assert_eq!(o.attr_set, 0);
        assert_eq!(o.attr_clr, attr::RDONLY);
    }

    #[test]
    fn recursive_atime() {
        let o = opts(&["rnoatime"]);
        assert_eq!(o.attr_set, attr::NOATIME);
        assert_eq!(o.attr_clr, attr::ATIME);
    }
}
