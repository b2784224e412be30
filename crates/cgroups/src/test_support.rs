//! What the real-kernel tests share: a test cgroup that cleans up after
//! itself, and reading a cgroup file.

use std::path::Path;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::{open, Cgroup, FreezerState};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A test cgroup `/<prefix>-<pid>-<n><suffix>` plus the children placed in it.
/// Drop thaws, SIGKILLs every process left in the cgroup (all started by the
/// test), reaps the direct children and destroys the top directory.
pub(crate) struct TestCgroup {
    /// The top-level directory the test made.
    pub top: Box<dyn Cgroup>,
    /// The cgroup under test (`top` plus the suffix).
    pub cgroup: Box<dyn Cgroup>,
    /// Processes the test started.
    pub children: Vec<Child>,
}

impl TestCgroup {
    /// A fresh test cgroup, or None (after a note) when not root.
    pub fn new(prefix: &str, suffix: &str) -> Option<Self> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipping: real cgroup tests need root");
            return None;
        }
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let top = format!("/{prefix}-{}-{n}", std::process::id());
        Some(Self {
            cgroup: open(Path::new(&format!("{top}{suffix}"))).expect("open"),
            top: open(Path::new(&top)).expect("open"),
            children: Vec::new(),
        })
    }

    /// Start `command`, remembering it for cleanup; its pid.
    pub fn spawn(&mut self, command: &mut Command) -> i32 {
        let child = command.spawn().expect("spawn");
        let pid = i32::try_from(child.id()).expect("pid fits i32");
        self.children.push(child);
        pid
    }

    /// Stop and reap the children, so the cgroup can be removed.
    pub fn stop_children(&mut self) {
        for mut child in self.children.drain(..) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = self.cgroup.set_freezer(FreezerState::Thawed);
        let _ = crate::kill_all(self.top.as_ref(), libc::SIGKILL);
        self.stop_children();
        if let Err(e) = self.top.destroy() {
            eprintln!("cleanup of {}: {e}", self.top.path().display());
        }
    }
}

/// `sleep 600`, to have a process to place.
pub fn sleeper() -> Command {
    let mut command = Command::new("sleep");
    command.arg("600");
    command
}

/// A cgroup file's content, trimmed.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_owned()
}
