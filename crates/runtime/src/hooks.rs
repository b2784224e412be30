//! Lifecycle hooks: each runs with the container's state on stdin, its own
//! args and env, and an optional timeout.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

use crate::error::{Error, Result};

/// Run `hooks` in order; the first failure stops the rest and is returned.
pub fn run_all(kind: &str, hooks: Option<&Vec<Hook>>, state: &str) -> Result<()> {
    for (i, hook) in hooks.into_iter().flatten().enumerate() {
        run(hook, state).map_err(|e| {
            Error::Hook(format!(
                "{kind} hook #{i} ({}) failed: {e}",
                hook.path().display()
            ))
        })?;
    }
    Ok(())
}

fn run(hook: &Hook, state: &str) -> std::result::Result<(), String> {
    let mut cmd = Command::new(hook.path());
    let args = hook.args().as_deref().unwrap_or_default();
    if let Some((arg0, rest)) = args.split_first() {
        cmd.arg0(arg0).args(rest);
    }
    cmd.env_clear();
    for e in hook.env().iter().flatten() {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is not an error.
        let _ = stdin.write_all(state.as_bytes());
    }
    let deadline = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let mut pause = Duration::from_micros(200);
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return if status.success() {
                Ok(())
            } else {
                Err(format!("exited with {status}"))
            };
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {} s", hook.timeout().unwrap_or(0)));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}
