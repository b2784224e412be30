//! Podman 4 (Debian's `podman`, with conmon and netavark) driving the runtime under test
//! through `podman --runtime PATH`, with private storage, run root, network
//! configuration and lock directory under a scratch directory.
//!
//! Every scenario also runs with Debian's runc, to show that it is fair.

use skiff_e2e::{
    busybox_rootfs, cgroup_limit, eventually, free_port, require_program, run, run_in_pty,
    runtime_binary, tar_dir, wait_http, Input, Ran, Scratch, DEBIAN_RUNC, INDEX_PAGE,
};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const IMAGE: &str = "localhost/skiff-busybox:latest";

/// Podman's global flags and environment for one scratch world.
struct Podman {
    flags: Vec<String>,
    envs: Vec<(String, String)>,
    /// The cgroup parent every container gets: `/<unique name>`.
    cgroup_parent: String,
    /// The test's own bridge network.
    network: String,
    subnet_prefix: String,
}

impl Podman {
    /// Configures Podman under `scratch` for `runtime`, imports the busybox image and
    /// defines a bridge network of the test's own (interface and subnet included).
    fn new(scratch: &mut Scratch, runtime: &Path) -> Podman {
        require_program("podman", "podman");
        let dir = scratch.dir().to_path_buf();
        let p = |rel: &str| dir.join(rel).to_string_lossy().into_owned();
        for sub in ["tmp", "networks", "runtime-state"] {
            fs::create_dir_all(dir.join(sub)).expect("mkdir");
        }
        // Nothing from /etc/containers: a containers.conf and storage.conf of our own.
        let conf = format!(
            "[containers]\n\
             default_ulimits = []\n\
             [network]\n\
             network_backend = \"netavark\"\n\
             network_config_dir = \"{networks}\"\n\
             [engine]\n\
             tmp_dir = \"{tmp}\"\n\
             static_dir = \"{root}/libpod\"\n\
             volume_path = \"{root}/volumes\"\n\
             lock_type = \"file\"\n\
             num_locks = 128\n",
            networks = p("networks"),
            tmp = p("libpod-tmp"),
            root = p("root"),
        );
        fs::write(dir.join("containers.conf"), conf).expect("containers.conf");
        let storage = format!(
            "[storage]\ndriver = \"overlay\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
            p("root"),
            p("runroot")
        );
        fs::write(dir.join("storage.conf"), storage).expect("storage.conf");

        let name = scratch.name().to_string();
        // A /24 of the test's own, picked from the pid so parallel tests differ.
        let pid = std::process::id();
        let subnet_prefix = format!("10.{}.{}", 200 + (pid >> 8) % 50, pid % 256);
        let network = format!("{name}net");
        let network_json = serde_json::json!({
            "name": network,
            "id": format!("{:0>64}", format!("{:x}", u64::from(pid) << 8 | u64::from(name.len() as u8))),
            "driver": "bridge",
            "network_interface": name,
            "created": "2024-01-01T00:00:00Z",
            "subnets": [{ "subnet": format!("{subnet_prefix}.0/24"), "gateway": format!("{subnet_prefix}.1") }],
            "ipv6_enabled": false,
            "internal": false,
            "dns_enabled": false,
            "ipam_options": { "driver": "host-local" },
        });
        fs::write(
            dir.join("networks").join(format!("{network}.json")),
            network_json.to_string(),
        )
        .expect("network config");
        scratch.remove_link_later(&name);

        let podman = Podman {
            flags: vec![
                format!("--root={}", p("root")),
                format!("--runroot={}", p("runroot")),
                format!("--tmpdir={}", p("libpod-tmp")),
                format!("--network-config-dir={}", p("networks")),
                format!("--runtime={}", runtime.display()),
                format!("--runtime-flag=root={}", p("runtime-state")),
                "--cgroup-manager=cgroupfs".into(),
                "--events-backend=file".into(),
                "--storage-driver=overlay".into(),
            ],
            envs: vec![
                ("CONTAINERS_CONF".into(), p("containers.conf")),
                ("CONTAINERS_STORAGE_CONF".into(), p("storage.conf")),
                ("TMPDIR".into(), p("tmp")),
            ],
            cgroup_parent: format!("/{name}"),
            network,
            subnet_prefix,
        };
        // Whatever the test leaves, podman removes first; then the guard does the rest.
        let (flags, envs) = (podman.flags.clone(), podman.envs.clone());
        scratch.on_teardown(move || {
            let mut cmd = Command::new("podman");
            cmd.args(&flags)
                .args(["rm", "--all", "--force", "--time=0"])
                .envs(envs.iter().cloned());
            let _ = run(&mut cmd, Input::Null);
        });

        let rootfs = busybox_rootfs(scratch.dir());
        let tarball = scratch.path("rootfs.tar");
        tar_dir(&rootfs, &tarball);
        podman
            .run(&["import", &tarball.to_string_lossy(), IMAGE], Input::Null)
            .ok();
        podman
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("podman");
        cmd.args(&self.flags)
            .args(args)
            .envs(self.envs.iter().cloned());
        cmd
    }

