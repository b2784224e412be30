//! The `skiff` engine binary with a private store: each test gets its own
//! `--root` and `--runroot` under a temporary directory, removed (after
//! unmounting anything left under it) when the test ends, even by panic.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use crate::clients::{busybox_rootfs, run, run_in_pty, tar_dir, unmount_under, Input, Ran};

/// The engine binary: `$SKIFF`, or `<workspace>/target/debug/skiff`.
pub fn skiff_binary() -> PathBuf {
    match std::env::var_os("SKIFF") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace dir")
            .join("target/debug/skiff"),
    }
}

/// A private skiff installation.
pub struct Skiff {
    dir: TempDir,
}

impl Skiff {
    /// A fresh, empty store.
    pub fn new() -> Skiff {
        let dir = tempfile::Builder::new()
            .prefix("skiff-e2e-")
            .tempdir_in("/tmp")
            .expect("temp dir");
        Skiff { dir }
    }

    /// A fresh store with the busybox image imported as `busybox`.
    pub fn with_busybox() -> Skiff {
        let skiff = Skiff::new();
        let rootfs = busybox_rootfs(skiff.dir());
        let tar = skiff.dir().join("rootfs.tar");
        tar_dir(&rootfs, &tar);
        skiff
            .run(&["import", tar.to_str().unwrap(), "busybox"])
            .ok();
        skiff
    }

    /// The scratch directory (the store lives in `root/` under it).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The `--root`.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// A `skiff` command with this installation's flags, and `args`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(skiff_binary());
        cmd.arg("--root")
            .arg(self.root())
            .arg("--runroot")
            .arg(self.dir.path().join("run"))
            .arg("--authfile")
            .arg(self.dir.path().join("auth.json"))
            .args(args);
        cmd
    }

    /// Runs `skiff args...` with nothing on stdin.
    pub fn run(&self, args: &[&str]) -> Ran {
        run(&mut self.command(args), Input::Null)
    }

    /// Runs `skiff args...` with `input` on stdin.
    pub fn run_with_input(&self, args: &[&str], input: &[u8]) -> Ran {
        run(&mut self.command(args), Input::Bytes(input))
    }

    /// Runs `skiff args...` on a fresh pseudo-terminal (stdin, stdout and
    /// stderr), its output read as stdout.
    pub fn run_on_terminal(&self, args: &[&str]) -> Ran {
        let cmd = self.command(args);
        let mut argv = vec![cmd.get_program().to_string_lossy().into_owned()];
        argv.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
        run_in_pty(&argv, &[])
    }

    /// Runs each command and checks that it fails with its stderr naming
    /// what was wrong.
    #[track_caller]
    pub fn expect_failures(&self, cases: &[(Vec<&str>, &str)]) {
        for (args, want) in cases {
            let ran = self.run(args);
            assert_ne!(ran.code, Some(0), "{args:?} succeeded");
            assert!(
                ran.stderr.contains(want),
                "{args:?}: stderr lacks {want:?}: {}",
                ran.stderr
            );
        }
    }

    /// Entries of a store directory (`image/layers`, `image/tmp`, ...).
    pub fn store_entries(&self, sub: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.root().join(sub))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

impl Default for Skiff {
    fn default() -> Self {
        Skiff::new()
    }
}

impl Drop for Skiff {
    fn drop(&mut self) {
        unmount_under(self.dir.path());
    }
}
