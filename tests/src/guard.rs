//! Guards that undo what a test made, and checks that nothing is left behind.

use crate::bundle::Bundle;
use crate::procs::{child_pids, pid_alive, reap_children, wait_until};
use crate::runtime::{assert_ok, text, Runtime, Spawned};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A container id bound to a [`Runtime`]. Its methods run the runtime's commands for
/// that id; dropping it runs `delete --force`, reaps what exited and removes cgroup
/// directories named after the id, even when the test panicked.
pub struct Container<'a> {
    rt: &'a Runtime,
    id: String,
}

impl<'a> Container<'a> {
    pub(crate) fn new(rt: &'a Runtime, id: String) -> Self {
        Container { rt, id }
    }

    /// The container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The runtime this container belongs to.
    pub fn runtime(&self) -> &Runtime {
        self.rt
    }

    /// The cgroup path tests give as `linux.cgroupsPath`: `/skiff-e2e/<id>`.
    pub fn cgroup_path(&self) -> String {
        format!("/skiff-e2e/{}", self.id)
    }

    fn lifecycle(&self, verb: &str, bundle: &Bundle, extra: &[&str]) -> Command {
        bundle.write_config();
        let mut args: Vec<&str> = vec![verb, "--bundle", bundle.path().to_str().expect("utf-8")];
        args.extend_from_slice(extra);
        args.push(&self.id);
        self.rt.command(&args)
    }

    /// `create --bundle B [extra...] ID`.
    pub fn create_with(&self, bundle: &Bundle, extra: &[&str]) -> Output {
        self.rt.output(self.lifecycle("create", bundle, extra))
    }

    /// `create --bundle B ID`.
    pub fn create(&self, bundle: &Bundle) -> Output {
        self.create_with(bundle, &[])
    }

    /// `run --bundle B [extra...] ID`, waiting for it to finish.
    pub fn run_with(&self, bundle: &Bundle, extra: &[&str]) -> Output {
        self.rt.output(self.lifecycle("run", bundle, extra))
    }

    /// `run --bundle B ID`, waiting for it to finish.
    pub fn run(&self, bundle: &Bundle) -> Output {
        self.run_with(bundle, &[])
    }

    /// `run --bundle B ID` in the background.
    pub fn spawn_run(&self, bundle: &Bundle) -> Spawned {
        self.rt.spawn(self.lifecycle("run", bundle, &[]))
    }

    /// `create` then `start`, both required to succeed; returns the init pid.
    pub fn start_running(&self, bundle: &Bundle) -> i32 {
        assert_ok(&self.create(bundle), "create");
        assert_ok(&self.start(), "start");
        self.pid()
    }

    /// `start ID`.
    pub fn start(&self) -> Output {
        self.rt.cli(&["start", &self.id])
    }

    /// `state ID`, whatever its outcome.
    pub fn state_output(&self) -> Output {
        self.rt.cli(&["state", &self.id])
    }

