//! Usage statistics of a cgroup, in the shape of runc's `events --stats`:
//! cpu, memory (with OOM kills), pids, block I/O and hugetlb. A counter the
//! host does not have reads as zero.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

/// Everything `events --stats` reports.
#[derive(Serialize, Default, Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// CPU time.
    pub cpu: CpuStats,
    /// Memory use and limits.
    pub memory: MemoryStats,
    /// Process counts.
    pub pids: PidsStats,
    /// Block I/O.
    pub blkio: BlkioStats,
    /// Hugetlb use per page size ("2MB", "1GB").
    pub hugetlb: BTreeMap<String, HugetlbStats>,
}

/// CPU time, in nanoseconds.
#[derive(Serialize, Default, Debug, Clone, PartialEq, Eq)]
pub struct CpuStats {
    /// Time used.
    pub usage: CpuUsage,
    /// CFS throttling.
    pub throttling: Throttling,
}

/// CPU time used, in nanoseconds.
#[derive(Serialize, Default, Debug, Clone, PartialEq, Eq)]
pub struct CpuUsage {
    /// In total.
    pub total: u64,
    /// Per CPU (v1 only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    /// In the kernel.
    pub kernel: u64,
    /// In user space.
    pub user: u64,
}

/// CFS throttling counters.
#[derive(Serialize, Default, Debug, Clone, PartialEq, Eq)]
pub struct Throttling {
    /// Enforcement periods.
    pub periods: u64,
    /// Periods in which the cgroup was throttled.
    pub throttled_periods: u64,
    /// Time throttled, in nanoseconds.
    pub throttled_time: u64,
}

/// One memory counter.
#[derive(Serialize, Default, Debug, Clone, PartialEq, Eq)]
pub struct MemoryEntry {
    /// The limit (0: none).
    pub limit: u64,
    /// Current use.
    pub usage: u64,
    /// Highest use seen.
    pub max: u64,
    /// How often the limit was hit.
    pub failcnt: u64,
}

/// Memory use.
#[derive(Serialize, Default, Debug, Clone, PartialEq, Eq)]
pub struct MemoryStats {
    /// Memory.
    pub usage: MemoryEntry,
    /// Swap (v1: memory plus swap).
    pub swap: MemoryEntry,
    /// Processes killed by the OOM killer in this cgroup.
    pub oom_kills: u64,
    /// The memory.stat counters.
    pub raw: BTreeMap<String, u64>,
}

/// Process counts.
#[derive(Serialize, Default, Debug, Clone, PartialEq, Eq)]
pub struct PidsStats {
    /// Processes now.
    pub current: u64,
    /// The limit (0: none).
    pub limit: u64,
}

/// Block I/O per device and operation.
#[derive(Serialize, Default, Debug, Clone, PartialEq, Eq)]
pub struct BlkioStats {
    /// Bytes moved.
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    /// Operations done.
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

/// One block I/O counter.
#[derive(Serialize, Default, Debug, Clone, PartialEq, Eq)]
pub struct BlkioEntry {
    /// Device major number.
    pub major: u64,
    /// Device minor number.
    pub minor: u64,
    /// "Read", "Write", ...
    pub op: String,
    /// The count.
    pub value: u64,
}

/// Hugetlb use of one page size.
#[derive(Serialize, Default, Debug, Clone, PartialEq, Eq)]
pub struct HugetlbStats {
    /// Bytes in use.
    pub usage: u64,
    /// Highest use seen (v1) or the limit (v2).
    pub max: u64,
    /// Allocations refused by the limit.
    pub failcnt: u64,
}

/// A number from a file; missing, empty or "max" is 0.
pub(crate) fn num(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// "key value" lines (memory.stat, cpu.stat, memory.events) as a map.
pub(crate) fn keyed(path: &Path) -> BTreeMap<String, u64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// v1 blkio lines: "MAJ:MIN Op value".
pub(crate) fn blkio_v1(path: &Path) -> Vec<BlkioEntry> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (major, minor) = f.next()?.split_once(':')?;
            Some(BlkioEntry {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: f.next()?.to_string(),
                value: f.next()?.parse().ok()?,
            })
        })
        .collect()
}

/// v2 io.stat lines "MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=..", as
/// (bytes, operations) entries.
pub(crate) fn io_stat_v2(path: &Path) -> (Vec<BlkioEntry>, Vec<BlkioEntry>) {
    let mut bytes = Vec::new();
    let mut ios = Vec::new();
    for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
        let mut f = line.split_whitespace();
        let Some((major, minor)) = f.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
            continue;
        };
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse() else { continue };
            let (list, op) = match k {
                "rbytes" => (&mut bytes, "Read"),
                "wbytes" => (&mut bytes, "Write"),
                "rios" => (&mut ios, "Read"),
                "wios" => (&mut ios, "Write"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.to_string(),
                value,
            });
        }
    }
    (bytes, ios)
}

/// Page sizes from the hugetlb files of a directory, in the kernel's names ("2MB").
pub(crate) fn hugetlb_sizes(dir: &Path) -> Vec<String> {
    let mut sizes: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let rest = name.strip_prefix("hugetlb.")?;
            let (size, _) = rest.split_once('.')?;
            Some(size.to_string())
        })
        .collect();
    sizes.sort();
    sizes.dedup();
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_counter_files() {
        let dir = std::env::temp_dir().join(format!("skiff-stats-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("n"), "42\n").unwrap();
        std::fs::write(dir.join("max"), "max\n").unwrap();
        std::fs::write(dir.join("kv"), "oom 1\noom_kill 2\n").unwrap();
        std::fs::write(dir.join("blk"), "8:0 Read 10\n8:0 Write 20\nTotal 30\n").unwrap();
        std::fs::write(
            dir.join("io"),
            "8:0 rbytes=5 wbytes=6 rios=1 wios=2 dbytes=0\n",
        )
        .unwrap();
        std::fs::write(dir.join("hugetlb.2MB.max"), "max").unwrap();
        std::fs::write(dir.join("hugetlb.1GB.current"), "0").unwrap();
        assert_eq!(num(&dir.join("n")), 42);
        assert_eq!(num(&dir.join("max")), 0);
        assert_eq!(num(&dir.join("missing")), 0);
        assert_eq!(keyed(&dir.join("kv"))["oom_kill"], 2);
        let blk = blkio_v1(&dir.join("blk"));
        assert_eq!(blk.len(), 2);
        assert_eq!((blk[1].op.as_str(), blk[1].value), ("Write", 20));
        let (bytes, ios) = io_stat_v2(&dir.join("io"));
        assert_eq!((bytes.len(), ios.len(), bytes[1].value), (2, 2, 6));
        assert_eq!(hugetlb_sizes(&dir), vec!["1GB", "2MB"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
