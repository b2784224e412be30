//! Container ids (64 random hex characters) and names (given, or made up
//! from two words as Docker does).

use crate::{Error, Result};

const ADJECTIVES: [&str; 32] = [
    "agile", "bold", "brave", "calm", "clever", "cool", "eager", "fair", "fast", "fond", "gentle",
    "happy", "jolly", "keen", "kind", "lucid", "merry", "neat", "nimble", "noble", "proud",
    "quick", "quiet", "rapid", "sharp", "sleek", "steady", "swift", "tidy", "vivid", "wise",
    "zesty",
];

const NOUNS: [&str; 32] = [
    "albatross",
    "beacon",
    "breeze",
    "canoe",
    "compass",
    "current",
    "dinghy",
    "dolphin",
    "estuary",
    "ferry",
    "gull",
    "harbor",
    "heron",
    "island",
    "jetty",
    "keel",
    "lagoon",
    "lantern",
    "mast",
    "narwhal",
    "oar",
    "otter",
    "pelican",
    "pier",
    "puffin",
    "reef",
    "rudder",
    "schooner",
    "sloop",
    "tern",
    "tide",
    "wake",
];

/// A fresh container id.
pub fn new_id() -> String {
    let mut buf = [0u8; 32];
    // SAFETY: buf is valid for writes of its length; requests of up to 256
    // bytes are never short.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    assert_eq!(n, buf.len() as isize, "getrandom failed");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A made-up name; `attempt` > 0 adds a number so that retries differ.
pub fn generated_name(id: &str, attempt: u32) -> String {
    let byte = |i: usize| usize::from_str_radix(&id[i..i + 2], 16).unwrap_or(0);
    let base = format!("{}_{}", ADJECTIVES[byte(0) % 32], NOUNS[byte(2) % 32]);
    if attempt == 0 {
        base
    } else {
        format!("{base}{attempt}")
    }
}

/// Checks a user's container name: Docker's `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn validate_name(name: &str) -> Result<()> {
    let name = name.strip_prefix('/').unwrap_or(name);
    let b = name.as_bytes();
    let ok = b.len() >= 2
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "invalid container name {name:?}: [a-zA-Z0-9][a-zA-Z0-9_.-]+ expected"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names() {
        let id = new_id();
        assert_eq!(id.len(), 64);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(new_id(), id);
        assert!(generated_name(&id, 0).contains('_'));
        assert!(generated_name(&id, 3).ends_with('3'));
        for bad in ["", "a", "-x", "a/b", "..", "a b", &"x".repeat(129)] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        validate_name("web-1.a_b").unwrap();
    }
}
