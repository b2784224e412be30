//! Tests against this host's real cgroups. They need root and skip otherwise.
//! Each uses its own `/skiff-test-<pid>-<n>` cgroup, removed even on failure.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxMemoryBuilder,
    LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder,
};

use crate::mountinfo::Mounts;
use crate::test_support::{read, sleeper, TestCgroup};
use crate::{open, Error, FreezerState, Layout};

/// The shared test cgroup, with the host's per-hierarchy directories.
struct Guard(TestCgroup);

impl std::ops::Deref for Guard {
    type Target = TestCgroup;
    fn deref(&self) -> &TestCgroup {
        &self.0
    }
}

impl std::ops::DerefMut for Guard {
    fn deref_mut(&mut self) -> &mut TestCgroup {
        &mut self.0
    }
}

impl Guard {
    /// A fresh test cgroup `/skiff-test-<pid>-<n><suffix>`, or None when not root.
    fn new(suffix: &str) -> Option<Self> {
        TestCgroup::new("skiff-test", suffix).map(Guard)
    }

    fn spawn_sleeper(&mut self) -> i32 {
        self.0.spawn(&mut sleeper())
    }

    /// Directories of the cgroup in every hierarchy of this host.
    fn dirs(&self) -> Vec<PathBuf> {
        let mounts = Mounts::read().expect("mountinfo");
        let rel = self.cgroup.path().strip_prefix("/").expect("absolute");
        let mut dirs: Vec<PathBuf> = Vec::new();
        if mounts.layout().expect("layout") != Layout::Unified {
            dirs.extend(mounts.v1.iter().map(|h| h.mount_point.join(rel)));
        }
        dirs.extend(mounts.unified.iter().map(|m| m.join(rel)));
        dirs
    }

    /// The cgroup's directory in the v1 hierarchy of `controller`.
    fn v1_dir(&self, controller: &str) -> Option<PathBuf> {
        let mounts = Mounts::read().expect("mountinfo");
        let rel = self.cgroup.path().strip_prefix("/").expect("absolute");
        mounts
            .v1
            .iter()
            .find(|h| h.has(controller))
            .map(|h| h.mount_point.join(rel))
    }
}

fn is_v1_host() -> bool {
    matches!(crate::detect(), Ok(Layout::Legacy | Layout::Hybrid))
}

