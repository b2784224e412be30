//! Docker 20.10 (Debian's `docker.io`) driving the runtime under test, registered with
//! `dockerd --add-runtime NAME=PATH` and chosen with `docker run --runtime NAME`. The
//! test starts its own dockerd (which starts its own containerd under the exec root)
//! with data root, exec root, pid file and socket under a scratch directory, a bridge
//! of the test's own for the default network (so `-p` works), and containers under a
//! cgroup parent named after the test; it stops dockerd by pid afterwards.
//!
//! Every scenario also runs with Debian's runc, to show that it is fair.

use skiff_e2e::{
    busybox_rootfs, cgroup_limit, docker_archive, eventually, free_port, require_program, run,
    run_in_pty, runtime_binary, tar_dir, wait_http, Input, Ran, Scratch, DEBIAN_RUNC, INDEX_PAGE,
};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const IMAGE: &str = "localhost/skiff-busybox:latest";

/// Debian's docker CLI; another `docker` earlier on PATH may be a different version.
const DOCKER_CLI: &str = "/usr/bin/docker";

/// The docker CLI talking to the test's own dockerd.
struct Docker {
    host: String,
    envs: Vec<(String, String)>,
    /// The name the runtime under test is registered under.
    runtime: String,
    subnet_prefix: String,
}

impl Docker {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(DOCKER_CLI);
        cmd.arg("-H")
            .arg(&self.host)
            .args(args)
            .envs(self.envs.iter().cloned());
        cmd
    }

    fn run(&self, args: &[&str], input: Input<'_>) -> Ran {
        run(&mut self.command(args), input)
    }

    /// `docker run --runtime NAME`, then `args`.
    fn docker_run(&self, args: &[&str], input: Input<'_>) -> Ran {
        let mut cmd = self.command(&["run", "--runtime", &self.runtime]);
        cmd.args(args);
        run(&mut cmd, input)
    }

    fn pty(&self, args: &[&str]) -> Ran {
        let mut argv = vec![DOCKER_CLI.to_string(), "-H".into(), self.host.clone()];
        argv.extend(args.iter().map(|a| a.to_string()));
        run_in_pty(&argv, &self.envs)
    }

    fn inspect(&self, name: &str, format: &str) -> String {
        let ran = self.run(&["inspect", "--format", format, name], Input::Null);
        ran.ok();
        ran.stdout.trim().to_string()
    }
}

