//! Layers built in memory, unpacked into a directory under a temporary
//! parent that must hold nothing else afterwards.

use std::ffi::CString;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};
use tempfile::TempDir;

use super::*;

/// A tar under construction, entry by entry, with raw names (the `tar`
/// crate's own setters refuse the hostile ones these tests need).
struct Tar(Vec<u8>);

impl Tar {
    fn new() -> Tar {
        Tar(Vec::new())
    }

    fn raw(
        &mut self,
        name: &[u8],
        kind: EntryType,
        link: &[u8],
        data: &[u8],
        f: impl FnOnce(&mut Header),
    ) {
        let mut h = Header::new_gnu();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_000_000);
        h.set_uid(0);
        h.set_gid(0);
        f(&mut h);
        h.set_cksum();
        self.append(&h, data);
    }

    fn append(&mut self, h: &Header, data: &[u8]) {
        self.0.extend_from_slice(h.as_bytes());
        self.0.extend_from_slice(data);
        self.0.resize(self.0.len().next_multiple_of(512), 0);
    }

    fn file(&mut self, name: &str, data: &[u8]) -> &mut Tar {
        self.raw(name.as_bytes(), EntryType::Regular, b"", data, |_| {});
        self
    }

    fn dir(&mut self, name: &str) -> &mut Tar {
        self.raw(name.as_bytes(), EntryType::Directory, b"", b"", |h| {
            h.set_mode(0o755)
        });
        self
    }

    fn link(&mut self, kind: EntryType, name: &str, target: &str) -> &mut Tar {
        self.raw(name.as_bytes(), kind, target.as_bytes(), b"", |_| {});
        self
    }

    /// A PAX extended header for the next entry.
    fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Tar {
        let mut data = Vec::new();
        for (key, value) in records {
            let body = [b" ", key.as_bytes(), b"=", value, b"\n"].concat();
            let mut len = body.len() + 1;
            while format!("{len}").len() + body.len() != len {
                len += 1;
            }
            data.extend_from_slice(format!("{len}").as_bytes());
            data.extend_from_slice(&body);
        }
        self.raw(b"PaxHeader", EntryType::XHeader, b"", &data, |_| {});
        self
    }

    /// The archive with its two end blocks and record padding after them.
    fn finish(&self) -> Vec<u8> {
        let mut out = self.0.clone();
        out.resize(out.len() + 1024, 0);
        out.resize(out.len().next_multiple_of(10240), 0);
        out
    }
}

/// A temporary parent with an empty `dest` in it.
fn dest() -> (TempDir, PathBuf) {
    let tmp = TempDir::new().unwrap();
    let dest = tmp.path().join("dest");
    fs::create_dir(&dest).unwrap();
    (tmp, dest)
}

fn unpack(tar: &Tar, dest: &Path) -> Result<UnpackStats> {
    unpack_layer(&tar.finish()[..], Compression::None, dest)
}

/// Fails unless `dest` is all the parent holds.
fn only_dest(tmp: &TempDir) {
    let names: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["dest"], "something was written beside dest");
}

/// Unpacks `tar`, expecting an error that names `entry` and says `reason`.
fn refused(tar: &Tar, entry: &str, reason: &str) {
    let (tmp, dest) = dest();
    let err = unpack(tar, &dest).unwrap_err().to_string();
    assert!(err.contains(entry), "{err:?} does not name {entry:?}");
    assert!(err.contains(reason), "{err:?} does not say {reason:?}");
    only_dest(&tmp);
}

fn xattr(path: &Path, key: &str) -> Option<Vec<u8>> {
    let path = CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let key = CString::new(key).unwrap();
    let mut buf = vec![0u8; 256];
    // SAFETY: both strings are NUL-terminated and `buf` is writable for its length.
    let n = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            key.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    (n >= 0).then(|| buf[..n as usize].to_vec())
}

