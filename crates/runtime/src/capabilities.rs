//! The five capability sets of the container's process, set with one capset(2)
//! after the bounding set is cut and the uid changed.

use oci_spec::runtime::{Capabilities, LinuxCapabilities};

use crate::error::{Context, Error, Result};

/// Bit masks of the five sets.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sets {
    /// Bounding set.
    pub bounding: u64,
    /// Effective set.
    pub effective: u64,
    /// Permitted set.
    pub permitted: u64,
    /// Inheritable set.
    pub inheritable: u64,
    /// Ambient set.
    pub ambient: u64,
}

/// The highest capability number this kernel knows.
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// The number of a capability from its name (`CAP_CHOWN`, `chown`, ...).
pub fn number(name: &str) -> Option<u32> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    full.parse::<caps::Capability>()
        .ok()
        .map(|c| c.index() as u32)
}

/// Every capability this kernel knows and this process may pass on (its
/// bounding set), by name (`CAP_CHOWN`, ...), in number order: what
/// "all capabilities" can mean for a container it starts.
pub fn all_names() -> Vec<String> {
    let last = last_cap();
    let bounding = caps::read(None, caps::CapSet::Bounding).unwrap_or_default();
    let mut all: Vec<caps::Capability> = caps::all()
        .into_iter()
        .filter(|c| u32::from(c.index()) <= last && bounding.contains(c))
        .collect();
    all.sort_by_key(|c| c.index());
    all.iter().map(|c| c.to_string()).collect()
}

fn mask(set: Option<&Capabilities>, last: u32) -> Result<u64> {
    let mut m = 0u64;
    for cap in set.into_iter().flatten() {
        let name = serde_json::to_value(cap)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let n = number(&name).ok_or_else(|| Error::Spec(format!("unknown capability {name:?}")))?;
        // Capabilities newer than the kernel are skipped, as runc does.
        if n <= last {
            m |= 1 << n;
        }
    }
    Ok(m)
}

impl Sets {
    /// The masks of the spec's sets; names the kernel lacks are left out.
    pub fn from_spec(caps: Option<&LinuxCapabilities>) -> Result<Sets> {
        let last = last_cap();
        let Some(c) = caps else {
            return Ok(Sets::default());
        };
        Ok(Sets {
            bounding: mask(c.bounding().as_ref(), last)?,
            effective: mask(c.effective().as_ref(), last)?,
            permitted: mask(c.permitted().as_ref(), last)?,
            inheritable: mask(c.inheritable().as_ref(), last)?,
            ambient: mask(c.ambient().as_ref(), last)?,
        })
    }

    /// Drop every capability outside the bounding set (needs CAP_SETPCAP, so
    /// it is done before the uid changes).
    pub fn apply_bounding(&self) -> Result<()> {
        for n in 0..=last_cap() {
            if self.bounding & (1 << n) == 0 {
                // SAFETY: prctl with integer arguments only.
                if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, n as libc::c_ulong, 0, 0, 0) } < 0 {
                    return Err(std::io::Error::last_os_error())
                        .ctx(|| format!("drop capability {n} from the bounding set"));
                }
            }
        }
        Ok(())
    }

    /// Set effective, permitted and inheritable at once, then raise the ambient ones
    /// that the kernel allows.
    pub fn apply(&self) -> Result<()> {
        #[repr(C)]
        struct Header {
            version: u32,
            pid: i32,
        }
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        let header = Header {
            version: 0x2008_0522,
            pid: 0,
        };
        let split = |m: u64| [m as u32, (m >> 32) as u32];
        let (e, p, i) = (
            split(self.effective),
            split(self.permitted),
            split(self.inheritable),
        );
        let data = [
            Data {
                effective: e[0],
                permitted: p[0],
                inheritable: i[0],
            },
            Data {
                effective: e[1],
                permitted: p[1],
                inheritable: i[1],
            },
        ];
        // SAFETY: capset reads the header and two data structs (version 3 layout),
        // all of which live across the call.
        if unsafe { libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) } < 0 {
            return Err(std::io::Error::last_os_error())
                .ctx(|| "set capabilities (capset)".to_string());
        }
        // The kernel raises an ambient capability only if it is both permitted
        // and inheritable; runc's default spec lists ambient ones that are not,
        // so those are skipped as runc skips them.
        let raisable = self.ambient & self.permitted & self.inheritable;
        for n in 0..64u32 {
            if raisable & (1 << n) != 0 {
                let raise = libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong;
                // SAFETY: prctl with integer arguments only.
                let r =
                    unsafe { libc::prctl(libc::PR_CAP_AMBIENT, raise, n as libc::c_ulong, 0, 0) };
                if r < 0 {
                    return Err(std::io::Error::last_os_error())
                        .ctx(|| format!("raise ambient capability {n}"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(number("CAP_CHOWN"), Some(0));
        assert_eq!(number("net_admin"), Some(12));
        assert_eq!(number("CAP_NOPE"), None);
    }

    #[test]
    fn masks_from_spec() {
        let c: LinuxCapabilities = serde_json::from_str(
            r#"{"bounding":["CAP_KILL","CAP_CHOWN"],"effective":["CAP_KILL"]}"#,
        )
        .unwrap();
        let s = Sets::from_spec(Some(&c)).unwrap();
        assert_eq!(s.bounding, (1 << 5) | 1);
        assert_eq!(s.effective, 1 << 5);
        assert_eq!(s.ambient, 0);
    }
}
