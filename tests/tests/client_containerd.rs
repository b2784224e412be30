//! containerd 1.6 (Debian's `containerd`, with its runc v2 shim) driving the runtime
//! under test through `ctr run --runc-binary PATH`. The test starts its own containerd
//! with root, state and socket under a scratch directory, the CRI plugin disabled and
//! the overlayfs snapshotter, and stops it by pid afterwards.
//!
//! Every scenario also runs with Debian's runc, to show that it is fair.

use skiff_e2e::{
    busybox_rootfs, cgroup_limit, docker_archive, eventually, require_program, run, run_in_pty,
    runtime_binary, tar_dir, Input, Ran, Scratch, DEBIAN_RUNC,
};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const IMAGE: &str = "localhost/skiff-busybox:latest";

/// `ctr` against the test's own containerd, in the test's own namespace.
struct Ctr {
    global: Vec<String>,
    /// `ctr run` flags that choose the runtime under test.
    runtime: Vec<String>,
}

impl Ctr {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ctr");
        cmd.args(&self.global).args(args);
        cmd
    }

    fn run(&self, args: &[&str], input: Input<'_>) -> Ran {
        run(&mut self.command(args), input)
    }

    /// `ctr run` with the runtime flags, then `args`.
    fn ctr_run(&self, args: &[&str], input: Input<'_>) -> Ran {
        let mut cmd = self.command(&["run"]);
        cmd.args(&self.runtime).args(args);
        run(&mut cmd, input)
    }

    fn argv(&self, args: &[&str]) -> Vec<String> {
        let mut argv = vec!["ctr".to_string()];
        argv.extend(self.global.iter().cloned());
        argv.extend(args.iter().map(|a| a.to_string()));
        argv
    }

    /// The task's pid and status from `ctr task ls`.
    fn task(&self, id: &str) -> Option<(i32, String)> {
        let ls = self.run(&["task", "ls"], Input::Null);
        ls.ok();
        ls.stdout.lines().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields[..] {
                [name, pid, status] if name == id => Some((pid.parse().ok()?, status.to_string())),
                _ => None,
            }
        })
    }

    fn wait_status(&self, id: &str, want: &str) -> i32 {
        let mut pid = 0;
        eventually(&format!("task {id} to be {want}"), || match self.task(id) {
            Some((p, status)) => {
                pid = p;
                status == want
            }
            None => false,
        });
        pid
    }
}

/// Starts containerd under `scratch` and returns a `ctr` for it with the busybox
/// image imported.
fn start_containerd(scratch: &mut Scratch, runtime: &Path) -> Ctr {
    require_program("containerd", "containerd");
    require_program("ctr", "containerd");
    let sock = scratch.path("containerd.sock");
    // `containerd config default` with what must be private changed: root, state,
    // socket, the opt directory; the CRI plugin (which wants CNI and a sandbox image)
    // is off. containerd fills in defaults for everything a version 2 file leaves out.
    let config = format!(
        "version = 2\n\
         root = \"{root}\"\n\
         state = \"{state}\"\n\
         disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
         [grpc]\n  address = \"{sock}\"\n\
         [ttrpc]\n  address = \"\"\n\
         [debug]\n  address = \"\"\n  level = \"info\"\n\
         [metrics]\n  address = \"\"\n\
         [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{opt}\"\n",
        root = scratch.path("root").display(),
        state = scratch.path("state").display(),
        sock = sock.display(),
        opt = scratch.path("opt").display(),
    );
    let config_path = scratch.path("containerd.toml");
    fs::write(&config_path, config).expect("containerd config");
    let mut cmd = Command::new("containerd");
    cmd.arg("--config").arg(&config_path);
    scratch.start_daemon("containerd", cmd);
    scratch.wait_for_socket("containerd", &sock);

    let state = scratch.path("runtime-state");
    let ctr = Ctr {
        global: vec![
            format!("--address={}", sock.display()),
            format!("--namespace={}", scratch.name()),
        ],
        runtime: vec![
            format!("--runc-binary={}", runtime.display()),
            format!("--runc-root={}", state.display()),
        ],
    };
    // Before containerd stops: every task killed and deleted, every container removed
    // (shims outlive containerd otherwise).
    let global = ctr.global.clone();
    scratch.on_teardown(move || {
        let ctr = |args: &[&str]| {
            let mut cmd = Command::new("ctr");
            cmd.args(&global).args(args);
            run(&mut cmd, Input::Null)
        };
        for id in ctr(&["container", "ls", "--quiet"])
            .stdout
            .split_whitespace()
        {
            let _ = ctr(&["task", "kill", "--all", "--signal", "SIGKILL", id]);
            let _ = ctr(&["task", "delete", "--force", id]);
            let _ = ctr(&["container", "delete", id]);
        }
    });

    let rootfs = busybox_rootfs(scratch.dir());
    let layer = scratch.path("rootfs.tar");
    tar_dir(&rootfs, &layer);
    let archive = docker_archive(scratch.dir(), &layer, IMAGE);
    ctr.run(
        &["images", "import", &archive.to_string_lossy()],
        Input::Null,
    )
    .ok();
    ctr
}

