//! The runtime binary under test and a wrapper that gives each test its own `--root`.

use crate::guard::Container;
use crate::procs::{become_subreaper, reap_children, set_owned};
use std::cell::Cell;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use tempfile::TempDir;

/// The runtime binary: `$SKIFF_RUNTIME`, or `<workspace>/target/debug/skiff-runtime`.
pub fn runtime_binary() -> PathBuf {
    match std::env::var_os("SKIFF_RUNTIME") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace dir")
            .join("target/debug/skiff-runtime"),
    }
}

/// True (after printing a note) when the binary under test is not `skiff-runtime`,
/// so a test of skiff-specific behaviour should return early.
pub fn skip_skiff_checks() -> bool {
    let bin = runtime_binary();
    let skip = bin.file_name() != Some(OsStr::new("skiff-runtime"));
    if skip {
        eprintln!(
            "note: skipping skiff-specific checks: {} is not skiff-runtime",
            bin.display()
        );
    }
    skip
}

/// Bytes as text, lossily.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Panics with the command's output unless it succeeded.
pub fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed with {}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// A runtime command started in the background; see [`Runtime::spawn`].
pub struct Spawned {
    /// The runtime process.
    pub child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Spawned {
    fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid fits i32")
    }

    /// Waits for the runtime to exit and collects what it wrote. Meanwhile it reaps
    /// other exited children: a container process reparented to this harness may
    /// have to be reaped before the runtime can see its container stop (a pid
    /// namespace's init only finishes exiting once every other process in the
    /// namespace has been reaped).
    pub fn wait(mut self) -> Output {
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for runtime") {
                break status;
            }
            reap_children();
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        set_owned(self.pid(), false);
        let out = Output {
            status,
            stdout: fs::read(&self.out).unwrap_or_default(),
            stderr: fs::read(&self.err).unwrap_or_default(),
        };
        let _ = fs::remove_file(&self.out);
        let _ = fs::remove_file(&self.err);
        out
    }
}

/// The binary under test with a private state directory (`--root`). Creating one
/// makes this process a child subreaper.
pub struct Runtime {
    bin: PathBuf,
    root: TempDir,
    io: TempDir,
    seq: Cell<u32>,
}

impl Default for Runtime {
    fn default() -> Self {
        Self::new()
    }
}

impl Runtime {
    /// A runtime with a fresh, empty `--root`.
    pub fn new() -> Self {
        Self::with_binary(&runtime_binary())
    }

    /// A runtime driving `bin` instead of the binary under test (a copy of it, say).
    pub fn with_binary(bin: &Path) -> Self {
        become_subreaper();
        let tmp = |prefix: &str| {
            tempfile::Builder::new()
                .prefix(prefix)
                .tempdir()
                .expect("create temp dir")
        };
        Runtime {
            bin: bin.to_path_buf(),
            root: tmp("skiff-e2e-root."),
            io: tmp("skiff-e2e-io."),
            seq: Cell::new(0),
        }
    }

    /// The binary under test.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// The state directory passed as `--root`.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// A guard for a container named `t-<name>-<pid>`; see [`Container`].
    pub fn container(&self, name: &str) -> Container<'_> {
        Container::new(self, format!("t-{name}-{}", std::process::id()))
    }

    /// `<bin> --root <root> <args...>` with standard input from /dev/null.
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--root").arg(self.root.path()).args(args);
        cmd.stdin(Stdio::null());
        cmd
    }

    fn io_files(&self) -> (PathBuf, PathBuf) {
        let n = self.seq.get() + 1;
        self.seq.set(n);
        (
            self.io.path().join(format!("{n}.out")),
            self.io.path().join(format!("{n}.err")),
        )
    }

    /// Starts `cmd` with standard output and error going to files rather than pipes:
    /// a container that outlives the runtime inherits them, and a pipe would keep
    /// the reader waiting until the container exits.
    pub fn spawn(&self, mut cmd: Command) -> Spawned {
        let (out, err) = self.io_files();
        cmd.stdout(File::create(&out).expect("create stdout file"));
        cmd.stderr(File::create(&err).expect("create stderr file"));
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.bin.display()));
        let spawned = Spawned { child, out, err };
        set_owned(spawned.pid(), true);
        spawned
    }

    /// Runs `cmd` to completion; see [`Runtime::spawn`].
    pub fn output(&self, cmd: Command) -> Output {
        self.spawn(cmd).wait()
    }

    /// Runs `<bin> --root <root> <args...>` to completion.
    pub fn cli<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        self.output(self.command(args))
    }
}
