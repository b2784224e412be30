//! The `skiff` engine's containers end to end: run in the foreground and
//! detached, exit codes, logs, stop, kill, restart, rm, inspect, ps, the
//! flags that shape a container, crash safety and concurrency, bad input.

use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use skiff_e2e::{eventually, run_in_pty, Ran, Skiff};

fn sh(skiff: &Skiff, flags: &[&str], script: &str) -> Ran {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "sh", "-c", script]);
    skiff.run(&args)
}

/// Mounts and cgroups that a container left, and its directory.
fn leftovers(skiff: &Skiff, id: &str) -> Vec<String> {
    let mut left: Vec<String> = fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(id))
        .map(str::to_string)
        .collect();
    for hierarchy in ["memory", "pids", "cpu", "devices", "freezer"] {
        let dir = format!("/sys/fs/cgroup/{hierarchy}/skiff/{id}");
        if Path::new(&dir).exists() {
            left.push(dir);
        }
    }
    let dir = skiff.root().join("containers").join(id);
    if dir.exists() {
        left.push(dir.display().to_string());
    }
    left
}

#[test]
fn foreground_output_and_exit_codes() {
    let skiff = Skiff::with_busybox();
    sh(&skiff, &[], "echo out; echo err >&2")
        .ok()
        .stdout_has("out");
    assert!(sh(&skiff, &[], "echo err >&2").stderr.contains("err"));
    sh(&skiff, &[], "exit 3").expect_code(3);
    sh(&skiff, &[], "sleep 60 & kill -9 $!; wait $!").expect_code(137);
    let missing = skiff.run(&["run", "--rm", "busybox", "no-such-command"]);
    missing.expect_code(127);
    assert!(
        missing.stderr.contains("no-such-command"),
        "{}",
        missing.stderr
    );
    skiff
        .run(&["run", "--rm", "busybox", "/etc/passwd"])
        .expect_code(126);
    skiff
        .run(&["run", "--rm", "--bogus-flag", "busybox"])
        .expect_code(125);
    let image = skiff.run(&["run", "--rm", "localhost:1/none/such:image", "true"]);
    image.expect_code(125);
    // stdin reaches the container with -i, and not without it.
    let ran = skiff.run_with_input(&["run", "--rm", "-i", "busybox", "cat"], b"piped in\n");
    ran.ok().stdout_has("piped in");
    let ran = skiff.run_with_input(&["run", "--rm", "busybox", "cat"], b"not read\n");
    assert!(!ran.stdout.contains("not read"));
    assert_eq!(
        skiff.run(&["ps", "-aq"]).stdout.trim(),
        "",
        "--rm removed them all"
    );
}

#[test]
fn rm_leaves_nothing_behind() {
    let skiff = Skiff::with_busybox();
    let id = skiff
        .run(&["run", "-d", "--memory", "32m", "busybox", "sleep", "60"])
        .stdout
        .trim()
        .to_string();
    assert_eq!(id.len(), 64);
    assert!(
        !leftovers(&skiff, &id).is_empty(),
        "a running container has its mount and cgroup"
    );
    skiff.run(&["rm", &id[..12]]).expect_code(1);
    skiff.run(&["rm", "-f", &id[..12]]).ok();
    assert_eq!(leftovers(&skiff, &id), Vec::<String>::new());
    let ran = sh(&skiff, &["--memory", "32m"], "echo gone");
    ran.ok();
    assert!(skiff
        .store_entries("containers")
        .iter()
        .all(|n| n == "names"));
}