    /// `state ID` parsed as JSON; panics if the command fails.
    pub fn state(&self) -> Value {
        let out = self.state_output();
        assert_ok(&out, "state");
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("state is not JSON ({e}): {}", text(&out.stdout)))
    }

    /// The `status` field of `state`.
    pub fn status(&self) -> String {
        self.state()["status"]
            .as_str()
            .expect("status string")
            .to_string()
    }

    /// The `pid` field of `state`.
    pub fn pid(&self) -> i32 {
        let pid = self.state()["pid"].as_i64().expect("pid number");
        i32::try_from(pid).expect("pid fits i32")
    }

    /// Polls `state` until it succeeds with status `status` (the container may not
    /// exist yet when a `run` was started in the background).
    pub fn wait_status(&self, status: &str) {
        wait_until(&format!("{} to be {status}", self.id), || {
            reap_children();
            let out = self.state_output();
            out.status.success()
                && serde_json::from_slice::<Value>(&out.stdout).is_ok_and(|v| v["status"] == status)
        });
    }

    /// `kill ID SIGNAL`.
    pub fn kill(&self, signal: &str) -> Output {
        self.rt.cli(&["kill", &self.id, signal])
    }

    /// `delete ID`.
    pub fn delete(&self) -> Output {
        self.rt.cli(&["delete", &self.id])
    }

    /// `delete --force ID`.
    pub fn delete_force(&self) -> Output {
        self.rt.cli(&["delete", "--force", &self.id])
    }

    /// `exec [options...] ID args...`.
    pub fn exec_with(&self, options: &[&str], args: &[&str]) -> Output {
        let mut all: Vec<&str> = vec!["exec"];
        all.extend_from_slice(options);
        all.push(&self.id);
        all.extend_from_slice(args);
        self.rt.cli(&all)
    }

    /// `exec ID args...`.
    pub fn exec(&self, args: &[&str]) -> Output {
        self.exec_with(&[], args)
    }

    /// Asserts that this container left nothing behind; see [`assert_nothing_left`].
    pub fn assert_nothing_left(&self, pid: Option<i32>) {
        assert_nothing_left(self.rt, &self.id, pid);
    }
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = self.delete_force();
        reap_children();
        for dir in cgroup_dirs(&self.id) {
            if let Ok(procs) = fs::read_to_string(dir.join("cgroup.procs")) {
                for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    // SAFETY: kill has no memory-safety preconditions.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
            for _ in 0..250 {
                reap_children();
                if fs::remove_dir(&dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
}

/// How deep below each hierarchy's root [`cgroup_dirs`] looks.
const CGROUP_SEARCH_DEPTH: usize = 4;

/// Directories named `id` anywhere in the first levels of every hierarchy under
/// `/sys/fs/cgroup` (e.g. `pids/<id>`, `pids/skiff-e2e/<id>`, `pids/skiff/<id>`).
pub fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, id: &str, depth: usize, found: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let path = entry.path();
            if entry.file_name() == id {
                found.push(path.clone());
            }
            if depth > 1 {
                walk(&path, id, depth - 1, found);
            }
        }
    }
    let mut found = Vec::new();
    if id.is_empty() || id.contains('/') || id == "." || id == ".." {
        return found;
    }
    walk(
        Path::new("/sys/fs/cgroup"),
        id,
        CGROUP_SEARCH_DEPTH + 1,
        &mut found,
    );
    found.sort();
    found
}

/// Asserts that a container `id` left nothing behind: no entry in the runtime's
/// `--root`, no live process `pid`, no cgroup directory named after the id (see
/// [`cgroup_dirs`]), and no child process of this harness once exited ones are
/// reaped.
pub fn assert_nothing_left(rt: &Runtime, id: &str, pid: Option<i32>) {
    let leftovers: Vec<_> = match fs::read_dir(rt.root()) {
        Ok(entries) => entries.flatten().map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    };
    assert!(
        leftovers.is_empty(),
        "state left under --root: {leftovers:?}"
    );
    if let Some(pid) = pid {
        wait_until(&format!("process {pid} to go away"), || {
            reap_children();
            !pid_alive(pid)
        });
    }
    let cgroups = cgroup_dirs(id);
    assert!(cgroups.is_empty(), "cgroups left for {id}: {cgroups:?}");
    wait_until("all children of the harness to exit", || {
        reap_children();
        child_pids().is_empty()
    });
}

/// A named network namespace made with `ip netns add`, deleted on drop.
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// Creates `/run/netns/<name>`.
    pub fn new(name: &str) -> Self {
        let out = Command::new("ip")
            .args(["netns", "add", name])
            .output()
            .expect("run ip netns add");
        assert_ok(&out, "ip netns add");
        NetNs {
            name: name.to_string(),
        }
    }

    /// The namespace file to give as a namespace `path`.
    pub fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .output();
    }
}

/// A uniquely named directory on the host under /tmp, removed on drop (after
/// detaching anything mounted on it).
pub struct HostDir {
    dir: tempfile::TempDir,
}

impl HostDir {
    /// Creates `/tmp/skiff-e2e-<prefix>.<random>`.
    pub fn new(prefix: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("skiff-e2e-{prefix}."))
            .tempdir_in("/tmp")
            .expect("create host dir");
        HostDir { dir }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// True when something is mounted exactly on this directory in this process's
    /// mount namespace.
    pub fn is_mountpoint(&self) -> bool {
        let want = self.path().to_string_lossy().into_owned();
        fs::read_to_string("/proc/self/mountinfo")
            .expect("read mountinfo")
            .lines()
            .any(|l| l.split(' ').nth(4) == Some(want.as_str()))
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        while self.is_mountpoint() {
            if nix::mount::umount2(self.path(), nix::mount::MntFlags::MNT_DETACH).is_err() {
                break;
            }
        }
    }
}
