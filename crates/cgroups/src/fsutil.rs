//! Reading, writing, creating and removing cgroup files and directories, with
//! errors that name the path.

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::{Error, Result};

/// How long a freezer or removal may take before giving up.
pub(crate) const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// The error of `op` on `path`.
pub(crate) fn io(op: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Reads a cgroup file.
pub(crate) fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| io("read", path, e))
}

/// Writes `value` to an existing cgroup file in a single write.
pub(crate) fn write(path: &Path, value: &str) -> Result<()> {
    let fail = |source| Error::Write {
        path: path.to_path_buf(),
        value: value.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(fail)?;
    let written = file.write(value.as_bytes()).map_err(fail)?;
    if written != value.len() {
        return Err(fail(std::io::Error::new(
            ErrorKind::WriteZero,
            "short write",
        )));
    }
    Ok(())
}

/// `dir/file` when it exists; otherwise [`Error::Unsupported`] naming the file
/// and what it was needed for.
pub(crate) fn require(dir: &Path, file: &str, what: &str) -> Result<PathBuf> {
    let path = dir.join(file);
    if path.exists() {
        Ok(path)
    } else {
        Err(Error::Unsupported(format!(
            "{what} needs {}, which this host does not have",
            path.display()
        )))
    }
}

/// Writes `value` to `dir/file`, which must exist: a missing file is
/// [`Error::Unsupported`] as with [`require`], found by the open itself rather
/// than by a stat before it.
pub(crate) fn set(dir: &Path, file: &str, value: &str, what: &str) -> Result<()> {
    let path = dir.join(file);
    match write(&path, value) {
        Err(Error::Write { source, .. }) if source.kind() == ErrorKind::NotFound => {
            Err(Error::Unsupported(format!(
                "{what} needs {}, which this host does not have",
                path.display()
            )))
        }
        r => r,
    }
}

/// The first of `files` that exists in `dir`, or [`Error::Unsupported`].
pub(crate) fn first_existing(dir: &Path, files: &[&str], what: &str) -> Result<PathBuf> {
    files
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.exists())
        .ok_or_else(|| {
            Error::Unsupported(format!(
                "{what} needs one of {} in {}, which this host does not have",
                files.join(", "),
                dir.display()
            ))
        })
}

/// Creates one directory; an existing one is fine. Returns whether it was made.
pub(crate) fn mkdir(path: &Path) -> Result<bool> {
    match std::fs::create_dir(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io("mkdir", path, e)),
    }
}

/// Child cgroup directories of `dir`; none when `dir` is gone.
fn children(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("list", dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io("list", dir, e))?;
        let kind = entry
            .file_type()
            .map_err(|e| io("stat", &entry.path(), e))?;
        if kind.is_dir() {
            out.push(entry.path());
        }
    }
    Ok(out)
}

/// Removes the cgroup directory `dir` and every cgroup below it, leaf first.
/// A directory that is already gone is fine; one still busy with exiting
/// processes is retried until [`SETTLE_TIMEOUT`].
pub(crate) fn remove_tree(dir: &Path) -> Result<()> {
    for child in children(dir)? {
        remove_tree(&child)?;
    }
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e)
                if e.raw_os_error() == Some(libc::EBUSY) && started.elapsed() < SETTLE_TIMEOUT =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            Err(e) => return Err(io("rmdir", dir, e)),
        }
    }
}

/// Parses the pids in a `cgroup.procs` file.
pub(crate) fn parse_pids(path: &Path, text: &str) -> Result<Vec<i32>> {
    text.split_whitespace()
        .map(|word| {
            word.parse()
                .map_err(|_| Error::Invalid(format!("{}: {word:?} is not a pid", path.display())))
        })
        .collect()
}

/// Pids in `dir/cgroup.procs` and in every cgroup below `dir`.
pub(crate) fn procs_recursive(dir: &Path) -> Result<Vec<i32>> {
    let procs = dir.join("cgroup.procs");
    let mut pids = parse_pids(&procs, &read(&procs)?)?;
    for child in children(dir)? {
        pids.extend(procs_recursive(&child)?);
    }
    Ok(pids)
}

/// Calls `check` until it returns true or [`SETTLE_TIMEOUT`] passes, sleeping
/// a little longer each time; returns whether it became true.
pub(crate) fn wait_until(mut check: impl FnMut(u32) -> Result<bool>) -> Result<bool> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    let mut attempt = 0;
    while started.elapsed() < SETTLE_TIMEOUT {
        if check(attempt)? {
            return Ok(true);
        }
        attempt += 1;
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
    check(attempt)
}

/// An [`Error::Io`] saying `path` did not reach `state` in time.
pub(crate) fn timed_out(path: &Path, state: &str) -> Error {
    io(
        "wait",
        path,
        std::io::Error::new(
            ErrorKind::TimedOut,
            format!("did not reach {state} within {SETTLE_TIMEOUT:?}"),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pid_lists() {
        let p = Path::new("cgroup.procs");
        assert_eq!(parse_pids(p, "1\n22\n333\n").unwrap(), vec![1, 22, 333]);
        assert!(parse_pids(p, "").unwrap().is_empty());
        assert!(matches!(parse_pids(p, "1\nx\n"), Err(Error::Invalid(_))));
    }

    #[test]
    fn reports_missing_files_as_unsupported() {
        let err = require(Path::new("/nonexistent-dir"), "pids.max", "pids limit").unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent-dir/pids.max"),
            "{err}"
        );
        let err = first_existing(Path::new("/nonexistent-dir"), &["a", "b"], "x").unwrap_err();
        assert!(matches!(err, Error::Unsupported(_)));
        let err = set(Path::new("/nonexistent-dir"), "pids.max", "1", "pids limit").unwrap_err();
        assert!(matches!(err, Error::Unsupported(_)), "{err}");
        assert!(err.to_string().contains("pids limit needs"), "{err}");
    }

    #[test]
    fn write_error_names_file_and_value() {
        let err = write(Path::new("/nonexistent-dir/memory.max"), "123").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("/nonexistent-dir/memory.max") && text.contains("123"),
            "{text}"
        );
    }
}
