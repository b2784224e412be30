//! The container process: environment, identity, limits, privileges, fds.

use skiff_e2e::{run_bundle, sh_output, text, Bundle, Runtime};
use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// The value of `Field:` in /proc/self/status as the container sees it.
fn status_field(name: &str, bundle: Bundle, field: &str) -> String {
    let out = sh_output(name, bundle, "cat /proc/self/status");
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in\n{out}"))
        .trim()
        .to_string()
}

#[test]
fn env_is_set() {
    let out = sh_output("proc-env", Bundle::new().env(&["FOO=bar baz"]), "env");
    assert!(out.lines().any(|l| l == "FOO=bar baz"), "{out}");
    assert!(out.lines().any(|l| l == "TERM=xterm"), "{out}");
}

#[test]
fn cwd_is_set() {
    assert_eq!(
        sh_output("proc-cwd", Bundle::new().cwd("/tmp"), "pwd").trim(),
        "/tmp"
    );
}

#[test]
fn user_and_groups_are_set() {
    let bundle = Bundle::new().user(1000, 1001).additional_gids(&[10, 20]);
    let out = sh_output("proc-user", bundle, "id -u; id -g; id -G");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1000", "{out}");
    assert_eq!(lines[1], "1001", "{out}");
    let mut groups: Vec<&str> = lines[2].split_whitespace().collect();
    groups.sort();
    groups.dedup();
    assert!(groups.contains(&"10") && groups.contains(&"20"), "{out}");
}

#[test]
fn umask_is_set() {
    assert_eq!(
        sh_output("proc-umask", Bundle::new().umask(23), "umask").trim(),
        "0027"
    );
}

#[test]
fn rlimit_nofile_is_set() {
    let bundle = Bundle::new().edit(|v| {
        v["process"]["rlimits"] =
            serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 768}]);
    });
    let out = sh_output("proc-rlimit", bundle, "ulimit -n; ulimit -Hn");
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["512", "768"]);
}

#[test]
fn no_new_privileges_is_set() {
    assert_eq!(status_field("proc-nnp", Bundle::new(), "NoNewPrivs"), "1");
}

#[test]
fn no_new_privileges_can_be_off() {
    let bundle = Bundle::new().edit(|v| v["process"]["noNewPrivileges"] = false.into());
    assert_eq!(status_field("proc-nnp-off", bundle, "NoNewPrivs"), "0");
}

#[test]
fn capabilities_are_exactly_the_configured_ones() {
    let bundle = Bundle::new().capabilities(&["CAP_CHOWN", "CAP_KILL"]);
    let out = sh_output("proc-caps", bundle, "cat /proc/self/status");
    let want = format!("{:016x}", (1u64 << 0) | (1u64 << 5));
    for field in ["CapEff", "CapBnd", "CapPrm", "CapInh", "CapAmb"] {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{field}:")))
            .unwrap_or_else(|| panic!("no {field}"));
        assert!(line.ends_with(&want), "{line}, want {want}");
    }
}

#[test]
fn oom_score_adj_is_set() {
    let bundle = Bundle::new().edit(|v| v["process"]["oomScoreAdj"] = 123.into());
    let out = sh_output("proc-oom", bundle, "cat /proc/self/oom_score_adj");
    assert_eq!(out.trim(), "123");
}

#[test]
fn missing_executable_fails_run() {
    let out = run_bundle("proc-noexec-run", &Bundle::new().args(&["/no/such/binary"]));
    assert!(!out.status.success(), "run of a missing binary succeeded");
}

#[test]
fn missing_executable_fails_create() {
    let rt = Runtime::new();
    let bundle = Bundle::new().args(&["/no/such/binary"]);
    let c = rt.container("proc-noexec-create");
    let out = c.create(&bundle);
    assert!(
        !out.status.success(),
        "create with a missing binary succeeded"
    );
    c.assert_nothing_left(None);
}

/// How the runtime is started in [`run_with_fd3`].
enum Fd3 {
    /// Plain, with these extra `run` flags.
    Flags(&'static [&'static str]),
    /// As systemd socket activation would: `LISTEN_FDS=1` and `LISTEN_PID` set to
    /// the runtime's own pid (a shell sets it, then execs the runtime).
    SocketActivation,
}

/// Runs `script` with fd 3 open on a file in the runtime's process; returns the
/// runtime's output and what was written to the file.
fn run_with_fd3(name: &str, how: Fd3, script: &str) -> (std::process::Output, String) {
    let rt = Runtime::new();
    let bundle = Bundle::new().args(&["sh", "-c", script]);
    let c = rt.container(name);
    bundle.write_config();
    let file_path = bundle.path().join("fd3.txt");
    let file = File::create(&file_path).expect("create fd3 file");
    let raw = file.as_raw_fd();
    let mut cmd = rt.command(&["run", "--bundle", bundle.path().to_str().expect("utf-8")]);
    match how {
        Fd3::Flags(flags) => {
            cmd.args(flags).arg(c.id());
        }
        Fd3::SocketActivation => {
            let inner = cmd;
            cmd = Command::new("/bin/sh");
            cmd.arg("-c")
                .arg("LISTEN_PID=$$ exec \"$0\" \"$@\"")
                .arg(inner.get_program())
                .args(inner.get_args())
                .arg(c.id())
                .env("LISTEN_FDS", "1")
                .stdin(Stdio::null());
        }
    }
    // SAFETY: only dup2 and fcntl run between fork and exec; both are
    // async-signal-safe. When the file already is fd 3, dup2 would keep its
    // close-on-exec flag, so the flag is cleared instead.
    unsafe {
        cmd.pre_exec(move || {
            let rc = if raw == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(raw, 3)
            };
            if rc < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = rt.output(cmd);
    drop(file);
    c.assert_nothing_left(None);
    (out, fs::read_to_string(&file_path).unwrap_or_default())
}

#[test]
fn preserve_fds_passes_fd_3() {
    let (out, written) = run_with_fd3(
        "proc-preserve-fds",
        Fd3::Flags(&["--preserve-fds", "1"]),
        "test -e /proc/self/fd/3 && echo through-fd3 >&3",
    );
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(written.trim(), "through-fd3");
}

#[test]
fn socket_activation_passes_fd_3_and_listen_fds() {
    let (out, written) = run_with_fd3(
        "proc-listen-fds",
        Fd3::SocketActivation,
        "echo LISTEN_FDS=$LISTEN_FDS; echo through-fd3 >&3",
    );
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("LISTEN_FDS=1"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(written.trim(), "through-fd3");
}

#[test]
fn without_preserve_fds_only_stdio_is_open() {
    let (out, written) = run_with_fd3(
        "proc-no-preserve",
        Fd3::Flags(&[]),
        "ls /proc/self/fd; echo x >&3",
    );
    assert!(written.is_empty(), "fd 3 leaked into the container");
    let stdout = text(&out.stdout);
    let mut fds: Vec<u32> = stdout
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    fds.sort();
    assert!(fds.starts_with(&[0, 1, 2]), "{stdout}");
    assert!(
        fds.len() <= 4,
        "more than stdio and ls's own directory fd: {stdout}"
    );
}
