//! The last steps before the container's process runs, shared by init and
//! exec: finding the executable, rlimits, identity, capabilities,
//! no_new_privs, LSM labels, the working directory, the descriptors it keeps,
//! and execve.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{LinuxSeccomp, PosixRlimitType, Process};

use crate::capabilities::Sets;
use crate::error::{Context, Error, Result};
use crate::process_attrs;
use crate::seccomp;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A process ready to exec: everything resolved, nothing yet irreversible.
#[derive(Debug)]
pub struct Prepared {
    path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
}

fn cstring(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::Process(format!("{what} {s:?} holds a NUL byte")))
}

/// Resolve the executable (through the process's own PATH) and build argv and envp.
pub fn prepare(process: &Process, extra_env: &[String]) -> Result<Prepared> {
    let args = process.args().as_deref().unwrap_or_default();
    let arg0 = args
        .first()
        .ok_or_else(|| Error::Process("args is empty".into()))?;
    let mut env: Vec<String> = process.env().clone().unwrap_or_default();
    env.extend(extra_env.iter().cloned());
    let path_var = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    let exe = find_executable(arg0, path_var)?;
    Ok(Prepared {
        path: CString::new(exe.as_os_str().as_bytes()).expect("checked for NUL"),
        argv: args
            .iter()
            .map(|a| cstring(a, "process.args entry"))
            .collect::<Result<_>>()?,
        envp: env
            .iter()
            .map(|e| cstring(e, "process.env entry"))
            .collect::<Result<_>>()?,
    })
}

/// Find `name` as execvp would, refusing what cannot be executed.
fn find_executable(name: &str, path_var: &str) -> Result<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        check_executable(&p)?;
        return Ok(p);
    }
    for dir in path_var.split(':').filter(|d| !d.is_empty()) {
        let p = Path::new(dir).join(name);
        if check_executable(&p).is_ok() {
            return Ok(p);
        }
    }
    Err(Error::Process(format!(
        "executable {name:?} not found in $PATH ({path_var})"
    )))
}

fn check_executable(p: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(p)
        .map_err(|e| Error::Process(format!("executable {}: {e}", p.display())))?;
    if meta.is_dir() || meta.permissions().mode() & 0o111 == 0 {
        return Err(Error::Process(format!(
            "executable {} is not an executable file",
            p.display()
        )));
    }
    Ok(())
}

/// The irreversible steps before exec, in the order the kernel needs them:
/// scheduling attributes and LSM labels while privileged, no_new_privs, then
/// the identity and capabilities, the working directory as that user, and
/// close-on-exec for every descriptor the process does not keep.
///
/// A seccomp filter goes on last when no_new_privs is set; otherwise the kernel
/// wants CAP_SYS_ADMIN for it, so it goes on before the capabilities are dropped.
pub fn finalize(process: &Process, preserve_fds: i32, filter: Option<&LinuxSeccomp>) -> Result<()> {
    let nnp = process.no_new_privileges() == Some(true);
    process_attrs::set_scheduler(process)?;
    process_attrs::set_io_priority(process)?;
    set_lsm_labels(process)?;
    set_no_new_privs(process)?;
    if let Some(f) = filter.filter(|_| !nnp) {
        seccomp::load(f)?;
    }
    set_identity(process)?;
    enter_cwd(process)?;
    keep_fds(preserve_fds)?;
    if let Some(f) = filter.filter(|_| nnp) {
        seccomp::load(f)?;
    }
    Ok(())
}

