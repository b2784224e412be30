//! uid and gid maps of a new user namespace, written by the runtime for its init.

use oci_spec::runtime::{LinuxIdMapping, Spec};

use crate::error::{Context, Result};

fn format(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Write `/proc/PID/uid_map` and `gid_map` from the spec. An unprivileged
/// runtime must deny setgroups first, as the kernel requires.
pub fn write(pid: i32, spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    let uid = linux
        .and_then(|l| l.uid_mappings().as_deref())
        .unwrap_or_default();
    let gid = linux
        .and_then(|l| l.gid_mappings().as_deref())
        .unwrap_or_default();
    if !nix::unistd::geteuid().is_root() {
        std::fs::write(format!("/proc/{pid}/setgroups"), "deny")
            .ctx(|| format!("write /proc/{pid}/setgroups"))?;
    }
    std::fs::write(format!("/proc/{pid}/uid_map"), format(uid))
        .ctx(|| format!("write uid_map of {pid} ({})", format(uid).trim()))?;
    std::fs::write(format!("/proc/{pid}/gid_map"), format(gid))
        .ctx(|| format!("write gid_map of {pid} ({})", format(gid).trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_lines() {
        let m: Vec<LinuxIdMapping> = serde_json::from_str(
            r#"[{"containerID":0,"hostID":100000,"size":65536},{"containerID":65536,"hostID":5,"size":1}]"#,
        )
        .unwrap();
        assert_eq!(format(&m), "0 100000 65536\n65536 5 1\n");
    }
}
