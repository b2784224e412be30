//! OCI image layouts built from scratch for the registry tests, and pushed
//! to a [`Registry`](crate::registry::Registry) with Debian's `skopeo`, a
//! client nobody on this team wrote.
//!
//! A layer is a list of tar [`Entry`]s (files, directories, symlinks,
//! whiteouts), compressed or not; an image is its layers plus a
//! configuration whose `rootfs.diff_ids` are the uncompressed tars' digests.

use crate::clients::{require_program, run, Input};
use serde_json::{json, Value};
use skiff_image::manifest::{
    OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYER_ZSTD, OCI_MANIFEST,
};
use skiff_image::Digest;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The annotation skopeo finds an image in a layout's `index.json` by.
const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The name every image in these layouts goes by: `oci:DIR:latest`.
pub const LAYOUT_TAG: &str = "latest";

/// One entry of a layer's tar.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A regular file with this content and mode.
    File(String, Vec<u8>, u32),
    /// A directory with this mode.
    Dir(String, u32),
    /// A symbolic link to a target.
    Symlink(String, String),
    /// A whiteout: `dir/.wh.name` deletes `dir/name` of the layers below.
    Whiteout(String),
    /// An opaque directory marker: `dir/.wh..wh..opq` hides what the
    /// layers below have in `dir`.
    Opaque(String),
}

/// How a layer's tar is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
}

/// A layer to build.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Its tar entries, in order.
    pub entries: Vec<Entry>,
    /// Its compression.
    pub compression: Compression,
}

/// A blob written into a layout.
#[derive(Debug, Clone)]
pub struct Blob {
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// Its media type.
    pub media_type: String,
}

/// One image written into a layout.
#[derive(Debug, Clone)]
pub struct Image {
    /// The manifest.
    pub manifest: Blob,
    /// The configuration.
    pub config: Blob,
    /// The layers, base first.
    pub layers: Vec<Blob>,
    /// The digests of the uncompressed layers.
    pub diff_ids: Vec<Digest>,
}

/// An OCI image layout directory.
pub struct Layout {
    dir: PathBuf,
}

impl Layout {
    /// Creates the layout's skeleton (`oci-layout`, `blobs/sha256`) in `dir`.
    pub fn new(dir: &Path) -> Layout {
        fs::create_dir_all(dir.join("blobs/sha256")).expect("create layout");
        fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
            .expect("write oci-layout");
        Layout {
            dir: dir.to_path_buf(),
        }
    }

    /// The layout's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The bytes of a blob in the layout.
    pub fn blob(&self, digest: &Digest) -> Vec<u8> {
        fs::read(self.blob_path(digest)).expect("read layout blob")
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join("blobs/sha256").join(digest.hex())
    }

    /// Writes `bytes` as a blob of `media_type`.
    pub fn add_blob(&self, bytes: &[u8], media_type: &str) -> Blob {
        let digest = Digest::sha256_of(bytes);
        fs::write(self.blob_path(&digest), bytes).expect("write layout blob");
        Blob {
            digest,
            size: bytes.len() as u64,
            media_type: media_type.to_string(),
        }
    }

    /// Writes the layers, a configuration for `arch` that runs `cmd`, and
    /// their manifest; does not list it in `index.json`.
    pub fn add_image(&self, layers: &[Layer], arch: &str, cmd: &[&str]) -> Image {
        let mut blobs = Vec::new();
        let mut diff_ids = Vec::new();
        for layer in layers {
            let tar = tar_of(&layer.entries);
            diff_ids.push(Digest::sha256_of(&tar));
            let (bytes, media_type) = compress(&tar, layer.compression);
            blobs.push(self.add_blob(&bytes, media_type));
        }
        let config = json!({
            "architecture": arch,
            "os": "linux",
            "config": {"Cmd": cmd, "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids.iter().map(Digest::to_string).collect::<Vec<_>>()},
            "history": [{"created_by": "skiff e2e"}],
        });
        let config = self.add_blob(&to_bytes(&config), OCI_CONFIG);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(&config),
            "layers": blobs.iter().map(descriptor).collect::<Vec<_>>(),
        });
        let manifest = self.add_blob(&to_bytes(&manifest), OCI_MANIFEST);
        Image {
            manifest,
            config,
            layers: blobs,
            diff_ids,
        }
    }

    /// Writes an image index listing `images` for linux on their
    /// architectures.
    pub fn add_index(&self, images: &[(&str, &Image)]) -> Blob {
        let manifests: Vec<Value> = images
            .iter()
            .map(|(arch, image)| {
                let mut d = descriptor(&image.manifest);
                d["platform"] = json!({"os": "linux", "architecture": arch});
                d
            })
            .collect();
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
        self.add_blob(&to_bytes(&index), OCI_INDEX)
    }

    /// Makes `top` (an image manifest or an index) the layout's one entry,
    /// named [`LAYOUT_TAG`].
    pub fn set_top(&self, top: &Blob) {
        let mut d = descriptor(top);
        d["annotations"] = json!({ REF_NAME: LAYOUT_TAG });
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [d]});
        fs::write(self.dir.join("index.json"), to_bytes(&index)).expect("write index.json");
    }
}

/// How [`push`] converts the image on its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushFormat {
    /// As it is in the layout (OCI).
    Oci,
    /// Converted to Docker schema 2.
    DockerV2S2,
    /// An index with every image it lists.
    All,
}

