//! OCI whiteout names (`.wh.NAME`, `.wh..wh..opq`) and their overlay forms.

use std::ffi::CStr;

/// The prefix that marks a whiteout.
const PREFIX: &[u8] = b".wh.";
/// The opaque-directory marker.
const OPAQUE: &[u8] = b".wh..wh..opq";
/// The prefix of AUFS metadata names, which the OCI spec does not define.
const META_PREFIX: &[u8] = b".wh..wh.";

/// The xattr that makes an overlay directory opaque: `trusted.overlay.opaque`,
/// or in a user namespace (where only `user.` xattrs may be set, and the
/// overlay is mounted with `userxattr`) `user.overlay.opaque`.
pub(crate) fn opaque_xattr() -> &'static CStr {
    if crate::userns::in_user_namespace() {
        c"user.overlay.opaque"
    } else {
        c"trusted.overlay.opaque"
    }
}

/// What a whiteout entry asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Whiteout<'a> {
    /// Hide everything lower layers have in the directory holding the marker.
    Opaque,
    /// Hide the sibling `NAME` of lower layers.
    Remove(&'a [u8]),
}

/// Classifies an entry's last name component: `Ok(None)` for ordinary
/// content. Names that only a hostile layer writes (`.wh.`, `.wh..`,
/// `.wh...`: the directory itself or its parent) and AUFS metadata are
/// refused with the reason.
pub(crate) fn classify(base: &[u8]) -> Result<Option<Whiteout<'_>>, String> {
    if base == OPAQUE {
        return Ok(Some(Whiteout::Opaque));
    }
    if base.starts_with(META_PREFIX) {
        return Err("AUFS metadata whiteouts (.wh..wh.*) are not supported".to_string());
    }
    let Some(name) = base.strip_prefix(PREFIX) else {
        return Ok(None);
    };
    match name {
        b"" | b"." | b".." => Err(format!(
            "whiteout names {:?}, which is not a sibling",
            String::from_utf8_lossy(name)
        )),
        _ if name.contains(&b'/') => Err("whiteout name contains '/'".to_string()),
        _ => Ok(Some(Whiteout::Remove(name))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        assert_eq!(classify(b"file").unwrap(), None);
        assert_eq!(classify(b".wh").unwrap(), None);
        assert_eq!(classify(b".wh..wh..opq").unwrap(), Some(Whiteout::Opaque));
        assert_eq!(
            classify(b".wh.foo").unwrap(),
            Some(Whiteout::Remove(b"foo"))
        );
        assert_eq!(
            classify(b".wh..foo").unwrap(),
            Some(Whiteout::Remove(b".foo"))
        );
    }

    #[test]
    fn refuses_hostile_names() {
        for bad in [&b".wh."[..], b".wh..", b".wh...", b".wh..wh.plnk"] {
            assert!(classify(bad).is_err(), "{bad:?}");
        }
    }
}
