//! Building the libseccomp filter from a profile, and loading it.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use libseccomp::error::SeccompError;
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, LinuxSyscall,
};

use super::checks;
use crate::error::{Error, Result};

/// Largest errno the kernel passes back for `SECCOMP_RET_ERRNO` (MAX_ERRNO).
const MAX_ERRNO: u32 = 4095;

/// libseccomp's optimisation level: 2 lays the system calls out as a
/// binary tree. Docker's profile over its three x86 ABIs then loads in
/// 0.5 ms instead of 1.3 ms (the kernel translates and JITs the program on
/// every load) and is searched in log n steps on every system call.
pub(super) const OPTIMIZE: u32 = 2;

/// Number of arguments a system call has, hence of valid argument indexes.
const SYSCALL_ARGS: u32 = 6;

/// A filter built from a profile, ready to load.
pub(super) struct Filter {
    ctx: ScmpFilterContext,
    /// Some rule with SCMP_ACT_NOTIFY made it into the filter.
    notify: bool,
}

/// Check the profile and build its filter without loading it.
pub(super) fn build(s: &LinuxSeccomp) -> Result<Filter> {
    checks::check(s)?;
    let default = action(
        s.default_action(),
        s.default_errno_ret(),
        "linux.seccomp.defaultErrnoRet",
    )?;
    let mut ctx = ScmpFilterContext::new(default).map_err(|e| os("create a seccomp filter", e))?;
    // no_new_privs is the spec's `process.noNewPrivileges`, set by the caller;
    // libseccomp would otherwise set it on every load.
    ctx.set_ctl_nnp(false)
        .and_then(|c| c.set_api_sysrawrc(true))
        .and_then(|c| c.set_ctl_optimize(OPTIMIZE))
        .map_err(|e| os("set the seccomp filter's attributes", e))?;
    add_arches(&mut ctx, s)?;
    set_flags(&mut ctx, s)?;
    let mut notify = false;
    for (i, sc) in s.syscalls().iter().flatten().enumerate() {
        notify |= add_syscall(
            &mut ctx,
            &format!("linux.seccomp.syscalls[{i}]"),
            sc,
            default,
        )?;
    }
    Ok(Filter { ctx, notify })
}

impl Filter {
    /// Write the compiled BPF program to `fd`.
    pub(super) fn export(&self, fd: std::os::fd::RawFd) -> Result<()> {
        // SAFETY: the caller owns `fd` for the duration of the call.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        self.ctx
            .export_bpf(fd)
            .map_err(|e| os("export the seccomp program", e))
    }

    /// Load the filter into the calling thread; the listener fd if any rule notifies.
    pub(super) fn load(self) -> Result<Option<OwnedFd>> {
        self.ctx.load().map_err(|e| {
            os(
                "load the seccomp filter (without no_new_privs this needs CAP_SYS_ADMIN)",
                e,
            )
        })?;
        if !self.notify {
            return Ok(None);
        }
        let fd = self
            .ctx
            .get_notify_fd()
            .map_err(|e| os("get the seccomp notify descriptor", e))?;
        // SAFETY: the kernel made this listener descriptor for the load above and
        // libseccomp only remembers its number: it closes it only when its global
        // state is reset, which this crate never does. We are its sole owner.
        Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
    }
}

/// A libseccomp failure as an OS error, with the kernel's errno where known.
fn os(what: &str, e: SeccompError) -> Error {
    let source = match e.sysrawrc() {
        Some(rc) => io::Error::from_raw_os_error(-rc),
        None => io::Error::other(e.to_string()),
    };
    Error::Os {
        context: what.to_string(),
        source,
    }
}

/// The libseccomp action for an OCI action; `errno_field` names the errnoRet
/// field for messages. ERRNO and TRACE default to EPERM, as the spec says.
fn action(act: LinuxSeccompAction, errno: Option<u32>, errno_field: &str) -> Result<ScmpAction> {
    use LinuxSeccompAction as A;
    Ok(match (act, errno) {
        (A::ScmpActErrno, e) => ScmpAction::Errno(errno_value(e, MAX_ERRNO, errno_field)?.into()),
        (A::ScmpActTrace, e) => ScmpAction::Trace(errno_value(e, u16::MAX.into(), errno_field)?),
        (_, Some(_)) => {
            return Err(Error::Spec(format!(
                "{errno_field}: {act} takes no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)"
            )))
        }
        (A::ScmpActKill | A::ScmpActKillThread, None) => ScmpAction::KillThread,
        (A::ScmpActKillProcess, None) => ScmpAction::KillProcess,
        (A::ScmpActTrap, None) => ScmpAction::Trap,
        (A::ScmpActNotify, None) => ScmpAction::Notify,
        (A::ScmpActLog, None) => ScmpAction::Log,
        (A::ScmpActAllow, None) => ScmpAction::Allow,
    })
}

