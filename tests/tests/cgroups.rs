//! Resource limits: written to the container's cgroup, enforced by the kernel,
//! and changed in place with `update`.

use skiff_e2e::{assert_ok, text, Bundle, Container, Runtime};
use std::fs;
use std::io::Write;
use std::process::Stdio;

/// Whether this host has only the unified (v2) hierarchy.
fn unified() -> bool {
    std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// A file of the container's cgroup: `v1` in that controller's hierarchy, or `v2`
/// on a unified host.
fn cgroup_file(c: &Container, controller: &str, v1: &str, v2: &str) -> String {
    let path = if unified() {
        format!("/sys/fs/cgroup{}/{v2}", c.cgroup_path())
    } else {
        format!("/sys/fs/cgroup/{controller}{}/{v1}", c.cgroup_path())
    };
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn in_own_cgroup(c: &Container, bundle: Bundle) -> Bundle {
    bundle.cgroups_path(&c.cgroup_path())
}

#[test]
fn pids_limit_stops_forks() {
    let rt = Runtime::new();
    let c = rt.container("pids-limit");
    let bundle = in_own_cgroup(&c, Bundle::new())
        .edit(|v| v["linux"]["resources"]["pids"] = serde_json::json!({"limit": 5}))
        .args(&["sh", "-c", "n=0; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & n=$((n+1)); done 2>/dev/null; echo started; kill $(jobs -p) 2>/dev/null; true"]);
    let out = c.run(&bundle);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("fork")
            || stderr.contains("Resource temporarily unavailable")
            || !out.status.success(),
        "ten forks succeeded under pids.max 5: {stderr}"
    );
    c.assert_nothing_left(None);
}

/// A shell that doubles a string until the 16 MiB limit (memory plus swap)
/// of its own cgroup stops it, after running `first`.
fn memory_hog(c: &Container, first: &str) -> Bundle {
    let mib = 16 << 20;
    let script = format!("{first}x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done");
    in_own_cgroup(c, Bundle::new())
        .edit(|v| {
            v["linux"]["resources"]["memory"] = serde_json::json!({"limit": mib, "swap": mib})
        })
        .args(&["sh", "-c", &script])
}

#[test]
fn memory_limit_oom_kills_a_hog() {
    let rt = Runtime::new();
    let c = rt.container("memory-limit");
    let bundle = memory_hog(&c, "");
    let out = c.run(&bundle);
    assert_eq!(
        out.status.code(),
        Some(137),
        "stderr: {}",
        text(&out.stderr)
    );
    c.assert_nothing_left(None);
}

/// Writes to a /dev/kmsg node (c 1:11) made in the rootfs; only the device
/// cgroup can refuse that to root. Returns the script's output.
fn kmsg_write_with(name: &str, rules: serde_json::Value) -> String {
    let rt = Runtime::new();
    let c = rt.container(name);
    let bundle = Bundle::new();
    let node = std::ffi::CString::new(bundle.rootfs().join("kmsg").to_str().unwrap()).unwrap();
    // SAFETY: mknod with a valid path; the node is in the test's own rootfs.
    let made = unsafe { libc::mknod(node.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 11)) };
    assert_eq!(made, 0, "mknod in the rootfs");
    let bundle = in_own_cgroup(&c, bundle)
        .edit(|v| v["linux"]["resources"]["devices"] = rules)
        .args(&[
            "sh",
            "-c",
            "echo ok > /dev/null; echo null=$?; echo skiff-device-test > /kmsg; echo kmsg=$?",
        ]);
    let out = c.run(&bundle);
    c.assert_nothing_left(None);
    text(&out.stdout)
}

#[test]
fn device_rule_blocks_access() {
    let denied = kmsg_write_with(
        "device-deny",
        serde_json::json!([{"allow": false, "access": "rwm"}]),
    );
    assert!(denied.contains("null=0"), "/dev/null was denied: {denied}");
    assert!(
        denied.contains("kmsg=1"),
        "a denied device was writable: {denied}"
    );
    let allowed = kmsg_write_with(
        "device-allow",
        serde_json::json!([{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}]),
    );
    assert!(
        allowed.contains("kmsg=0"),
        "an allowed device was refused: {allowed}"
    );
}

