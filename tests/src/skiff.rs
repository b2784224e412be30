//! The `skiff` engine binary with a private store: each test gets its own
//! `--root` and `--runroot` under a temporary directory, removed (after
//! unmounting anything left under it) when the test ends, even by panic.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use crate::clients::{run, run_in_pty, unmount_under, Input, Ran};

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
        // Names the network DNS responders do not know go nowhere: no test
        // asks the host's resolver.
        cmd.env("SKIFF_DNS_UPSTREAM", "127.0.0.1:9");
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

    /// A fresh store with the busybox image (from Debian's busybox-static,
    /// see [`crate::busybox_rootfs`]) imported as `busybox`; `customise`
    /// may add files to its root filesystem first.
    pub fn with_busybox_customised(customise: impl FnOnce(&Path)) -> Skiff {
        let skiff = Skiff::new();
        let rootfs = crate::busybox_rootfs(skiff.dir());
        customise(&rootfs);
        let tar = skiff.dir().join("rootfs.tar");
        crate::tar_dir(&rootfs, &tar);
        skiff
            .run(&["import", tar.to_str().expect("utf-8"), "busybox"])
            .ok();
        skiff
    }

    /// A fresh store with the busybox image imported as `busybox`.
    pub fn with_busybox() -> Skiff {
        Skiff::with_busybox_customised(|_| {})
    }

    /// `skiff inspect NAME`'s document.
    #[track_caller]
    pub fn inspect(&self, name: &str) -> serde_json::Value {
        let ran = self.run(&["inspect", name]);
        ran.ok();
        let docs: serde_json::Value =
            serde_json::from_str(&ran.stdout).expect("inspect prints JSON");
        docs[0].clone()
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
    /// Removes what the store made outside its directory: containers (their
    /// processes, cgroups and veths), networks (bridges, nft tables, DNS
    /// responders), then the mounts under it.
    fn drop(&mut self) {
        let ids = self.run(&["ps", "-aq", "--no-trunc"]).stdout;
        for id in ids.split_whitespace() {
            self.run(&["rm", "-f", id]);
        }
        let networks = self.run(&["network", "ls", "-q"]).stdout;
        for name in networks.split_whitespace() {
            self.run(&["network", "rm", name]);
        }
        unmount_under(self.dir.path());
    }
}