/// Apply `process.rlimits`.
pub fn set_rlimits(process: &Process) -> Result<()> {
    for rl in process.rlimits().iter().flatten() {
        let resource = rlimit_resource(rl.typ());
        let lim = libc::rlimit {
            rlim_cur: rl.soft(),
            rlim_max: rl.hard(),
        };
        // SAFETY: prlimit on ourselves with a valid rlimit struct that lives across the call.
        if unsafe { libc::prlimit(0, resource, &lim, std::ptr::null_mut()) } < 0 {
            let e = std::io::Error::last_os_error();
            let mut old = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: a read of our own limits into a struct that lives across the call.
            unsafe { libc::prlimit(0, resource, std::ptr::null(), &mut old) };
            return Err(e).ctx(|| {
                format!(
                    "set rlimit {:?} to soft {} hard {}: the hard limit is {}, and raising \
                     it needs CAP_SYS_RESOURCE on the host (which no ordinary user has)",
                    rl.typ(),
                    rl.soft(),
                    rl.hard(),
                    old.rlim_max
                )
            });
        }
    }
    Ok(())
}

fn rlimit_resource(t: PosixRlimitType) -> libc::__rlimit_resource_t {
    use PosixRlimitType::*;
    match t {
        RlimitCpu => libc::RLIMIT_CPU,
        RlimitFsize => libc::RLIMIT_FSIZE,
        RlimitData => libc::RLIMIT_DATA,
        RlimitStack => libc::RLIMIT_STACK,
        RlimitCore => libc::RLIMIT_CORE,
        RlimitRss => libc::RLIMIT_RSS,
        RlimitNproc => libc::RLIMIT_NPROC,
        RlimitNofile => libc::RLIMIT_NOFILE,
        RlimitMemlock => libc::RLIMIT_MEMLOCK,
        RlimitAs => libc::RLIMIT_AS,
        RlimitLocks => libc::RLIMIT_LOCKS,
        RlimitSigpending => libc::RLIMIT_SIGPENDING,
        RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitNice => libc::RLIMIT_NICE,
        RlimitRtprio => libc::RLIMIT_RTPRIO,
        RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

/// Write `process.oomScoreAdj`. Lowering it needs CAP_SYS_RESOURCE on the
/// host, which no process in a user namespace has: there a lower value is
/// refused by the kernel, and the process keeps the score it inherited, with
/// a warning (as Podman does for rootless containers).
pub fn set_oom_score_adj(process: &Process) -> Result<()> {
    const PATH: &str = "/proc/self/oom_score_adj";
    let Some(adj) = process.oom_score_adj() else {
        return Ok(());
    };
    match std::fs::write(PATH, adj.to_string()) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied && in_user_namespace() => {
            let current = std::fs::read_to_string(PATH).ctx(|| format!("read {PATH}"))?;
            crate::log::warn(&format!(
                "oomScoreAdj {adj} is below the inherited {}: lowering it needs \
                 CAP_SYS_RESOURCE on the host; kept {}",
                current.trim(),
                current.trim()
            ));
            Ok(())
        }
        r => r.ctx(|| format!("set oomScoreAdj {adj}")),
    }
}

/// Whether this process is in a user namespace other than the host's.
fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .map(|m| m.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
        .unwrap_or(false)
}

/// Become the process's user with its capabilities; supplementary groups are
/// left alone in a user namespace whose setgroups file says deny.
pub fn set_identity(process: &Process) -> Result<()> {
    let caps = Sets::from_spec(process.capabilities().as_ref())?;
    caps.apply_bounding()?;
    let user = process.user();
    let groups: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    if setgroups_allowed() {
        nix::unistd::setgroups(&groups).ctx(|| format!("setgroups {groups:?}"))?;
    }
    let (uid, gid) = (Uid::from_raw(user.uid()), Gid::from_raw(user.gid()));
    // SAFETY: prctl with integer arguments only; keeps permitted capabilities across setuid.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
    nix::unistd::setresgid(gid, gid, gid).ctx(|| format!("setgid {gid}"))?;
    nix::unistd::setresuid(uid, uid, uid).ctx(|| format!("setuid {uid}"))?;
    // SAFETY: as above.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    caps.apply()?;
    if let Some(mask) = user.umask() {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    } else {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    }
    Ok(())
}

fn setgroups_allowed() -> bool {
    std::fs::read_to_string("/proc/self/setgroups")
        .map(|s| s.trim() != "deny")
        .unwrap_or(true)
}

/// Set no_new_privs when the process asks for it.
pub fn set_no_new_privs(process: &Process) -> Result<()> {
    if process.no_new_privileges() == Some(true) {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } < 0 {
            return Err(std::io::Error::last_os_error()).ctx(|| "set no_new_privs".to_string());
        }
    }
    Ok(())
}