#[test]
fn update_changes_limits_in_place() {
    let rt = Runtime::new();
    let c = rt.container("update");
    let bundle = in_own_cgroup(&c, Bundle::new().args(&["sleep", "100"]));
    c.start_running(&bundle);
    assert_ok(
        &rt.cli(&["update", "--pids-limit", "7", "--memory", "64m", c.id()]),
        "update",
    );
    let pids = || cgroup_file(&c, "pids", "pids.max", "pids.max");
    assert_eq!(pids().trim(), "7");
    let memory = cgroup_file(&c, "memory", "memory.limit_in_bytes", "memory.max");
    assert_eq!(memory.trim(), (64u64 << 20).to_string());

    let mut child = rt
        .command(&["update", "--resources", "-", c.id()])
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn update");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"pids":{"limit":9},"cpu":{"shares":512}}"#)
        .unwrap();
    assert!(child.wait().unwrap().success(), "update --resources -");
    assert_eq!(pids().trim(), "9");
    // On v2, shares 512 become cpu.weight 1 + (512 - 2) * 9999 / 262142 = 20.
    let cpu = cgroup_file(&c, "cpu", "cpu.shares", "cpu.weight");
    assert_eq!(cpu.trim(), if unified() { "20" } else { "512" });
}

#[test]
fn update_refuses_bad_input() {
    let rt = Runtime::new();
    let c = rt.container("update-bad");
    let bundle = in_own_cgroup(&c, Bundle::new().args(&["sleep", "100"]));
    c.start_running(&bundle);
    let out = rt.cli(&["update", "--memory", "lots", c.id()]);
    assert!(!out.status.success());
    let out = rt.cli(&["update", "--pids-limit", "5", "no-such-container"]);
    assert!(!out.status.success());
}

fn stats_of(rt: &Runtime, c: &Container) -> serde_json::Value {
    let out = rt.cli(&["events", "--stats", c.id()]);
    assert_ok(&out, "events --stats");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stats JSON");
    assert_eq!(v["type"], "stats");
    v["data"].clone()
}

#[test]
fn events_stats_report_usage_and_limits() {
    let rt = Runtime::new();
    let c = rt.container("events-stats");
    let bundle = in_own_cgroup(&c, Bundle::new().args(&["sleep", "100"])).edit(|v| {
        v["linux"]["resources"]["memory"] = serde_json::json!({"limit": 64 << 20});
        v["linux"]["resources"]["pids"] = serde_json::json!({"limit": 20});
    });
    c.start_running(&bundle);
    let data = stats_of(&rt, &c);
    assert_eq!(data["memory"]["usage"]["limit"], 64u64 << 20, "{data}");
    assert!(
        data["memory"]["usage"]["usage"].as_u64().unwrap() > 0,
        "{data}"
    );
    assert_eq!(data["pids"]["current"], 1, "{data}");
    assert_eq!(data["pids"]["limit"], 20, "{data}");
    assert!(
        data["cpu"]["usage"]["total"].as_u64().unwrap() > 0,
        "{data}"
    );
}

#[test]
fn cpu_quota_throttles_a_busy_loop() {
    let rt = Runtime::new();
    let c = rt.container("cpu-quota");
    let bundle = in_own_cgroup(&c, Bundle::new())
        .edit(|v| {
            v["linux"]["resources"]["cpu"] = serde_json::json!({"quota": 10000, "period": 100000})
        })
        .args(&["sh", "-c", "while true; do :; done"]);
    c.start_running(&bundle);
    skiff_e2e::wait_until("the quota to throttle the loop", || {
        stats_of(&rt, &c)["cpu"]["throttling"]["throttled_periods"]
            .as_u64()
            .unwrap_or(0)
            >= 3
    });
    let data = stats_of(&rt, &c);
    let usage = data["cpu"]["usage"]["total"].as_u64().unwrap();
    let periods = data["cpu"]["throttling"]["periods"].as_u64().unwrap();
    // 10 ms of CPU per 100 ms period, with slack for the period in progress.
    assert!(
        usage <= (periods + 2) * 12_000_000,
        "used {usage} ns in {periods} periods"
    );
}

