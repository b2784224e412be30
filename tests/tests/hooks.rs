//! OCI hooks: order, state on stdin, environment, failure.

use serde_json::Value;
use skiff_e2e::{assert_ok, skip_skiff_checks, Bundle, Runtime, DEFAULT_PATH};
use std::fs;
use std::path::Path;

const STAGES: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// Adds a hook for `stage` that appends the state from stdin, then a line
/// `<stage> <$HOOK_VAR>`, to `log` (a path as the hook sees it).
fn logging_hook(bundle: Bundle, stage: &str, log: &str) -> Bundle {
    let script = format!("cat >> {log}; echo >> {log}; echo {stage} $HOOK_VAR >> {log}");
    let var = format!("HOOK_VAR=env-{stage}");
    bundle.hook(
        stage,
        "/bin/sh",
        &["sh", "-c", &script],
        &[DEFAULT_PATH, &var],
    )
}

/// (stage, env value, state) for each hook run, in the order they ran.
fn read_log(log: &Path) -> Vec<(String, String, Value)> {
    let text = fs::read_to_string(log).expect("read hook log");
    let mut runs = Vec::new();
    let mut state = Value::Null;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if line.starts_with('{') {
            state = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        } else {
            let (stage, var) = line.split_once(' ').unwrap_or((line, ""));
            runs.push((stage.to_string(), var.to_string(), state.take()));
        }
    }
    runs
}

#[test]
fn hooks_run_in_order_with_state_and_env() {
    let rt = Runtime::new();
    let mut bundle = Bundle::new().args(&["true"]);
    let log_dir = bundle.host_dir("hooklog");
    let host_log = log_dir.join("log");
    let host_log_str = host_log.to_str().expect("utf-8").to_string();
    for stage in STAGES {
        let log = if stage == "startContainer" {
            "/hooklog/log"
        } else {
            host_log_str.as_str()
        };
        bundle = logging_hook(bundle, stage, log);
    }
    let bundle = bundle.bind(&log_dir, "/hooklog", &[]);
    let c = rt.container("hooks-order");
    let pid = c.start_running(&bundle);
    c.wait_status("stopped");
    assert_ok(&c.delete(), "delete");
    c.assert_nothing_left(Some(pid));

    let runs = read_log(&host_log);
    let order: Vec<&str> = runs.iter().map(|(s, _, _)| s.as_str()).collect();
    let pos = |stage: &str| {
        order
            .iter()
            .position(|s| *s == stage)
            .unwrap_or_else(|| panic!("{stage} hook did not run: {order:?}"))
    };
    let before = |a: &str, b: &str| assert!(pos(a) < pos(b), "{a} not before {b}: {order:?}");
    before("prestart", "createContainer");
    before("createRuntime", "createContainer");
    before("createContainer", "startContainer");
    before("createContainer", "poststart");
    before("startContainer", "poststop");
    before("poststart", "poststop");
    for (stage, var, state) in &runs {
        assert_eq!(var, &format!("env-{stage}"), "env of the {stage} hook");
        assert_eq!(
            state["id"],
            c.id(),
            "state on stdin of the {stage} hook: {state}"
        );
        if state["status"] == "created" || state["status"] == "running" {
            assert!(
                state.get("pid").is_some(),
                "no pid in state of {stage}: {state}"
            );
        }
    }
    // runc runs poststart while its init is still running startContainer hooks;
    // the spec puts startContainer before the process starts, poststart after.
    if skip_skiff_checks() {
        return;
    }
    before("startContainer", "poststart");
}

#[test]
fn failing_create_runtime_hook_fails_create() {
    let rt = Runtime::new();
    let c = rt.container("hooks-fail");
    let bundle = Bundle::new()
        .args(&["sleep", "100"])
        .cgroups_path(&c.cgroup_path())
        .hook("createRuntime", "/bin/false", &["false"], &[]);
    let out = c.create(&bundle);
    assert!(
        !out.status.success(),
        "create succeeded despite a failing hook"
    );
    c.assert_nothing_left(None);
}
