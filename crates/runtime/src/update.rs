//! `update`: change a running container's resource limits in place.

use oci_spec::runtime::LinuxResources;
use serde_json::{json, Map, Value};

use crate::cgroup;
use crate::error::{Error, Result};
use crate::state::{Status, Store};

/// The limits `update` takes as flags (each unset one is left alone).
#[derive(Debug, Default, Clone)]
pub struct Limits {
    /// Memory limit in bytes.
    pub memory: Option<i64>,
    /// Memory soft limit in bytes.
    pub memory_reservation: Option<i64>,
    /// Memory plus swap limit in bytes (-1: unlimited).
    pub memory_swap: Option<i64>,
    /// CPU shares (relative weight).
    pub cpu_shares: Option<u64>,
    /// CFS quota in microseconds.
    pub cpu_quota: Option<i64>,
    /// CFS period in microseconds.
    pub cpu_period: Option<u64>,
    /// Real-time runtime in microseconds.
    pub cpu_rt_runtime: Option<i64>,
    /// Real-time period in microseconds.
    pub cpu_rt_period: Option<u64>,
    /// CPUs the container may use.
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may use.
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes (0 or less: unlimited).
    pub pids_limit: Option<i64>,
    /// Block IO weight.
    pub blkio_weight: Option<u16>,
}

impl Limits {
    /// The limits as OCI resources, laid over `base` (from `--resources`).
    pub fn over(&self, base: Option<LinuxResources>) -> Result<LinuxResources> {
        let mut v = serde_json::to_value(base.unwrap_or_default()).expect("resources serialise");
        let obj = v.as_object_mut().expect("resources are an object");
        let mut set = |section: &str, key: &str, value: Option<Value>| {
            if let Some(value) = value {
                let s = obj
                    .entry(section)
                    .or_insert_with(|| Value::Object(Map::new()));
                if !s.is_object() {
                    *s = Value::Object(Map::new());
                }
                s[key] = value;
            }
        };
        set("memory", "limit", self.memory.map(|x| json!(x)));
        set(
            "memory",
            "reservation",
            self.memory_reservation.map(|x| json!(x)),
        );
        set("memory", "swap", self.memory_swap.map(|x| json!(x)));
        set("cpu", "shares", self.cpu_shares.map(|x| json!(x)));
        set("cpu", "quota", self.cpu_quota.map(|x| json!(x)));
        set("cpu", "period", self.cpu_period.map(|x| json!(x)));
        set(
            "cpu",
            "realtimeRuntime",
            self.cpu_rt_runtime.map(|x| json!(x)),
        );
        set(
            "cpu",
            "realtimePeriod",
            self.cpu_rt_period.map(|x| json!(x)),
        );
        set("cpu", "cpus", self.cpuset_cpus.clone().map(Value::String));
        set("cpu", "mems", self.cpuset_mems.clone().map(Value::String));
        set("pids", "limit", self.pids_limit.map(|x| json!(x)));
        set("blockIO", "weight", self.blkio_weight.map(|x| json!(x)));
        serde_json::from_value(v).map_err(|e| Error::Usage(format!("resources: {e}")))
    }
}

/// Parse resources JSON as containerd sends it (`linux.resources` of the spec).
pub fn parse_resources(text: &str) -> Result<LinuxResources> {
    serde_json::from_str(text).map_err(|e| Error::Usage(format!("--resources: {e}")))
}

/// Parse a size such as `512m`, `1g`, `65536` or `-1` into bytes (binary units).
pub fn parse_bytes(s: &str) -> Result<i64> {
    let bad = || {
        Error::Usage(format!(
            "{s:?} is not a size (a number with an optional k, m, g or t)"
        ))
    };
    if s == "-1" {
        return Ok(-1);
    }
    let lower = s.trim().to_ascii_lowercase();
    let trimmed = lower.trim_end_matches('b');
    let (digits, shift) = match trimmed.chars().last() {
        Some('k') => (&trimmed[..trimmed.len() - 1], 10),
        Some('m') => (&trimmed[..trimmed.len() - 1], 20),
        Some('g') => (&trimmed[..trimmed.len() - 1], 30),
        Some('t') => (&trimmed[..trimmed.len() - 1], 40),
        _ => (trimmed, 0),
    };
    let n: i64 = digits.trim().parse().map_err(|_| bad())?;
    n.checked_mul(1 << shift)
        .filter(|v| *v >= 0)
        .ok_or_else(bad)
}

/// Write `resources` to the cgroup of running (or paused, or created) container `id`.
pub fn update(store: &Store, id: &str, resources: &LinuxResources) -> Result<()> {
    let _lock = store.lock(id)?;
    let state = store.load(id)?;
    if state.status == Status::Stopped {
        return Err(Error::WrongState {
            id: id.to_string(),
            status: state.status.to_string(),
            what: "the resources of a stopped container cannot be updated",
        });
    }
    let cg = cgroup::of(&state)?;
    cg.apply(&cgroup::without_unset(resources.clone()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("65536").unwrap(), 65536);
        assert_eq!(parse_bytes("512m").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1G").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("2kb").unwrap(), 2048);
        assert_eq!(parse_bytes("-1").unwrap(), -1);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("-5").is_err());
    }

    #[test]
    fn flags_over_json() {
        let base = parse_resources(r#"{"pids":{"limit":10},"memory":{"limit":1000}}"#).unwrap();
        let l = Limits {
            memory: Some(2048),
            cpu_quota: Some(5000),
            ..Default::default()
        };
        let r = l.over(Some(base)).unwrap();
        assert_eq!(r.pids().as_ref().unwrap().limit(), 10);
        assert_eq!(r.memory().as_ref().unwrap().limit(), Some(2048));
        assert_eq!(r.cpu().as_ref().unwrap().quota(), Some(5000));
    }

    #[test]
    fn bad_json_is_named() {
        let e = parse_resources(r#"{"pids":{"limit":"x"}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--resources"), "{e}");
    }
}
