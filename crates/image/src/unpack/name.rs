//! Entry names made safe: relative, without `.`, with `..` resolved by the
//! name alone and never above the layer root, bounded in length.

use std::ffi::{CStr, CString};

/// The longest entry or link name accepted, in bytes (Linux's `PATH_MAX`).
pub(crate) const MAX_NAME: usize = 4096;

/// A normalized name inside the layer: zero or more components, each a
/// plain file name (no `/`, not `.` or `..`, no NUL). No components is the
/// layer root itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LayerPath {
    components: Vec<CString>,
}

impl LayerPath {
    /// Normalizes a raw tar name. A leading `/` is dropped (tar names are
    /// relative to the archive root whatever they say); `..` removes the
    /// component before it and is refused where there is none.
    pub(crate) fn parse(raw: &[u8]) -> Result<LayerPath, String> {
        if raw.len() > MAX_NAME {
            return Err(format!(
                "name of {} bytes is longer than {MAX_NAME}",
                raw.len()
            ));
        }
        let mut components = Vec::new();
        for part in raw.split(|&b| b == b'/') {
            match part {
                b"" | b"." => {}
                b".." => {
                    if components.pop().is_none() {
                        return Err("`..` climbs out of the layer".to_string());
                    }
                }
                _ => components
                    .push(CString::new(part).map_err(|_| "name contains a NUL byte".to_string())?),
            }
        }
        Ok(LayerPath { components })
    }

    /// The last component; `None` for the root.
    pub(crate) fn base(&self) -> Option<&CStr> {
        self.components.last().map(CString::as_c_str)
    }

    /// Everything but the last component.
    pub(crate) fn parent(&self) -> LayerPath {
        let n = self.components.len().saturating_sub(1);
        LayerPath {
            components: self.components[..n].to_vec(),
        }
    }

    /// The first `n` components.
    pub(crate) fn prefix(&self, n: usize) -> LayerPath {
        LayerPath {
            components: self.components[..n].to_vec(),
        }
    }

    /// How many components there are.
    pub(crate) fn len(&self) -> usize {
        self.components.len()
    }

    /// The relative path for a system call (`.` for the root).
    pub(crate) fn to_cstring(&self) -> CString {
        if self.components.is_empty() {
            return c".".to_owned();
        }
        let bytes: Vec<&[u8]> = self.components.iter().map(|c| c.to_bytes()).collect();
        CString::new(bytes.join(&b'/')).expect("components hold no NUL")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(raw: &str) -> Result<String, String> {
        LayerPath::parse(raw.as_bytes()).map(|p| p.to_cstring().into_string().unwrap())
    }

    #[test]
    fn normalizes() {
        assert_eq!(norm("./a/b/").unwrap(), "a/b");
        assert_eq!(norm("/abs/x").unwrap(), "abs/x");
        assert_eq!(norm("a/../b").unwrap(), "b");
        assert_eq!(norm("./").unwrap(), ".");
        assert!(LayerPath::parse(b"./").unwrap().base().is_none());
    }

    #[test]
    fn refuses_climbing_and_long_names() {
        assert!(norm("../../etc/x").unwrap_err().contains("climbs out"));
        assert!(norm("a/../../x").unwrap_err().contains("climbs out"));
        assert!(norm(&"a".repeat(MAX_NAME + 1))
            .unwrap_err()
            .contains("longer"));
        assert!(norm(&"a".repeat(MAX_NAME)).is_ok());
    }
}
