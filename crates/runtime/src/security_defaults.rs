//! Docker's security defaults, for the engine to put in the specs it writes:
//! the 14 default capabilities, Moby's masked and read-only paths, and a
//! seccomp profile equal in effect to Docker's default (an allow list with
//! EPERM for everything else, namespace-making clone flags refused, clone3
//! answered with ENOSYS so that libcs fall back to clone, and the calls that
//! reach beyond the container allowed only with the capability that governs them).

use oci_spec::runtime::LinuxSeccomp;
use serde_json::{json, Value};

use crate::default_syscalls::{ALLOWED, BY_CAPABILITY};

/// The capabilities a container gets by default (bounding, effective,
/// permitted; never inheritable).
pub const CAPABILITIES: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Paths hidden from the container.
pub const MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths the container may read but not write.
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The `process.capabilities` object for the default set.
pub fn capabilities() -> Value {
    json!({
        "bounding": CAPABILITIES,
        "effective": CAPABILITIES,
        "permitted": CAPABILITIES,
    })
}

const EPERM: u32 = 1;
const ENOSYS: u32 = 38;
/// CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET.
const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;
/// The personalities a process may switch to (or query with 0xffffffff).
const PERSONALITIES: [u64; 5] = [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

/// The default seccomp profile for a container holding `caps` (names such as `CAP_SYS_ADMIN`).
pub fn seccomp(caps: &[&str]) -> LinuxSeccomp {
    let has = |c: &str| caps.contains(&c);
    let mut names: Vec<&str> = ALLOWED.to_vec();
    for (cap, calls) in BY_CAPABILITY {
        if has(cap) {
            names.extend_from_slice(calls);
        }
    }
    names.sort_unstable();
    names.dedup();
    let mut syscalls = vec![json!({ "names": names, "action": "SCMP_ACT_ALLOW" })];
    for p in PERSONALITIES {
        syscalls.push(json!({
            "names": ["personality"], "action": "SCMP_ACT_ALLOW",
            "args": [{ "index": 0, "value": p, "op": "SCMP_CMP_EQ" }]
        }));
    }
    if !has("CAP_SYS_ADMIN") {
        syscalls.push(json!({
            "names": ["clone"], "action": "SCMP_ACT_ALLOW",
            "args": [{ "index": 0, "value": CLONE_NAMESPACE_FLAGS, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ" }]
        }));
        syscalls
            .push(json!({ "names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS }));
    }
    serde_json::from_value(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": EPERM,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": syscalls,
    }))
    .expect("the default profile is a valid LinuxSeccomp")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(profile: &LinuxSeccomp, name: &str) -> bool {
        profile.syscalls().iter().flatten().any(|s| {
            s.names().iter().any(|n| n == name)
                && s.args().as_ref().is_none_or(|a| a.is_empty())
                && serde_json::to_value(s.action()).unwrap() == "SCMP_ACT_ALLOW"
        })
    }

    #[test]
    fn capabilities_unlock_their_calls() {
        let plain = seccomp(&CAPABILITIES);
        assert!(allowed(&plain, "read") && allowed(&plain, "chroot"));
        assert!(
            !allowed(&plain, "mount") && !allowed(&plain, "ptrace") && !allowed(&plain, "keyctl")
        );
        let admin = seccomp(&["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"]);
        assert!(allowed(&admin, "mount") && allowed(&admin, "ptrace") && allowed(&admin, "clone3"));
        assert!(!allowed(&admin, "chroot"));
    }

    #[test]
    fn no_call_is_both_free_and_gated() {
        for (_, calls) in BY_CAPABILITY {
            for c in *calls {
                assert!(!ALLOWED.contains(c), "{c} is in both lists");
            }
        }
    }

    #[test]
    fn lists_are_sane() {
        assert_eq!(CAPABILITIES.len(), 14);
        assert!(MASKED_PATHS.contains(&"/proc/kcore"));
        assert!(READONLY_PATHS.contains(&"/proc/sys"));
    }
}
