//! Pure conversions from OCI resource values to what cgroup files take.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::{Error, Result};

/// cgroup v2 `cpu.weight` for v1 CPU shares (2..=262144 map onto 1..=10000),
/// the conversion runc and crun use. Shares outside that range are clamped.
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// cgroup v2 `io.weight` (1..=10000) for a v1 blkio weight (10..=1000, clamped).
pub(crate) fn blkio_weight_to_io_weight(weight: u16) -> u64 {
    let weight = u64::from(weight.clamp(10, 1000));
    1 + ((weight - 10) * 9999) / 990
}

/// `pids.max` value: a limit of zero or less means no limit.
pub(crate) fn pids_max(limit: i64) -> String {
    if limit <= 0 {
        "max".into()
    } else {
        limit.to_string()
    }
}

/// A v2 limit value: -1 means no limit; other negative values are refused.
pub(crate) fn v2_limit(value: i64, what: &str) -> Result<String> {
    match value {
        -1 => Ok("max".into()),
        v if v < 0 => Err(Error::Invalid(format!(
            "{what} {v} is negative (-1 means unlimited)"
        ))),
        v => Ok(v.to_string()),
    }
}

/// cgroup v2 `memory.swap.max` for OCI `swap` (memory plus swap) and `limit`.
pub(crate) fn v2_swap_max(limit: Option<i64>, swap: i64) -> Result<String> {
    if swap == -1 {
        return Ok("max".into());
    }
    match limit {
        Some(limit) if limit > 0 => {
            if swap < limit {
                Err(Error::Invalid(format!(
                    "memory swap {swap} is below the memory limit {limit}; swap counts memory plus swap"
                )))
            } else {
                Ok((swap - limit).to_string())
            }
        }
        Some(-1) => Err(Error::Invalid(format!(
            "memory swap {swap} is limited while memory is unlimited"
        ))),
        _ => Err(Error::Invalid(format!(
            "memory swap {swap} needs a memory limit on cgroup v2"
        ))),
    }
}

/// cgroup v2 `cpu.max`: `quota` is the quota field already rendered ("max" or
/// microseconds); `period` is appended when given.
pub(crate) fn cpu_max(quota: &str, period: Option<u64>) -> String {
    match period {
        Some(period) => format!("{quota} {period}"),
        None => quota.to_owned(),
    }
}

/// The `cpu.max` quota field for an OCI quota: positive microseconds, or "max".
pub(crate) fn cpu_quota(quota: i64) -> String {
    if quota > 0 {
        quota.to_string()
    } else {
        "max".into()
    }
}

/// A v1 devices cgroup rule such as `c 1:3 rwm` (`*` for a missing number).
pub(crate) fn device_rule(rule: &LinuxDeviceCgroup) -> Result<String> {
    let kind = match rule.typ().unwrap_or_default() {
        LinuxDeviceType::A => 'a',
        LinuxDeviceType::B => 'b',
        LinuxDeviceType::C | LinuxDeviceType::U => 'c',
        LinuxDeviceType::P => {
            return Err(Error::Invalid(
                "device cgroup rules cannot name FIFOs (type p)".into(),
            ))
        }
    };
    let number = |n: Option<i64>| match n {
        Some(n) if n >= 0 => n.to_string(),
        _ => "*".into(),
    };
    let access = rule.access().as_deref().unwrap_or("rwm");
    let valid = !access.is_empty()
        && access.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
        && access.len() <= 3;
    if !valid {
        return Err(Error::Invalid(format!(
            "device cgroup access {access:?} must be letters from \"rwm\""
        )));
    }
    Ok(format!(
        "{kind} {}:{} {access}",
        number(rule.major()),
        number(rule.minor())
    ))
}

/// Checks a hugepage size such as `2MB` before it becomes part of a file name.
pub(crate) fn page_size(size: &str) -> Result<&str> {
    if !size.is_empty() && size.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(size)
    } else {
        Err(Error::Invalid(format!(
            "hugepage size {size:?} must look like \"2MB\""
        )))
    }
}

/// Checks a `unified` key is a plain file name such as `memory.high`.
pub(crate) fn unified_key(key: &str) -> Result<&str> {
    let plain = key.contains('.') && !key.starts_with('.') && !key.contains('/');
    if plain {
        Ok(key)
    } else {
        Err(Error::Invalid(format!(
            "unified key {key:?} must be a cgroup file name like \"memory.high\""
        )))
    }
}

/// The controller a cgroup file belongs to: `hugetlb.2MB.max` gives `hugetlb`.
pub(crate) fn controller_of(file: &str) -> &str {
    file.split('.').next().unwrap_or(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    #[test]
    fn converts_shares_like_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1), 1);
        assert_eq!(shares_to_weight(u64::MAX), 10_000);
    }

    #[test]
    fn converts_blkio_weight() {
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(500), 4950);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
    }

    #[test]
    fn pids_and_limits() {
        assert_eq!(pids_max(5), "5");
        assert_eq!(pids_max(0), "max");
        assert_eq!(pids_max(-1), "max");
        assert_eq!(v2_limit(-1, "x").unwrap(), "max");
        assert_eq!(v2_limit(4096, "x").unwrap(), "4096");
        assert!(v2_limit(-5, "memory limit")
            .unwrap_err()
            .to_string()
            .contains("memory limit -5"));
    }

    #[test]
    fn swap_on_v2_is_swap_minus_limit() {
        assert_eq!(v2_swap_max(Some(100), 300).unwrap(), "200");
        assert_eq!(v2_swap_max(Some(100), 100).unwrap(), "0");
        assert_eq!(v2_swap_max(None, -1).unwrap(), "max");
        assert!(v2_swap_max(Some(300), 100).is_err());
        assert!(v2_swap_max(None, 100).is_err());
        assert!(v2_swap_max(Some(-1), 100).is_err());
    }

    #[test]
    fn cpu_max_strings() {
        assert_eq!(cpu_max(&cpu_quota(50_000), Some(100_000)), "50000 100000");
        assert_eq!(cpu_max(&cpu_quota(-1), Some(100_000)), "max 100000");
        assert_eq!(cpu_max(&cpu_quota(20_000), None), "20000");
    }

    #[test]
    fn device_rules() {
        let rule = |b: LinuxDeviceCgroupBuilder| device_rule(&b.build().unwrap());
        let c13 = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(1)
            .minor(3)
            .access("rwm");
        assert_eq!(rule(c13).unwrap(), "c 1:3 rwm");
        let wild = LinuxDeviceCgroupBuilder::default()
            .typ(LinuxDeviceType::B)
            .major(8)
            .access("r");
        assert_eq!(rule(wild).unwrap(), "b 8:* r");
        assert_eq!(
            rule(LinuxDeviceCgroupBuilder::default()).unwrap(),
            "a *:* rwm"
        );
        let bad = LinuxDeviceCgroupBuilder::default().access("rx");
        assert!(matches!(rule(bad), Err(Error::Invalid(_))));
        let fifo = LinuxDeviceCgroupBuilder::default().typ(LinuxDeviceType::P);
        assert!(rule(fifo).is_err());
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(page_size("2MB").unwrap(), "2MB");
        assert!(page_size("../x").is_err());
        assert!(page_size("").is_err());
        assert_eq!(unified_key("memory.high").unwrap(), "memory.high");
        assert!(unified_key("../memory.high").is_err());
        assert!(unified_key("cgroup").is_err());
        assert_eq!(controller_of("hugetlb.2MB.max"), "hugetlb");
    }
}
