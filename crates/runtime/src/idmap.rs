//! uid and gid maps of a new user namespace, written by the runtime for its init.
//!
//! Root writes `/proc/PID/uid_map` and `gid_map` itself. An ordinary user may
//! write one line mapping its own uid (and, after denying setgroups, its own
//! gid); any other map is written by the setuid helpers `newuidmap` and
//! `newgidmap` (Debian's `uidmap`), which allow the ranges `/etc/subuid` and
//! `/etc/subgid` give the user.

use std::path::PathBuf;
use std::process::Command;

use oci_spec::runtime::{LinuxIdMapping, Spec};

use crate::error::{Context, Error, Result};

fn format(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Which ids a map is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Uid,
    Gid,
}

impl Kind {
    fn file(self) -> &'static str {
        match self {
            Kind::Uid => "uid_map",
            Kind::Gid => "gid_map",
        }
    }

    fn field(self) -> &'static str {
        match self {
            Kind::Uid => "linux.uidMappings",
            Kind::Gid => "linux.gidMappings",
        }
    }

    fn helper(self) -> &'static str {
        match self {
            Kind::Uid => "newuidmap",
            Kind::Gid => "newgidmap",
        }
    }

    /// The environment variable that names the helper's path.
    fn helper_env(self) -> &'static str {
        match self {
            Kind::Uid => HELPER_ENV[0],
            Kind::Gid => HELPER_ENV[1],
        }
    }

    /// The caller's own id of this kind.
    fn own(self) -> u32 {
        match self {
            Kind::Uid => nix::unistd::geteuid().as_raw(),
            Kind::Gid => nix::unistd::getegid().as_raw(),
        }
    }
}

fn maps(spec: &Spec, kind: Kind) -> &[LinuxIdMapping] {
    let linux = spec.linux().as_ref();
    let maps = match kind {
        Kind::Uid => linux.and_then(|l| l.uid_mappings().as_deref()),
        Kind::Gid => linux.and_then(|l| l.gid_mappings().as_deref()),
    };
    maps.unwrap_or_default()
}

/// Whether this process may write the map itself: as root, or as an
/// ordinary user when the map is one line of its own id.
fn writable_directly(maps: &[LinuxIdMapping], kind: Kind) -> bool {
    nix::unistd::geteuid().is_root()
        || matches!(maps, [m] if m.host_id() == kind.own() && m.size() == 1)
}

/// The environment variables that name `newuidmap` and `newgidmap`
/// (instead of looking for them).
pub const HELPER_ENV: [&str; 2] = ["SKIFF_NEWUIDMAP", "SKIFF_NEWGIDMAP"];

/// The helper that writes `kind`'s map: the file its environment variable
/// names, else found through `PATH` (then `/usr/bin`).
fn find_helper(kind: Kind) -> Option<PathBuf> {
    crate::rootless::find_program(kind.helper_env(), kind.helper())
}

/// `newuidmap` and `newgidmap` as the runtime finds them (see
/// [`HELPER_ENV`]); `Err` names the one missing.
pub fn helpers() -> std::result::Result<(PathBuf, PathBuf), &'static str> {
    let uid = find_helper(Kind::Uid).ok_or(Kind::Uid.helper())?;
    let gid = find_helper(Kind::Gid).ok_or(Kind::Gid.helper())?;
    Ok((uid, gid))
}

/// Check, before anything is made, that the maps can be written: an ordinary
/// user needs `newuidmap`/`newgidmap` for any map but one of its own id.
pub fn check(spec: &Spec) -> Result<()> {
    for kind in [Kind::Uid, Kind::Gid] {
        let maps = maps(spec, kind);
        if maps.is_empty() {
            return Err(Error::Spec(format!(
                "{}: a new user namespace needs a mapping",
                kind.field()
            )));
        }
        if !writable_directly(maps, kind) && find_helper(kind).is_none() {
            return Err(Error::Spec(format!(
                "{} ({}) maps more than your own {} {}: that needs {}, which is not \
                 installed (Debian package uidmap), or a map of just your own id",
                kind.field(),
                format(maps).trim().replace('\n', ", "),
                if kind == Kind::Uid { "uid" } else { "gid" },
                kind.own(),
                kind.helper(),
            )));
        }
    }
    Ok(())
}

/// Write `/proc/PID/uid_map` and `gid_map` from the spec. An unprivileged
/// runtime must deny setgroups before writing a gid map itself, as the
/// kernel requires.
pub fn write(pid: i32, spec: &Spec) -> Result<()> {
    for kind in [Kind::Uid, Kind::Gid] {
        let maps = maps(spec, kind);
        if writable_directly(maps, kind) {
            if kind == Kind::Gid && !nix::unistd::geteuid().is_root() {
                std::fs::write(format!("/proc/{pid}/setgroups"), "deny")
                    .ctx(|| format!("write /proc/{pid}/setgroups"))?;
            }
            let path = format!("/proc/{pid}/{}", kind.file());
            std::fs::write(&path, format(maps))
                .ctx(|| format!("write {path} ({})", format(maps).trim()))?;
        } else {
            run_helper(pid, maps, kind)?;
        }
    }
    Ok(())
}

fn run_helper(pid: i32, maps: &[LinuxIdMapping], kind: Kind) -> Result<()> {
    let helper = find_helper(kind).ok_or_else(|| {
        Error::Spec(format!(
            "{} needs {}, which is not installed (Debian package uidmap)",
            kind.field(),
            kind.helper()
        ))
    })?;
    let mut args = vec![pid.to_string()];
    for m in maps {
        args.extend([m.container_id(), m.host_id(), m.size()].map(|n| n.to_string()));
    }
    let show = format!("{} {}", helper.display(), args.join(" "));
    let out = Command::new(&helper)
        .args(&args)
        .output()
        .ctx(|| format!("run {show}"))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Spec(format!(
            "{}: {show} failed ({}): {}; /etc/sub{}id must give uid {} the host ids mapped",
            kind.field(),
            out.status,
            why.trim(),
            if kind == Kind::Uid { "u" } else { "g" },
            nix::unistd::geteuid(),
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Vec<LinuxIdMapping> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn map_lines() {
        let m = parse(
            r#"[{"containerID":0,"hostID":100000,"size":65536},{"containerID":65536,"hostID":5,"size":1}]"#,
        );
        assert_eq!(format(&m), "0 100000 65536\n65536 5 1\n");
    }

    #[test]
    fn own_single_id_is_written_directly() {
        let own = Kind::Uid.own();
        let one = parse(&format!(r#"[{{"containerID":0,"hostID":{own},"size":1}}]"#));
        assert!(writable_directly(&one, Kind::Uid));
        let range = parse(r#"[{"containerID":0,"hostID":100000,"size":65536}]"#);
        assert_eq!(
            writable_directly(&range, Kind::Uid),
            nix::unistd::geteuid().is_root()
        );
    }
}
