//! Statistics from a cgroup v2 directory.

use std::collections::BTreeMap;
use std::path::Path;

use crate::stats::{self, num, CpuStats, HugetlbStats, MemoryEntry, MemoryStats, PidsStats, Stats};

/// Collect the statistics of the v2 cgroup at `dir`.
pub(crate) fn collect(dir: &Path) -> Stats {
    let (bytes, ios) = stats::io_stat_v2(&dir.join("io.stat"));
    let mut s = Stats {
        cpu: cpu(dir),
        memory: memory(dir),
        pids: PidsStats {
            current: num(&dir.join("pids.current")),
            limit: num(&dir.join("pids.max")),
        },
        hugetlb: hugetlb(dir),
        ..Stats::default()
    };
    s.blkio.io_service_bytes_recursive = bytes;
    s.blkio.io_serviced_recursive = ios;
    s
}

fn cpu(dir: &Path) -> CpuStats {
    let t = stats::keyed(&dir.join("cpu.stat"));
    let us = |k: &str| t.get(k).copied().unwrap_or(0) * 1000;
    let mut c = CpuStats::default();
    c.usage.total = us("usage_usec");
    c.usage.user = us("user_usec");
    c.usage.kernel = us("system_usec");
    c.throttling.periods = t.get("nr_periods").copied().unwrap_or(0);
    c.throttling.throttled_periods = t.get("nr_throttled").copied().unwrap_or(0);
    c.throttling.throttled_time = us("throttled_usec");
    c
}

fn memory(dir: &Path) -> MemoryStats {
    let events = stats::keyed(&dir.join("memory.events"));
    MemoryStats {
        usage: MemoryEntry {
            limit: num(&dir.join("memory.max")),
            usage: num(&dir.join("memory.current")),
            max: num(&dir.join("memory.peak")),
            failcnt: events.get("max").copied().unwrap_or(0),
        },
        swap: MemoryEntry {
            limit: num(&dir.join("memory.swap.max")),
            usage: num(&dir.join("memory.swap.current")),
            max: num(&dir.join("memory.swap.peak")),
            failcnt: 0,
        },
        oom_kills: events.get("oom_kill").copied().unwrap_or(0),
        raw: stats::keyed(&dir.join("memory.stat")),
    }
}

/// Hugetlb use in a v2 directory (also the unified part of a hybrid host).
pub(crate) fn hugetlb(dir: &Path) -> BTreeMap<String, HugetlbStats> {
    stats::hugetlb_sizes(dir)
        .into_iter()
        .map(|size| {
            let f = |name: &str| num(&dir.join(format!("hugetlb.{size}.{name}")));
            let failcnt = stats::keyed(&dir.join(format!("hugetlb.{size}.events")))
                .get("max")
                .copied()
                .unwrap_or(0);
            let h = HugetlbStats {
                usage: f("current"),
                max: f("max"),
                failcnt,
            };
            (size, h)
        })
        .collect()
}
