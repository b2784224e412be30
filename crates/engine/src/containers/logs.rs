//! Container logs in Docker's json-file format: one JSON object per line,
//! `{"log": "...", "stream": "stdout", "time": "RFC 3339"}`, rotated at a
//! size into `container.log.1`, `.2`, ... and read back in order.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The log file's name in the container's directory.
pub const LOG_FILE: &str = "container.log";

/// One logged chunk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// The text, including its newline when it had one.
    pub log: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// When it was read (RFC 3339 with nanoseconds).
    pub time: String,
}

/// Appends to a container's log, rotating by size.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    max_files: u32,
    partial: [Vec<u8>; 2],
}

impl LogWriter {
    /// Opens the log in `dir` for appending.
    pub fn open(dir: &Path, max_size: u64, max_files: u32) -> Result<LogWriter> {
        let path = dir.join(LOG_FILE);
        let file = open_append(&path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(LogWriter {
            path,
            file,
            size,
            max_size,
            max_files: max_files.max(1),
            partial: [vec![], vec![]],
        })
    }

    /// Logs `bytes` read from stream 0 (stdout) or 1 (stderr): each complete
    /// line is one entry; a trailing partial line waits for its end.
    pub fn write(&mut self, stream: usize, bytes: &[u8]) -> Result<()> {
        self.partial[stream].extend_from_slice(bytes);
        while let Some(end) = self.partial[stream].iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial[stream].drain(..=end).collect();
            self.entry(stream, &line)?;
        }
        Ok(())
    }

    /// Logs what is left of partial lines (at the end of the streams).
    pub fn flush(&mut self) -> Result<()> {
        for stream in 0..2 {
            let rest = std::mem::take(&mut self.partial[stream]);
            if !rest.is_empty() {
                self.entry(stream, &rest)?;
            }
        }
        Ok(())
    }

    fn entry(&mut self, stream: usize, text: &[u8]) -> Result<()> {
        let entry = Entry {
            log: String::from_utf8_lossy(text).into_owned(),
            stream: if stream == 0 { "stdout" } else { "stderr" }.into(),
            time: skiff_timestamp::now_rfc3339(),
        };
        let mut line = serde_json::to_vec(&entry).expect("an entry serialises");
        line.push(b'\n');
        if self.max_size > 0 && self.size + line.len() as u64 > self.max_size && self.size > 0 {
            self.rotate()?;
        }
        self.file
            .write_all(&line)
            .map_err(|e| Error::Io(format!("writing {}", self.path.display()), e))?;
        self.size += line.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> Result<()> {
        let keep = self.max_files - 1;
        if keep == 0 {
            self.file
                .set_len(0)
                .map_err(|e| Error::Io("truncating the log".into(), e))?;
            self.size = 0;
            return Ok(());
        }
        let _ = fs::remove_file(rotated(&self.path, keep));
        for n in (1..keep).rev() {
            let _ = fs::rename(rotated(&self.path, n), rotated(&self.path, n + 1));
        }
        fs::rename(&self.path, rotated(&self.path, 1))
            .map_err(|e| Error::Io(format!("rotating {}", self.path.display()), e))?;
        self.file = open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::Io(format!("opening {}", path.display()), e))
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// Every entry of the log in `dir`, oldest first (rotated files included).
pub fn read_all(dir: &Path) -> Result<Vec<Entry>> {
    let path = dir.join(LOG_FILE);
    let mut files: Vec<PathBuf> = (1..100)
        .map(|n| rotated(&path, n))
        .filter(|p| p.exists())
        .collect();
    files.reverse();
    files.push(path);
    let mut out = Vec::new();
    for file in files {
        out.extend(read_from(&file, 0)?.0);
    }
    Ok(out)
}

/// The entries of one log file from byte `offset`, and the offset after the
/// last complete line (for following a log as it grows).
pub fn read_from(path: &Path, offset: u64) -> Result<(Vec<Entry>, u64)> {
    use std::io::Seek;
    let Ok(mut file) = File::open(path) else {
        return Ok((Vec::new(), offset));
    };
    file.seek(std::io::SeekFrom::Start(offset))
        .map_err(|e| Error::Io(format!("reading {}", path.display()), e))?;
    let mut reader = BufReader::new(file);
    let mut entries = Vec::new();
    let mut pos = offset;
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| Error::Io(format!("reading {}", path.display()), e))?;
        if n == 0 || !line.ends_with('\n') {
            return Ok((entries, pos));
        }
        pos += n as u64;
        if let Ok(entry) = serde_json::from_str(&line) {
            entries.push(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_partials_and_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = LogWriter::open(dir.path(), 300, 3).unwrap();
        w.write(0, b"one\ntw").unwrap();
        w.write(1, b"err\n").unwrap();
        w.write(0, b"o\n").unwrap();
        let all = read_all(dir.path()).unwrap();
        let logs: Vec<&str> = all.iter().map(|e| e.log.as_str()).collect();
        assert_eq!(logs, ["one\n", "err\n", "two\n"]);
        assert_eq!(all[1].stream, "stderr");
        for i in 0..20 {
            w.write(0, format!("line {i}\n").as_bytes()).unwrap();
        }
        w.write(0, b"tail").unwrap();
        w.flush().unwrap();
        let all = read_all(dir.path()).unwrap();
        assert_eq!(all.last().unwrap().log, "tail");
        assert!(all.iter().any(|e| e.log == "line 19\n"));
        assert!(
            !dir.path().join("container.log.3").exists(),
            "at most 3 files"
        );
        assert!(dir.path().join("container.log.2").exists());
    }
}
