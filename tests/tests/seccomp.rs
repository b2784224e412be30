//! Seccomp (`linux.seccomp`): every action, argument conditions, architectures,
//! the notify listener, and profiles that must be refused.

use serde_json::{json, Value};
use skiff_e2e::{run_bundle, sh_output, skip_skiff_checks, text, Bundle, Runtime, DEADLINE};
use std::io::{IoSliceMut, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::Output;
use std::thread::JoinHandle;

/// A writable root with `profile` as `linux.seccomp`.
fn with_profile(profile: Value) -> Bundle {
    Bundle::new()
        .readonly_root(false)
        .edit(|v| v["linux"]["seccomp"] = profile)
}

/// A profile that allows everything except `rules`.
fn allow_except(rules: Value) -> Bundle {
    with_profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": rules
    }))
}

/// One rule for mkdir in both of its forms.
fn mkdir_rule(action: &str) -> Value {
    json!({"names": ["mkdir", "mkdirat"], "action": action})
}

/// The container's exit code as `run` reports it.
fn exit_code(out: &Output) -> Option<i32> {
    out.status.code()
}

#[test]
fn errno_ret_is_returned() {
    let mut rule = mkdir_rule("SCMP_ACT_ERRNO");
    rule["errnoRet"] = json!(38);
    let out = sh_output(
        "sec-errno",
        allow_except(json!([rule])),
        "mkdir /tmp/x 2>&1; echo rc=$?; test -d /tmp/x || echo absent",
    );
    assert!(out.contains("Function not implemented"), "{out}");
    assert!(out.contains("rc=1") && out.contains("absent"), "{out}");
}

#[test]
fn errno_defaults_to_eperm() {
    let out = sh_output(
        "sec-eperm",
        allow_except(json!([mkdir_rule("SCMP_ACT_ERRNO")])),
        "mkdir /tmp/x 2>&1; echo rc=$?",
    );
    assert!(out.contains("Operation not permitted"), "{out}");
}

#[test]
fn kill_process_kills_with_sigsys() {
    let bundle = allow_except(json!([{"names": ["uname"], "action": "SCMP_ACT_KILL_PROCESS"}]))
        .args(&["uname"]);
    let out = run_bundle("sec-kill-proc", &bundle);
    assert_eq!(exit_code(&out), Some(128 + libc::SIGSYS), "{out:?}");
}

#[test]
fn kill_kills_the_thread_with_sigsys() {
    let bundle =
        allow_except(json!([{"names": ["uname"], "action": "SCMP_ACT_KILL"}])).args(&["uname"]);
    let out = run_bundle("sec-kill", &bundle);
    assert_eq!(exit_code(&out), Some(128 + libc::SIGSYS), "{out:?}");
}

#[test]
fn kill_thread_kills_with_sigsys() {
    let bundle = allow_except(json!([{"names": ["uname"], "action": "SCMP_ACT_KILL_THREAD"}]))
        .args(&["uname"]);
    let out = run_bundle("sec-kill-thread", &bundle);
    assert_eq!(exit_code(&out), Some(128 + libc::SIGSYS), "{out:?}");
}

#[test]
fn trace_without_a_tracer_fails_the_call_with_enosys() {
    let mut rule = mkdir_rule("SCMP_ACT_TRACE");
    rule["errnoRet"] = json!(7);
    let out = sh_output(
        "sec-trace",
        allow_except(json!([rule])),
        "mkdir /tmp/x 2>&1; echo rc=$?; test -d /tmp/x || echo absent",
    );
    assert!(out.contains("Function not implemented"), "{out}");
    assert!(out.contains("absent"), "{out}");
}

#[test]
fn trap_sends_a_sigsys_that_can_be_caught() {
    // KILL could not be caught: the shell would die instead of printing.
    let out = sh_output(
        "sec-trap",
        allow_except(json!([{"names": ["kill"], "action": "SCMP_ACT_TRAP"}])),
        "trap 'echo trapped' SYS; kill -0 $$ 2>/dev/null; echo done",
    );
    assert!(out.contains("trapped"), "{out}");
    assert!(out.contains("done"), "{out}");
}

#[test]
fn log_and_allow_let_the_call_through() {
    let rules =
        json!([mkdir_rule("SCMP_ACT_LOG"), {"names": ["rmdir"], "action": "SCMP_ACT_ALLOW"}]);
    let out = sh_output(
        "sec-log",
        allow_except(rules),
        "mkdir /tmp/x && rmdir /tmp/x && echo ok",
    );
    assert_eq!(out.trim(), "ok");
}

