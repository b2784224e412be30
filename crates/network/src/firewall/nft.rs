//! Loading JSON rulesets through Debian's `nft -j -f -`.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::error::{Error, Result};

/// The `nft` command.
pub struct Nft;

impl Nft {
    /// Loads `commands` (a JSON array of nftables commands) in one
    /// transaction: all of it applies, or none.
    pub fn apply(commands: Vec<Value>) -> Result<()> {
        let input = serde_json::to_vec(&json!({ "nftables": commands }))
            .map_err(|e| Error::Nft(format!("serialising rules: {e}")))?;
        let mut child = Command::new("nft")
            .args(["-j", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::Nft(format!("running nft (install Debian's nftables): {e}")))?;
        let written = child.stdin.take().map(|mut s| s.write_all(&input));
        let out = child
            .wait_with_output()
            .map_err(|e| Error::Nft(format!("waiting for nft: {e}")))?;
        if let Some(Err(e)) = written {
            return Err(Error::Nft(format!("writing to nft: {e}")));
        }
        if !out.status.success() {
            let msg = String::from_utf8_lossy(&out.stderr);
            return Err(Error::Nft(format!("nft refused the rules: {}", msg.trim())));
        }
        Ok(())
    }
}
