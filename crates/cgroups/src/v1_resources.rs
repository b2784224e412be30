//! Writing OCI resources to the cgroup v1 hierarchies (and, on hybrid hosts,
//! to the cgroup2 mount for controllers only it has).
//!
//! A `devices` list, even an empty one, first denies every device and then
//! applies its rules in order. Zero memory limits, reservations and swap mean
//! "not set", as in runc. Kernel memory limits are ignored (obsolete since Linux 5.4).

use std::path::Path;

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxDeviceCgroup, LinuxHugepageLimit, LinuxMemory, LinuxNetwork,
    LinuxResources,
};

use crate::convert;
use crate::fsutil::{self, set};
use crate::v1::V1Manager;
use crate::v2_resources;
use crate::{Error, Result};

/// Writes every resource in `resources` to the cgroup `cg`.
pub(crate) fn apply(cg: &V1Manager, resources: &LinuxResources) -> Result<()> {
    if let Some(devices) = resources.devices() {
        apply_devices(&cg.require("devices", "device rules")?, devices)?;
    }
    if let Some(memory) = resources.memory() {
        apply_memory(cg, memory)?;
    }
    if let Some(cpu) = resources.cpu() {
        apply_cpu(cg, cpu)?;
    }
    if let Some(pids) = resources.pids() {
        let dir = cg.require("pids", "pids limit")?;
        set(
            &dir,
            "pids.max",
            &convert::pids_max(pids.limit()),
            "pids limit",
        )?;
    }
    if let Some(block_io) = resources.block_io() {
        apply_block_io(cg, block_io)?;
    }
    if let Some(limits) = resources
        .hugepage_limits()
        .as_deref()
        .filter(|l| !l.is_empty())
    {
        apply_hugepages(cg, limits)?;
    }
    if let Some(network) = resources.network() {
        apply_network(cg, network)?;
    }
    if let Some(rdma) = resources.rdma().as_ref().filter(|r| !r.is_empty()) {
        v2_resources::apply_rdma(&cg.require("rdma", "rdma limits")?, rdma)?;
    }
    if let Some(unified) = resources.unified() {
        for (key, value) in unified {
            apply_unified(cg, key, value)?;
        }
    }
    Ok(())
}

/// Denies every device, then applies the rules in order.
fn apply_devices(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    set(dir, "devices.deny", "a", "device rules")?;
    for rule in rules {
        let file = if rule.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        set(dir, file, &convert::device_rule(rule)?, "device rules")?;
    }
    Ok(())
}

/// A v1 memory value for ordering: -1 (no limit) sorts above everything.
fn ordered(value: i64) -> i128 {
    if value < 0 {
        i128::MAX
    } else {
        i128::from(value)
    }
}

fn apply_memory(cg: &V1Manager, memory: &LinuxMemory) -> Result<()> {
    let dir = cg.require("memory", "memory limits")?;
    let limit = memory.limit().filter(|&v| v != 0);
    let swap = memory.swap().filter(|&v| v != 0);
    let memsw = dir.join("memory.memsw.limit_in_bytes");
    let swap = match swap {
        Some(-1) if !memsw.exists() => None,
        Some(_) if !memsw.exists() => {
            return Err(Error::Unsupported(format!(
            "memory swap limit needs {}, which this host does not have (swap accounting is off)",
            memsw.display()
        )))
        }
        other => other,
    };
    match (limit, swap) {
        (Some(limit), Some(swap)) => {
            // memsw must stay >= the memory limit at every step.
            let current = fsutil::read(&dir.join("memory.limit_in_bytes"))?;
            let current = current.trim().parse::<i128>().unwrap_or(i128::MAX);
            if ordered(swap) >= current {
                fsutil::write(&memsw, &swap.to_string())?;
                set(
                    &dir,
                    "memory.limit_in_bytes",
                    &limit.to_string(),
                    "memory limit",
                )?;
            } else {
                set(
                    &dir,
                    "memory.limit_in_bytes",
                    &limit.to_string(),
                    "memory limit",
                )?;
                fsutil::write(&memsw, &swap.to_string())?;
            }
        }
        (Some(limit), None) => set(
            &dir,
            "memory.limit_in_bytes",
            &limit.to_string(),
            "memory limit",
        )?,
        (None, Some(swap)) => fsutil::write(&memsw, &swap.to_string())?,
        (None, None) => {}
    }
    if let Some(reservation) = memory.reservation().filter(|&v| v != 0) {
        let value = reservation.to_string();
        set(
            &dir,
            "memory.soft_limit_in_bytes",
            &value,
            "memory reservation",
        )?;
    }
    if let Some(swappiness) = memory.swappiness() {
        if swappiness > 100 {
            return Err(Error::Invalid(format!(
                "memory swappiness {swappiness} is above 100"
            )));
        }
        set(
            &dir,
            "memory.swappiness",
            &swappiness.to_string(),
            "memory swappiness",
        )?;
    }
    if memory.disable_oom_killer() == Some(true) {
        set(&dir, "memory.oom_control", "1", "disableOOMKiller")?;
    }
    Ok(())
}

