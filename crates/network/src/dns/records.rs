//! The names a network's DNS responder answers for, in
//! `ROOT/dns/<network>.json`, changed under `<file>.lock` and written
//! atomically, so the responder (which re-reads the file when it changes)
//! never sees half a change.

use std::fs::File;
use std::net::IpAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil::{read_json, write_json_atomic};

/// One container's names and addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The container the names belong to.
    pub container_id: String,
    /// Its names (name, short id, aliases), matched without regard to case.
    pub names: Vec<String>,
    /// Its addresses on the network.
    pub ips: Vec<IpAddr>,
}

/// A network's records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Records {
    /// Every container's record.
    pub records: Vec<Record>,
}

impl Records {
    /// Reads the records file; a missing one has no records.
    pub fn load(path: &Path) -> Result<Records> {
        Ok(read_json(path)?.unwrap_or_default())
    }

    /// The addresses of `name` (case-insensitive, a trailing dot ignored);
    /// `None` when no container has that name.
    pub fn lookup(&self, name: &str) -> Option<Vec<IpAddr>> {
        let name = name.strip_suffix('.').unwrap_or(name);
        let ips: Vec<IpAddr> = self
            .records
            .iter()
            .filter(|r| r.names.iter().any(|n| n.eq_ignore_ascii_case(name)))
            .flat_map(|r| r.ips.iter().copied())
            .collect();
        (!ips.is_empty()).then_some(ips)
    }
}

fn change(path: &Path, f: impl FnOnce(&mut Records)) -> Result<()> {
    let lock_path = path.with_extension("lock");
    let lock = File::create(&lock_path).map_err(|e| Error::io("creating", &lock_path, e))?;
    lock.lock()
        .map_err(|e| Error::io("locking", &lock_path, e))?;
    let mut records = Records::load(path)?;
    f(&mut records);
    write_json_atomic(path, &records)
}

/// Adds (or replaces) the record of `record.container_id`.
pub fn add(path: &Path, record: Record) -> Result<()> {
    change(path, |r| {
        r.records.retain(|x| x.container_id != record.container_id);
        r.records.push(record);
    })
}

/// Removes the record of `container_id`; none is not an error.
pub fn remove(path: &Path, container_id: &str) -> Result<()> {
    change(path, |r| {
        r.records.retain(|x| x.container_id != container_id)
    })
}