/// Starts dockerd under `scratch` with `runtime` registered as `name`, and loads the
/// busybox image.
fn start_dockerd(scratch: &mut Scratch, runtime: &Path, name: &str) -> Docker {
    require_program("dockerd", "docker.io");
    require_program(DOCKER_CLI, "docker.io");
    require_program("containerd", "containerd");

    // The default bridge network: a bridge of the test's own instead of docker0.
    let bridge = scratch.name().to_string();
    let pid = std::process::id();
    let subnet_prefix = format!("10.{}.{}", 150 + (pid >> 8) % 50, pid % 256);
    scratch.remove_link_later(&bridge);
    for args in [
        vec!["link", "add", "name", &bridge, "type", "bridge"],
        vec![
            "addr",
            "add",
            &format!("{subnet_prefix}.1/24"),
            "dev",
            &bridge,
        ],
        vec!["link", "set", &bridge, "up"],
    ] {
        run(Command::new("ip").args(&args), Input::Null).ok();
    }

    let sock = scratch.path("docker.sock");
    let config = scratch.path("daemon.json");
    fs::write(&config, "{}\n").expect("daemon.json");
    let mut cmd = Command::new("dockerd");
    cmd.arg(format!("--data-root={}", scratch.path("data").display()))
        .arg(format!("--exec-root={}", scratch.path("x").display()))
        .arg(format!(
            "--pidfile={}",
            scratch.path("docker.pid").display()
        ))
        .arg(format!("--config-file={}", config.display()))
        .arg(format!("--host=unix://{}", sock.display()))
        .arg(format!("--add-runtime={name}={}", runtime.display()))
        .arg(format!("--bridge={bridge}"))
        .arg(format!("--cgroup-parent=/{}", scratch.name()))
        .arg("--exec-opt=native.cgroupdriver=cgroupfs")
        // Leave the host's ip_forward (and so its FORWARD policy) alone: a port
        // published on 127.0.0.1 goes through docker-proxy, which needs no forwarding.
        .arg("--ip-forward=false");
    scratch.start_daemon("dockerd", cmd);
    scratch.wait_for_socket("dockerd", &sock);

    let docker = Docker {
        host: format!("unix://{}", sock.display()),
        envs: vec![(
            "DOCKER_CONFIG".into(),
            scratch.path("cli").to_string_lossy().into_owned(),
        )],
        runtime: name.to_string(),
        subnet_prefix,
    };
    // Before dockerd stops: every container removed.
    let (host, envs) = (docker.host.clone(), docker.envs.clone());
    scratch.on_teardown(move || {
        let docker = |args: &[&str]| {
            let mut cmd = Command::new(DOCKER_CLI);
            cmd.arg("-H")
                .arg(&host)
                .args(args)
                .envs(envs.iter().cloned());
            run(&mut cmd, Input::Null)
        };
        let ids = docker(&["ps", "--all", "--quiet"]).stdout;
        for id in ids.split_whitespace() {
            let _ = docker(&["rm", "--force", id]);
        }
    });
    eventually("dockerd to answer", || {
        docker.run(&["version"], Input::Null).code == Some(0)
    });

    let rootfs = busybox_rootfs(scratch.dir());
    let layer = scratch.path("rootfs.tar");
    tar_dir(&rootfs, &layer);
    let archive = docker_archive(scratch.dir(), &layer, IMAGE);
    docker
        .run(
            &["load", "--input", &archive.to_string_lossy()],
            Input::Null,
        )
        .ok()
        .stdout_has(IMAGE);
    docker
}