fn apply_cpu(cg: &V1Manager, cpu: &LinuxCpu) -> Result<()> {
    let wants_cpu = cpu.shares().is_some_and(|s| s != 0)
        || cpu.quota().is_some()
        || cpu.period().is_some()
        || cpu.burst().is_some()
        || cpu.idle().is_some()
        || cpu.realtime_runtime().is_some()
        || cpu.realtime_period().is_some();
    if wants_cpu {
        let dir = cg.require("cpu", "cpu limits")?;
        if let Some(shares) = cpu.shares().filter(|&s| s != 0) {
            set(&dir, "cpu.shares", &shares.to_string(), "cpu shares")?;
        }
        apply_quota(&dir, cpu)?;
        if let Some(burst) = cpu.burst() {
            set(&dir, "cpu.cfs_burst_us", &burst.to_string(), "cpu burst")?;
        }
        if let Some(idle) = cpu.idle() {
            set(&dir, "cpu.idle", &idle.to_string(), "cpu idle")?;
        }
        // The period first, so a runtime that fits the new period is accepted.
        if let Some(period) = cpu.realtime_period() {
            set(
                &dir,
                "cpu.rt_period_us",
                &period.to_string(),
                "realtime period",
            )?;
        }
        if let Some(runtime) = cpu.realtime_runtime() {
            set(
                &dir,
                "cpu.rt_runtime_us",
                &runtime.to_string(),
                "realtime runtime",
            )?;
        }
    }
    let cpus = cpu.cpus().as_deref().filter(|s| !s.is_empty());
    let mems = cpu.mems().as_deref().filter(|s| !s.is_empty());
    if cpus.is_some() || mems.is_some() {
        let dir = cg.require("cpuset", "cpuset")?;
        if let Some(cpus) = cpus {
            set(&dir, "cpuset.cpus", cpus, "cpuset cpus")?;
        }
        if let Some(mems) = mems {
            set(&dir, "cpuset.mems", mems, "cpuset mems")?;
        }
    }
    Ok(())
}

/// Writes the CFS period and quota; if the kernel refuses the period against
/// the current quota, writes the quota first and retries.
fn apply_quota(dir: &Path, cpu: &LinuxCpu) -> Result<()> {
    let quota = cpu.quota().map(|q| if q > 0 { q } else { -1 }.to_string());
    if let Some(period) = cpu.period() {
        let file = fsutil::require(dir, "cpu.cfs_period_us", "cpu period")?;
        let period = period.to_string();
        if let Err(e) = fsutil::write(&file, &period) {
            let Some(quota) = &quota else { return Err(e) };
            set(dir, "cpu.cfs_quota_us", quota, "cpu quota")?;
            fsutil::write(&file, &period)?;
        }
    }
    if let Some(quota) = quota {
        set(dir, "cpu.cfs_quota_us", &quota, "cpu quota")?;
    }
    Ok(())
}