/// Label the next exec with the AppArmor profile or SELinux label, where the
/// host has that LSM; on a host without it the label is skipped, as crun does.
pub fn set_lsm_labels(process: &Process) -> Result<()> {
    if let Some(profile) = process
        .apparmor_profile()
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        if Path::new("/sys/kernel/security/apparmor").exists() {
            std::fs::write("/proc/self/attr/apparmor/exec", format!("exec {profile}"))
                .or_else(|_| std::fs::write("/proc/self/attr/exec", format!("exec {profile}")))
                .ctx(|| format!("set AppArmor profile {profile}"))?;
        }
    }
    if let Some(label) = process.selinux_label().as_deref().filter(|l| !l.is_empty()) {
        if Path::new("/sys/fs/selinux/enforce").exists() {
            std::fs::write("/proc/self/attr/exec", label)
                .ctx(|| format!("set SELinux label {label}"))?;
        }
    }
    Ok(())
}

/// Change to the process's working directory, which must exist and be
/// inside the container's root: a cwd reached through a leaked descriptor
/// (`/proc/self/fd/N`, CVE-2024-21626) is refused.
pub fn enter_cwd(process: &Process) -> Result<()> {
    let cwd = process.cwd();
    nix::unistd::chdir(cwd).ctx(|| format!("process.cwd {}", cwd.display()))?;
    match std::env::current_dir() {
        Ok(p) if p.is_absolute() => Ok(()),
        _ => Err(Error::Process(format!(
            "cwd {} is outside the container's root filesystem",
            cwd.display()
        ))),
    }
}

/// Make this process non-dumpable until it execs: no process in the container
/// may ptrace it, or read its memory, environment or /proc/PID/exe.
pub fn set_non_dumpable() -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } < 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "clear the dumpable flag".to_string());
    }
    Ok(())
}

/// Keep descriptors 0..3+extra open across exec; mark every other one close-on-exec.
pub fn keep_fds(extra: i32) -> Result<()> {
    for fd in 3..3 + extra {
        // SAFETY: fcntl on an integer descriptor; an unopened one just fails.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    }
    cloexec_from(3 + extra).ctx(|| "mark descriptors close-on-exec".to_string())
}

/// Marks every descriptor from `first` on close-on-exec: with one
/// close_range(2) where the kernel has `CLOSE_RANGE_CLOEXEC` (Linux 5.11),
/// else one fcntl(2) per descriptor number below the soft `RLIMIT_NOFILE`.
/// Makes no allocation, so a child forked from a process with threads may call it.
pub fn cloexec_from(first: i32) -> std::io::Result<()> {
    // SAFETY: close_range with integer arguments; CLOSE_RANGE_CLOEXEC only sets flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    if !matches!(err.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) {
        return Err(err);
    }
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into a struct that lives across the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let last = i32::try_from(limit.rlim_cur).unwrap_or(i32::MAX);
    for fd in first..last {
        // SAFETY: fcntl on an integer descriptor; an unopened one just fails.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

/// execve the prepared process; returns only on failure.
pub fn exec(p: &Prepared) -> Result<Infallible> {
    let err = nix::unistd::execve(&p.path, &p.argv, &p.envp).unwrap_err();
    Err(Error::Os {
        context: format!("exec {}", p.path.to_string_lossy()),
        source: err.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_through_path() {
        assert_eq!(
            find_executable("sh", "/nonexistent:/bin").unwrap(),
            Path::new("/bin/sh")
        );
        assert!(find_executable("no-such-tool-here", "/bin").is_err());
        assert!(find_executable("/etc", "").is_err());
    }
}