/// Pushes the layout's image to `dest` (`127.0.0.1:PORT/name:tag`) with
/// skopeo, with `creds` (`user:password`) if given; the digest of the
/// manifest (or index) as the registry stores it.
pub fn push(layout: &Layout, dest: &str, format: PushFormat, creds: Option<&str>) -> Digest {
    require_program("skopeo", "skopeo");
    let digest_file = layout.dir.join(".pushed-digest");
    let mut cmd = Command::new("skopeo");
    cmd.args([
        "--insecure-policy",
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
    ])
    .arg("--digestfile")
    .arg(&digest_file);
    match format {
        PushFormat::Oci => cmd.args(["--format", "oci"]),
        PushFormat::DockerV2S2 => cmd.args(["--format", "v2s2"]),
        PushFormat::All => cmd.arg("--all"),
    };
    if let Some(creds) = creds {
        cmd.arg("--dest-creds").arg(creds);
    }
    cmd.arg(format!("oci:{}:{LAYOUT_TAG}", layout.dir.display()))
        .arg(format!("docker://{dest}"));
    run(&mut cmd, Input::Null).ok();
    let digest = fs::read_to_string(&digest_file).expect("read skopeo's digest file");
    digest.trim().parse().expect("skopeo wrote a digest")
}

/// A two-layer image for amd64 running `/bin/sh`: busybox (compressed as
/// `base`), then a zstd layer that adds `/etc/motd`, whites out
/// `/etc/hostname` and makes `/tmp` opaque.
pub fn two_layer_image(layout: &Layout, base: Compression) -> Image {
    let top = Layer {
        entries: vec![
            Entry::Dir("etc".into(), 0o755),
            Entry::File("etc/motd".into(), b"hello from skiff\n".to_vec(), 0o644),
            Entry::Whiteout("etc/hostname".into()),
            Entry::Dir("tmp".into(), 0o1777),
            Entry::Opaque("tmp".into()),
        ],
        compression: Compression::Zstd,
    };
    layout.add_image(&[busybox_layer(base), top], "amd64", &["/bin/sh"])
}

/// A base layer with Debian's static busybox as `/bin/busybox`, a few
/// applets linked to it, and the usual top-level directories.
pub fn busybox_layer(compression: Compression) -> Layer {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox (Debian's busybox-static) is installed");
    let mut entries = vec![
        Entry::Dir("bin".into(), 0o755),
        Entry::Dir("etc".into(), 0o755),
        Entry::Dir("tmp".into(), 0o1777),
        Entry::File(
            "bin/busybox".into(),
            fs::read(busybox).expect("read busybox"),
            0o755,
        ),
        Entry::File("etc/hostname".into(), b"busybox\n".to_vec(), 0o644),
    ];
    for applet in ["sh", "ls", "cat", "echo", "true"] {
        entries.push(Entry::Symlink(format!("bin/{applet}"), "busybox".into()));
    }
    Layer {
        entries,
        compression,
    }
}

/// The descriptor JSON of a blob.
pub fn descriptor(blob: &Blob) -> Value {
    json!({"mediaType": blob.media_type, "digest": blob.digest.to_string(), "size": blob.size})
}

fn to_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("JSON serialises")
}

/// The uncompressed tar of `entries`, owned by root, with a fixed time.
pub fn tar_of(entries: &[Entry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let (path, kind, mode, data, link): (String, tar::EntryType, u32, &[u8], Option<&str>) =
            match entry {
                Entry::File(p, data, mode) => {
                    (p.clone(), tar::EntryType::Regular, *mode, data, None)
                }
                Entry::Dir(p, mode) => {
                    (format!("{p}/"), tar::EntryType::Directory, *mode, &[], None)
                }
                Entry::Symlink(p, target) => {
                    (p.clone(), tar::EntryType::Symlink, 0o777, &[], Some(target))
                }
                Entry::Whiteout(p) => {
                    (whiteout(p, None), tar::EntryType::Regular, 0o644, &[], None)
                }
                Entry::Opaque(dir) => (
                    whiteout(dir, Some(".wh..wh..opq")),
                    tar::EntryType::Regular,
                    0o644,
                    &[],
                    None,
                ),
            };
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_700_000_000);
        header.set_size(data.len() as u64);
        if let Some(link) = link {
            header.set_link_name(link).expect("symlink target");
        }
        builder
            .append_data(&mut header, &path, data)
            .expect("append tar entry");
    }
    builder.into_inner().expect("finish tar")
}

/// `dir/.wh.name` for `dir/name`, or `dir/<marker>` for an opaque marker.
fn whiteout(path: &str, marker: Option<&str>) -> String {
    match (marker, path.rsplit_once('/')) {
        (Some(m), _) => format!("{}/{m}", path.trim_end_matches('/')),
        (None, Some((dir, name))) => format!("{dir}/.wh.{name}"),
        (None, None) => format!(".wh.{path}"),
    }
}

fn compress(tar: &[u8], compression: Compression) -> (Vec<u8>, &'static str) {
    match compression {
        Compression::None => (tar.to_vec(), OCI_LAYER_TAR),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(tar).expect("gzip");
            (enc.finish().expect("gzip"), OCI_LAYER_GZIP)
        }
        Compression::Zstd => (zstd::encode_all(tar, 3).expect("zstd"), OCI_LAYER_ZSTD),
    }
}