fn apply_block_io(cg: &V1Manager, block_io: &LinuxBlockIo) -> Result<()> {
    let weight_files = ["blkio.weight", "blkio.bfq.weight"];
    let device_files = ["blkio.weight_device", "blkio.bfq.weight_device"];
    let throttles = [
        (
            "blkio.throttle.read_bps_device",
            block_io.throttle_read_bps_device(),
        ),
        (
            "blkio.throttle.write_bps_device",
            block_io.throttle_write_bps_device(),
        ),
        (
            "blkio.throttle.read_iops_device",
            block_io.throttle_read_iops_device(),
        ),
        (
            "blkio.throttle.write_iops_device",
            block_io.throttle_write_iops_device(),
        ),
    ];
    // A weight of 0 means "not set" (Docker sends it for every container).
    let weight = block_io.weight().filter(|w| *w != 0);
    let leaf_weight = block_io.leaf_weight().filter(|w| *w != 0);
    let requested = weight.is_some()
        || leaf_weight.is_some()
        || block_io
            .weight_device()
            .as_ref()
            .is_some_and(|d| !d.is_empty())
        || throttles
            .iter()
            .any(|(_, d)| d.as_ref().is_some_and(|d| !d.is_empty()));
    if !requested {
        return Ok(());
    }
    let dir = cg.require("blkio", "block io limits")?;
    if let Some(weight) = weight {
        let file = fsutil::first_existing(&dir, &weight_files, "block io weight")?;
        fsutil::write(&file, &weight.to_string())?;
    }
    if let Some(leaf) = leaf_weight {
        set(
            &dir,
            "blkio.leaf_weight",
            &leaf.to_string(),
            "block io leafWeight",
        )?;
    }
    for device in block_io.weight_device().iter().flatten() {
        let (major, minor) = (device.major(), device.minor());
        if let Some(weight) = device.weight() {
            let file = fsutil::first_existing(&dir, &device_files, "block io weightDevice")?;
            fsutil::write(&file, &format!("{major}:{minor} {weight}"))?;
        }
        if let Some(leaf) = device.leaf_weight() {
            let line = format!("{major}:{minor} {leaf}");
            set(
                &dir,
                "blkio.leaf_weight_device",
                &line,
                "block io leafWeight",
            )?;
        }
    }
    for (file, devices) in throttles {
        for device in devices.iter().flatten() {
            let line = format!("{}:{} {}", device.major(), device.minor(), device.rate());
            set(&dir, file, &line, "block io throttling")?;
        }
    }
    Ok(())
}

/// Hugepage limits go to the v1 hugetlb controller, or to the cgroup2 mount
/// of a hybrid host when only it has hugetlb.
fn apply_hugepages(cg: &V1Manager, limits: &[LinuxHugepageLimit]) -> Result<()> {
    if let Some(dir) = cg.dir("hugetlb") {
        for limit in limits {
            let file = format!(
                "hugetlb.{}.limit_in_bytes",
                convert::page_size(limit.page_size())?
            );
            set(&dir, &file, &limit.limit().to_string(), "hugepage limit")?;
        }
        return Ok(());
    }
    match cg.unified() {
        Some(tree) if tree.available()?.iter().any(|c| c == "hugetlb") => {
            tree.enable_controllers(Some(&["hugetlb"]))?;
            v2_resources::apply_hugepages(&tree.dir(), limits)
        }
        _ => Err(Error::Unsupported(
            "hugepage limits need the hugetlb controller, which is not mounted".into(),
        )),
    }
}

fn apply_network(cg: &V1Manager, network: &LinuxNetwork) -> Result<()> {
    if let Some(class_id) = network.class_id() {
        let dir = cg.require("net_cls", "network classID")?;
        set(
            &dir,
            "net_cls.classid",
            &class_id.to_string(),
            "network classID",
        )?;
    }
    for priority in network.priorities().iter().flatten() {
        let dir = cg.require("net_prio", "network priorities")?;
        let line = format!("{} {}", priority.name(), priority.priority());
        set(&dir, "net_prio.ifpriomap", &line, "network priorities")?;
    }
    Ok(())
}

/// `unified` entries need cgroup v2; on a hybrid host they are written when
/// the file's controller lives on the cgroup2 mount.
fn apply_unified(cg: &V1Manager, key: &str, value: &str) -> Result<()> {
    let key = convert::unified_key(key)?;
    let controller = convert::controller_of(key);
    match cg.unified() {
        Some(tree) if tree.available()?.iter().any(|c| c == controller) => {
            tree.enable_controllers(Some(&[controller]))?;
            v2_resources::apply_unified(&tree.dir(), key, value)
        }
        _ => Err(Error::Unsupported(format!(
            "unified key {key} needs the cgroup v2 {controller} controller, which this host does not have"
        ))),
    }
}