    fn run(&self, args: &[&str], input: Input<'_>) -> Ran {
        run(&mut self.command(args), input)
    }

    fn pty(&self, args: &[&str]) -> Ran {
        let mut argv: Vec<String> = vec!["podman".into()];
        argv.extend(self.flags.iter().cloned());
        argv.extend(args.iter().map(|a| a.to_string()));
        run_in_pty(&argv, &self.envs)
    }

    /// `podman run` flags every container of the test gets: its cgroup parent, and
    /// rlimits within this machine's hard limits (without CAP_SYS_RESOURCE, Podman's
    /// default nofile/nproc of 1048576/4194304 cannot be set by any runtime).
    fn run_flags(&self) -> Vec<String> {
        vec![
            format!("--cgroup-parent={}", self.cgroup_parent),
            "--ulimit=nofile=1024:1024".into(),
            "--ulimit=nproc=4096:4096".into(),
        ]
    }

    fn container_run(&self, extra: &[&str], input: Input<'_>) -> Ran {
        let mut args: Vec<String> = vec!["run".into()];
        args.extend(self.run_flags());
        args.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&args, input)
    }

    fn inspect(&self, name: &str, format: &str) -> String {
        let ran = self.run(&["inspect", "--format", format, name], Input::Null);
        ran.ok();
        ran.stdout.trim().to_string()
    }
}

fn runc() -> PathBuf {
    PathBuf::from(DEBIAN_RUNC)
}

