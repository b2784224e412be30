//! The rest of runc's command line: spec, features, logs, ps, pause/resume,
//! kill --all, --no-pivot, and the spec fields that need namespaces or kernel support.

use skiff_e2e::{assert_ok, sh_output, skip_skiff_checks, text, Bundle, Runtime};

fn sleeper() -> Bundle {
    Bundle::new().args(&["sleep", "100"])
}

#[test]
fn spec_matches_runc_spec() {
    if skip_skiff_checks() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let ours = dir.path().join("ours");
    let theirs = dir.path().join("theirs");
    std::fs::create_dir_all(&ours).unwrap();
    std::fs::create_dir_all(&theirs).unwrap();
    let rt = Runtime::new();
    assert_ok(
        &rt.cli(&["spec", "--bundle", ours.to_str().unwrap()]),
        "spec",
    );
    let runc = std::process::Command::new("runc")
        .args(["spec", "--bundle", theirs.to_str().unwrap()])
        .status()
        .expect("runc spec");
    assert!(runc.success());
    let read = |p: &std::path::Path| std::fs::read_to_string(p.join("config.json")).unwrap();
    let version = |t: &str| {
        let v: serde_json::Value = serde_json::from_str(t).unwrap();
        v["ociVersion"].as_str().unwrap().to_string()
    };
    let (a, b) = (read(&ours), read(&theirs));
    assert_eq!(a.replace(&version(&a), "V"), b.replace(&version(&b), "V"));
    let again = rt.cli(&["spec", "--bundle", ours.to_str().unwrap()]);
    assert!(
        !again.status.success(),
        "spec must not overwrite config.json"
    );
}

#[test]
fn rootless_spec_maps_the_user() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = Runtime::new();
    assert_ok(
        &rt.cli(&[
            "spec",
            "--rootless",
            "--bundle",
            dir.path().to_str().unwrap(),
        ]),
        "spec",
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(v["linux"]["uidMappings"][0]["hostID"], 0);
    let types: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"user") && !types.contains(&"network"),
        "{types:?}"
    );
}

#[test]
fn features_lists_namespaces_and_hooks() {
    let out = Runtime::new().cli(&["features"]);
    assert_ok(&out, "features");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("features is JSON");
    let namespaces = v["linux"]["namespaces"].as_array().expect("namespaces");
    assert!(namespaces.iter().any(|n| n == "user"));
    assert!(v["hooks"]
        .as_array()
        .expect("hooks")
        .iter()
        .any(|h| h == "createRuntime"));
    assert!(v["mountOptions"]
        .as_array()
        .expect("options")
        .iter()
        .any(|o| o == "rro"));
}

