//! Process bookkeeping for the harness: child subreaper, reaping, polling.

use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::Mutex;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// How long [`wait_until`] polls before giving up. Generous: it only bounds a hang.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Makes this process a child subreaper, so that container processes whose runtime
/// parent exits are reparented here and can be reaped.
pub fn become_subreaper() {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer argument only.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(rc, 0, "prctl(PR_SET_CHILD_SUBREAPER)");
}

/// Children whose exit status a `std::process::Child` still has to collect.
static OWNED: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// Marks `pid` as a child that [`reap_children`] must leave alone (its owner waits
/// for it), or, with `owned` false, as one it may reap again.
pub fn set_owned(pid: i32, owned: bool) {
    let mut list = OWNED.lock().unwrap_or_else(|e| e.into_inner());
    list.retain(|&p| p != pid);
    if owned {
        list.push(pid);
    }
}

/// Reaps every exited child without blocking, except those marked with
/// [`set_owned`]. Children are found through /proc rather than with
/// `waitpid(-1)`, which could take a status away from its owner.
pub fn reap_children() {
    let owned = OWNED.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for pid in child_pids() {
        if !owned.contains(&pid) {
            let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
        }
    }
}

/// Fields of `/proc/<pid>/stat` after the command name: state, ppid, ...
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// True when a process `pid` exists and is not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    match stat_fields(pid) {
        Some(f) => f.first().map(String::as_str) != Some("Z"),
        None => false,
    }
}

/// The pids of this process's children (zombies included).
pub fn child_pids() -> Vec<i32> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc").expect("read /proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some(f) = stat_fields(pid) {
            if f.get(1) == Some(&me) {
                out.push(pid);
            }
        }
    }
    out
}

/// Polls `cond` every 20 ms until it holds; panics naming `what` after [`DEADLINE`].
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        sleep(Duration::from_millis(20));
    }
}

/// The target of a namespace link such as `/proc/self/ns/net`, e.g. `net:[4026531840]`,
/// in the form `readlink` prints it inside a container.
pub fn ns_link(link: impl AsRef<Path>) -> String {
    let target = fs::read_link(link.as_ref())
        .unwrap_or_else(|e| panic!("readlink {}: {e}", link.as_ref().display()));
    target.to_string_lossy().into_owned()
}

/// The namespace kinds tests compare through `/proc/<pid>/ns/<kind>`.
pub const NS_KINDS: [&str; 6] = ["mnt", "uts", "ipc", "pid", "net", "cgroup"];

/// A shell script that prints `<kind> <link>` for each of [`NS_KINDS`] as seen by
/// the shell that runs it; [`parse_ns_report`] reads its output.
pub fn ns_report_script() -> String {
    format!(
        "for n in {}; do echo $n $(readlink /proc/self/ns/$n); done",
        NS_KINDS.join(" ")
    )
}

/// Parses the output of [`ns_report_script`] into kind -> link.
pub fn parse_ns_report(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}