#[test]
fn arg_condition_selects_the_call() {
    // personality(PER_LINUX32 = 8) is denied, personality(PER_LINUX = 0) is not.
    let rule = json!({"names": ["personality"], "action": "SCMP_ACT_ERRNO",
        "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]});
    let out = sh_output(
        "sec-arg-eq",
        allow_except(json!([rule])),
        "linux32 true; echo rc32=$?; linux64 true; echo rc64=$?",
    );
    assert!(out.contains("rc32=1"), "{out}");
    assert!(out.contains("rc64=0"), "{out}");
}

#[test]
fn repeated_arg_index_means_any_of_them() {
    // runc's convention: the same index twice makes two rules (OR), not an AND
    // that could never hold.
    let rule = json!({"names": ["personality"], "action": "SCMP_ACT_ERRNO",
        "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
                 {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]});
    let out = sh_output(
        "sec-arg-or",
        allow_except(json!([rule])),
        "linux32 true; echo rc32=$?; linux64 true; echo rc64=$?",
    );
    assert!(out.contains("rc32=1"), "{out}");
    assert!(out.contains("rc64=1"), "{out}");
}

#[test]
fn masked_eq_and_ne_conditions() {
    let rules = json!([
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": 0xff, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97,
         "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}
    ]);
    let out = sh_output(
        "sec-arg-masked",
        allow_except(rules),
        "linux32 true; echo rc32=$?; linux64 true; echo rc64=$?; \
         nc -w 1 127.0.0.1 1 </dev/null 2>&1; nc -w 1 ::1 1 </dev/null 2>&1; echo end",
    );
    assert!(out.contains("rc32=1") && out.contains("rc64=0"), "{out}");
    // Only the AF_INET socket is refused with errnoRet 97.
    let refused = out.matches("Address family not supported").count();
    assert_eq!(refused, 1, "{out}");
}

#[test]
fn default_errno_with_an_allow_list() {
    let profile = |errno: u32| {
        json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": errno,
            "syscalls": [{"names": ALLOWED, "action": "SCMP_ACT_ALLOW"}]
        })
    };
    let out = run_bundle("sec-list-true", &with_profile(profile(1)).args(&["true"]));
    assert_eq!(exit_code(&out), Some(0), "{out:?}");
    // mkdir is not on the list: it fails with defaultErrnoRet.
    let bundle = with_profile(profile(38)).args(&["mkdir", "/tmp/x"]);
    let out = run_bundle("sec-list-mkdir", &bundle);
    assert_ne!(exit_code(&out), Some(0), "{out:?}");
    assert!(
        text(&out.stderr).contains("Function not implemented"),
        "{out:?}"
    );
}

/// What a static busybox `true` needs, plus what a runtime may call between
/// loading the filter and the exec (identity, capabilities, descriptors).
const ALLOWED: &[&str] = &[
    "execve",
    "execveat",
    "brk",
    "arch_prctl",
    "set_tid_address",
    "set_robust_list",
    "rseq",
    "prlimit64",
    "readlink",
    "getrandom",
    "mprotect",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "prctl",
    "exit",
    "exit_group",
    "futex",
    "read",
    "write",
    "close",
    "close_range",
    "fcntl",
    "capget",
    "capset",
    "setgroups",
    "setresuid",
    "setresgid",
    "setuid",
    "setgid",
    "chdir",
    "umask",
    "openat",
    "newfstatat",
    "fstat",
    "rt_sigprocmask",
    "rt_sigaction",
    "rt_sigreturn",
    "sigaltstack",
    "mmap",
    "munmap",
    "madvise",
    "nanosleep",
    "sched_yield",
    "getpid",
    "gettid",
    "tgkill",
    "epoll_pwait",
    "epoll_ctl",
    "dup3",
    "sendmsg",
    "recvmsg",
    "getppid",
    "fstatfs",
    "statfs",
    "getdents64",
    "lseek",
    "faccessat2",
    "sched_getaffinity",
    "clock_gettime",
];

#[test]
fn unknown_syscall_names_are_skipped() {
    let rule = json!({"names": ["no_such_syscall_anywhere", "mkdir", "mkdirat"],
        "action": "SCMP_ACT_ERRNO", "errnoRet": 38});
    let out = sh_output(
        "sec-unknown",
        allow_except(json!([rule])),
        "mkdir /tmp/x 2>&1; echo rc=$?",
    );
    assert!(out.contains("Function not implemented"), "{out}");
}

