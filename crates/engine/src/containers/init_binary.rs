//! `--init`: skiff's own static init (built from `init/skiff-init.c`),
//! written once under the engine's root and bind-mounted read-only into the
//! container as `/sbin/skiff-init`, which then runs the command.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use skiff_image::store::write_atomic;

use crate::{Error, Result};

/// The init's bytes.
const INIT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/skiff-init"));

/// Where the init appears inside the container.
pub const INIT_PATH: &str = "/sbin/skiff-init";

/// The init on the host under `root`, written if missing or different.
pub fn ensure(root: &Path) -> Result<PathBuf> {
    let path = root.join("skiff-init");
    if fs::read(&path).is_ok_and(|b| b == INIT) {
        return Ok(path);
    }
    write_atomic(&path, INIT)?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
        .map_err(|e| Error::Io(format!("chmod {}", path.display()), e))?;
    Ok(path)
}
