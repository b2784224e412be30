//! The container's cgroup as the runtime sees it: where it is, and the
//! resources written to it (the spec's, plus the device rules every
//! container needs).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources, Spec};
use skiff_cgroups::{Cgroup, FreezerState, Stats};

use crate::devices;
use crate::error::{Error, Result};
use crate::state::{self, State};

/// The cgroup path for a container: `linux.cgroupsPath` (relative ones below
/// the runtime's own prefix) or `/skiff/<id>`.
pub fn path(spec: &Spec, id: &str) -> Result<PathBuf> {
    let given = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    let path = match given {
        Some(p) if p.is_absolute() => p,
        Some(p) if !p.as_os_str().is_empty() => Path::new("/skiff").join(p),
        _ => Path::new("/skiff").join(id),
    };
    if path.to_string_lossy().contains(':') {
        return Err(Error::Spec(format!(
            "linux.cgroupsPath {} looks like a systemd path (slice:prefix:name); \
             the systemd cgroup driver is not supported, use a cgroupfs path",
            path.display()
        )));
    }
    Ok(path)
}

/// Open the container's cgroup on this host.
pub fn open(path: &Path) -> Result<Box<dyn Cgroup>> {
    Ok(skiff_cgroups::open(path)?)
}

/// The cgroup of a container as recorded in its state: its own, or for a
/// container made without one, a [`NoCgroup`] standing in.
pub fn of(state: &State) -> Result<Box<dyn Cgroup>> {
    if state.without_cgroup {
        return Ok(Box::new(NoCgroup::new(state)));
    }
    open(&state.cgroup_path)
}

/// Whether this process may make and use the cgroup at `path`: root always;
/// an ordinary user only where it may write, on every hierarchy the host
/// has, the cgroup's directory or the nearest one above it that exists (a
/// subtree delegated to the user, as systemd does on cgroup v2).
pub fn usable(path: &Path) -> Result<bool> {
    if nix::unistd::geteuid().is_root() {
        return Ok(true);
    }
    let rel = path.strip_prefix("/").unwrap_or(path);
    let hierarchies = skiff_cgroups::hierarchies()?;
    Ok(!hierarchies.is_empty()
        && hierarchies.iter().all(|h| {
            let dir = h.mount_point.join(rel);
            dir.ancestors()
                .take_while(|d| d.starts_with(&h.mount_point))
                .find(|d| d.exists())
                .is_some_and(writable)
        }))
}

fn writable(dir: &Path) -> bool {
    use nix::unistd::{faccessat, AccessFlags};
    faccessat(
        None,
        dir,
        AccessFlags::W_OK,
        nix::fcntl::AtFlags::AT_EACCESS,
    )
    .is_ok()
}

/// Whether `res` limits anything a cgroup would have to enforce. Device
/// rules do not count: a container without a cgroup is in a user namespace,
/// where no device node can be made, only bound from the host.
pub fn limits_anything(res: &LinuxResources) -> bool {
    fn set(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Null | serde_json::Value::Bool(false) => false,
            serde_json::Value::Array(a) => a.iter().any(set),
            serde_json::Value::Object(o) => o.values().any(set),
            _ => true,
        }
    }
    let mut v = serde_json::to_value(without_unset(res.clone())).expect("resources serialise");
    if let Some(o) = v.as_object_mut() {
        o.remove("devices");
    }
    set(&v)
}

/// The error for what needs a cgroup, of a container made without one.
pub fn no_cgroup(what: &str) -> skiff_cgroups::Error {
    skiff_cgroups::Error::Unsupported(format!(
        "{what} needs a cgroup, and this container has none: it was made by a user \
         who may not write the cgroup tree (see docs/rootless.md)"
    ))
}

/// The cgroup of a container made without one: nothing to make or remove;
/// its processes are those in the pid namespace of its init (or init alone,
/// when it shares the runtime's pid namespace).
#[derive(Debug)]
pub struct NoCgroup {
    path: PathBuf,
    init: Option<(i32, u64)>,
}

impl NoCgroup {
    /// The stand-in for `state`'s container.
    pub fn new(state: &State) -> Self {
        NoCgroup {
            path: state.cgroup_path.clone(),
            init: (state.pid > 0).then_some((state.pid, state.init_start_time)),
        }
    }
}

/// The inode of a process's pid namespace.
fn pid_ns(pid: &str) -> Option<u64> {
    std::fs::metadata(format!("/proc/{pid}/ns/pid"))
        .ok()
        .map(|m| m.ino())
}

impl Cgroup for NoCgroup {
    fn path(&self) -> &Path {
        &self.path
    }

    fn create(&self) -> skiff_cgroups::Result<()> {
        Ok(())
    }

    fn add_process(&self, _pid: i32) -> skiff_cgroups::Result<()> {
        Ok(())
    }

    fn apply(&self, resources: &LinuxResources) -> skiff_cgroups::Result<()> {
        match limits_anything(resources) {
            true => Err(no_cgroup("setting resource limits")),
            false => Ok(()),
        }
    }

