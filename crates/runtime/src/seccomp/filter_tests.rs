//! Tests of building and loading filters. Loading happens on a thread of its
//! own: without TSYNC a filter binds only the thread that loads it.

use super::super::load;
use super::*;
use libseccomp::{ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags};
use serde_json::json;
use std::os::fd::AsRawFd;

fn profile(v: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(v).expect("profile parses")
}

fn arg(index: usize, op: &str, value: u64, value_two: Option<u64>) -> LinuxSeccompArg {
    serde_json::from_value(json!({"index": index, "op": op, "value": value, "valueTwo": value_two}))
        .expect("arg parses")
}

fn build_error(v: serde_json::Value) -> String {
    match build(&profile(v)) {
        Ok(_) => panic!("profile was accepted"),
        Err(e) => e.to_string(),
    }
}

/// getpgid(pid) made directly, so that no libc cache answers: Ok(pgid) or Err(errno).
fn getpgid(pid: libc::pid_t) -> std::result::Result<i64, i32> {
    // SAFETY: getpgid takes an integer and touches no memory of ours.
    let r = unsafe { libc::syscall(libc::SYS_getpgid, pid) };
    match r {
        -1 => Err(io::Error::last_os_error().raw_os_error().unwrap_or(0)),
        r => Ok(r),
    }
}

/// Load `p` on a fresh thread, then run `f` there and return its result.
fn on_filtered_thread<T: Send + 'static>(
    p: LinuxSeccomp,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        assert!(load(&p).unwrap().is_none());
        f()
    })
    .join()
    .expect("filtered thread")
}

#[test]
fn conditions_on_distinct_args_make_one_rule() {
    let args = [
        arg(0, "SCMP_CMP_EQ", 1, None),
        arg(2, "SCMP_CMP_GT", 5, None),
    ];
    let rules = rule_conditions("f", &args).unwrap();
    assert_eq!(
        rules,
        vec![vec![
            ScmpArgCompare::new(0, ScmpCompareOp::Equal, 1),
            ScmpArgCompare::new(2, ScmpCompareOp::Greater, 5),
        ]]
    );
}

#[test]
fn repeated_index_makes_a_rule_per_condition() {
    let args = [
        arg(0, "SCMP_CMP_EQ", 1, None),
        arg(1, "SCMP_CMP_NE", 7, None),
        arg(0, "SCMP_CMP_EQ", 2, None),
    ];
    let rules = rule_conditions("f", &args).unwrap();
    assert_eq!(
        rules,
        vec![
            vec![ScmpArgCompare::new(0, ScmpCompareOp::Equal, 1)],
            vec![ScmpArgCompare::new(1, ScmpCompareOp::NotEqual, 7)],
            vec![ScmpArgCompare::new(0, ScmpCompareOp::Equal, 2)],
        ]
    );
}

#[test]
fn no_args_make_one_unconditional_rule() {
    assert_eq!(rule_conditions("f", &[]).unwrap(), vec![Vec::new()]);
}

#[test]
fn every_operator_maps() {
    let cases = [
        ("SCMP_CMP_NE", ScmpCompareOp::NotEqual),
        ("SCMP_CMP_LT", ScmpCompareOp::Less),
        ("SCMP_CMP_LE", ScmpCompareOp::LessOrEqual),
        ("SCMP_CMP_EQ", ScmpCompareOp::Equal),
        ("SCMP_CMP_GE", ScmpCompareOp::GreaterEqual),
        ("SCMP_CMP_GT", ScmpCompareOp::Greater),
    ];
    for (name, op) in cases {
        let c = condition("f", &arg(3, name, 9, None)).unwrap();
        assert_eq!(c, ScmpArgCompare::new(3, op, 9), "{name}");
    }
    let masked = condition("f", &arg(1, "SCMP_CMP_MASKED_EQ", 0xf0, Some(0x30))).unwrap();
    assert_eq!(
        masked,
        ScmpArgCompare::new(1, ScmpCompareOp::MaskedEqual(0xf0), 0x30)
    );
}

#[test]
fn arg_index_out_of_range_is_named() {
    let msg = build_error(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getpid"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                  {"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}));
    assert!(
        msg.contains("linux.seccomp.syscalls[0].args[1].index"),
        "{msg}"
    );
}

#[test]
fn actions_map_with_errno_defaults() {
    let f = "x.errnoRet";
    assert_eq!(
        action(LinuxSeccompAction::ScmpActErrno, None, f).unwrap(),
        ScmpAction::Errno(libc::EPERM)
    );
    assert_eq!(
        action(LinuxSeccompAction::ScmpActErrno, Some(38), f).unwrap(),
        ScmpAction::Errno(38)
    );
    assert_eq!(
        action(LinuxSeccompAction::ScmpActTrace, None, f).unwrap(),
        ScmpAction::Trace(1)
    );
    assert_eq!(
        action(LinuxSeccompAction::ScmpActTrace, Some(500), f).unwrap(),
        ScmpAction::Trace(500)
    );
    assert_eq!(
        action(LinuxSeccompAction::ScmpActKill, None, f).unwrap(),
        ScmpAction::KillThread
    );
    assert_eq!(
        action(LinuxSeccompAction::ScmpActKillProcess, None, f).unwrap(),
        ScmpAction::KillProcess
    );
    assert!(action(LinuxSeccompAction::ScmpActErrno, Some(4096), f).is_err());
    assert!(action(LinuxSeccompAction::ScmpActTrace, Some(70000), f).is_err());
}

