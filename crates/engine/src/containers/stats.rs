//! `stats`: each container's CPU, memory, block I/O and process count, from
//! its cgroup (`/skiff/<id>` under every hierarchy).

use std::path::Path;
use std::time::{Duration, Instant};

use skiff_cgroups::Stats;

use super::record::Status;
use super::spec::CGROUP_PARENT;
use super::view::ContainerView;
use crate::{Engine, Result};

/// One row of `stats`.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    /// The container's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// CPU time used over the interval, as a percentage of one CPU.
    pub cpu_percent: f64,
    /// Memory in use, without the page cache the kernel can drop.
    pub memory: u64,
    /// The memory limit (the host's memory when none is set).
    pub memory_limit: u64,
    /// Bytes read from block devices.
    pub block_read: u64,
    /// Bytes written to block devices.
    pub block_write: u64,
    /// Processes and threads.
    pub pids: u64,
}

impl Usage {
    /// Memory in use as a percentage of the limit.
    pub fn memory_percent(&self) -> f64 {
        match self.memory_limit {
            0 => 0.0,
            limit => self.memory as f64 * 100.0 / limit as f64,
        }
    }
}

impl Engine {
    /// Usage of the named containers (every running one when none is
    /// named), with CPU measured over `interval`. A container that is not
    /// running shows zeros.
    pub fn stats(&self, names: &[String], interval: Duration) -> Result<Vec<Usage>> {
        let views: Vec<ContainerView> = match names.is_empty() {
            true => self.containers()?.into_iter().filter(is_running).collect(),
            false => names
                .iter()
                .map(|n| self.container(n))
                .collect::<Result<_>>()?,
        };
        let first: Vec<Option<Stats>> = views.iter().map(sample).collect();
        let start = Instant::now();
        std::thread::sleep(interval);
        let host_memory = host_memory();
        Ok(views
            .iter()
            .zip(first)
            .map(|(view, before)| {
                let after = sample(view);
                usage(view, before, after, start.elapsed(), host_memory)
            })
            .collect())
    }
}

fn is_running(v: &ContainerView) -> bool {
    matches!(v.state.status, Status::Running | Status::Paused)
}

fn sample(view: &ContainerView) -> Option<Stats> {
    if !is_running(view) {
        return None;
    }
    let path = Path::new(CGROUP_PARENT).join(&view.config.id);
    skiff_runtime::cgroup::open(&path).ok().map(|cg| cg.stats())
}

/// Docker's arithmetic: CPU time over wall time; memory without inactive
/// page cache; the limit capped at the host's memory (an unlimited cgroup
/// reports a huge number).
fn usage(
    view: &ContainerView,
    before: Option<Stats>,
    after: Option<Stats>,
    elapsed: Duration,
    host_memory: u64,
) -> Usage {
    let sampled = after.is_some();
    let (before, after) = (before.unwrap_or_default(), after.unwrap_or_default());
    let cpu_ns = after.cpu.usage.total.saturating_sub(before.cpu.usage.total);
    let mem = &after.memory;
    let inactive = ["total_inactive_file", "inactive_file"]
        .iter()
        .find_map(|k| mem.raw.get(*k))
        .copied()
        .unwrap_or(0);
    let limit = match mem.usage.limit {
        0 => host_memory,
        l => l.min(host_memory.max(1)),
    };
    let io = |op: &str| {
        after
            .blkio
            .io_service_bytes_recursive
            .iter()
            .filter(|e| e.op.eq_ignore_ascii_case(op))
            .map(|e| e.value)
            .sum()
    };
    Usage {
        id: view.config.id.clone(),
        name: view.config.name.clone(),
        cpu_percent: cpu_ns as f64 * 100.0 / elapsed.as_nanos().max(1) as f64,
        memory: mem.usage.usage.saturating_sub(inactive),
        memory_limit: if sampled { limit } else { 0 },
        block_read: io("read"),
        block_write: io("write"),
        pids: after.pids.current,
    }
}

/// The host's memory in bytes (MemTotal), 0 when unknown.
fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}
