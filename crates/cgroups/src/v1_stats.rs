//! Statistics from cgroup v1 controllers (and the cgroup2 mount of a hybrid host).

use std::path::Path;

use crate::stats::{self, num, CpuStats, HugetlbStats, MemoryEntry, MemoryStats, PidsStats, Stats};
use crate::v1::V1Manager;

/// USER_HZ: the unit of cpuacct.stat.
const TICKS_PER_SECOND: u64 = 100;

/// Collect the statistics of a v1 cgroup.
pub(crate) fn collect(cg: &V1Manager) -> Stats {
    let mut s = Stats::default();
    if let Some(dir) = cg.dir("cpuacct") {
        s.cpu = cpu(&dir, cg.dir("cpu").as_deref());
    }
    if let Some(dir) = cg.dir("memory") {
        s.memory = memory(&dir);
    }
    if let Some(dir) = cg.dir("pids") {
        s.pids = PidsStats {
            current: num(&dir.join("pids.current")),
            limit: num(&dir.join("pids.max")),
        };
    }
    if let Some(dir) = cg.dir("blkio") {
        let pick = |a: &str, b: &str| {
            let first = stats::blkio_v1(&dir.join(a));
            if first.is_empty() {
                stats::blkio_v1(&dir.join(b))
            } else {
                first
            }
        };
        s.blkio.io_service_bytes_recursive = pick(
            "blkio.io_service_bytes_recursive",
            "blkio.throttle.io_service_bytes_recursive",
        );
        s.blkio.io_serviced_recursive = pick(
            "blkio.io_serviced_recursive",
            "blkio.throttle.io_serviced_recursive",
        );
    }
    match (cg.dir("hugetlb"), cg.unified()) {
        (Some(dir), _) => s.hugetlb = hugetlb(&dir),
        (None, Some(tree)) => s.hugetlb = crate::v2_stats::hugetlb(&tree.dir()),
        (None, None) => {}
    }
    s
}

fn cpu(acct: &Path, cpu: Option<&Path>) -> CpuStats {
    let mut c = CpuStats::default();
    c.usage.total = num(&acct.join("cpuacct.usage"));
    c.usage.percpu = std::fs::read_to_string(acct.join("cpuacct.usage_percpu"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    let times = stats::keyed(&acct.join("cpuacct.stat"));
    let ns = |ticks: u64| ticks * (1_000_000_000 / TICKS_PER_SECOND);
    c.usage.user = ns(times.get("user").copied().unwrap_or(0));
    c.usage.kernel = ns(times.get("system").copied().unwrap_or(0));
    if let Some(cpu) = cpu {
        let t = stats::keyed(&cpu.join("cpu.stat"));
        c.throttling.periods = t.get("nr_periods").copied().unwrap_or(0);
        c.throttling.throttled_periods = t.get("nr_throttled").copied().unwrap_or(0);
        c.throttling.throttled_time = t.get("throttled_time").copied().unwrap_or(0);
    }
    c
}

fn entry(dir: &Path, prefix: &str) -> MemoryEntry {
    MemoryEntry {
        limit: num(&dir.join(format!("{prefix}.limit_in_bytes"))),
        usage: num(&dir.join(format!("{prefix}.usage_in_bytes"))),
        max: num(&dir.join(format!("{prefix}.max_usage_in_bytes"))),
        failcnt: num(&dir.join(format!("{prefix}.failcnt"))),
    }
}

fn memory(dir: &Path) -> MemoryStats {
    MemoryStats {
        usage: entry(dir, "memory"),
        swap: entry(dir, "memory.memsw"),
        oom_kills: stats::keyed(&dir.join("memory.oom_control"))
            .get("oom_kill")
            .copied()
            .unwrap_or(0),
        raw: stats::keyed(&dir.join("memory.stat")),
    }
}

fn hugetlb(dir: &Path) -> std::collections::BTreeMap<String, HugetlbStats> {
    stats::hugetlb_sizes(dir)
        .into_iter()
        .map(|size| {
            let f = |name: &str| num(&dir.join(format!("hugetlb.{size}.{name}")));
            let h = HugetlbStats {
                usage: f("usage_in_bytes"),
                max: f("max_usage_in_bytes"),
                failcnt: f("failcnt"),
            };
            (size, h)
        })
        .collect()
}