/// The whole Docker scenario against `runtime`, registered as `name`.
fn docker_scenario(runtime: &Path, name: &str, tag: &str) {
    let mut scratch = Scratch::new(tag);
    let docker = start_dockerd(&mut scratch, runtime, name);

    // Output and exit code; stdin; a terminal.
    docker
        .docker_run(
            &[
                "--rm",
                "--network=none",
                IMAGE,
                "sh",
                "-c",
                "echo hi; exit 3",
            ],
            Input::Null,
        )
        .expect_code(3)
        .stdout_has("hi");
    docker
        .docker_run(
            &["--rm", "-i", "--network=none", IMAGE, "cat"],
            Input::Bytes(b"through stdin\n"),
        )
        .ok()
        .stdout_has("through stdin");
    docker
        .pty(&[
            "run",
            "--runtime",
            name,
            "--rm",
            "-it",
            "--network=none",
            IMAGE,
            "sh",
            "-c",
            "tty; exit 5",
        ])
        .expect_code(5)
        .stdout_has("/dev/pts/");

    // Detached, with limits; exec, logs, stop, rm.
    let c = format!("{}-d", scratch.name());
    docker
        .docker_run(
            &[
                "-d",
                "--name",
                &c,
                "--network=none",
                "--memory=64m",
                "--pids-limit=50",
                IMAGE,
                "sh",
                "-c",
                "echo started; trap 'echo bye; exit 0' TERM; while true; do sleep 0.2; done",
            ],
            Input::Null,
        )
        .ok();
    eventually("the detached container's output", || {
        docker
            .run(&["logs", &c], Input::Null)
            .stdout
            .contains("started")
    });
    let pid: i32 = docker.inspect(&c, "{{.State.Pid}}").parse().expect("pid");
    assert_eq!(cgroup_limit(pid, "memory"), "67108864", "--memory=64m");
    assert_eq!(cgroup_limit(pid, "pids"), "50", "--pids-limit=50");
    // pause/unpause (the runtime's pause and resume) and update (its update --resources).
    docker.run(&["pause", &c], Input::Null).ok();
    assert_eq!(docker.inspect(&c, "{{.State.Status}}"), "paused");
    docker.run(&["unpause", &c], Input::Null).ok();
    assert_eq!(docker.inspect(&c, "{{.State.Status}}"), "running");
    docker
        .run(
            &[
                "update",
                "--memory=128m",
                "--memory-swap=256m",
                "--pids-limit=70",
                &c,
            ],
            Input::Null,
        )
        .ok();
    assert_eq!(
        cgroup_limit(pid, "memory"),
        "134217728",
        "update --memory=128m"
    );
    assert_eq!(cgroup_limit(pid, "pids"), "70", "update --pids-limit=70");
    docker
        .run(
            &["exec", &c, "sh", "-c", "echo in-exec; exit 4"],
            Input::Null,
        )
        .expect_code(4)
        .stdout_has("in-exec");
    docker
        .run(&["exec", "-i", &c, "cat"], Input::Bytes(b"exec stdin\n"))
        .ok()
        .stdout_has("exec stdin");
    docker
        .pty(&["exec", "-it", &c, "sh", "-c", "tty; exit 6"])
        .expect_code(6)
        .stdout_has("/dev/pts/");
    docker.run(&["stop", "--time=10", &c], Input::Null).ok();
    assert_eq!(docker.inspect(&c, "{{.State.Status}}"), "exited");
    assert_eq!(docker.inspect(&c, "{{.State.ExitCode}}"), "0");
    docker
        .run(&["logs", &c], Input::Null)
        .ok()
        .stdout_has("started")
        .stdout_has("bye");
    docker.run(&["rm", &c], Input::Null).ok();

    // The default bridge, and a port published on 127.0.0.1.
    let port = free_port();
    let web = format!("{}-web", scratch.name());
    docker
        .docker_run(
            &[
                "-d",
                "--name",
                &web,
                "-p",
                &format!("127.0.0.1:{port}:80"),
                IMAGE,
                "httpd",
                "-f",
                "-p",
                "80",
                "-h",
                "/var/www",
            ],
            Input::Null,
        )
        .ok();
    let ip = docker.inspect(&web, "{{.NetworkSettings.IPAddress}}");
    assert!(
        ip.starts_with(&docker.subnet_prefix),
        "the container's address {ip} is not on the test's bridge"
    );
    wait_http(port, "/index.html", INDEX_PAGE.trim());
    docker.run(&["rm", "--force", &web], Input::Null).ok();

    let left = docker.run(&["ps", "--all", "--quiet"], Input::Null);
    assert_eq!(left.ok().stdout.trim(), "", "containers left");
}

fn runc() -> PathBuf {
    PathBuf::from(DEBIAN_RUNC)
}

#[test]
fn docker_skiff() {
    docker_scenario(&runtime_binary(), "skiff", "ds");
}

#[test]
fn docker_runc() {
    docker_scenario(&runc(), "debian-runc", "dr");
}

/// An archive `skiff save` writes is one `docker load` takes, and the image
/// runs there under skiff's runtime.
#[test]
fn docker_loads_what_skiff_saves() {
    let mut scratch = Scratch::new("dl");
    let docker = start_dockerd(&mut scratch, &runtime_binary(), "skiff");
    let skiff = skiff_e2e::Skiff::with_busybox();
    skiff.run(&["tag", "busybox", "skiffsaved:1"]).ok();
    let archive = skiff.dir().join("saved.tar");
    skiff
        .run(&["save", "-o", &archive.to_string_lossy(), "skiffsaved:1"])
        .ok();
    docker
        .run(
            &["load", "--input", &archive.to_string_lossy()],
            Input::Null,
        )
        .ok()
        .stdout_has("skiffsaved:1");
    docker
        .docker_run(
            &["--rm", "skiffsaved:1", "echo", "from skiff's archive"],
            Input::Null,
        )
        .ok()
        .stdout_has("from skiff's archive");
}