#[test]
fn native_architecture_alone_works() {
    let profile = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]});
    let out = sh_output(
        "sec-native",
        with_profile(profile),
        "mkdir /tmp/x 2>&1; echo rc=$?",
    );
    assert!(out.contains("Function not implemented"), "{out}");
}

#[test]
fn filter_flags_are_accepted() {
    // runc refuses every flag ("not yet supported").
    if skip_skiff_checks() {
        return;
    }
    let profile = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                  "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]});
    let out = sh_output(
        "sec-flags",
        with_profile(profile),
        "mkdir /tmp/x 2>&1; echo rc=$?",
    );
    assert!(out.contains("Function not implemented"), "{out}");
}

/// What the agent saw: the container process state and the answer count.
struct AgentReport {
    state: Value,
    answered: usize,
}

/// A seccomp agent on `path`: takes one connection, the descriptor and state,
/// and answers every notification with `errno` until the container is gone.
fn agent(listener: UnixListener, errno: i32) -> JoinHandle<AgentReport> {
    std::thread::spawn(move || {
        assert!(
            readable(listener.as_raw_fd()),
            "the runtime never connected"
        );
        let (mut conn, _) = listener.accept().expect("accept");
        let (fd, payload) = receive_fd(conn.as_raw_fd());
        let state = read_state(&mut conn, payload);
        let mut answered = 0;
        while readable(fd.as_raw_fd()) && answer(&fd, errno) {
            answered += 1;
        }
        AgentReport { state, answered }
    })
}

/// Reads until `payload` holds one JSON value (runc keeps the connection open
/// after sending, so the end of the stream cannot mark its end).
fn read_state(conn: &mut UnixStream, mut payload: Vec<u8>) -> Value {
    loop {
        if let Ok(v) = serde_json::from_slice(&payload) {
            return v;
        }
        let mut buf = [0u8; 4096];
        let n = conn.read(&mut buf).expect("read the state");
        assert!(n > 0, "the state is not JSON: {}", text(&payload));
        payload.extend_from_slice(&buf[..n]);
    }
}

/// Waits until `fd` is readable; false on hang-up or after [`DEADLINE`].
fn readable(fd: RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = i32::try_from(DEADLINE.as_millis()).expect("deadline fits");
    // SAFETY: poll on one pollfd that lives across the call.
    let n = unsafe { libc::poll(&mut p, 1, ms) };
    n == 1 && p.revents & libc::POLLIN != 0
}

/// Receives one message with one descriptor attached.
fn receive_fd(sock: RawFd) -> (OwnedFd, Vec<u8>) {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = vec![0u8; 64 * 1024];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let (n, fd) = {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(sock, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)
            .expect("recvmsg");
        let fd = msg.cmsgs().expect("cmsgs").find_map(|c| match c {
            ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
            _ => None,
        });
        (msg.bytes, fd.expect("a descriptor sent with SCM_RIGHTS"))
    };
    buf.truncate(n);
    // SAFETY: SCM_RIGHTS installed this descriptor in this process; nothing else owns it.
    (unsafe { OwnedFd::from_raw_fd(fd) }, buf)
}

/// Receives one notification and fails its system call with `errno`.
fn answer(fd: &OwnedFd, errno: i32) -> bool {
    // SAFETY: an all-zero seccomp_notif is what SECCOMP_IOCTL_NOTIF_RECV expects.
    let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: the ioctl writes one seccomp_notif into `req`, which it may.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) } < 0 {
        return false;
    }
    let mut resp = libc::seccomp_notif_resp {
        id: req.id,
        val: 0,
        error: -errno,
        flags: 0,
    };
    // SAFETY: the ioctl reads one seccomp_notif_resp from `resp`.
    unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) };
    true
}

