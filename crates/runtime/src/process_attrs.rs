//! Scheduling attributes of the process (scheduler policy, I/O priority) and
//! the execution domain of the container (personality). Each is applied with
//! its system call, and refused clearly when the kernel refuses it.

use oci_spec::runtime::{
    IOPriorityClass, LinuxPersonality, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, Process, Scheduler,
};

use crate::error::{Context, Error, Result};

/// Apply `linux.personality`.
pub fn set_personality(p: Option<&LinuxPersonality>) -> Result<()> {
    let Some(p) = p else { return Ok(()) };
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(Error::Spec(
            "linux.personality.flags are not supported (no flag is defined by the spec)".into(),
        ));
    }
    let persona: libc::c_ulong = match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    // SAFETY: personality takes an integer and touches no memory of ours.
    if unsafe { libc::personality(persona) } < 0 {
        return Err(std::io::Error::last_os_error())
            .ctx(|| format!("set personality {:?}", p.domain()));
    }
    Ok(())
}

/// Apply `process.ioPriority`.
pub fn set_io_priority(process: &Process) -> Result<()> {
    let Some(io) = process.io_priority() else {
        return Ok(());
    };
    let class: i64 = match io.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    if !(0..=7).contains(&io.priority()) {
        return Err(Error::Spec(format!(
            "process.ioPriority.priority {} is out of range 0..7",
            io.priority()
        )));
    }
    const IOPRIO_WHO_PROCESS: i64 = 1;
    let value = (class << 13) | io.priority();
    // SAFETY: ioprio_set takes integers only.
    if unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) } < 0 {
        return Err(std::io::Error::last_os_error())
            .ctx(|| format!("set ioPriority {:?} {}", io.class(), io.priority()));
    }
    Ok(())
}

#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

/// Apply `process.scheduler` with sched_setattr(2).
pub fn set_scheduler(process: &Process) -> Result<()> {
    let Some(s) = process.scheduler() else {
        return Ok(());
    };
    let attr = sched_attr(s);
    // SAFETY: sched_setattr reads attr.size bytes from `attr`, which lives across the call.
    if unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) } < 0 {
        return Err(std::io::Error::last_os_error())
            .ctx(|| format!("set scheduler {:?}", s.policy()));
    }
    Ok(())
}

fn sched_attr(s: &Scheduler) -> SchedAttr {
    use LinuxSchedulerPolicy::*;
    let policy = match s.policy() {
        SchedOther => 0,
        SchedFifo => 1,
        SchedRr => 2,
        SchedBatch => 3,
        SchedIso => 4,
        SchedIdle => 5,
        SchedDeadline => 6,
    };
    let flags = s.flags().iter().flatten().fold(0u64, |acc, f| {
        acc | match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        }
    });
    SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy,
        flags,
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sched_attr_layout_and_values() {
        assert_eq!(std::mem::size_of::<SchedAttr>(), 48);
        let s: Scheduler = serde_json::from_str(
            r#"{"policy":"SCHED_BATCH","nice":5,"flags":["SCHED_RESET_ON_FORK"]}"#,
        )
        .unwrap();
        let a = sched_attr(&s);
        assert_eq!((a.policy, a.nice, a.flags), (3, 5, 1));
    }
}