fn errno_value(value: Option<u32>, max: u32, field: &str) -> Result<u16> {
    let v = value.unwrap_or(libc::EPERM.unsigned_abs());
    u16::try_from(v)
        .ok()
        .filter(|_| v <= max)
        .ok_or_else(|| Error::Spec(format!("{field}: {v} is out of range (0 to {max})")))
}

fn add_arches(ctx: &mut ScmpFilterContext, s: &LinuxSeccomp) -> Result<()> {
    for (i, a) in s.architectures().iter().flatten().enumerate() {
        ctx.add_arch(arch(*a)).map_err(|e| {
            Error::Spec(format!(
                "linux.seccomp.architectures[{i}]: {a} is not supported by this libseccomp: {e}"
            ))
        })?;
    }
    Ok(())
}

fn arch(a: Arch) -> ScmpArch {
    match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

fn set_flags(ctx: &mut ScmpFilterContext, s: &LinuxSeccomp) -> Result<()> {
    use LinuxSeccompFilterFlag as F;
    for (i, f) in s.flags().iter().flatten().enumerate() {
        let r = match f {
            F::SeccompFilterFlagTsync => ctx.set_ctl_tsync(true),
            F::SeccompFilterFlagLog => ctx.set_ctl_log(true),
            F::SeccompFilterFlagSpecAllow => ctx.set_ctl_ssb(true),
            F::SeccompFilterFlagWaitKillableRecv => ctx.set_ctl_waitkill(true),
        };
        r.map_err(|e| {
            Error::Spec(format!(
                "linux.seccomp.flags[{i}]: {f} is not supported by this kernel or libseccomp: {e}"
            ))
        })?;
    }
    Ok(())
}

/// Add one OCI rule; true if it added a rule that notifies. Names libseccomp
/// does not know are skipped, and so is a rule whose action is the default.
fn add_syscall(
    ctx: &mut ScmpFilterContext,
    field: &str,
    sc: &LinuxSyscall,
    default: ScmpAction,
) -> Result<bool> {
    let act = action(sc.action(), sc.errno_ret(), &format!("{field}.errnoRet"))?;
    let rules = rule_conditions(field, sc.args().as_deref().unwrap_or_default())?;
    if act == default {
        return Ok(false);
    }
    let mut added = false;
    for name in sc.names() {
        let Ok(nr) = ScmpSyscall::from_name(name) else {
            continue;
        };
        for conditions in &rules {
            ctx.add_rule_conditional(act, nr, conditions)
                .map_err(|e| Error::Spec(format!("{field}: cannot add a rule for {name}: {e}")))?;
        }
        added = true;
    }
    Ok(added && act == ScmpAction::Notify)
}

/// The libseccomp rules for one OCI rule's `args`, each a list of conditions
/// that must all hold. Conditions on distinct arguments make one rule (AND);
/// when an argument index repeats, each condition is a rule of its own (OR),
/// as runc does. No `args` make one unconditional rule.
fn rule_conditions(field: &str, args: &[LinuxSeccompArg]) -> Result<Vec<Vec<ScmpArgCompare>>> {
    let conditions = args
        .iter()
        .enumerate()
        .map(|(j, a)| condition(&format!("{field}.args[{j}]"), a))
        .collect::<Result<Vec<_>>>()?;
    let repeated = args
        .iter()
        .enumerate()
        .any(|(j, a)| args[..j].iter().any(|b| b.index() == a.index()));
    Ok(match repeated {
        true => conditions.into_iter().map(|c| vec![c]).collect(),
        false => vec![conditions],
    })
}

/// One argument condition. For MASKED_EQ, `value` is the mask and `valueTwo`
/// the value the masked argument must equal.
fn condition(field: &str, a: &LinuxSeccompArg) -> Result<ScmpArgCompare> {
    use LinuxSeccompOperator as O;
    let index = u32::try_from(a.index())
        .ok()
        .filter(|i| *i < SYSCALL_ARGS)
        .ok_or_else(|| {
            Error::Spec(format!(
                "{field}.index: {} is out of range (0 to {})",
                a.index(),
                SYSCALL_ARGS - 1
            ))
        })?;
    let op = match a.op() {
        O::ScmpCmpNe => ScmpCompareOp::NotEqual,
        O::ScmpCmpLt => ScmpCompareOp::Less,
        O::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        O::ScmpCmpEq => ScmpCompareOp::Equal,
        O::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        O::ScmpCmpGt => ScmpCompareOp::Greater,
        O::ScmpCmpMaskedEq => {
            let datum = a.value_two().unwrap_or(0);
            return Ok(ScmpArgCompare::new(
                index,
                ScmpCompareOp::MaskedEqual(a.value()),
                datum,
            ));
        }
    };
    Ok(ScmpArgCompare::new(index, op, a.value()))
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