#[test]
fn detached_lifecycle_with_logs() {
    let skiff = Skiff::with_busybox();
    let script = "trap 'echo got term; exit 7' TERM; echo started; echo oops >&2; while true; do sleep 0.1; done";
    skiff
        .run(&["run", "-d", "--name", "svc", "busybox", "sh", "-c", script])
        .ok();
    eventually("the log has output", || {
        skiff.run(&["logs", "svc"]).stdout.contains("started")
    });
    let logs = skiff.run(&["logs", "svc"]);
    assert!(
        logs.stderr.contains("oops"),
        "stderr stays stderr: {}",
        logs.stderr
    );
    skiff
        .run(&["logs", "-t", "--tail", "2", "svc"])
        .ok()
        .stdout_has("Z started");
    let ps = skiff.run(&["ps"]);
    ps.ok().stdout_has("svc").stdout_has("Up ");
    assert_eq!(skiff.inspect("svc")["State"]["Running"], true);
    let id = skiff.inspect("svc")["Id"].as_str().unwrap().to_string();
    let state =
        std::fs::read_to_string(skiff.root().join("containers").join(&id).join("state.json"));
    let state: serde_json::Value = serde_json::from_str(&state.unwrap()).unwrap();
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", state["monitor_pid"])).unwrap();
    assert!(
        String::from_utf8_lossy(&cmdline).contains("--skiff-monitor-resume"),
        "the monitor waits in a fresh image of skiff"
    );
    let rootfs = skiff
        .root()
        .join("containers")
        .join(&id)
        .join("bundle/rootfs");
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(rootfs.to_str().unwrap()),
        "the root overlay is mounted in the container's namespace only"
    );
    skiff.run(&["stop", "svc"]).ok();
    let state = skiff.inspect("svc")["State"].clone();
    assert_eq!(
        (state["Status"].as_str(), state["ExitCode"].as_i64()),
        (Some("exited"), Some(7))
    );
    skiff.run(&["logs", "svc"]).ok().stdout_has("got term");
    skiff.run(&["wait", "svc"]).ok().stdout_has("7");
    skiff.run(&["start", "svc"]).ok();
    assert_eq!(skiff.inspect("svc")["State"]["Status"], "running");
    skiff.run(&["pause", "svc"]).ok();
    skiff.run(&["ps"]).ok().stdout_has("(Paused)");
    skiff.run(&["unpause", "svc"]).ok();
    skiff.run(&["kill", "-s", "TERM", "svc"]).ok();
    eventually("the kill is recorded", || {
        skiff.inspect("svc")["State"]["Status"] == "exited"
    });
    skiff.run(&["rename", "svc", "svc2"]).ok();
    skiff.run(&["rm", "svc2"]).ok();
    skiff.run(&["inspect", "svc2"]).expect_code(1);
}

#[test]
fn flags_shape_the_container() {
    let skiff = Skiff::with_busybox();
    let out = sh(
        &skiff,
        &[
            "-h",
            "boat",
            "-e",
            "COLOR=blue",
            "-w",
            "/tmp",
            "-u",
            "nobody",
            "--label",
            "a=b",
        ],
        "hostname; echo $COLOR; pwd; id -u; cat /proc/1/cmdline | tr '\\0' ' '",
    );
    out.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(&lines[..4], ["boat", "blue", "/tmp", "65534"]);
    assert!(
        lines[4].starts_with("sh -c"),
        "the command is pid 1: {}",
        lines[4]
    );
    sh(&skiff, &["--read-only"], "touch /x").expect_code(1);
    sh(
        &skiff,
        &["--read-only", "--tmpfs", "/scratch"],
        "touch /scratch/x",
    )
    .ok();
    sh(&skiff, &["--entrypoint", "echo"], "ignored")
        .ok()
        .stdout_has("sh -c ignored");
    // Network none: only the loopback link.
    let links = sh(&skiff, &["--network", "none"], "ls /sys/class/net");
    assert_eq!(links.stdout.split_whitespace().collect::<Vec<_>>(), ["lo"]);
    // Capabilities: Docker's default set; all with --privileged; none with --cap-drop ALL.
    let capeff = |flags: &[&str]| {
        let ran = sh(&skiff, flags, "grep CapEff /proc/self/status");
        ran.ok();
        ran.stdout.split_whitespace().nth(1).unwrap().to_string()
    };
    assert_eq!(capeff(&[]), "00000000a80425fb");
    assert_eq!(capeff(&["--cap-drop", "ALL"]), "0000000000000000");
    assert_eq!(
        capeff(&["--cap-drop", "all", "--cap-add", "net_admin"]),
        "0000000000001000"
    );
    assert_ne!(capeff(&["--privileged"]), "00000000a80425fb");
}