/// The whole containerd scenario against `runtime`.
fn containerd_scenario(runtime: &Path, tag: &str) {
    let mut scratch = Scratch::new(tag);
    let ctr = start_containerd(&mut scratch, runtime);
    let id = |suffix: &str| format!("{}-{suffix}", scratch.name());

    // Output and exit code; stdin.
    ctr.ctr_run(
        &["--rm", IMAGE, &id("exit"), "sh", "-c", "echo hi; exit 3"],
        Input::Null,
    )
    .expect_code(3)
    .stdout_has("hi");
    // (ctr run does not pass end-of-file on to a task without a terminal: read one line.)
    ctr.ctr_run(
        &[
            "--rm",
            IMAGE,
            &id("stdin"),
            "sh",
            "-c",
            "read line; echo \"got $line\"",
        ],
        Input::Bytes(b"through stdin\n"),
    )
    .ok()
    .stdout_has("got through stdin");

    // A terminal (the console socket): the process sees a pty; its exit code comes back.
    let mut args = vec!["run".to_string()];
    args.extend(ctr.runtime.iter().cloned());
    let tty_id = id("tty");
    args.extend(["--rm", "--tty", IMAGE, &tty_id, "sh", "-c", "tty; exit 5"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_in_pty(&ctr.argv(&args), &[])
        .expect_code(5)
        .stdout_has("/dev/pts/");

    // A runtime error reaches the user (containerd reads the runtime's --log json).
    let bad = id("bad");
    let ran = ctr.ctr_run(&["--rm", IMAGE, &bad, "/no/such/program"], Input::Null);
    assert_ne!(ran.code, Some(0), "a missing program started: {ran:?}");
    assert!(
        ran.stderr.contains("/no/such/program"),
        "the runtime's error does not name the program: {ran:?}"
    );
    let _ = ctr.run(&["container", "delete", &bad], Input::Null);

    // Detached, with a memory limit; exec; kill; delete.
    let d = id("d");
    ctr.ctr_run(
        &[
            "--detach",
            "--memory-limit=67108864",
            IMAGE,
            &d,
            "sh",
            "-c",
            "trap 'exit 7' TERM; while true; do sleep 0.2; done",
        ],
        Input::Null,
    )
    .ok();
    let pid = ctr.wait_status(&d, "RUNNING");
    assert_eq!(cgroup_limit(pid, "memory"), "67108864", "--memory-limit");
    ctr.run(
        &[
            "task",
            "exec",
            "--exec-id",
            "e1",
            &d,
            "sh",
            "-c",
            "echo in-exec; exit 4",
        ],
        Input::Null,
    )
    .expect_code(4)
    .stdout_has("in-exec");
    ctr.run(
        &["task", "exec", "--exec-id", "e2", &d, "cat"],
        Input::Bytes(b"exec stdin\n"),
    )
    .ok()
    .stdout_has("exec stdin");
    run_in_pty(
        &ctr.argv(&[
            "task",
            "exec",
            "--tty",
            "--exec-id",
            "e3",
            &d,
            "sh",
            "-c",
            "tty; exit 6",
        ]),
        &[],
    )
    .expect_code(6)
    .stdout_has("/dev/pts/");
    ctr.run(&["task", "pause", &d], Input::Null).ok();
    ctr.wait_status(&d, "PAUSED");
    ctr.run(&["task", "resume", &d], Input::Null).ok();
    ctr.wait_status(&d, "RUNNING");
    ctr.run(&["task", "ps", &d], Input::Null)
        .ok()
        .stdout_has(&pid.to_string());
    ctr.run(&["task", "kill", &d], Input::Null).ok();
    ctr.wait_status(&d, "STOPPED");
    // ctr reports a non-zero exit status when it deletes the task.
    let deleted = ctr.run(&["task", "delete", &d], Input::Null);
    deleted.ok();
    assert!(
        deleted.stderr.contains("exit code 7"),
        "the TERM trap's exit status was lost: {deleted:?}"
    );
    ctr.run(&["container", "delete", &d], Input::Null).ok();

    // kill --all reaches every process; delete --force removes a running task.
    let all = id("all");
    ctr.ctr_run(
        &[
            "--detach",
            IMAGE,
            &all,
            "sh",
            "-c",
            "sleep 100 & sleep 100 & wait",
        ],
        Input::Null,
    )
    .ok();
    ctr.wait_status(&all, "RUNNING");
    eventually("three processes in the task", || {
        ctr.run(&["task", "ps", &all], Input::Null)
            .stdout
            .lines()
            .count()
            >= 4
    });
    ctr.run(
        &["task", "kill", "--all", "--signal", "SIGKILL", &all],
        Input::Null,
    )
    .ok();
    ctr.wait_status(&all, "STOPPED");
    ctr.run(&["task", "delete", &all], Input::Null).ok();
    ctr.run(&["container", "delete", &all], Input::Null).ok();
    let force = id("force");
    ctr.ctr_run(&["--detach", IMAGE, &force, "sleep", "100"], Input::Null)
        .ok();
    ctr.wait_status(&force, "RUNNING");
    ctr.run(&["task", "delete", "--force", &force], Input::Null)
        .ok();
    ctr.run(&["container", "delete", &force], Input::Null).ok();

    let tasks = ctr.run(&["task", "ls", "--quiet"], Input::Null);
    assert_eq!(tasks.ok().stdout.trim(), "", "tasks left");
    let containers = ctr.run(&["container", "ls", "--quiet"], Input::Null);
    assert_eq!(containers.ok().stdout.trim(), "", "containers left");
}

fn runc() -> PathBuf {
    PathBuf::from(DEBIAN_RUNC)
}

#[test]
fn containerd_skiff() {
    containerd_scenario(&runtime_binary(), "cs");
}

#[test]
fn containerd_runc() {
    containerd_scenario(&runc(), "cr");
}
