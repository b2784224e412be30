//! Tests of the v2 manager against a real unified hierarchy. They need root and
//! a host (or VM, see tests/vm/) with only cgroup2 mounted, and pass with a note
//! elsewhere. Each uses its own `/skiff-v2-test-<pid>-<n>` cgroup, removed even
//! on failure.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder,
    LinuxDeviceType, LinuxHugepageLimitBuilder, LinuxMemoryBuilder, LinuxNetworkBuilder,
    LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder,
};

use crate::mountinfo::Mounts;
use crate::test_support::{read, sleeper, TestCgroup};
use crate::{open, Error, FreezerState, Layout};

/// Controllers the tests expect to see enabled when the root offers them.
const CONTROLLERS: [&str; 6] = ["cpu", "io", "memory", "pids", "cpuset", "hugetlb"];

/// The shared test cgroup on a unified-only host, with its directory on the cgroup2 mount.
struct Guard {
    inner: TestCgroup,
    mount: PathBuf,
}

impl std::ops::Deref for Guard {
    type Target = TestCgroup;
    fn deref(&self) -> &TestCgroup {
        &self.inner
    }
}

impl std::ops::DerefMut for Guard {
    fn deref_mut(&mut self) -> &mut TestCgroup {
        &mut self.inner
    }
}

impl Guard {
    /// `/skiff-v2-test-<pid>-<n><suffix>`; None (after a note) unless this is
    /// root on a unified-only host.
    fn new(suffix: &str) -> Option<Self> {
        match crate::detect() {
            Ok(Layout::Unified) => {}
            other => {
                eprintln!("skipping: cgroup v2 tests need a unified-only host, this is {other:?}");
                return None;
            }
        }
        let mount = Mounts::read()
            .expect("mountinfo")
            .unified
            .expect("cgroup2 mount");
        Some(Self {
            inner: TestCgroup::new("skiff-v2-test", suffix)?,
            mount,
        })
    }

    /// The directory of the cgroup (or of the root for `/`) on the mount.
    fn dir_of(&self, cgroup: &Path) -> PathBuf {
        self.mount.join(cgroup.strip_prefix("/").expect("absolute"))
    }

    fn dir(&self) -> PathBuf {
        self.dir_of(self.cgroup.path())
    }
}

fn words(path: &Path) -> Vec<String> {
    read(path).split_whitespace().map(str::to_owned).collect()
}

/// The value after `key` in a flat keyed file such as `cgroup.events`.
fn keyed(path: &Path, key: &str) -> String {
    let text = read(path);
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {key} in {}: {text:?}", path.display()))
        .to_owned()
}