#[test]
fn oom_kill_shows_in_events() {
    let rt = Runtime::new();
    let c = rt.container("events-oom");
    let bundle = memory_hog(&c, "sleep 1; ");
    c.start_running(&bundle);
    let events = rt.output(rt.command(&["events", "--interval", "100ms", c.id()]));
    assert_ok(&events, "events");
    let lines = text(&events.stdout);
    assert!(
        lines.lines().any(|l| l.contains(r#""type":"oom""#)),
        "no oom event in: {lines}"
    );
    c.wait_status("stopped");
}

/// Inside the container, /sys/fs/cgroup shows the container's own cgroup,
/// with or without a cgroup namespace.
#[test]
fn cgroup_mount_shows_the_containers_own_cgroup() {
    for cgroupns in [false, true] {
        let rt = Runtime::new();
        let c = rt.container(&format!("cgroup-view-{cgroupns}"));
        let mut bundle = in_own_cgroup(&c, Bundle::new())
            .edit(|v| v["linux"]["resources"]["pids"] = serde_json::json!({"limit": 17}));
        if cgroupns {
            bundle = bundle.namespace("cgroup", None);
        }
        let script = "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max";
        let out = skiff_e2e::sh_output(
            &format!("cgroup-view-{cgroupns}"),
            in_own_cgroup(&c, bundle),
            script,
        );
        assert_eq!(out.trim(), "17", "cgroupns={cgroupns}");
    }
}

/// `create` with `resources` must fail naming `word`, and leave nothing behind
/// (no state, no cgroup, no process).
fn refused(name: &str, edit: impl FnOnce(&mut serde_json::Value), word: &str) {
    let rt = Runtime::new();
    let c = rt.container(name);
    let bundle = in_own_cgroup(&c, Bundle::new().args(&["true"])).edit(edit);
    let out = c.create(&bundle);
    assert!(!out.status.success(), "{name}: create succeeded");
    let stderr = text(&out.stderr);
    if !skiff_e2e::skip_skiff_checks() {
        assert!(
            stderr.contains(word),
            "{name}: the error does not name {word:?}: {stderr}"
        );
    }
    c.assert_nothing_left(None);
}

#[test]
fn absurd_values_are_refused() {
    refused(
        "bad-memory",
        |v| v["linux"]["resources"]["memory"] = serde_json::json!({"limit": -5}),
        "memory",
    );
    refused(
        "bad-cpuset",
        |v| v["linux"]["resources"]["cpu"] = serde_json::json!({"cpus": "4096-5000"}),
        "cpuset.cpus",
    );
    refused(
        "bad-pids-type",
        |v| v["linux"]["resources"]["pids"] = serde_json::json!({"limit": "lots"}),
        "pids",
    );
}

#[test]
fn keys_of_the_other_cgroup_version_are_refused() {
    if unified() {
        refused(
            "v1-key-on-v2",
            |v| v["linux"]["resources"]["network"] = serde_json::json!({"classID": 42}),
            "class",
        );
    } else {
        refused(
            "v2-key-on-v1",
            |v| v["linux"]["resources"]["unified"] = serde_json::json!({"memory.high": "1000000"}),
            "memory.high",
        );
    }
    refused(
        "unknown-unified-key",
        |v| v["linux"]["resources"]["unified"] = serde_json::json!({"no.such.file": "1"}),
        "no.such.file",
    );
}

#[test]
fn cgroups_path_with_parent_components_is_refused() {
    let rt = Runtime::new();
    let c = rt.container("cgroup-dotdot");
    let escape = format!("skiff-e2e-escape-{}", std::process::id());
    let bundle = Bundle::new()
        .args(&["true"])
        .cgroups_path(&format!("/skiff-e2e/../{escape}"));
    let out = c.create(&bundle);
    assert!(!out.status.success(), "a cgroupsPath with .. was accepted");
    if !skiff_e2e::skip_skiff_checks() {
        assert!(text(&out.stderr).contains(".."), "{}", text(&out.stderr));
    }
    let made = fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .any(|e| e.path().join(&escape).exists() || e.file_name().to_string_lossy() == escape);
    assert!(!made, "a cgroup outside the given parent was made");
    c.assert_nothing_left(None);
}

/// Init and an exec'd process are in the container's cgroup on every
/// hierarchy of the host, v1 ones and the cgroup2 mount alike, as the host
/// sees them: whether the runtime moved them or they entered by themselves.
#[test]
fn init_and_exec_are_in_the_cgroup_on_every_hierarchy() {
    let rt = Runtime::new();
    let c = rt.container("every-hierarchy");
    let bundle = in_own_cgroup(&c, Bundle::new().args(&["sleep", "100"]));
    let init = c.start_running(&bundle);
    let detached = c.exec_with(&["--detach"], &["sleep", "100"]);
    assert_ok(&detached, "exec --detach");
    let exec = fs::read_to_string(format!(
        "/sys/fs/cgroup/pids{}/cgroup.procs",
        c.cgroup_path()
    ))
    .or_else(|_| fs::read_to_string(format!("/sys/fs/cgroup{}/cgroup.procs", c.cgroup_path())))
    .expect("the container's cgroup.procs");
    let exec: Vec<i32> = exec.lines().map(|l| l.parse().expect("pid")).collect();
    assert_eq!(exec.len(), 2, "init and the exec'd process: {exec:?}");
    for pid in [
        init,
        exec.into_iter().find(|&p| p != init).expect("exec pid"),
    ] {
        let listing = fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
        for line in listing.lines() {
            let path = line.splitn(3, ':').nth(2).expect("three fields");
            assert_eq!(path, c.cgroup_path(), "pid {pid}: {line}");
        }
    }
    assert_ok(&c.delete_force(), "delete --force");
    c.assert_nothing_left(Some(init));
}
