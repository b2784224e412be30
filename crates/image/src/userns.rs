//! An ordinary user's store ("rootless"): layer files belong to the ids the
//! user's user namespace maps, which only a process inside such a namespace
//! can give them or take them away.
//!
//! A process that is not root may `chown` nothing to a subordinate id, nor
//! remove a directory another id owns. So, once [`enable`]d, unpacking a
//! layer and removing a tree the user may not remove run in a helper: the
//! program named in [`enable`] (the `skiff` binary, whose `main` must hand
//! [`HELPER_ARG`] and the argument after it to [`helper_main`]) started
//! anew, which makes a user namespace of its own and has it mapped by
//! `newuidmap` and `newgidmap` with the user's ranges. Inside, it is root
//! over exactly the user's ids: file owner N in a layer becomes the host id
//! that N maps to.
//!
//! In a user namespace the unpacker writes overlay's attributes in the
//! `user.overlay.` namespace (the overlay is then mounted with `userxattr`)
//! and skips device nodes, which only the initial namespace's root may make
//! (as Docker and Podman do: a container's `/dev` comes from the runtime).

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::manifest::Compression;
use crate::unpack::UnpackStats;

/// The first argument that makes `skiff` the user namespace helper.
pub const HELPER_ARG: &str = "--skiff-userns-helper";

/// One line of a uid or gid map: `size` ids from `container` inside are
/// `host` and on outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRange {
    /// The first id inside the namespace.
    pub container: u32,
    /// The id it is on the host.
    pub host: u32,
    /// How many consecutive ids.
    pub size: u32,
}

/// The uid and gid maps of a user namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMaps {
    /// uid map lines.
    pub uids: Vec<IdRange>,
    /// gid map lines.
    pub gids: Vec<IdRange>,
}

/// The helper programs and maps a rootless store works with.
#[derive(Debug, Clone)]
pub struct Helper {
    /// The program started as the helper (with [`HELPER_ARG`]).
    pub exe: PathBuf,
    /// The maps its user namespace gets.
    pub maps: IdMaps,
    /// `newuidmap`.
    pub newuidmap: PathBuf,
    /// `newgidmap`.
    pub newgidmap: PathBuf,
}

static HELPER: OnceLock<Helper> = OnceLock::new();

/// Makes this process unpack layers and remove trees through `helper`
/// (once per process; later calls change nothing).
pub fn enable(helper: Helper) {
    let _ = HELPER.set(helper);
}

/// The helper, once [`enable`]d.
pub fn helper() -> Option<&'static Helper> {
    HELPER.get()
}

/// Whether this process is in a user namespace other than the initial one
/// (whose uid map is the identity over every id).
pub fn in_user_namespace() -> bool {
    static IN_USERNS: OnceLock<bool> = OnceLock::new();
    *IN_USERNS.get_or_init(|| {
        std::fs::read_to_string("/proc/self/uid_map")
            .is_ok_and(|map| map.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
    })
}

/// What the helper is asked to do.
#[derive(Debug, Serialize, Deserialize)]
enum Request {
    /// Unpack the layer on stdin into `dest`.
    Unpack { dest: PathBuf, compression: String },
    /// Remove the tree at `path`.
    Remove { path: PathBuf },
}

/// What an unpacking helper prints on success.
#[derive(Debug, Serialize, Deserialize)]
struct Unpacked {
    diff_id: Digest,
    size: u64,
    entries: u64,
}

fn compression_name(c: Compression) -> &'static str {
    match c {
        Compression::None => "none",
        Compression::Gzip => "gzip",
        Compression::Zstd => "zstd",
    }
}

fn compression_of(name: &str) -> Result<Compression> {
    match name {
        "none" => Ok(Compression::None),
        "gzip" => Ok(Compression::Gzip),
        "zstd" => Ok(Compression::Zstd),
        other => Err(Error::Other(format!("unknown compression {other:?}"))),
    }
}

/// A started helper, mapped and told to go.
struct Started {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Helper {
    /// Unpacks `blob` into `dest` inside the user namespace.
    pub fn unpack(
        &self,
        mut blob: impl Read,
        compression: Compression,
        dest: &Path,
    ) -> Result<UnpackStats> {
        let request = Request::Unpack {
            dest: dest.to_path_buf(),
            compression: compression_name(compression).into(),
        };
        let mut started = self.start(&request)?;
        if let Some(mut stdin) = started.stdin.take() {
            // A helper that stopped reading failed: its stderr says why.
            let _ = io::copy(&mut blob, &mut stdin);
        }
        let out = self.finish(started, "unpacking a layer")?;
        let done: Unpacked = serde_json::from_slice(&out)
            .map_err(|e| Error::Other(format!("the user namespace helper's report is bad: {e}")))?;
        Ok(UnpackStats {
            diff_id: done.diff_id,
            size: done.size,
            entries: done.entries,
        })
    }