#[test]
fn volumes_and_bind_mounts() {
    let skiff = Skiff::with_busybox();
    let host = skiff.dir().join("shared");
    fs::create_dir(&host).unwrap();
    fs::write(host.join("in.txt"), "from host\n").unwrap();
    let bind = format!("{}:/data", host.display());
    sh(
        &skiff,
        &["-v", &bind],
        "cat /data/in.txt; echo back > /data/out.txt",
    )
    .ok()
    .stdout_has("from host");
    assert_eq!(fs::read_to_string(host.join("out.txt")).unwrap(), "back\n");
    let ro = format!("{}:/data:ro", host.display());
    sh(&skiff, &["-v", &ro], "echo x > /data/y").expect_code(1);
    sh(&skiff, &["-v", "keep:/v"], "echo kept > /v/f").ok();
    sh(
        &skiff,
        &["--mount", "type=volume,source=keep,target=/w"],
        "cat /w/f",
    )
    .ok()
    .stdout_has("kept");
    skiff.run(&["volume", "ls"]).ok().stdout_has("keep");
    skiff
        .run(&["volume", "inspect", "keep"])
        .ok()
        .stdout_has("_data");
    skiff
        .run(&[
            "run", "-d", "--name", "holder", "-v", "keep:/v", "busybox", "sleep", "60",
        ])
        .ok();
    let busy = skiff.run(&["volume", "rm", "keep"]);
    assert!(busy.stderr.contains("in use"), "{}", busy.stderr);
    skiff.run(&["rm", "-f", "holder"]).ok();
    skiff.run(&["volume", "rm", "keep"]).ok();
    skiff.run(&["volume", "ls", "-q"]).ok();
}

#[test]
fn resources_reach_the_cgroup() {
    let skiff = Skiff::with_busybox();
    let id = skiff
        .run(&[
            "run",
            "-d",
            "--memory",
            "48m",
            "--pids-limit",
            "33",
            "--cpus",
            "0.5",
            "busybox",
            "sleep",
            "60",
        ])
        .stdout
        .trim()
        .to_string();
    let read = |p: &str| {
        fs::read_to_string(format!("/sys/fs/cgroup/{p}"))
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    assert_eq!(
        read(&format!("memory/skiff/{id}/memory.limit_in_bytes")),
        (48u64 << 20).to_string()
    );
    assert_eq!(read(&format!("pids/skiff/{id}/pids.max")), "33");
    assert_eq!(read(&format!("cpu/skiff/{id}/cpu.cfs_quota_us")), "50000");
    let doc = skiff.inspect(&id);
    assert_eq!(doc["HostConfig"]["Memory"], 48 << 20);
    skiff.run(&["rm", "-f", &id]).ok();
}

#[test]
fn a_terminal_with_t() {
    let skiff = Skiff::with_busybox();
    let mut argv: Vec<String> = vec![skiff_e2e::skiff_binary().display().to_string()];
    argv.extend(["--root".into(), skiff.root().display().to_string()]);
    argv.extend([
        "--runroot".into(),
        skiff.dir().join("run").display().to_string(),
    ]);
    argv.extend(["run", "--rm", "-it", "busybox", "sh", "-c", "tty; exit 4"].map(String::from));
    let ran = run_in_pty(&argv, &[]);
    assert_eq!(ran.code, Some(4), "{ran:?}");
    assert!(ran.stdout.contains("/dev/pts/0"), "{}", ran.stdout);
    let no_tty = skiff.run(&["run", "--rm", "-t", "busybox", "true"]);
    no_tty.expect_code(125);
    assert!(no_tty.stderr.contains("not a TTY"), "{}", no_tty.stderr);
}

#[test]
fn restart_policies() {
    let skiff = Skiff::with_busybox();
    skiff
        .run(&[
            "run",
            "-d",
            "--name",
            "flaky",
            "--restart",
            "on-failure:2",
            "busybox",
            "sh",
            "-c",
            "exit 1",
        ])
        .ok();
    eventually("two restarts, then exited", || {
        let s = skiff.inspect("flaky");
        s["RestartCount"] == 2 && s["State"]["Status"] == "exited"
    });
    skiff
        .run(&[
            "run",
            "-d",
            "--name",
            "always",
            "--restart",
            "always",
            "busybox",
            "sh",
            "-c",
            "exit 0",
        ])
        .ok();
    eventually("restarted", || {
        skiff.inspect("always")["RestartCount"].as_u64() >= Some(1)
    });
    skiff.run(&["stop", "always"]).ok();
    let count = skiff.inspect("always")["RestartCount"].clone();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        skiff.inspect("always")["RestartCount"],
        count,
        "a stopped container stays stopped"
    );
    skiff.run(&["rm", "-f", "flaky", "always"]).ok();
}