#[test]
fn v2_controllers_resources_freezer_and_destroy() {
    let Some(mut guard) = Guard::new("/ctr") else {
        return;
    };
    guard.cgroup.create().expect("create");
    let dir = guard.dir();
    assert!(dir.is_dir(), "{} missing", dir.display());

    // Every controller the root offers is enabled down to the cgroup: in the
    // subtree_control of the root and of the intermediate parent.
    let offered = words(&guard.mount.join("cgroup.controllers"));
    let wanted: Vec<&str> = CONTROLLERS
        .into_iter()
        .filter(|c| offered.iter().any(|o| o == c))
        .collect();
    assert!(wanted.contains(&"pids") && wanted.contains(&"memory"));
    let parent = guard.dir_of(guard.top.path());
    for ancestor in [guard.mount.clone(), parent] {
        let enabled = words(&ancestor.join("cgroup.subtree_control"));
        for c in &wanted {
            assert!(
                enabled.iter().any(|e| e == c),
                "{c} not enabled in {}: {enabled:?}",
                ancestor.display()
            );
        }
    }
    let available = words(&dir.join("cgroup.controllers"));
    for c in &wanted {
        assert!(
            available.iter().any(|a| a == c),
            "{c} missing: {available:?}"
        );
    }

    let pid = guard.spawn(&mut sleeper());
    guard.cgroup.add_process(pid).expect("add_process");
    assert_eq!(read(&dir.join("cgroup.procs")), pid.to_string());
    assert_eq!(guard.cgroup.pids().expect("pids"), vec![pid]);
    assert_eq!(guard.top.pids().expect("pids of parent"), vec![pid]);

    let resources = LinuxResourcesBuilder::default()
        .pids(LinuxPidsBuilder::default().limit(5).build().unwrap())
        .memory(
            LinuxMemoryBuilder::default()
                .limit(32 * 1024 * 1024)
                .build()
                .unwrap(),
        )
        .cpu(
            LinuxCpuBuilder::default()
                .shares(1024u64)
                .quota(50_000i64)
                .period(100_000u64)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    guard.cgroup.apply(&resources).expect("apply");
    assert_eq!(read(&dir.join("pids.max")), "5");
    assert_eq!(read(&dir.join("memory.max")), "33554432");
    let weight = crate::convert::shares_to_weight(1024);
    assert_eq!(weight, 39, "runc maps 1024 shares to weight 39");
    assert_eq!(read(&dir.join("cpu.weight")), weight.to_string());
    assert_eq!(read(&dir.join("cpu.max")), "50000 100000");

    // A period on its own keeps the quota; a quota of -1 lifts it.
    let period_only = LinuxResourcesBuilder::default()
        .cpu(
            LinuxCpuBuilder::default()
                .period(200_000u64)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    guard.cgroup.apply(&period_only).expect("apply period");
    assert_eq!(read(&dir.join("cpu.max")), "50000 200000");
    let unlimited = LinuxResourcesBuilder::default()
        .cpu(LinuxCpuBuilder::default().quota(-1i64).build().unwrap())
        .build()
        .unwrap();
    guard
        .cgroup
        .apply(&unlimited)
        .expect("apply unlimited quota");
    assert_eq!(read(&dir.join("cpu.max")), "max 200000");

    let events = dir.join("cgroup.events");
    assert_eq!(guard.cgroup.freezer().unwrap(), FreezerState::Thawed);
    assert_eq!(keyed(&events, "populated"), "1");
    guard
        .cgroup
        .set_freezer(FreezerState::Frozen)
        .expect("freeze");
    assert_eq!(read(&dir.join("cgroup.freeze")), "1");
    assert_eq!(keyed(&events, "frozen"), "1");
    assert_eq!(guard.cgroup.freezer().unwrap(), FreezerState::Frozen);
    guard
        .cgroup
        .set_freezer(FreezerState::Thawed)
        .expect("thaw");
    assert_eq!(read(&dir.join("cgroup.freeze")), "0");
    assert_eq!(keyed(&events, "frozen"), "0");
    assert_eq!(guard.cgroup.freezer().unwrap(), FreezerState::Thawed);
    assert_eq!(guard.cgroup.pids().expect("pids after thaw"), vec![pid]);

    guard.stop_children();
    guard.cgroup.destroy().expect("destroy");
    assert!(!dir.exists(), "{} left behind", dir.display());
    guard.top.destroy().expect("destroy parent");
    assert!(!guard.dir_of(guard.top.path()).exists());
    guard.cgroup.destroy().expect("destroying twice is fine");
}

#[test]
fn v2_pids_limit_stops_forks() {
    let Some(mut guard) = Guard::new("") else {
        return;
    };
    guard.cgroup.create().expect("create");
    let dir = guard.dir();
    let resources = LinuxResourcesBuilder::default()
        .pids(LinuxPidsBuilder::default().limit(3).build().unwrap())
        .build()
        .unwrap();
    guard.cgroup.apply(&resources).expect("apply");
    assert_eq!(read(&dir.join("pids.max")), "3");

    // The shell waits for a line on stdin (read is a builtin: no fork) so it
    // is in the cgroup before it forks; then it tries to start ten sleeps,
    // printing a line for each one that started.
    let script = r#"read go
i=0
while [ $i -lt 10 ]; do
    sleep 5 >/dev/null 2>&1 &
    echo "started $!"
    i=$((i + 1))
done
echo done"#;
    let mut shell = Command::new("sh");
    shell
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let pid = guard.spawn(&mut shell);
    guard.cgroup.add_process(pid).expect("add shell");
    let child = guard.children.last_mut().expect("shell");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "go").expect("start the shell");
    drop(stdin);
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let lines: Vec<String> = stdout.lines().map(|l| l.expect("read")).collect();
    let status = child.wait().expect("reap shell");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("read stderr");
    let started = lines.iter().filter(|l| l.starts_with("started")).count();
    eprintln!("shell {status}: {started} of 10 started; stderr {stderr:?}");
    assert!(
        started < 10,
        "pids.max 3 let {started} forks through: {lines:?}"
    );
    let failures: u64 = keyed(&dir.join("pids.events"), "max")
        .parse()
        .expect("pids.events max");
    assert!(failures > 0, "pids.events records no refused fork");
    let current: u64 = read(&dir.join("pids.current"))
        .parse()
        .expect("pids.current");
    assert!(current <= 3, "pids.current {current} over the limit");
}

#[test]
fn v2_unified_keys_and_unsupported_settings() {
    let Some(guard) = Guard::new("") else {
        return;
    };
    guard.cgroup.create().expect("create");
    let dir = guard.dir();

    let mut resources = LinuxResources::default();
    resources.set_unified(Some(
        [
            ("memory.high".to_owned(), "16777216".to_owned()),
            ("pids.max".to_owned(), "7".to_owned()),
        ]
        .into(),
    ));
    guard.cgroup.apply(&resources).expect("apply unified");
    assert_eq!(read(&dir.join("memory.high")), "16777216");
    assert_eq!(read(&dir.join("pids.max")), "7");

    let bad = LinuxResourcesBuilder::default()
        .network(
            LinuxNetworkBuilder::default()
                .class_id(7u32)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    assert!(matches!(
        guard.cgroup.apply(&bad),
        Err(Error::Unsupported(_))
    ));

    let cpus = LinuxResourcesBuilder::default()
        .cpu(
            LinuxCpuBuilder::default()
                .cpus("0")
                .mems("0")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    guard.cgroup.apply(&cpus).expect("apply cpuset");
    assert_eq!(read(&dir.join("cpuset.cpus")), "0");
    assert_eq!(read(&dir.join("cpuset.mems")), "0");
}

#[test]
fn v2_kill_all_reaches_nested_cgroups() {
    let Some(mut guard) = Guard::new("") else {
        return;
    };
    guard.cgroup.create().expect("create");
    let inner = open(&guard.cgroup.path().join("inner")).expect("open inner");
    inner.create().expect("create inner");
    let pid = guard.spawn(&mut sleeper());
    inner.add_process(pid).expect("add to inner");
    assert_eq!(guard.cgroup.pids().expect("pids"), vec![pid]);
    crate::kill_all(guard.cgroup.as_ref(), libc::SIGKILL).expect("kill_all");
    for child in &mut guard.children {
        assert!(!child.wait().expect("reap").success());
    }
    guard.children.clear();
    assert_eq!(guard.cgroup.freezer().unwrap(), FreezerState::Thawed);
    guard.cgroup.destroy().expect("destroy");
    assert!(!guard.dir().exists());
}

#[test]
fn v2_memory_swap_hugetlb_io_and_cpu_extras() {
    let Some(guard) = Guard::new("") else {
        return;
    };
    guard.cgroup.create().expect("create");
    let dir = guard.dir();

    let memory = |limit: i64, reservation: i64, swap: i64| {
        let resources = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(limit)
                    .reservation(reservation)
                    .swap(swap)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        guard.cgroup.apply(&resources).expect("apply memory");
    };
    memory(64 << 20, 16 << 20, 96 << 20);
    assert_eq!(read(&dir.join("memory.max")), "67108864");
    assert_eq!(read(&dir.join("memory.low")), "16777216");
    // OCI swap counts memory plus swap; memory.swap.max is swap alone.
    assert_eq!(read(&dir.join("memory.swap.max")), "33554432");
    memory(-1, -1, -1);
    assert_eq!(read(&dir.join("memory.max")), "max");
    assert_eq!(read(&dir.join("memory.low")), "max");
    assert_eq!(read(&dir.join("memory.swap.max")), "max");

    let mut extras = LinuxResourcesBuilder::default()
        .cpu(
            LinuxCpuBuilder::default()
                .burst(1000u64)
                .idle(1i64)
                .build()
                .unwrap(),
        )
        .block_io(
            LinuxBlockIoBuilder::default()
                .weight(500u16)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    if dir.join("hugetlb.2MB.max").exists() {
        extras.set_hugepage_limits(Some(vec![LinuxHugepageLimitBuilder::default()
            .page_size("2MB")
            .limit(4i64 << 20)
            .build()
            .unwrap()]));
    }
    guard.cgroup.apply(&extras).expect("apply extras");
    assert_eq!(read(&dir.join("cpu.max.burst")), "1000");
    assert_eq!(read(&dir.join("cpu.idle")), "1");
    let io_weight = crate::convert::blkio_weight_to_io_weight(500);
    assert_eq!(
        io_weight, 4950,
        "runc maps blkio weight 500 to io.weight 4950"
    );
    assert_eq!(
        keyed(&dir.join("io.weight"), "default"),
        io_weight.to_string()
    );
    if dir.join("hugetlb.2MB.max").exists() {
        assert_eq!(read(&dir.join("hugetlb.2MB.max")), "4194304");
    }

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

/// A device rule for `major:minor`, or for any device with `None`.
fn device(
    allow: bool,
    typ: LinuxDeviceType,
    numbers: Option<(i64, i64)>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut rule = LinuxDeviceCgroupBuilder::default()
        .allow(allow)
        .typ(typ)
        .access(access)
        .build()
        .unwrap();
    rule.set_major(numbers.map(|n| n.0));
    rule.set_minor(numbers.map(|n| n.1));
    rule
}

fn devices(rules: Vec<LinuxDeviceCgroup>) -> LinuxResources {
    LinuxResourcesBuilder::default()
        .devices(rules)
        .build()
        .unwrap()
}

/// Ids of the device programs attached to the cgroup directory `dir`.
fn device_programs(dir: &Path) -> Vec<u32> {
    let cgroup = std::fs::File::open(dir).expect("open cgroup directory");
    crate::bpf::device_programs(&cgroup).expect("BPF_PROG_QUERY")
}

/// Runs four device accesses from a shell in the guard's cgroup (it joins
/// before trying any) and returns each one's outcome, `ok` or `denied`
/// followed by the error, by name.
fn device_accesses(guard: &mut Guard) -> Vec<(String, String)> {
    let out = std::env::temp_dir().join(format!("skiff-v2-devices-{}", std::process::id()));
    let script = r#"read go
try() {
    if (eval "$2") >"$OUT" 2>&1; then echo "$1 ok"; else echo "$1 denied: $(cat "$OUT")"; fi
}
try null-read 'head -c1 /dev/null'
try zero-read 'head -c1 /dev/zero'
try zero-write 'echo x >/dev/zero'
try full-read 'head -c1 /dev/full'"#;
    let mut shell = Command::new("sh");
    shell
        .args(["-c", script])
        .env("OUT", &out)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let pid = guard.spawn(&mut shell);
    guard.cgroup.add_process(pid).expect("add shell");
    let child = guard.children.last_mut().expect("shell");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "go").expect("start the shell");
    drop(stdin);
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let lines: Vec<String> = stdout.lines().map(|l| l.expect("read")).collect();
    assert!(child.wait().expect("reap shell").success(), "{lines:?}");
    let _ = std::fs::remove_file(&out);
    eprintln!("device accesses: {lines:?}");
    lines
        .iter()
        .map(|line| {
            let (name, outcome) = line.split_once(' ').expect("name and outcome");
            (name.to_owned(), outcome.to_owned())
        })
        .collect()
}

/// Asserts which of the accesses in [`device_accesses`] went through.
fn assert_accesses(guard: &mut Guard, expected: [(&str, bool); 4]) {
    let seen = device_accesses(guard);
    assert_eq!(seen.len(), expected.len(), "{seen:?}");
    for ((name, outcome), (want_name, allowed)) in seen.iter().zip(expected) {
        assert_eq!(name, want_name);
        if allowed {
            assert_eq!(outcome, "ok", "{name} should be allowed");
        } else {
            assert!(
                outcome.starts_with("denied") && outcome.contains("not permitted"),
                "{name} should be denied with EPERM: {outcome}"
            );
        }
    }
}

#[test]
fn v2_device_rules_are_enforced_and_replaced() {
    let Some(mut guard) = Guard::new("") else {
        return;
    };
    guard.cgroup.create().expect("create");
    let dir = guard.dir();
    assert!(device_programs(&dir).is_empty());

    let mut rules = vec![
        device(false, LinuxDeviceType::A, None, "rwm"),
        device(true, LinuxDeviceType::C, Some((1, 3)), "rwm"),
        device(true, LinuxDeviceType::C, Some((1, 5)), "r"),
    ];
    guard
        .cgroup
        .apply(&devices(rules.clone()))
        .expect("apply devices");
    let first = device_programs(&dir);
    assert_eq!(first.len(), 1, "{first:?}");
    assert_accesses(
        &mut guard,
        [
            ("null-read", true),
            ("zero-read", true),
            ("zero-write", false),
            ("full-read", false),
        ],
    );

    // New rules replace the program: /dev/full (c 1:7) becomes readable.
    rules.push(device(true, LinuxDeviceType::C, Some((1, 7)), "r"));
    guard.cgroup.apply(&devices(rules)).expect("apply again");
    let second = device_programs(&dir);
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(second, first, "the program was not replaced");
    assert_accesses(
        &mut guard,
        [
            ("null-read", true),
            ("zero-read", true),
            ("zero-write", false),
            ("full-read", true),
        ],
    );

    // A bad rule is refused before anything changes; resources without a
    // device list leave the program alone.
    let fifo = devices(vec![device(true, LinuxDeviceType::P, None, "rwm")]);
    assert!(matches!(guard.cgroup.apply(&fifo), Err(Error::Invalid(_))));
    let pids = LinuxResourcesBuilder::default()
        .pids(LinuxPidsBuilder::default().limit(50).build().unwrap())
        .build()
        .unwrap();
    guard.cgroup.apply(&pids).expect("apply pids");
    assert_eq!(device_programs(&dir), second);

    // An empty list denies every device, as on cgroup v1.
    guard
        .cgroup
        .apply(&devices(Vec::new()))
        .expect("apply no devices");
    assert_eq!(device_programs(&dir).len(), 1);
    assert_accesses(
        &mut guard,
        [
            ("null-read", false),
            ("zero-read", false),
            ("zero-write", false),
            ("full-read", false),
        ],
    );
}