    /// Removes the tree at `path` inside the user namespace.
    pub fn remove(&self, path: &Path) -> Result<()> {
        let started = self.start(&Request::Remove {
            path: path.to_path_buf(),
        })?;
        self.finish(started, "removing").map(drop)
    }

    /// Starts the helper, waits until it has its user namespace, maps it and
    /// tells it to go on.
    fn start(&self, request: &Request) -> Result<Started> {
        let json = serde_json::to_string(request).expect("a request serialises");
        let mut child = Command::new(&self.exe)
            .arg(HELPER_ARG)
            .arg(json)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io("starting the user namespace helper", &self.exe, e))?;
        let mut stdin = child.stdin.take();
        let mut ready = [0u8; 1];
        let unshared = child
            .stdout
            .as_mut()
            .map(|out| out.read_exact(&mut ready).is_ok() && ready == *b"R")
            .unwrap_or(false);
        let mapped = match unshared {
            true => self.map(child.id()),
            false => Err(Error::Other(
                "the user namespace helper could not make its namespace".into(),
            )),
        };
        if let Err(e) = mapped {
            drop(stdin);
            let out = child.wait_with_output();
            let why = out.map(|o| String::from_utf8_lossy(&o.stderr).trim().to_string());
            return Err(match why {
                Ok(why) if !why.is_empty() => Error::Other(format!("{e}: {why}")),
                _ => e,
            });
        }
        if let Some(s) = stdin.as_mut() {
            s.write_all(b"G")
                .map_err(|e| Error::io("starting the user namespace helper", &self.exe, e))?;
        }
        Ok(Started { child, stdin })
    }

    /// Waits for the helper; its stdout, or its stderr as the error.
    fn finish(&self, mut started: Started, what: &str) -> Result<Vec<u8>> {
        drop(started.stdin.take());
        let out = started
            .child
            .wait_with_output()
            .map_err(|e| Error::io("waiting for the user namespace helper", &self.exe, e))?;
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr);
            return Err(Error::Other(format!(
                "{what} in the user namespace: {}",
                why.trim()
            )));
        }
        Ok(out.stdout)
    }

    /// Writes the maps of process `pid`'s new user namespace (the helper's,
    /// or another process's that unshared one) with `newuidmap` and `newgidmap`.
    pub fn map(&self, pid: u32) -> Result<()> {
        for (program, ranges, file) in [
            (&self.newuidmap, &self.maps.uids, "/etc/subuid"),
            (&self.newgidmap, &self.maps.gids, "/etc/subgid"),
        ] {
            let mut args = vec![pid.to_string()];
            for r in ranges {
                args.extend([r.container, r.host, r.size].map(|n| n.to_string()));
            }
            let show = format!("{} {}", program.display(), args.join(" "));
            let out = Command::new(program)
                .args(&args)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| Error::Other(format!("cannot run {show}: {e}")))?;
            if !out.status.success() {
                return Err(Error::Other(format!(
                    "{show} failed ({}): {}; {file} must give the user the ids mapped",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
        }
        Ok(())
    }
}

/// The helper's life (see the [module documentation](self)): `arg` is the
/// argument after [`HELPER_ARG`]. Exits the process: 0 when done, 1 with
/// the reason on stderr.
pub fn helper_main(arg: &OsStr) -> ! {
    let code = match serve(arg) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    };
    std::process::exit(code)
}

fn serve(arg: &OsStr) -> Result<()> {
    let request: Request = serde_json::from_slice(arg.as_bytes())
        .map_err(|e| Error::Other(format!("{HELPER_ARG}: {e}")))?;
    // SAFETY: unshare with a flag only; this fresh process has one thread.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
        return Err(Error::Other(format!(
            "making a user namespace: {}",
            io::Error::last_os_error()
        )));
    }
    let mut stdout = io::stdout().lock();
    let said = stdout.write_all(b"R").and_then(|()| stdout.flush());
    said.map_err(|e| Error::Other(format!("telling the engine: {e}")))?;
    let mut input = io::stdin().lock();
    let mut go = [0u8; 1];
    if input.read_exact(&mut go).is_err() || go != *b"G" {
        return Err(Error::Other(
            "the engine did not map the user namespace".into(),
        ));
    }
    match request {
        Request::Unpack { dest, compression } => {
            let stats = crate::unpack::unpack_here(input, compression_of(&compression)?, &dest)?;
            let report = Unpacked {
                diff_id: stats.diff_id,
                size: stats.size,
                entries: stats.entries,
            };
            let json = serde_json::to_vec(&report).expect("a report serialises");
            stdout
                .write_all(&json)
                .map_err(|e| Error::Other(format!("reporting: {e}")))
        }
        Request::Remove { path } => crate::store::fsutil::remove_here(&path),
    }
}