#[test]
fn kill_9_of_skiff_or_the_monitor_leaves_a_manageable_container() {
    let skiff = Skiff::with_busybox();
    let mut fg = skiff
        .command(&["run", "--name", "fg", "busybox", "sleep", "60"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    eventually("running", || skiff.run(&["ps"]).stdout.contains("fg"));
    fg.kill().unwrap();
    fg.wait().unwrap();
    assert_eq!(
        skiff.inspect("fg")["State"]["Status"],
        "running",
        "the container outlives skiff run"
    );
    let id = skiff
        .run(&["run", "-d", "--name", "bg", "busybox", "sleep", "60"])
        .stdout
        .trim()
        .to_string();
    let state: Value = serde_json::from_slice(
        &fs::read(skiff.root().join(format!("containers/{id}/state.json"))).unwrap(),
    )
    .unwrap();
    let monitor = state["monitor_pid"].as_i64().unwrap() as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    eventually("the monitor is gone", || {
        !Path::new(&format!("/proc/{monitor}/stat")).exists()
            || fs::read_to_string(format!("/proc/{monitor}/stat"))
                .unwrap_or_default()
                .contains(") Z")
    });
    assert_eq!(
        skiff.inspect("bg")["State"]["Status"],
        "running",
        "still running without its monitor"
    );
    skiff.run(&["stop", "-t", "1", "bg"]).ok();
    assert_eq!(skiff.inspect("bg")["State"]["Status"], "exited");
    skiff.run(&["rm", "fg", "-f"]).ok();
    skiff.run(&["rm", "bg"]).ok();
    assert_eq!(leftovers(&skiff, &id), Vec::<String>::new());
}

#[test]
fn twenty_detached_runs_at_once() {
    let skiff = Skiff::with_busybox();
    let children: Vec<_> = (0..20)
        .map(|_| {
            skiff
                .command(&["run", "-d", "busybox", "sleep", "30"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut ids = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        ids.push(String::from_utf8_lossy(&out.stdout).trim().to_string());
    }
    let ps = skiff.run(&["ps", "--format", "json"]);
    let rows: Vec<Value> = serde_json::from_str(&ps.stdout).unwrap();
    assert_eq!(rows.len(), 20);
    let mut names: Vec<&str> = rows.iter().map(|r| r["Names"].as_str().unwrap()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 20, "names are unique");
    let start = Instant::now();
    let mut args = vec!["rm", "-f"];
    args.extend(ids.iter().map(String::as_str));
    skiff.run(&args).ok();
    assert!(
        skiff.run(&["ps", "-aq"]).stdout.trim().is_empty(),
        "after {:?}",
        start.elapsed()
    );
}

#[test]
fn external_runtime_runc() {
    let skiff = Skiff::with_busybox();
    let ran = sh(
        &skiff,
        &["--runtime", "/usr/sbin/runc"],
        "echo via runc; exit 5",
    );
    ran.expect_code(5);
    assert!(ran.stdout.contains("via runc"), "{}", ran.stdout);
    let id = skiff
        .run(&[
            "run",
            "-d",
            "--runtime",
            "/usr/sbin/runc",
            "busybox",
            "sh",
            "-c",
            "echo logged; sleep 60",
        ])
        .stdout
        .trim()
        .to_string();
    eventually("logged", || {
        skiff.run(&["logs", &id]).stdout.contains("logged")
    });
    skiff.run(&["stop", "-t", "1", &id]).ok();
    skiff.run(&["rm", &id]).ok();
    assert_eq!(leftovers(&skiff, &id), Vec::<String>::new());
}

#[test]
fn images_in_use_are_kept() {
    let skiff = Skiff::with_busybox();
    skiff
        .run(&["create", "--name", "user", "busybox", "true"])
        .ok();
    let refused = skiff.run(&["rmi", "busybox"]);
    assert!(refused.stderr.contains("used by"), "{}", refused.stderr);
    skiff.run(&["rm", "user"]).ok();
    skiff.run(&["rmi", "busybox"]).ok();
}

#[test]
fn bad_input_is_refused_and_leaves_nothing() {
    let skiff = Skiff::with_busybox();
    skiff
        .run(&["create", "--name", "taken", "busybox", "true"])
        .ok();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["run", "-v", "relative:dir", "busybox"], "absolute"),
        (
            vec!["run", "-v", "/no/such/dir:/d", "busybox"],
            "does not exist",
        ),
        (
            vec!["run", "--mount", "type=nfs,target=/x", "busybox"],
            "nfs",
        ),
        (vec!["run", "--memory", "12q", "busybox"], "12q"),
        (
            vec!["run", "--name", "taken", "busybox", "true"],
            "already in use",
        ),
        (
            vec!["run", "--name", "bad/name", "busybox", "true"],
            "invalid container name",
        ),
        (
            vec!["run", "--restart", "sometimes", "busybox"],
            "sometimes",
        ),
        (vec!["run", "--ulimit", "nofile=x", "busybox"], "ulimit"),
        (
            vec!["run", "--cap-add", "CAP_BOGUS", "busybox", "true"],
            "CAP_BOGUS",
        ),
        (
            vec!["run", "--device", "/etc/passwd", "busybox", "true"],
            "not a device",
        ),
        (
            vec!["run", "--network", "bridge0", "busybox", "true"],
            "bridge0",
        ),
        (
            vec!["run", "-u", "ghost", "--rm", "busybox", "true"],
            "ghost",
        ),
        (vec!["logs", "nobody-here"], "no such container"),
        (vec!["stop", "nobody-here"], "no such container"),
    ];
    skiff.expect_failures(&cases);
    let ps = skiff.run(&["ps", "-a", "--format", "json"]);
    let rows: Vec<Value> = serde_json::from_str(&ps.stdout).unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["Names"].as_str().unwrap()).collect();
    assert!(
        names.iter().all(|n| *n == "taken" || rows.len() <= 2),
        "{names:?}"
    );
}

#[test]
fn exec_joins_a_running_container() {
    let skiff = Skiff::with_busybox();
    skiff
        .run(&[
            "run", "-d", "--name", "box", "-e", "BASE=1", "busybox", "sleep", "60",
        ])
        .ok();
    let ran = skiff.run(&["exec", "box", "sh", "-c", "echo $BASE; hostname; exit 6"]);
    ran.expect_code(6);
    assert!(
        ran.stdout.starts_with("1\n"),
        "the container's environment: {}",
        ran.stdout
    );
    let who = skiff.run(&[
        "exec",
        "-u",
        "nobody",
        "-w",
        "/tmp",
        "-e",
        "X=y",
        "box",
        "sh",
        "-c",
        "id -u; pwd; echo $X",
    ]);
    assert_eq!(
        who.stdout.lines().collect::<Vec<_>>(),
        ["65534", "/tmp", "y"]
    );
    // The exec'd process sees the container's processes: its own pid namespace.
    skiff
        .run(&["exec", "box", "sh", "-c", "cat /proc/1/cmdline"])
        .ok()
        .stdout_has("sleep");
    skiff
        .run(&["exec", "box", "no-such-command"])
        .expect_code(127);
    skiff
        .run_with_input(&["exec", "-i", "box", "cat"], b"typed\n")
        .ok()
        .stdout_has("typed");
    skiff
        .run(&["exec", "-d", "box", "sh", "-c", "echo bg > /tmp/marker"])
        .ok();
    eventually("the detached exec ran", || {
        skiff
            .run(&["exec", "box", "cat", "/tmp/marker"])
            .stdout
            .contains("bg")
    });
    let mut argv: Vec<String> = vec![skiff_e2e::skiff_binary().display().to_string()];
    argv.extend(["--root".into(), skiff.root().display().to_string()]);
    argv.extend([
        "--runroot".into(),
        skiff.dir().join("run").display().to_string(),
    ]);
    argv.extend(["exec", "-it", "box", "tty"].map(String::from));
    assert!(
        run_in_pty(&argv, &[]).stdout.contains("/dev/pts/"),
        "exec -t gets a terminal"
    );
    skiff.run(&["stop", "-t", "1", "box"]).ok();
    skiff.run(&["exec", "box", "true"]).expect_code(125);
    skiff.run(&["rm", "box"]).ok();
}

#[test]
fn init_reaps_and_forwards_signals() {
    let skiff = Skiff::with_busybox();
    let ran = sh(
        &skiff,
        &["--init"],
        "cat /proc/1/cmdline | tr '\\0' ' '; exit 9",
    );
    ran.expect_code(9);
    assert!(
        ran.stdout.starts_with("/sbin/skiff-init sh"),
        "{}",
        ran.stdout
    );
    // Without an init, sleep as pid 1 ignores SIGTERM and stop has to kill
    // it (137); with one, SIGTERM reaches sleep, which dies of it (143).
    skiff
        .run(&[
            "run", "-d", "--init", "--name", "inited", "busybox", "sleep", "60",
        ])
        .ok();
    skiff.run(&["stop", "-t", "20", "inited"]).ok();
    assert_eq!(skiff.inspect("inited")["State"]["ExitCode"], 143);
    skiff.run(&["rm", "inited"]).ok();
}

#[test]
fn attach_inspect_format_and_rm_v() {
    let skiff = Skiff::with_busybox();
    // A terminal container: attach gets its pty and its exit code.
    skiff
        .run(&[
            "run",
            "-dt",
            "--name",
            "term",
            "busybox",
            "sh",
            "-c",
            "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do echo tick$i; sleep 0.2; done; exit 3",
        ])
        .ok();
    let attached = skiff.run_on_terminal(&["attach", "term"]);
    assert_eq!(attached.code, Some(3), "{attached:?}");
    assert!(attached.stdout.contains("tick"), "{}", attached.stdout);
    // Without a terminal, attach follows the output until the container exits.
    skiff
        .run(&[
            "run",
            "-d",
            "--name",
            "plain",
            "busybox",
            "sh",
            "-c",
            "sleep 0.5; echo later; sleep 0.5",
        ])
        .ok();
    skiff.run(&["attach", "plain"]).ok().stdout_has("later");
    // inspect --format.
    let f = skiff.run(&[
        "inspect",
        "-f",
        "{{.Name}} {{.State.Status}} {{json .Config.Cmd}}",
        "plain",
    ]);
    f.ok();
    assert!(
        f.stdout.starts_with("/plain exited [\"sh\",\"-c\""),
        "{}",
        f.stdout
    );
    skiff
        .run(&["inspect", "--format", "{{upper .Name}}", "plain"])
        .expect_code(125);
    // rm -v removes the anonymous volume, and only that.
    skiff
        .run(&[
            "create",
            "--name",
            "vols",
            "-v",
            "/anon",
            "-v",
            "named:/named",
            "busybox",
            "true",
        ])
        .ok();
    assert_eq!(skiff.run(&["volume", "ls", "-q"]).stdout.lines().count(), 2);
    skiff.run(&["rm", "-v", "vols"]).ok();
    assert_eq!(skiff.run(&["volume", "ls", "-q"]).stdout.trim(), "named");
}
