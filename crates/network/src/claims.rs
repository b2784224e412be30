//! Host-wide subnet claims. A network's subnet only shows up as a route
//! once its bridge exists, so two stores on one host (the system's and a
//! test's, say) creating networks at the same moment could both pick the
//! same free-looking subnet. Each network claims its subnet with a file
//! made exclusively under `/run/skiff-subnets/` (IPv6 ones too), naming the store's
//! network; a claim whose network no longer exists is stale and taken over.

use std::fmt::Display;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where the claims live (tmpfs: they end with the host's networks).
const CLAIMS: &str = "/run/skiff-subnets";

fn claim_path(subnet: &dyn Display) -> PathBuf {
    Path::new(CLAIMS).join(subnet.to_string().replace('/', "_"))
}

/// Claims `subnet` (IPv4 or IPv6) for the network whose config file is `owner`; false
/// when a live network holds it.
pub fn claim(subnet: &dyn Display, owner: &Path) -> Result<bool> {
    fs::create_dir_all(CLAIMS).map_err(|e| Error::io("creating", CLAIMS, e))?;
    let path = claim_path(subnet);
    for _ in 0..2 {
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                f.write_all(owner.as_os_str().as_encoded_bytes())
                    .map_err(|e| Error::io("writing", &path, e))?;
                return Ok(true);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = fs::read_to_string(&path).unwrap_or_default();
                if holder == owner.to_string_lossy() {
                    return Ok(true);
                }
                if !stale(&path, Path::new(&holder)) {
                    return Ok(false);
                }
                let _ = fs::remove_file(&path);
            }
            Err(e) => return Err(Error::io("claiming", &path, e)),
        }
    }
    Ok(false)
}

/// A claim is stale when its store is gone, or when its network's config
/// never appeared (a crash between claim and write) a minute later.
fn stale(claim: &Path, holder: &Path) -> bool {
    let store_gone = holder.parent().is_none_or(|dir| !dir.exists());
    let old = fs::metadata(claim)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age.as_secs() > 60);
    store_gone || (!holder.exists() && old)
}

/// Gives up the claim of `owner` on `subnet`.
pub fn release(subnet: &dyn Display, owner: &Path) {
    let path = claim_path(subnet);
    if fs::read_to_string(&path).is_ok_and(|h| h == owner.to_string_lossy()) {
        let _ = fs::remove_file(path);
    }
}