    fn pids(&self) -> skiff_cgroups::Result<Vec<i32>> {
        let Some((init, _)) = self.init.filter(|(p, s)| state::process_alive(*p, *s)) else {
            return Ok(Vec::new());
        };
        let ns = pid_ns(&init.to_string());
        if ns.is_none() || ns == pid_ns("self") {
            return Ok(vec![init]);
        }
        let entries = std::fs::read_dir("/proc").map_err(|source| skiff_cgroups::Error::Io {
            op: "read",
            path: PathBuf::from("/proc"),
            source,
        })?;
        let mut pids: Vec<i32> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| pid_ns(name) == ns)
            .filter_map(|name| name.parse().ok())
            .collect();
        pids.sort_unstable();
        Ok(pids)
    }

    fn set_freezer(&self, _state: FreezerState) -> skiff_cgroups::Result<()> {
        Err(no_cgroup("pausing and resuming"))
    }

    fn freezer(&self) -> skiff_cgroups::Result<FreezerState> {
        Ok(FreezerState::Thawed)
    }

    fn destroy(&self) -> skiff_cgroups::Result<()> {
        Ok(())
    }

    fn stats(&self) -> Stats {
        Stats::default()
    }
}

/// Fields where 0 means "not set", as engines send them (Docker sends every
/// one of them, zeros included) and as runc reads them.
const ZERO_IS_UNSET: &[(&str, &str)] = &[
    ("memory", "limit"),
    ("memory", "reservation"),
    ("memory", "swap"),
    ("memory", "kernel"),
    ("memory", "kernelTCP"),
    ("cpu", "shares"),
    ("cpu", "quota"),
    ("cpu", "period"),
    ("cpu", "realtimeRuntime"),
    ("cpu", "realtimePeriod"),
    ("cpu", "burst"),
    ("blockIO", "weight"),
    ("blockIO", "leafWeight"),
];

/// Drop the zero values that mean "not set", so that nothing writes them.
pub fn without_unset(res: LinuxResources) -> LinuxResources {
    let mut v = serde_json::to_value(&res).expect("resources serialise");
    for (section, key) in ZERO_IS_UNSET {
        if let Some(obj) = v.get_mut(*section).and_then(|s| s.as_object_mut()) {
            if obj.get(*key).and_then(|x| x.as_i64()) == Some(0) {
                obj.remove(*key);
            }
        }
    }
    serde_json::from_value(v).unwrap_or(res)
}

/// The spec's resources with device rules for the default devices, the
/// terminal devices and `linux.devices` appended, as runc does.
pub fn resources(spec: &Spec) -> Result<LinuxResources> {
    let linux = spec.linux().as_ref();
    let mut res = without_unset(
        linux
            .and_then(|l| l.resources().clone())
            .unwrap_or_default(),
    );
    let mut rules: Vec<LinuxDeviceCgroup> = res.devices().clone().unwrap_or_default();
    let allow = |typ: &str, major: Option<i64>, minor: Option<i64>, access: &str| {
        serde_json::from_value::<LinuxDeviceCgroup>(serde_json::json!({
            "allow": true, "type": typ, "major": major, "minor": minor, "access": access
        }))
        .expect("valid device rule")
    };
    rules.push(allow("c", None, None, "m"));
    rules.push(allow("b", None, None, "m"));
    for (_, major, minor) in devices::DEFAULTS {
        rules.push(allow("c", Some(major as i64), Some(minor as i64), "rwm"));
    }
    rules.push(allow("c", Some(5), Some(1), "rwm"));
    rules.push(allow("c", Some(5), Some(2), "rwm"));
    rules.push(allow("c", Some(136), None, "rwm"));
    for d in linux
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
    {
        rules.push(LinuxDeviceCgroup::from(d));
    }
    res.set_devices(Some(rules));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_from_engines_are_unset() {
        let res: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":134217728,"reservation":0,"swap":0,"kernel":0},
                "cpu":{"shares":512,"quota":0,"period":0},"pids":{"limit":70},"blockIO":{"weight":0}}"#,
        )
        .unwrap();
        let r = without_unset(res);
        let mem = r.memory().as_ref().unwrap();
        assert_eq!(
            (mem.limit(), mem.reservation(), mem.swap()),
            (Some(134217728), None, None)
        );
        let cpu = r.cpu().as_ref().unwrap();
        assert_eq!(
            (cpu.shares(), cpu.quota(), cpu.period()),
            (Some(512), None, None)
        );
        assert_eq!(r.block_io().as_ref().unwrap().weight(), None);
        assert_eq!(r.pids().as_ref().unwrap().limit(), 70);
    }

    #[test]
    fn what_counts_as_a_limit() {
        let none: LinuxResources = serde_json::from_str(
            r#"{"devices":[{"allow":false,"access":"rwm"}],"memory":{"limit":0,"disableOOMKiller":false},"cpu":{}}"#,
        )
        .unwrap();
        assert!(!limits_anything(&none));
        let pids: LinuxResources = serde_json::from_str(r#"{"pids":{"limit":10}}"#).unwrap();
        assert!(limits_anything(&pids));
    }
}