/// The whole Podman scenario against `runtime`.
fn podman_scenario(runtime: &Path, tag: &str) {
    let mut scratch = Scratch::new(tag);
    let podman = Podman::new(&mut scratch, runtime);

    // Output and exit code.
    podman
        .container_run(
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

    // stdin.
    let ran = podman.container_run(
        &["-i", "--rm", "--network=none", IMAGE, "cat"],
        Input::Bytes(b"through stdin\n"),
    );
    ran.ok().stdout_has("through stdin");

    // A terminal: the process sees a pty, and its exit code comes back.
    let mut args = vec!["run".to_string()];
    args.extend(podman.run_flags());
    args.extend(
        [
            "-it",
            "--rm",
            "--network=none",
            IMAGE,
            "sh",
            "-c",
            "tty; exit 5",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    podman.pty(&args).expect_code(5).stdout_has("/dev/pts/");

    // --network none: loopback only.
    let none = podman.container_run(
        &["--rm", "--network=none", IMAGE, "ls", "/sys/class/net"],
        Input::Null,
    );
    assert_eq!(
        none.stdout.split_whitespace().collect::<Vec<_>>(),
        ["lo"],
        "--network none: {none:?}"
    );

    // A detached container with limits; exec, logs, stop, rm.
    let name = format!("{}-d", scratch.name());
    podman
        .container_run(
            &[
                "-d",
                "--name",
                &name,
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
        podman
            .run(&["logs", &name], Input::Null)
            .stdout
            .contains("started")
    });
    let pid: i32 = podman
        .inspect(&name, "{{.State.Pid}}")
        .parse()
        .expect("pid");
    assert_eq!(cgroup_limit(pid, "memory"), "67108864", "--memory=64m");
    assert_eq!(cgroup_limit(pid, "pids"), "50", "--pids-limit=50");
    podman
        .run(
            &["exec", &name, "sh", "-c", "echo in-exec; exit 4"],
            Input::Null,
        )
        .expect_code(4)
        .stdout_has("in-exec");
    podman
        .run(&["exec", "-i", &name, "cat"], Input::Bytes(b"exec stdin\n"))
        .ok()
        .stdout_has("exec stdin");
    podman
        .pty(&["exec", "-it", &name, "sh", "-c", "tty; exit 6"])
        .expect_code(6)
        .stdout_has("/dev/pts/");
    // The pids limit holds inside: 60 more processes cannot all start.
    let forks = podman.run(
        &[
            "exec",
            &name,
            "sh",
            "-c",
            "for i in $(seq 60); do sleep 3 & done 2>&1; wait",
        ],
        Input::Null,
    );
    assert!(
        forks.stdout.contains("can't fork") || forks.stderr.contains("can't fork"),
        "60 forks under --pids-limit=50 all succeeded: {forks:?}"
    );
    podman.run(&["stop", "--time=10", &name], Input::Null).ok();
    assert_eq!(podman.inspect(&name, "{{.State.Status}}"), "exited");
    assert_eq!(podman.inspect(&name, "{{.State.ExitCode}}"), "0");
    podman
        .run(&["logs", &name], Input::Null)
        .ok()
        .stdout_has("started")
        .stdout_has("bye");
    podman.run(&["rm", &name], Input::Null).ok();
    let left = podman.run(&["ps", "--all", "--quiet"], Input::Null);
    assert_eq!(left.ok().stdout.trim(), "", "containers left after rm");

    // Bridge networking: a published port on 127.0.0.1, and one container reaching
    // another across the test's own bridge.
    let port = free_port();
    let web = format!("{}-web", scratch.name());
    podman
        .container_run(
            &[
                "-d",
                "--name",
                &web,
                &format!("--network={}", podman.network),
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
    wait_http(port, "/index.html", INDEX_PAGE.trim());
    let ip = podman.inspect(
        &web,
        &format!(
            "{{{{(index .NetworkSettings.Networks \"{}\").IPAddress}}}}",
            podman.network
        ),
    );
    assert!(ip.starts_with(&podman.subnet_prefix), "web's address {ip}");
    podman
        .container_run(
            &[
                "--rm",
                &format!("--network={}", podman.network),
                IMAGE,
                "wget",
                "-q",
                "-O",
                "-",
                &format!("http://{ip}/index.html"),
            ],
            Input::Null,
        )
        .ok()
        .stdout_has(INDEX_PAGE.trim());
    podman
        .run(&["rm", "--force", "--time=0", &web], Input::Null)
        .ok();
}

/// What a container sees of its own cgroup on the host's hierarchy (Podman on cgroup
/// v1 shares the host's cgroup namespace): its own memory limit at the usual place.
fn podman_cgroup_view(runtime: &Path, tag: &str) {
    let mut scratch = Scratch::new(tag);
    let podman = Podman::new(&mut scratch, runtime);
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let file = if v2 {
        "/sys/fs/cgroup/memory.max"
    } else {
        "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    };
    podman
        .container_run(
            &["--rm", "--network=none", "--memory=64m", IMAGE, "cat", file],
            Input::Null,
        )
        .ok()
        .stdout_has("67108864");
}

#[test]
fn podman_skiff() {
    podman_scenario(&runtime_binary(), "ps");
}

#[test]
fn podman_runc() {
    podman_scenario(&runc(), "pr");
}

#[test]
fn podman_cgroup_view_skiff() {
    podman_cgroup_view(&runtime_binary(), "vs");
}

#[test]
fn podman_cgroup_view_runc() {
    podman_cgroup_view(&runc(), "vr");
}
