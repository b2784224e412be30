//! Writing OCI resources to a cgroup v2 directory.
//!
//! Device rules become an eBPF program attached to the directory (see
//! [`crate::v2_devices`]). Swappiness and `disableOOMKiller` have no v2 file
//! and are skipped.

use std::collections::HashMap;
use std::path::Path;

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxHugepageLimit, LinuxMemory, LinuxRdma, LinuxResources,
    LinuxThrottleDevice,
};

use crate::convert;
use crate::fsutil::{self, set};
use crate::{Error, Result};

/// Writes every resource in `resources` to the cgroup directory `dir`.
pub(crate) fn apply(dir: &Path, resources: &LinuxResources) -> Result<()> {
    if let Some(devices) = resources.devices() {
        crate::v2_devices::apply(dir, devices)?;
    }
    if let Some(memory) = resources.memory() {
        apply_memory(dir, memory)?;
    }
    if let Some(cpu) = resources.cpu() {
        apply_cpu(dir, cpu)?;
    }
    if let Some(pids) = resources.pids() {
        set(
            dir,
            "pids.max",
            &convert::pids_max(pids.limit()),
            "pids limit",
        )?;
    }
    if let Some(block_io) = resources.block_io() {
        apply_block_io(dir, block_io)?;
    }
    if let Some(limits) = resources.hugepage_limits() {
        apply_hugepages(dir, limits)?;
    }
    if let Some(network) = resources.network() {
        if network.class_id().is_some() || network.priorities().is_some() {
            return Err(Error::Unsupported(
                "network classID and priorities need cgroup v1 net_cls/net_prio".into(),
            ));
        }
    }
    if let Some(rdma) = resources.rdma() {
        apply_rdma(dir, rdma)?;
    }
    if let Some(unified) = resources.unified() {
        for (key, value) in unified {
            apply_unified(dir, key, value)?;
        }
    }
    Ok(())
}

fn apply_memory(dir: &Path, memory: &LinuxMemory) -> Result<()> {
    let limit = memory.limit().filter(|&v| v != 0);
    if let Some(limit) = limit {
        set(
            dir,
            "memory.max",
            &convert::v2_limit(limit, "memory limit")?,
            "memory limit",
        )?;
    }
    if let Some(reservation) = memory.reservation().filter(|&v| v != 0) {
        let value = convert::v2_limit(reservation, "memory reservation")?;
        set(dir, "memory.low", &value, "memory reservation")?;
    }
    if let Some(swap) = memory.swap().filter(|&v| v != 0) {
        let value = convert::v2_swap_max(limit, swap)?;
        let file = dir.join("memory.swap.max");
        if file.exists() {
            fsutil::write(&file, &value)?;
        } else if value != "max" {
            return Err(Error::Unsupported(format!(
                "memory swap limit needs {}, which this host does not have",
                file.display()
            )));
        }
    }
    Ok(())
}

fn apply_cpu(dir: &Path, cpu: &LinuxCpu) -> Result<()> {
    if let Some(shares) = cpu.shares().filter(|&s| s != 0) {
        let weight = convert::shares_to_weight(shares).to_string();
        set(dir, "cpu.weight", &weight, "cpu shares")?;
    }
    if cpu.quota().is_some() || cpu.period().is_some() {
        let file = fsutil::require(dir, "cpu.max", "cpu quota")?;
        let quota = match cpu.quota() {
            Some(quota) => convert::cpu_quota(quota),
            None => current_quota(&file)?,
        };
        fsutil::write(&file, &convert::cpu_max(&quota, cpu.period()))?;
    }
    if let Some(burst) = cpu.burst() {
        set(dir, "cpu.max.burst", &burst.to_string(), "cpu burst")?;
    }
    if let Some(idle) = cpu.idle() {
        set(dir, "cpu.idle", &idle.to_string(), "cpu idle")?;
    }
    if cpu.realtime_runtime().is_some() || cpu.realtime_period().is_some() {
        return Err(Error::Unsupported(
            "realtime cpu runtime and period need the cgroup v1 cpu controller".into(),
        ));
    }
    if let Some(cpus) = cpu.cpus().as_deref().filter(|s| !s.is_empty()) {
        set(dir, "cpuset.cpus", cpus, "cpuset cpus")?;
    }
    if let Some(mems) = cpu.mems().as_deref().filter(|s| !s.is_empty()) {
        set(dir, "cpuset.mems", mems, "cpuset mems")?;
    }
    Ok(())
}