#[test]
fn notify_hands_the_listener_to_the_agent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("agent.sock");
    let listener = UnixListener::bind(&path).expect("bind the agent socket");
    let handle = agent(listener, libc::EDQUOT);
    let bundle = with_profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": path,
        "listenerMetadata": "skiff-e2e",
        "syscalls": [mkdir_rule("SCMP_ACT_NOTIFY")]
    }));
    let rt = Runtime::new();
    let c = rt.container("sec-notify");
    let out = c.run(&bundle.args(&["sh", "-c", "mkdir /tmp/x 2>&1; echo rc=$?"]));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Disk quota exceeded"), "{out:?}");
    let report = handle.join().expect("agent");
    assert!(report.answered >= 1);
    let s = &report.state;
    assert_eq!(s["fds"], json!(["seccompFd"]), "{s}");
    assert_eq!(s["metadata"], "skiff-e2e", "{s}");
    assert!(s["pid"].as_i64().is_some_and(|p| p > 0), "{s}");
    assert!(s["ociVersion"].is_string(), "{s}");
    assert_eq!(s["state"]["id"], c.id(), "{s}");
    assert_eq!(s["state"]["pid"], s["pid"], "{s}");
    c.assert_nothing_left(None);
}

#[test]
fn notify_without_an_answer_gives_enosys() {
    // An agent that closes the listener at once: notified calls fail with ENOSYS.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("agent.sock");
    let listener = UnixListener::bind(&path).expect("bind the agent socket");
    let handle = std::thread::spawn(move || {
        assert!(
            readable(listener.as_raw_fd()),
            "the runtime never connected"
        );
        let (conn, _) = listener.accept().expect("accept");
        drop(receive_fd(conn.as_raw_fd()));
    });
    let bundle = with_profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": path,
        "syscalls": [mkdir_rule("SCMP_ACT_NOTIFY")]
    }));
    let out = sh_output("sec-notify-closed", bundle, "mkdir /tmp/x 2>&1; echo rc=$?");
    handle.join().expect("agent");
    assert!(out.contains("Function not implemented"), "{out}");
}

/// Expects `create` to refuse `profile`, leave nothing behind and (for skiff)
/// name each of `words`.
fn create_rejected(name: &str, profile: Value, words: &[&str]) {
    let rt = Runtime::new();
    let c = rt.container(name);
    let bundle = with_profile(profile).cgroups_path(&c.cgroup_path());
    let out = c.create(&bundle);
    assert!(
        !out.status.success(),
        "bad profile accepted: {}",
        text(&out.stdout)
    );
    c.assert_nothing_left(None);
    if skip_skiff_checks() {
        return;
    }
    let stderr = text(&out.stderr);
    for w in words {
        assert!(stderr.contains(w), "stderr does not name {w:?}: {stderr}");
    }
}

#[test]
fn unknown_action_is_named() {
    create_rejected(
        "sec-bad-action",
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_FOO"}]}),
        &["SCMP_ACT_FOO"],
    );
}

#[test]
fn unknown_default_action_is_named() {
    create_rejected(
        "sec-bad-default",
        json!({"defaultAction": "SCMP_ACT_BAR"}),
        &["SCMP_ACT_BAR"],
    );
}

#[test]
fn unknown_arch_is_named() {
    create_rejected(
        "sec-bad-arch",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_FOO"]}),
        &["SCMP_ARCH_FOO"],
    );
}

#[test]
fn unknown_operator_is_named() {
    create_rejected(
        "sec-bad-op",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"],
               "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_FOO"}]}]}),
        &["SCMP_CMP_FOO"],
    );
}

#[test]
fn errno_ret_on_kill_is_refused() {
    // runc accepts it; the spec says the runtime MUST fail.
    if skip_skiff_checks() {
        return;
    }
    create_rejected(
        "sec-bad-errno",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
               {"names": ["mkdir"], "action": "SCMP_ACT_KILL_PROCESS", "errnoRet": 5}]}),
        &["linux.seccomp.syscalls[0].errnoRet"],
    );
}

#[test]
fn notify_without_listener_is_refused() {
    create_rejected(
        "sec-bad-notify",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
               {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
        &["linux.seccomp.syscalls[0].action", "listenerPath"],
    );
}

#[test]
fn loads_without_no_new_privileges() {
    // Loaded while the runtime still holds CAP_SYS_ADMIN; no_new_privs stays off.
    let mut rule = mkdir_rule("SCMP_ACT_ERRNO");
    rule["errnoRet"] = json!(38);
    let bundle = allow_except(json!([rule]))
        .edit(|v| v["process"]["noNewPrivileges"] = json!(false))
        .user(1000, 1000);
    let out = sh_output(
        "sec-no-nnp",
        bundle,
        "mkdir /tmp/x 2>&1; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status",
    );
    assert!(out.contains("Function not implemented"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().eq(["NoNewPrivs:", "0"])),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().eq(["Seccomp:", "2"])),
        "{out}"
    );
}
