//! create / start / state / kill / delete / run / list.

use skiff_e2e::{assert_ok, pid_alive, run_bundle, text, Bundle, Runtime};
use std::fs;

fn sleeper() -> Bundle {
    Bundle::new().args(&["sleep", "100"])
}

#[test]
fn run_returns_exit_status() {
    let out = run_bundle("run-status", &Bundle::new().args(&["sh", "-c", "exit 3"]));
    assert_eq!(out.status.code(), Some(3), "stderr: {}", text(&out.stderr));
}

#[test]
fn run_returns_128_plus_signal_when_killed() {
    let rt = Runtime::new();
    let c = rt.container("run-signal");
    let bundle = sleeper();
    let run = c.spawn_run(&bundle);
    c.wait_status("running");
    assert_ok(&c.kill("KILL"), "kill KILL");
    let out = run.wait();
    assert_eq!(
        out.status.code(),
        Some(128 + 9),
        "stderr: {}",
        text(&out.stderr)
    );
    c.assert_nothing_left(None);
}

#[test]
fn create_gives_created_state_with_pid() {
    let rt = Runtime::new();
    let c = rt.container("create-state");
    let bundle = sleeper();
    assert_ok(&c.create(&bundle), "create");
    let state = c.state();
    assert_eq!(state["status"], "created");
    let pid = c.pid();
    assert!(pid > 0 && pid_alive(pid), "init pid {pid} not alive");
}

#[test]
fn state_has_required_fields() {
    let rt = Runtime::new();
    let c = rt.container("state-fields");
    let bundle = sleeper();
    assert_ok(&c.create(&bundle), "create");
    let state = c.state();
    for key in ["ociVersion", "id", "status", "pid", "bundle", "created"] {
        assert!(state.get(key).is_some(), "state lacks {key}: {state}");
    }
    assert_eq!(state["id"], c.id());
    let bundle_path = fs::canonicalize(bundle.path()).expect("canonical bundle");
    assert_eq!(state["bundle"], bundle_path.to_str().expect("utf-8"));
    let created = state["created"].as_str().expect("created string");
    assert!(created.contains('T'), "created is not RFC 3339: {created}");
}

#[test]
fn start_makes_it_running() {
    let rt = Runtime::new();
    let c = rt.container("start-running");
    let bundle = sleeper();
    let pid = c.start_running(&bundle);
    assert_eq!(c.status(), "running");
    assert!(pid_alive(pid));
}

fn kill_stops(name: &str, signal: &str) {
    let rt = Runtime::new();
    let c = rt.container(name);
    let bundle = sleeper();
    let pid = c.start_running(&bundle);
    assert_ok(&c.kill(signal), &format!("kill {signal}"));
    c.wait_status("stopped");
    assert_ok(&c.delete(), "delete of stopped container");
    c.assert_nothing_left(Some(pid));
}

#[test]
fn kill_sigkill_stops() {
    kill_stops("kill-sigkill", "SIGKILL");
}

#[test]
fn kill_number_stops() {
    kill_stops("kill-9", "9");
}

#[test]
fn kill_term_stops_when_init_handles_it() {
    let rt = Runtime::new();
    let c = rt.container("kill-term");
    let script = "trap 'exit 0' TERM; sleep 100 & wait";
    let bundle = Bundle::new().args(&["sh", "-c", script]);
    let pid = c.start_running(&bundle);
    assert_ok(&c.kill("TERM"), "kill TERM");
    c.wait_status("stopped");
    assert_ok(&c.delete(), "delete");
    c.assert_nothing_left(Some(pid));
}

#[test]
fn delete_created_container_leaves_nothing() {
    let rt = Runtime::new();
    let c = rt.container("delete-created");
    let bundle = sleeper();
    assert_ok(&c.create(&bundle), "create");
    let pid = c.pid();
    assert_ok(&c.delete(), "delete");
    c.assert_nothing_left(Some(pid));
}