/// The quota field currently in `cpu.max`, kept when only the period changes.
fn current_quota(file: &Path) -> Result<String> {
    let text = fsutil::read(file)?;
    Ok(text.split_whitespace().next().unwrap_or("max").to_owned())
}

fn apply_block_io(dir: &Path, block_io: &LinuxBlockIo) -> Result<()> {
    let weight_files = ["io.weight", "io.bfq.weight"];
    // io.weight takes 1..=10000; io.bfq.weight takes the v1 range directly.
    let render = |file: &Path, weight: u16| {
        if file.ends_with("io.weight") {
            convert::blkio_weight_to_io_weight(weight).to_string()
        } else {
            weight.to_string()
        }
    };
    // A weight of 0 means "not set" (Docker sends it for every container).
    if let Some(weight) = block_io.weight().filter(|w| *w != 0) {
        let file = fsutil::first_existing(dir, &weight_files, "block io weight")?;
        fsutil::write(&file, &render(&file, weight))?;
    }
    if block_io.leaf_weight().is_some_and(|w| w != 0) {
        return Err(Error::Unsupported(
            "block io leafWeight needs the cgroup v1 CFQ scheduler".into(),
        ));
    }
    for device in block_io.weight_device().iter().flatten() {
        if let Some(weight) = device.weight() {
            let file = fsutil::first_existing(dir, &weight_files, "block io weightDevice")?;
            let line = format!(
                "{}:{} {}",
                device.major(),
                device.minor(),
                render(&file, weight)
            );
            fsutil::write(&file, &line)?;
        }
    }
    let throttles = [
        ("rbps", block_io.throttle_read_bps_device()),
        ("wbps", block_io.throttle_write_bps_device()),
        ("riops", block_io.throttle_read_iops_device()),
        ("wiops", block_io.throttle_write_iops_device()),
    ];
    for (key, devices) in throttles {
        for device in devices.iter().flatten() {
            set(
                dir,
                "io.max",
                &io_max_line(key, device),
                "block io throttling",
            )?;
        }
    }
    Ok(())
}

/// One `io.max` line: `major:minor key=rate` (0 meaning no limit).
fn io_max_line(key: &str, device: &LinuxThrottleDevice) -> String {
    let rate = match device.rate() {
        0 => "max".to_owned(),
        rate => rate.to_string(),
    };
    format!("{}:{} {key}={rate}", device.major(), device.minor())
}

/// Writes `hugetlb.<size>.max` for each limit.
pub(crate) fn apply_hugepages(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<()> {
    for limit in limits {
        let file = format!("hugetlb.{}.max", convert::page_size(limit.page_size())?);
        let value = convert::v2_limit(limit.limit(), "hugepage limit")?;
        set(dir, &file, &value, "hugepage limit")?;
    }
    Ok(())
}

/// Writes `rdma.max` lines: `device hca_handle=N hca_object=M`.
pub(crate) fn apply_rdma(dir: &Path, rdma: &HashMap<String, LinuxRdma>) -> Result<()> {
    for (device, limits) in rdma {
        let mut line = device.clone();
        if let Some(handles) = limits.hca_handles() {
            line.push_str(&format!(" hca_handle={handles}"));
        }
        if let Some(objects) = limits.hca_objects() {
            line.push_str(&format!(" hca_object={objects}"));
        }
        set(dir, "rdma.max", &line, "rdma limit")?;
    }
    Ok(())
}

/// Writes one `unified` entry: `value` into the file `key`.
pub(crate) fn apply_unified(dir: &Path, key: &str, value: &str) -> Result<()> {
    let key = convert::unified_key(key)?;
    set(dir, key, value, &format!("unified key {key}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxThrottleDeviceBuilder;

    #[test]
    fn io_max_lines() {
        let device = LinuxThrottleDeviceBuilder::default()
            .major(8)
            .minor(0)
            .rate(1_048_576u64)
            .build()
            .unwrap();
        assert_eq!(io_max_line("rbps", &device), "8:0 rbps=1048576");
        let unlimited = LinuxThrottleDeviceBuilder::default()
            .major(8)
            .minor(16)
            .build()
            .unwrap();
        assert_eq!(io_max_line("wiops", &unlimited), "8:16 wiops=max");
    }
}
