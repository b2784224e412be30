//! An ordinary user made for one test ("rootless" tests): `useradd` gives it a
//! home and, as Debian's `useradd` does for every new user, 65536 subordinate
//! uids and gids; dropping it ends what it left running and removes it with
//! its home, its subordinate ranges and its fallback state roots.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{lchown, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::procs::{reap_children, wait_until};
use crate::runtime::{assert_ok, text};

/// An ordinary user made for one test; dropping it ends what it left running
/// and removes it with its home (`userdel -r`) and its fallback state root.
pub struct User {
    /// The login name.
    pub name: String,
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
    /// Its home directory.
    pub home: PathBuf,
}

/// Runs `useradd`/`userdel`, retrying while another test holds the lock on
/// /etc/passwd (they fail at once rather than wait for it).
pub fn account_tool(program: &str, args: &[&str]) -> Output {
    let mut tries = 0;
    loop {
        let out = Command::new(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {program}: {e}"));
        let busy = text(&out.stderr).contains("lock");
        if out.status.success() || !busy || tries == 100 {
            return out;
        }
        tries += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl User {
    /// A new user named from `tag` and this process's pid.
    pub fn new(tag: &str) -> User {
        let name = format!("skrl{tag}{}", std::process::id());
        let out = account_tool("useradd", &["--create-home", "--user-group", &name]);
        assert_ok(&out, "useradd");
        let id = |flag: &str| -> u32 {
            let out = Command::new("id").args([flag, &name]).output().expect("id");
            assert_ok(&out, "id");
            text(&out.stdout).trim().parse().expect("a numeric id")
        };
        let (uid, gid) = (id("-u"), id("-g"));
        User {
            home: PathBuf::from(format!("/home/{name}")),
            name,
            uid,
            gid,
        }
    }

    /// The user's runtime directory, made on first use (its `XDG_RUNTIME_DIR`).
    pub fn xdg_runtime_dir(&self) -> PathBuf {
        let dir = self.home.join("run");
        if !dir.exists() {
            fs::create_dir(&dir).expect("mkdir XDG_RUNTIME_DIR");
            lchown(&dir, Some(self.uid), Some(self.gid)).expect("chown XDG_RUNTIME_DIR");
            fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .expect("chmod XDG_RUNTIME_DIR");
        }
        dir
    }

    /// `program args...` as this user, with a clean environment that has
    /// `XDG_RUNTIME_DIR` when `xdg`.
    pub fn command<S: AsRef<OsStr>>(&self, xdg: bool, program: &Path, args: &[S]) -> Command {
        self.command_in(&[], xdg, program, args)
    }

    /// Like [`User::command`], started (as root, before it becomes the user) in
    /// the cgroups whose `cgroup.procs` files are `procs`.
    pub fn command_in<S: AsRef<OsStr>>(
        &self,
        procs: &[PathBuf],
        xdg: bool,
        program: &Path,
        args: &[S],
    ) -> Command {
        let procs: Vec<String> = procs.iter().map(|p| p.display().to_string()).collect();
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(r#"for f in $SKIFF_E2E_PROCS; do echo $$ > "$f" || exit 1; done; exec "$@""#)
            .arg("sh")
            .arg("setpriv")
            .arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--init-groups")
            .arg("--")
            .arg(program)
            .args(args)
            .env_clear()
            .env("SKIFF_E2E_PROCS", procs.join(" "))
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("HOME", &self.home)
            .env("USER", &self.name)
            .current_dir(&self.home)
            .stdin(Stdio::null());
        if xdg {
            cmd.env("XDG_RUNTIME_DIR", self.xdg_runtime_dir());
        }
        cmd
    }

    /// The first subordinate id `file` (`/etc/subuid`, `/etc/subgid`) gives
    /// the user, and how many.
    pub fn subordinate(&self, file: &str) -> (u32, u32) {
        let text = fs::read_to_string(file).expect("read the subordinate id file");
        let line = text
            .lines()
            .find(|l| l.split(':').next() == Some(self.name.as_str()))
            .unwrap_or_else(|| panic!("useradd gave {} no range in {file}", self.name));
        let field = |n: usize| {
            line.split(':')
                .nth(n)
                .expect("a field")
                .parse()
                .expect("a number")
        };
        (field(1), field(2))
    }

    /// Pids of the processes that run as this user.
    pub fn processes(&self) -> Vec<i32> {
        let Ok(entries) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let pid: i32 = e.file_name().to_str()?.parse().ok()?;
                let meta = e.metadata().ok()?;
                (meta.uid() == self.uid).then_some(pid)
            })
            .collect()
    }

    /// Pids of this user's processes whose command name is `comm`.
    pub fn processes_named(&self, comm: &str) -> Vec<i32> {
        self.processes()
            .into_iter()
            .filter(|pid| {
                fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
            })
            .collect()
    }

    /// Waits until no process runs as this user, reaping what exits.
    pub fn wait_for_no_processes(&self) {
        wait_until("the test user's processes to end", || {
            reap_children();
            self.processes().is_empty()
        });
    }
}

impl Drop for User {
    fn drop(&mut self) {
        for pid in self.processes() {
            // SAFETY: kill(2) with plain integers; these are the test user's processes.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        self.wait_for_no_processes();
        for fallback in ["skiff-runtime", "skiff-run"] {
            let _ = fs::remove_dir_all(format!("/tmp/{fallback}-{}", self.uid));
        }
        let out = account_tool("userdel", &["--remove", &self.name]);
        if !out.status.success() && !std::thread::panicking() {
            panic!("userdel {}: {}", self.name, text(&out.stderr));
        }
    }
}
