//! `top`: the processes of a running container, from its runtime's list of
//! pids and what /proc says about each.

use super::driver::Driver;
use super::record::Status;
use crate::{Engine, Error, Result};

/// One process of a container, as `ps -ef` would show it on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// Its real user id on the host.
    pub uid: u32,
    /// Its pid on the host.
    pub pid: i32,
    /// Its parent's pid on the host.
    pub ppid: i32,
    /// CPU time used (user and system), in seconds.
    pub cpu_seconds: u64,
    /// Its command line, or its name in brackets when it has none.
    pub cmd: String,
}

impl Engine {
    /// The processes of running container `what`, by pid.
    pub fn top(&self, what: &str) -> Result<Vec<Process>> {
        let view = self.container(what)?;
        if !matches!(view.state.status, Status::Running | Status::Paused) {
            return Err(Error::Conflict(format!(
                "container {} is not running",
                view.config.name
            )));
        }
        let driver = Driver::new(&self.options.runroot, &view.config.runtime);
        let mut procs: Vec<Process> = driver
            .pids(&view.config.id)?
            .into_iter()
            // A process that ended since the list was made is not shown.
            .filter_map(process)
            .collect();
        procs.sort_by_key(|p| p.pid);
        Ok(procs)
    }
}

/// What /proc says about `pid`, if it still exists.
fn process(pid: i32) -> Option<Process> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name is in parentheses and may hold anything: fields follow the last ')'.
    let (head, rest) = stat.rsplit_once(')')?;
    let comm = head.split_once('(')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let ticks = clock_ticks();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|u| u.parse().ok())?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    Some(Process {
        uid,
        pid,
        ppid: num(1)? as i32,
        cpu_seconds: (num(11)? + num(12)?) / ticks,
        cmd: match args.is_empty() {
            true => format!("[{comm}]"),
            false => args.join(" "),
        },
    })
}

/// Clock ticks per second, the unit of /proc's times.
fn clock_ticks() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(t).ok().filter(|t| *t > 0).unwrap_or(100)
}
