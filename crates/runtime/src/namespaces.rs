//! Which namespaces a container creates and which it joins, and the system
//! calls that do it (clone flags, setns, the time namespace's offsets).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use nix::sched::{setns, unshare, CloneFlags};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{Context, Result};
use crate::spec;

/// The kernel's clone flag for a namespace type.
pub fn clone_flag(typ: LinuxNamespaceType) -> CloneFlags {
    CloneFlags::from_bits_retain(typ as i32)
}

/// The name of a namespace type under `/proc/PID/ns/`.
pub fn proc_name(typ: LinuxNamespaceType) -> &'static str {
    match typ {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// Every namespace type, in the order they are joined: the user namespace
/// first (it grants the rights to join the others), the mount namespace last
/// (joining it changes how later paths resolve).
pub const JOIN_ORDER: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::User,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Time,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Mount,
];

/// How a container gets its namespaces.
#[derive(Debug)]
pub struct Plan {
    /// Namespaces created by clone.
    pub clone_flags: CloneFlags,
    /// A new cgroup namespace, unshared by init once it is in its cgroup.
    pub new_cgroup: bool,
    /// A new time namespace, unshared before clone so its offsets can be set.
    pub new_time: bool,
    /// Existing namespaces to join by path, in [`JOIN_ORDER`].
    pub joins: Vec<(LinuxNamespaceType, PathBuf)>,
}

impl Plan {
    /// Work out the plan from the spec.
    pub fn from_spec(spec: &Spec) -> Plan {
        let mut plan = Plan {
            clone_flags: CloneFlags::empty(),
            new_cgroup: false,
            new_time: false,
            joins: Vec::new(),
        };
        let listed = spec::namespaces(spec);
        for typ in JOIN_ORDER {
            let Some(ns) = listed.iter().find(|ns| ns.typ() == typ) else {
                continue;
            };
            match (ns.path(), typ) {
                (Some(path), _) => plan.joins.push((typ, path.clone())),
                (None, LinuxNamespaceType::Cgroup) => plan.new_cgroup = true,
                (None, LinuxNamespaceType::Time) => plan.new_time = true,
                (None, _) => plan.clone_flags |= clone_flag(typ),
            }
        }
        plan
    }

    /// Whether init is created in a new user namespace.
    pub fn new_user(&self) -> bool {
        self.clone_flags.contains(CloneFlags::CLONE_NEWUSER)
    }

    /// Whether init is created in a new PID namespace.
    pub fn new_pid(&self) -> bool {
        self.clone_flags.contains(CloneFlags::CLONE_NEWPID)
    }
}

/// A descriptor of process `pid`'s namespace `kind` (`net`, `user`: its
/// name under `/proc/PID/ns/`).
pub fn open(pid: i32, kind: &str) -> Result<std::os::fd::OwnedFd> {
    let path = format!("/proc/{pid}/ns/{kind}");
    File::open(&path)
        .map(Into::into)
        .ctx(|| format!("open {path}"))
}

/// Join the namespaces at the given paths, in order.
pub fn join_paths(joins: &[(LinuxNamespaceType, PathBuf)]) -> Result<()> {
    for (typ, path) in joins {
        let f = File::open(path).ctx(|| format!("open {typ} namespace {}", path.display()))?;
        setns(&f, clone_flag(*typ)).ctx(|| format!("join {typ} namespace {}", path.display()))?;
    }
    Ok(())
}

/// Make a time namespace for the next child and set its clock offsets.
/// The offsets can only be written before any process enters it.
pub fn unshare_time(spec: &Spec) -> Result<()> {
    unshare(CloneFlags::from_bits_retain(libc::CLONE_NEWTIME))
        .ctx(|| "unshare the time namespace (the kernel needs CONFIG_TIME_NS)".to_string())?;
    let offsets = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref());
    let mut text = String::new();
    for (clock, off) in offsets.into_iter().flatten() {
        text.push_str(&format!(
            "{clock} {} {}\n",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        ));
    }
    if !text.is_empty() {
        std::fs::write("/proc/self/timens_offsets", text)
            .ctx(|| "write /proc/self/timens_offsets".to_string())?;
    }
    Ok(())
}

/// The inode of `/proc/PID/ns/NAME`, which identifies a namespace.
pub fn ns_inode(pid: &str, typ: LinuxNamespaceType) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/ns/{}", proc_name(typ)))
        .ok()
        .map(|m| m.ino())
}

/// Join every namespace of process `pid` that differs from ours, at once
/// through a pidfd where the kernel allows, else one `/proc/PID/ns` file at a time.
pub fn join_process(pid: i32) -> Result<()> {
    let own = |t| ns_inode("self", t);
    let theirs = |t| ns_inode(&pid.to_string(), t);
    let differing: Vec<LinuxNamespaceType> = JOIN_ORDER
        .into_iter()
        .filter(|t| theirs(*t).is_some() && theirs(*t) != own(*t))
        .collect();
    if differing.is_empty() {
        return Ok(());
    }
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; no memory is shared.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd >= 0 {
        // SAFETY: the kernel just returned this fd to us and nothing else owns it.
        let pidfd =
            unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(pidfd as i32) };
        let flags = differing
            .iter()
            .fold(CloneFlags::empty(), |acc, t| acc | clone_flag(*t));
        // SAFETY: setns on a valid pidfd with namespace flags; no memory is passed.
        if unsafe { libc::setns(pidfd.as_raw_fd(), flags.bits()) } == 0 {
            return Ok(());
        }
    }
    let joins: Vec<_> = differing
        .into_iter()
        .map(|t| (t, PathBuf::from(format!("/proc/{pid}/ns/{}", proc_name(t)))))
        .collect();
    join_paths(&joins)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_splits_new_and_joined() {
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion":"1.0.0","linux":{"namespaces":[
                {"type":"mount"},{"type":"network","path":"/run/netns/x"},
                {"type":"user"},{"type":"cgroup"},{"type":"pid"}]}}"#,
        )
        .unwrap();
        let plan = Plan::from_spec(&spec);
        assert!(plan.new_user());
        assert!(plan.new_pid());
        assert!(plan.new_cgroup);
        assert!(!plan.clone_flags.contains(CloneFlags::CLONE_NEWNET));
        assert_eq!(plan.joins.len(), 1);
        assert_eq!(plan.joins[0].0, LinuxNamespaceType::Network);
    }
}