#[test]
fn errno_on_other_actions_is_refused() {
    let msg = build_error(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS", "errnoRet": 5}]}));
    assert!(msg.contains("linux.seccomp.syscalls[1].errnoRet"), "{msg}");
    assert!(msg.contains("SCMP_ACT_KILL_PROCESS"), "{msg}");
    let msg = build_error(json!({"defaultAction": "SCMP_ACT_LOG", "defaultErrnoRet": 5}));
    assert!(msg.contains("linux.seccomp.defaultErrnoRet"), "{msg}");
}

#[test]
fn full_profile_builds() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"],
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        "listenerPath": "/run/agent.sock",
        "syscalls": [
            {"names": ["read", "write", "socketcall", "no_such_syscall_here"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
            {"names": ["getpid"], "action": "SCMP_ACT_KILL"},
            {"names": ["getppid"], "action": "SCMP_ACT_KILL_THREAD"},
            {"names": ["uname"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["getuid"], "action": "SCMP_ACT_TRAP"},
            {"names": ["getgid"], "action": "SCMP_ACT_TRACE", "errnoRet": 3},
            {"names": ["geteuid"], "action": "SCMP_ACT_LOG"},
            {"names": ["getegid"], "action": "SCMP_ACT_NOTIFY"},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
                {"index": 0, "value": 4294967295u64, "op": "SCMP_CMP_EQ"}]},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 0, "value": 2114060288u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}
        ]
    }));
    let f = build(&p).unwrap();
    assert!(f.notify);
    assert!(f.ctx.is_arch_present(ScmpArch::X86).unwrap());
    assert!(f.ctx.is_arch_present(ScmpArch::native()).unwrap());
    assert!(f.ctx.get_ctl_tsync().unwrap());
}

#[test]
fn rule_with_the_default_action_is_skipped() {
    // libseccomp refuses such a rule; the spec's profiles contain them.
    let p = profile(json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}));
    build(&p).unwrap();
}

#[test]
fn only_unknown_notify_names_mean_no_listener() {
    let p = profile(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x",
        "syscalls": [{"names": ["no_such_syscall_here"], "action": "SCMP_ACT_NOTIFY"}]}),
    );
    assert!(!build(&p).unwrap().notify);
}

#[test]
fn errno_and_arg_conditions_apply_after_load() {
    let p = profile(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
         "args": [{"index": 0, "value": 111, "op": "SCMP_CMP_EQ"},
                  {"index": 0, "value": 222, "op": "SCMP_CMP_EQ"}]},
        {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 39,
         "args": [{"index": 0, "value": 0xf000, "valueTwo": 0x3000, "op": "SCMP_CMP_MASKED_EQ"}]}]}));
    let got = on_filtered_thread(p, || {
        [getpgid(111), getpgid(222), getpgid(0x3abc), getpgid(0)]
    });
    assert_eq!(got[0], Err(38));
    assert_eq!(got[1], Err(38));
    assert_eq!(got[2], Err(39));
    assert!(got[3].is_ok(), "{:?}", got[3]);
    assert!(
        getpgid(111).is_err_and(|e| e == libc::ESRCH),
        "the filter leaked to this thread"
    );
}

#[test]
fn default_errno_applies_after_load() {
    let p = profile(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO"}]}));
    assert_eq!(on_filtered_thread(p, || getpgid(0)), Err(libc::EPERM));
}

#[test]
fn notify_returns_a_listener_that_answers() {
    let p = profile(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/unused",
        "syscalls": [{"names": ["getpgid"], "action": "SCMP_ACT_NOTIFY"}]}),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let filtered = std::thread::spawn(move || {
        let fd = load(&p).unwrap().expect("a notify descriptor");
        tx.send(fd).unwrap();
        getpgid(777)
    });
    let fd = rx.recv().unwrap();
    // SAFETY: fcntl F_GETFD on a descriptor we own.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
    assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
    let req = ScmpNotifReq::receive(fd.as_raw_fd()).unwrap();
    assert_eq!(req.data.syscall, ScmpSyscall::from_name("getpgid").unwrap());
    assert_eq!(req.data.args[0], 777);
    ScmpNotifResp::new_val(req.id, 4242, ScmpNotifRespFlags::empty())
        .respond(fd.as_raw_fd())
        .unwrap();
    assert_eq!(filtered.join().unwrap(), Ok(4242));
}