#[test]
fn delete_running_needs_force() {
    let rt = Runtime::new();
    let c = rt.container("delete-force");
    let bundle = sleeper().edit(|v| v["linux"]["cgroupsPath"] = c.cgroup_path().into());
    let pid = c.start_running(&bundle);
    let out = c.delete();
    assert!(
        !out.status.success(),
        "delete of a running container succeeded"
    );
    assert_eq!(c.status(), "running");
    assert_ok(&c.delete_force(), "delete --force");
    c.assert_nothing_left(Some(pid));
}

#[test]
fn pid_file_holds_init_pid() {
    let rt = Runtime::new();
    let c = rt.container("pid-file");
    let bundle = sleeper();
    let pid_file = bundle.path().join("init.pid");
    let out = c.create_with(&bundle, &["--pid-file", pid_file.to_str().expect("utf-8")]);
    assert_ok(&out, "create --pid-file");
    let written = fs::read_to_string(&pid_file).expect("read pid file");
    assert_eq!(written.trim().parse::<i32>().expect("pid number"), c.pid());
}

#[test]
fn list_shows_container() {
    let rt = Runtime::new();
    let c = rt.container("list");
    let bundle = sleeper();
    let pid = c.start_running(&bundle);

    let table = rt.cli(&["list"]);
    assert_ok(&table, "list");
    let table = text(&table.stdout);
    let header = table.lines().next().expect("list header");
    for column in ["ID", "PID", "STATUS", "BUNDLE", "CREATED"] {
        assert!(header.contains(column), "header lacks {column}: {header}");
    }
    let row = table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(c.id()))
        .unwrap_or_else(|| panic!("no row for {} in\n{table}", c.id()));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1], pid.to_string());
    assert_eq!(cells[2], "running");

    let quiet = rt.cli(&["list", "-q"]);
    assert_ok(&quiet, "list -q");
    assert_eq!(text(&quiet.stdout).trim(), c.id());

    let json = rt.cli(&["list", "--format", "json"]);
    assert_ok(&json, "list --format json");
    let list: serde_json::Value = serde_json::from_slice(&json.stdout).expect("list JSON");
    let items = list.as_array().expect("list JSON is an array");
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["id"], c.id());
    assert_eq!(items[0]["pid"], pid);
    assert_eq!(items[0]["status"], "running");
}

#[test]
fn run_detach_returns_with_container_running() {
    let rt = Runtime::new();
    let c = rt.container("run-detach");
    let bundle = sleeper();
    let out = c.run_with(&bundle, &["--detach"]);
    assert_ok(&out, "run --detach");
    assert_eq!(c.status(), "running");
    let pid = c.pid();
    assert_ok(&c.kill("KILL"), "kill");
    c.wait_status("stopped");
    assert_ok(&c.delete(), "delete");
    c.assert_nothing_left(Some(pid));
}

/// A runtime killed with SIGKILL in the middle of `create` leaves a container
/// that `delete --force` removes completely: state, cgroup and processes.
#[test]
fn delete_force_cleans_up_after_a_killed_create() {
    let rt = Runtime::new();
    let c = rt.container("killed-create");
    let marker = tempfile::tempdir().expect("tempdir");
    let started = marker.path().join("hook-started");
    let script = format!("touch {}; sleep 2", started.display());
    let bundle = sleeper().cgroups_path(&c.cgroup_path()).hook(
        "createRuntime",
        "/bin/sh",
        &["sh", "-c", &script],
        &[],
    );
    bundle.write_config();
    let bundle_arg = bundle.path().to_str().expect("utf-8").to_string();
    let mut create = rt.spawn(rt.command(&["create", "--bundle", &bundle_arg, c.id()]));
    skiff_e2e::wait_until("the createRuntime hook to start", || started.exists());
    create.child.kill().expect("SIGKILL the runtime");
    let _ = create.child.wait();
    assert_ok(&c.delete_force(), "delete --force");
    skiff_e2e::wait_until("the hook to end", || {
        skiff_e2e::reap_children();
        skiff_e2e::child_pids().is_empty()
    });
    c.assert_nothing_left(None);
}