#[test]
fn lifecycle_on_real_cgroups() {
    let Some(mut guard) = Guard::new("") else {
        return;
    };
    guard.cgroup.create().expect("create");
    let dirs = guard.dirs();
    assert!(!dirs.is_empty());
    for dir in &dirs {
        assert!(dir.is_dir(), "{} missing", dir.display());
    }

    let pid = guard.spawn_sleeper();
    guard.cgroup.add_process(pid).expect("add_process");
    for dir in &dirs {
        let procs = read(&dir.join("cgroup.procs"));
        assert!(
            procs.lines().any(|l| l == pid.to_string()),
            "{pid} not in {}: {procs:?}",
            dir.display()
        );
    }
    assert_eq!(guard.cgroup.pids().expect("pids"), vec![pid]);

    let resources = LinuxResourcesBuilder::default()
        .pids(LinuxPidsBuilder::default().limit(5).build().unwrap())
        .memory(
            LinuxMemoryBuilder::default()
                .limit(32 * 1024 * 1024)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    guard.cgroup.apply(&resources).expect("apply");
    if is_v1_host() {
        let pids = guard.v1_dir("pids").expect("pids mounted");
        assert_eq!(read(&pids.join("pids.max")), "5");
        let memory = guard.v1_dir("memory").expect("memory mounted");
        assert_eq!(read(&memory.join("memory.limit_in_bytes")), "33554432");
    } else {
        let dir = &dirs[0];
        assert_eq!(read(&dir.join("pids.max")), "5");
        assert_eq!(read(&dir.join("memory.max")), "33554432");
    }

    assert_eq!(guard.cgroup.freezer().unwrap(), FreezerState::Thawed);
    guard
        .cgroup
        .set_freezer(FreezerState::Frozen)
        .expect("freeze");
    assert_eq!(guard.cgroup.freezer().unwrap(), FreezerState::Frozen);
    guard
        .cgroup
        .set_freezer(FreezerState::Thawed)
        .expect("thaw");
    assert_eq!(guard.cgroup.freezer().unwrap(), FreezerState::Thawed);

    for child in &mut guard.children {
        child.kill().expect("kill sleep");
        child.wait().expect("reap sleep");
    }
    guard.children.clear();
    guard.cgroup.destroy().expect("destroy");
    for dir in &dirs {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
    guard.cgroup.destroy().expect("destroying twice is fine");
}

#[test]
fn a_process_enters_by_itself() {
    let Some(mut guard) = Guard::new("/entry") else {
        return;
    };
    guard.cgroup.create().expect("create");
    let entry = guard.cgroup.entry().expect("open the entry");
    let entry = entry.expect("a real cgroup has an entry");
    if !is_v1_host() {
        assert!(entry.clone_into().is_some(), "cgroup v2 clones into");
        return;
    }
    let mut command = sleeper();
    // SAFETY: the closure runs in the forked child, single-threaded, before
    // exec, and only writes to descriptors that are already open.
    unsafe {
        command.pre_exec(move || entry.enter_self().map_err(std::io::Error::other));
    }
    let pid = guard.0.spawn(&mut command);
    let mounts = Mounts::read().expect("mountinfo");
    let rel = guard.cgroup.path().strip_prefix("/").expect("absolute");
    for hierarchy in &mounts.v1 {
        let procs = read(&hierarchy.mount_point.join(rel).join("cgroup.procs"));
        assert_eq!(
            procs,
            pid.to_string(),
            "{}",
            hierarchy.mount_point.display()
        );
    }
}

#[test]
fn destroy_removes_nested_cgroups() {
    let Some(guard) = Guard::new("") else {
        return;
    };
    guard.cgroup.create().expect("create");
    let nested = guard.cgroup.path().join("a/b");
    let inner = open(&nested).expect("open nested");
    inner.create().expect("create nested");
    let dirs = guard.dirs();
    for dir in &dirs {
        assert!(dir.join("a/b").is_dir());
    }
    guard.cgroup.destroy().expect("destroy");
    for dir in &dirs {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}

#[test]
fn v1_cpuset_devices_and_cpu() {
    if !is_v1_host() {
        return;
    }
    let Some(guard) = Guard::new("/inner") else {
        return;
    };
    guard.cgroup.create().expect("create");
    let cpuset = guard.v1_dir("cpuset").expect("cpuset mounted");
    let parent = cpuset.parent().expect("parent");
    for dir in [parent, cpuset.as_path()] {
        assert!(!read(&dir.join("cpuset.cpus")).is_empty());
        assert!(!read(&dir.join("cpuset.mems")).is_empty());
    }

    let rule = LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(LinuxDeviceType::C)
        .major(1)
        .minor(3)
        .access("rwm")
        .build()
        .unwrap();
    let resources = LinuxResourcesBuilder::default()
        .devices(vec![rule])
        .cpu(
            LinuxCpuBuilder::default()
                .shares(512u64)
                .quota(50_000i64)
                .period(100_000u64)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    guard.cgroup.apply(&resources).expect("apply");
    let devices = guard.v1_dir("devices").expect("devices mounted");
    assert_eq!(read(&devices.join("devices.list")), "c 1:3 rwm");
    let cpu = guard.v1_dir("cpu").expect("cpu mounted");
    assert_eq!(read(&cpu.join("cpu.shares")), "512");
    assert_eq!(read(&cpu.join("cpu.cfs_quota_us")), "50000");
    assert_eq!(read(&cpu.join("cpu.cfs_period_us")), "100000");

    let bad = LinuxResourcesBuilder::default()
        .cpu(LinuxCpuBuilder::default().cpus("9999").build().unwrap())
        .build()
        .unwrap();
    let err = guard.cgroup.apply(&bad).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, Error::Write { .. }) && text.contains("cpuset.cpus") && text.contains("9999"),
        "{text}"
    );
}

#[test]
fn unified_keys_on_v1_hosts_are_unsupported() {
    if !is_v1_host() {
        return;
    }
    let Some(guard) = Guard::new("") else {
        return;
    };
    guard.cgroup.create().expect("create");
    let mounts = Mounts::read().expect("mountinfo");
    let unified_has_memory = match &mounts.unified {
        Some(m) => read(&m.join("cgroup.controllers"))
            .split_whitespace()
            .any(|c| c == "memory"),
        None => false,
    };
    if unified_has_memory {
        return;
    }
    let mut resources = LinuxResources::default();
    resources.set_unified(Some([("memory.high".to_owned(), "1M".to_owned())].into()));
    match guard.cgroup.apply(&resources) {
        Err(Error::Unsupported(text)) => assert!(text.contains("memory.high"), "{text}"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn rejects_parent_components() {
    assert!(matches!(
        open(Path::new("/skiff/../etc")).map(|_| ()),
        Err(Error::Invalid(_))
    ));
}

#[test]
fn detects_a_layout() {
    let layout = crate::detect().expect("detect");
    eprintln!("cgroup layout: {layout:?}");
}

#[test]
fn v1_memory_with_swap() {
    if !is_v1_host() {
        return;
    }
    let Some(guard) = Guard::new("") else {
        return;
    };
    guard.cgroup.create().expect("create");
    let memory = guard.v1_dir("memory").expect("memory mounted");
    if !memory.join("memory.memsw.limit_in_bytes").exists() {
        eprintln!("skipping: no swap accounting");
        return;
    }
    let set = |limit: i64, swap: i64| {
        let resources = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(limit)
                    .swap(swap)
                    .swappiness(10u64)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        guard.cgroup.apply(&resources).expect("apply memory");
        assert_eq!(
            read(&memory.join("memory.limit_in_bytes")),
            limit.to_string()
        );
        assert_eq!(
            read(&memory.join("memory.memsw.limit_in_bytes")),
            swap.to_string()
        );
    };
    set(64 << 20, 128 << 20);
    set(16 << 20, 32 << 20);
    set(256 << 20, 512 << 20);
    assert_eq!(read(&memory.join("memory.swappiness")), "10");
}

#[test]
fn kill_all_signals_every_process() {
    let Some(mut guard) = Guard::new("") else {
        return;
    };
    guard.cgroup.create().expect("create");
    let first = guard.spawn_sleeper();
    let second = guard.spawn_sleeper();
    guard.cgroup.add_process(first).expect("add first");
    guard.cgroup.add_process(second).expect("add second");
    crate::kill_all(guard.cgroup.as_ref(), libc::SIGKILL).expect("kill_all");
    for child in &mut guard.children {
        let status = child.wait().expect("reap");
        assert!(!status.success());
    }
    guard.children.clear();
}