#[test]
fn version_names_the_spec() {
    let out = Runtime::new().cli(&["--version"]);
    assert_ok(&out, "--version");
    assert!(
        text(&out.stdout).contains("spec: 1."),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn errors_go_to_the_log_as_json_lines() {
    let rt = Runtime::new();
    let log = rt.root().join("log.json");
    let out = rt.cli(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "state",
        "nope",
    ]);
    assert!(!out.status.success());
    let last = std::fs::read_to_string(&log).expect("log written");
    let line: serde_json::Value =
        serde_json::from_str(last.lines().last().expect("a line")).expect("a JSON line");
    assert_eq!(line["level"], "error");
    if !skip_skiff_checks() {
        assert!(line["msg"].as_str().unwrap().contains("nope"), "{line}");
    }
    assert!(line["time"].is_string());
}

#[test]
fn systemd_cgroup_is_refused_clearly() {
    if skip_skiff_checks() {
        return;
    }
    let out = Runtime::new().cli(&["--systemd-cgroup", "list"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("systemd"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn ps_lists_the_container_processes() {
    let rt = Runtime::new();
    let c = rt.container("ps");
    let bundle = sleeper();
    let init = c.start_running(&bundle);
    let json = rt.cli(&["ps", "--format", "json", c.id()]);
    assert_ok(&json, "ps --format json");
    let pids: Vec<i32> = serde_json::from_slice(&json.stdout).expect("pid list");
    assert_eq!(pids, vec![init]);
    let table = rt.cli(&["ps", c.id()]);
    assert_ok(&table, "ps");
    let out = text(&table.stdout);
    assert!(out.lines().next().unwrap_or("").contains("PID"), "{out}");
    assert!(
        out.lines().skip(1).any(|l| l.contains("sleep 100")),
        "{out}"
    );
}

#[test]
fn pause_and_resume() {
    let rt = Runtime::new();
    let c = rt.container("pause");
    let bundle = sleeper();
    let pid = c.start_running(&bundle);
    assert_ok(&rt.cli(&["pause", c.id()]), "pause");
    assert_eq!(c.status(), "paused");
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let letter = state
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert!(letter == "D" || letter == "S", "frozen init is {letter}");
    assert_ok(&rt.cli(&["resume", c.id()]), "resume");
    assert_eq!(c.status(), "running");
    assert!(
        !rt.cli(&["resume", c.id()]).status.success(),
        "resume of a running container"
    );
}

#[test]
fn kill_all_reaches_every_process() {
    let rt = Runtime::new();
    let c = rt.container("kill-all");
    let bundle = Bundle::new().args(&["sh", "-c", "sleep 100 & sleep 100 & wait"]);
    c.start_running(&bundle);
    assert_ok(&rt.cli(&["kill", "--all", c.id(), "KILL"]), "kill --all");
    c.wait_status("stopped");
    assert_ok(&c.delete(), "delete");
    c.assert_nothing_left(None);
}

#[test]
fn no_pivot_runs_the_container() {
    let rt = Runtime::new();
    let c = rt.container("no-pivot");
    let bundle = Bundle::new().args(&["sh", "-c", "test -e /bin/busybox && echo inside"]);
    let out = c.run_with(&bundle, &["--no-pivot"]);
    assert_ok(&out, "run --no-pivot");
    assert_eq!(text(&out.stdout).trim(), "inside");
}

#[test]
fn namespaced_sysctl_is_set() {
    let bundle = Bundle::new().edit(|v| {
        v["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": "1"});
    });
    let out = sh_output("sysctl", bundle, "cat /proc/sys/net/ipv4/ip_forward");
    assert_eq!(out.trim(), "1");
}

#[test]
fn host_wide_sysctl_is_refused() {
    let rt = Runtime::new();
    let c = rt.container("sysctl-host");
    let bundle = Bundle::new().edit(|v| {
        v["linux"]["sysctl"] = serde_json::json!({"vm.swappiness": "10"});
    });
    let out = c.create(&bundle);
    assert!(!out.status.success(), "vm.swappiness must be refused");
    if !skip_skiff_checks() {
        assert!(
            text(&out.stderr).contains("vm.swappiness"),
            "{}",
            text(&out.stderr)
        );
    }
    c.assert_nothing_left(None);
}

#[test]
fn hostname_without_uts_namespace_is_refused() {
    let rt = Runtime::new();
    let c = rt.container("hostname-no-uts");
    let out = c.create(&Bundle::new().remove_namespace("uts").hostname("x"));
    assert!(!out.status.success());
    if !skip_skiff_checks() {
        assert!(text(&out.stderr).contains("UTS"), "{}", text(&out.stderr));
    }
    c.assert_nothing_left(None);
}

#[test]
fn personality_linux32() {
    if skip_skiff_checks() {
        return;
    }
    let bundle = Bundle::new()
        .edit(|v| v["linux"]["personality"] = serde_json::json!({"domain": "LINUX32"}));
    let out = sh_output("personality", bundle, "uname -m");
    assert_eq!(out.trim(), "i686");
}

#[test]
fn scheduler_policy_is_applied() {
    if skip_skiff_checks() {
        return;
    }
    let bundle = Bundle::new().edit(|v| {
        v["process"]["scheduler"] = serde_json::json!({"policy": "SCHED_BATCH", "nice": 5})
    });
    let stat = sh_output("scheduler", bundle, "cat /proc/self/stat");
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    // After the command, index 0 is field 3 of stat: nice is field 19, policy 41.
    assert_eq!(fields[19 - 3], "5", "nice in {stat}");
    assert_eq!(fields[41 - 3], "3", "policy in {stat}");
}

#[test]
fn unsupported_fields_are_refused_not_ignored() {
    if skip_skiff_checks() {
        return;
    }
    let rt = Runtime::new();
    let c = rt.container("unsupported");
    let bundle =
        Bundle::new().edit(|v| v["linux"]["intelRdt"] = serde_json::json!({"closID": "x"}));
    let out = c.create(&bundle);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("linux.intelRdt"),
        "{}",
        text(&out.stderr)
    );
    c.assert_nothing_left(None);
}