/// `security.capability` v2 granting CAP_NET_BIND_SERVICE, effective.
const CAP_NET_BIND: [u8; 20] = [1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

#[test]
fn keeps_files_and_their_attributes() {
    let mut tar = Tar::new();
    tar.raw(b"d/", EntryType::Directory, b"", b"", |h| {
        h.set_mode(0o750);
        h.set_uid(1000);
        h.set_gid(1001);
        h.set_mtime(1000);
    });
    tar.pax(&[
        ("SCHILY.xattr.security.capability", &CAP_NET_BIND),
        ("SCHILY.xattr.user.note", b"hi"),
        ("mtime", b"2000.5"),
    ]);
    tar.raw(b"d/f", EntryType::Regular, b"", b"hello", |h| {
        h.set_mode(0o4755);
        h.set_uid(7);
        h.set_gid(8);
    });
    tar.link(EntryType::Symlink, "d/l", "f");
    tar.link(EntryType::Link, "d/h", "d/f");
    tar.raw(b"d/null", EntryType::Char, b"", b"", |h| {
        h.set_device_major(1).unwrap();
        h.set_device_minor(3).unwrap();
        h.set_mode(0o666);
    });
    tar.raw(b"d/loop", EntryType::Block, b"", b"", |h| {
        h.set_device_major(7).unwrap();
        h.set_device_minor(0).unwrap();
        h.set_mode(0o660);
    });
    tar.raw(b"d/fifo", EntryType::Fifo, b"", b"", |h| h.set_mode(0o600));
    let (tmp, dest) = dest();
    let stats = unpack(&tar, &dest).unwrap();
    assert_eq!(stats.entries, 7);
    only_dest(&tmp);

    let d = fs::symlink_metadata(dest.join("d")).unwrap();
    assert!(d.is_dir());
    assert_eq!((d.mode() & 0o7777, d.uid(), d.gid()), (0o750, 1000, 1001));
    assert_eq!(d.mtime(), 1000, "directory time set after its contents");

    let f = fs::symlink_metadata(dest.join("d/f")).unwrap();
    assert_eq!(fs::read(dest.join("d/f")).unwrap(), b"hello");
    assert_eq!((f.mode() & 0o7777, f.uid(), f.gid()), (0o4755, 7, 8));
    assert_eq!((f.mtime(), f.mtime_nsec()), (2000, 500_000_000));
    assert_eq!(
        xattr(&dest.join("d/f"), "security.capability").unwrap(),
        CAP_NET_BIND
    );
    assert_eq!(xattr(&dest.join("d/f"), "user.note").unwrap(), b"hi");

    assert_eq!(fs::read_link(dest.join("d/l")).unwrap(), Path::new("f"));
    assert_eq!(
        fs::symlink_metadata(dest.join("d/l")).unwrap().mtime(),
        1_000_000
    );
    assert_eq!(fs::metadata(dest.join("d/h")).unwrap().ino(), f.ino());

    let null = fs::symlink_metadata(dest.join("d/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(
        (null.rdev(), null.mode() & 0o7777),
        (libc::makedev(1, 3), 0o666)
    );
    let lp = fs::symlink_metadata(dest.join("d/loop")).unwrap();
    assert!(lp.file_type().is_block_device());
    assert_eq!(
        (lp.rdev(), lp.mode() & 0o7777),
        (libc::makedev(7, 0), 0o660)
    );
    let fifo = fs::symlink_metadata(dest.join("d/fifo")).unwrap();
    assert!(fifo.file_type().is_fifo());
    assert_eq!(fifo.mode() & 0o7777, 0o600);
}

#[test]
fn diff_id_is_the_same_for_every_compression() {
    let mut tar = Tar::new();
    tar.dir("a/").file("a/b", &[7; 3000]);
    let raw = tar.finish();
    let want = Digest::sha256_of(&raw);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(&raw[..], 3).unwrap();
    for (blob, compression) in [
        (&raw, Compression::None),
        (&gz, Compression::Gzip),
        (&zst, Compression::Zstd),
    ] {
        let (_tmp, dest) = dest();
        let stats = unpack_layer(&blob[..], compression, &dest).unwrap();
        assert_eq!(stats.diff_id, want, "{compression:?}");
        assert_eq!(stats.size, raw.len() as u64, "{compression:?}");
        assert_eq!(stats.entries, 2);
        assert_eq!(fs::read(dest.join("a/b")).unwrap(), [7; 3000]);
    }
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    let mut tar = Tar::new();
    tar.dir("a/").file("a/.wh.gone", b"");
    tar.dir("b/").file("b/.wh..wh..opq", b"");
    // Same-layer content survives a whiteout of its name.
    tar.file("c/keep", b"k").file("c/.wh.keep", b"");
    tar.dir("c/sub/").file("c/.wh.sub", b"");
    // A directory replacing a whiteout hides the lower one's contents.
    tar.file(".wh.x", b"").dir("x/");
    let (tmp, dest) = dest();
    unpack(&tar, &dest).unwrap();
    only_dest(&tmp);

    let gone = fs::symlink_metadata(dest.join("a/gone")).unwrap();
    assert!(gone.file_type().is_char_device());
    assert_eq!(gone.rdev(), 0);
    assert!(!dest.join("a/.wh.gone").exists());
    assert_eq!(
        xattr(&dest.join("b"), "trusted.overlay.opaque").unwrap(),
        b"y"
    );
    assert!(!dest.join("b/.wh..wh..opq").exists());
    assert_eq!(xattr(&dest.join("a"), "trusted.overlay.opaque"), None);
    assert_eq!(fs::read(dest.join("c/keep")).unwrap(), b"k");
    assert_eq!(
        xattr(&dest.join("c/sub"), "trusted.overlay.opaque").unwrap(),
        b"y"
    );
    assert!(fs::symlink_metadata(dest.join("x")).unwrap().is_dir());
    assert_eq!(
        xattr(&dest.join("x"), "trusted.overlay.opaque").unwrap(),
        b"y"
    );
}

#[test]
fn refuses_whiteouts_of_no_sibling() {
    refused(Tar::new().file("a/.wh..", b""), "a/.wh..", "not a sibling");
    refused(Tar::new().file("a/.wh.", b""), "a/.wh.", "not a sibling");
    refused(Tar::new().file(".wh..wh.plnk", b""), ".wh..wh.plnk", "AUFS");
}

#[test]
fn later_entries_replace_earlier_ones() {
    let mut tar = Tar::new();
    tar.file("f", b"one").file("f", b"two");
    tar.dir("d/").file("d/x", b"x").dir("d/");
    tar.link(EntryType::Symlink, "s", "/etc/passwd")
        .file("s", b"plain");
    let (tmp, dest) = dest();
    unpack(&tar, &dest).unwrap();
    only_dest(&tmp);
    assert_eq!(fs::read(dest.join("f")).unwrap(), b"two");
    assert_eq!(fs::read(dest.join("d/x")).unwrap(), b"x");
    assert!(fs::symlink_metadata(dest.join("s")).unwrap().is_file());
    assert_eq!(fs::read(dest.join("s")).unwrap(), b"plain");

    refused(
        Tar::new().file("d/x", b"").file("d", b""),
        "\"d\"",
        "non-empty directory",
    );
}

#[test]
fn refuses_climbing_out() {
    refused(
        Tar::new().file("../../etc/x", b"x"),
        "../../etc/x",
        "climbs out",
    );
    refused(
        Tar::new().file("a/../../x", b"x"),
        "a/../../x",
        "climbs out",
    );
}

#[test]
fn absolute_names_stay_inside() {
    let (tmp, dest) = dest();
    unpack(Tar::new().file("/abs/x", b"x"), &dest).unwrap();
    assert_eq!(fs::read(dest.join("abs/x")).unwrap(), b"x");
    only_dest(&tmp);
}

#[test]
fn symlinked_parents_resolve_inside_the_layer() {
    let (tmp, dest) = dest();
    let mut tar = Tar::new();
    tar.link(EntryType::Symlink, "a", "/").file("a/etc/x", b"1");
    tar.link(EntryType::Symlink, "b", "../../..")
        .file("b/y", b"2");
    unpack(&tar, &dest).unwrap();
    only_dest(&tmp);
    assert_eq!(fs::read(dest.join("etc/x")).unwrap(), b"1");
    assert_eq!(fs::read(dest.join("y")).unwrap(), b"2");
    assert_eq!(fs::read_link(dest.join("a")).unwrap(), Path::new("/"));
}

#[test]
fn file_under_a_file_is_refused() {
    refused(
        Tar::new().file("f", b"").file("f/x", b""),
        "f/x",
        "parent directory",
    );
}

#[test]
fn refuses_hardlinks_out_of_the_layer() {
    refused(
        Tar::new().link(EntryType::Link, "h", "../../etc/passwd"),
        "\"h\"",
        "climbs out",
    );
    refused(
        Tar::new().link(EntryType::Link, "h", "nowhere"),
        "\"h\"",
        "not in the layer",
    );
}

#[test]
fn hardlinks_never_reach_outside_files() {
    let outside = TempDir::new().unwrap();
    let secret = outside.path().join("secret");
    fs::write(&secret, "s").unwrap();
    let secret_str = secret.to_str().unwrap();
    let outside_str = outside.path().to_str().unwrap();

    // To a symlink that points out: the symlink is linked, not its target.
    let (tmp, dest) = dest();
    let mut tar = Tar::new();
    tar.link(EntryType::Symlink, "s", secret_str)
        .link(EntryType::Link, "h", "s");
    unpack(&tar, &dest).unwrap();
    only_dest(&tmp);
    assert!(fs::symlink_metadata(dest.join("h")).unwrap().is_symlink());
    assert_eq!(fs::metadata(&secret).unwrap().nlink(), 1);

    // Through a symlinked directory that points out: resolved in the layer.
    let mut tar = Tar::new();
    tar.link(EntryType::Symlink, "d", outside_str)
        .link(EntryType::Link, "h", "d/secret");
    refused(&tar, "\"h\"", "not in the layer");
    assert_eq!(fs::metadata(&secret).unwrap().nlink(), 1);
}

#[test]
fn refuses_names_over_the_limit() {
    let name = "n".repeat(5000);
    let mut long = name.clone().into_bytes();
    long.push(0);
    let mut tar = Tar::new();
    tar.raw(b"././@LongLink", EntryType::GNULongName, b"", &long, |_| {});
    tar.file("short", b"");
    refused(&tar, &"n".repeat(64), "5001 bytes, over the limit of 4096");

    let mut tar = Tar::new();
    tar.pax(&[("path", name.as_bytes())]).file("short", b"");
    refused(&tar, &"n".repeat(64), "5000 bytes, over the limit of 4096");
}

#[test]
fn long_names_are_supported() {
    let name = format!("{}/{}/file", "d".repeat(200), "e".repeat(200));
    let mut long = name.clone().into_bytes();
    long.push(0);
    let mut tar = Tar::new();
    tar.raw(b"././@LongLink", EntryType::GNULongName, b"", &long, |_| {});
    tar.file("ignored", b"gnu");
    tar.pax(&[("path", b"p/long-pax-name")])
        .file("ignored", b"pax");
    let (_tmp, dest) = dest();
    unpack(&tar, &dest).unwrap();
    assert_eq!(fs::read(dest.join(&name)).unwrap(), b"gnu");
    assert_eq!(fs::read(dest.join("p/long-pax-name")).unwrap(), b"pax");
}

#[test]
fn refuses_overlay_xattrs() {
    let mut tar = Tar::new();
    tar.pax(&[("SCHILY.xattr.trusted.overlay.redirect", b"/x")])
        .file("f", b"");
    refused(&tar, "\"f\"", "reserved for the overlay");
}

#[test]
fn corrupt_gzip_is_an_error() {
    let mut tar = Tar::new();
    tar.file("a", &[1; 100_000]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar.finish()).unwrap();
    let mut gz = gz.finish().unwrap();
    let mid = gz.len() / 2;
    gz[mid..mid + 16].fill(0xa5);
    let (tmp, dest) = dest();
    let err = unpack_layer(&gz[..], Compression::Gzip, &dest).unwrap_err();
    assert!(
        matches!(&err, Error::Unpack { entry, .. } if entry.contains('a')),
        "{err}"
    );
    only_dest(&tmp);
}

#[test]
fn truncated_tar_is_an_error() {
    let mut tar = Tar::new();
    tar.file("big", &[1; 2000]);
    let raw = tar.finish();
    let (tmp, dest) = dest();
    let err = unpack_layer(&raw[..1000], Compression::None, &dest)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"big\"") && err.contains("truncated"),
        "{err}"
    );
    // Cut inside a header: named by the entry before it.
    let mut tar = Tar::new();
    tar.file("first", b"1").file("second", b"2");
    let raw = tar.finish();
    let err = unpack_layer(&raw[..1024 + 100], Compression::None, &dest)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("header after first") && err.contains("truncated"),
        "{err}"
    );
    only_dest(&tmp);
}
