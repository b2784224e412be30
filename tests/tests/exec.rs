//! `exec` into a running container.

use skiff_e2e::{
    assert_ok, ns_link, ns_report_script, parse_ns_report, pid_alive, text, wait_until, Bundle,
    Container, Runtime, NS_KINDS,
};
use std::fs;

/// Starts `sleep 100` in its own cgroup (`/skiff-e2e/<id>`, with a cgroup
/// namespace) and returns its init pid.
fn start_sleeper(c: &Container, bundle: &mut Option<Bundle>) -> i32 {
    let b = bundle.insert(
        Bundle::new()
            .args(&["sleep", "100"])
            .namespace("cgroup", None)
            .cgroups_path(&c.cgroup_path()),
    );
    c.start_running(b)
}

/// Runs `exec options... ID args...` against a fresh running container and returns
/// its output after removing the container.
fn exec_in_sleeper(name: &str, options: &[&str], args: &[&str]) -> std::process::Output {
    let rt = Runtime::new();
    let mut bundle = None;
    let c = rt.container(name);
    let pid = start_sleeper(&c, &mut bundle);
    let out = c.exec_with(options, args);
    assert_ok(&c.delete_force(), "delete --force");
    c.assert_nothing_left(Some(pid));
    out
}

#[test]
fn exec_joins_init_namespaces() {
    let rt = Runtime::new();
    let mut bundle = None;
    let c = rt.container("exec-ns");
    let pid = start_sleeper(&c, &mut bundle);
    let out = c.exec(&["sh", "-c", &ns_report_script()]);
    assert_ok(&out, "exec");
    let inside = parse_ns_report(&text(&out.stdout));
    for kind in NS_KINDS {
        assert_eq!(
            inside[kind],
            ns_link(format!("/proc/{pid}/ns/{kind}")),
            "{kind}"
        );
    }
}

#[test]
fn exec_exit_code_propagates() {
    let out = exec_in_sleeper("exec-status", &[], &["sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "stderr: {}", text(&out.stderr));
}

#[test]
fn exec_env() {
    let out = exec_in_sleeper(
        "exec-env",
        &["--env", "FOO=bar"],
        &["sh", "-c", "echo $FOO"],
    );
    assert_ok(&out, "exec --env");
    assert_eq!(text(&out.stdout).trim(), "bar");
}

#[test]
fn exec_cwd() {
    let out = exec_in_sleeper("exec-cwd", &["--cwd", "/tmp"], &["pwd"]);
    assert_ok(&out, "exec --cwd");
    assert_eq!(text(&out.stdout).trim(), "/tmp");
}

#[test]
fn exec_user() {
    let out = exec_in_sleeper(
        "exec-user",
        &["--user", "65534:65534"],
        &["sh", "-c", "id -u; id -g"],
    );
    assert_ok(&out, "exec --user");
    assert_eq!(text(&out.stdout), "65534\n65534\n");
}

#[test]
fn exec_process_file() {
    let rt = Runtime::new();
    let mut bundle = None;
    let c = rt.container("exec-process");
    start_sleeper(&c, &mut bundle);
    let process = serde_json::json!({
        "terminal": false,
        "user": {"uid": 65534, "gid": 65534},
        "args": ["sh", "-c", "echo $FROM_FILE $(pwd) $(id -u)"],
        "env": [skiff_e2e::DEFAULT_PATH, "FROM_FILE=yes"],
        "cwd": "/tmp"
    });
    let file = bundle.as_ref().expect("bundle").path().join("process.json");
    fs::write(&file, process.to_string()).expect("write process.json");
    let out = c.exec_with(&["--process", file.to_str().expect("utf-8")], &[]);
    assert_ok(&out, "exec --process");
    assert_eq!(text(&out.stdout).trim(), "yes /tmp 65534");
}

#[test]
fn exec_runs_in_init_cgroup() {
    let out = exec_in_sleeper(
        "exec-cgroup",
        &[],
        &[
            "sh",
            "-c",
            "cat /proc/1/cgroup; echo ---; cat /proc/self/cgroup",
        ],
    );
    assert_ok(&out, "exec");
    let stdout = text(&out.stdout);
    let (init, exec) = stdout.split_once("---\n").expect("two cgroup listings");
    assert!(!init.is_empty());
    assert_eq!(init, exec);
}

#[test]
fn exec_detach_writes_pid_file() {
    let rt = Runtime::new();
    let mut bundle = None;
    let c = rt.container("exec-detach");
    let init = start_sleeper(&c, &mut bundle);
    let pid_file = bundle.as_ref().expect("bundle").path().join("exec.pid");
    let out = c.exec_with(
        &["--detach", "--pid-file", pid_file.to_str().expect("utf-8")],
        &["sleep", "100"],
    );
    assert_ok(&out, "exec --detach");
    let pid: i32 = fs::read_to_string(&pid_file)
        .expect("read pid file")
        .trim()
        .parse()
        .expect("pid number");
    assert!(pid_alive(pid), "exec'd process {pid} is not running");
    let cgroup = |p: i32| fs::read_to_string(format!("/proc/{p}/cgroup")).expect("cgroup");
    assert_eq!(cgroup(pid), cgroup(init));
    assert_ok(&c.delete_force(), "delete --force");
    wait_until("the exec'd process to die with its container", || {
        skiff_e2e::reap_children();
        !pid_alive(pid)
    });
    c.assert_nothing_left(Some(init));
}
