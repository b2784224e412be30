//! `skiff pull` and `skiff push` against Debian's `docker-registry`, with
//! images made by the tests and pushed by skopeo: tags, digests, indexes,
//! gzip and zstd layers with whiteouts, 120 layers under one overlay,
//! tampered blobs, kill -9 in the middle, two pulls at once, and login.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use skiff_e2e::oci_layout::{
    self, busybox_layer, push, Compression, Entry, Image, Layer, Layout, PushFormat,
};
use skiff_e2e::registry::Registry;
use skiff_e2e::{unmount_under, Skiff};
use skiff_image::overlay::mount_overlay;
use skiff_image::store::Store;

fn two_layer_image(layout: &Layout) -> Image {
    oci_layout::two_layer_image(layout, Compression::Gzip)
}

/// A registry and a store, and the image `make` builds pushed as `name`;
/// returns them with the image, its full name and its manifest digest.
fn pushed(make: fn(&Layout) -> Image, name: &str) -> (Registry, Skiff, Image, String, String) {
    let registry = Registry::start();
    let skiff = Skiff::new();
    let layout = Layout::new(&skiff.dir().join("layout"));
    let image = make(&layout);
    let digest = push_image(&registry, &layout, &image.manifest, name, PushFormat::Oci);
    let full = format!("{}/{name}", registry.addr());
    (registry, skiff, image, full, digest)
}

fn push_image(
    registry: &Registry,
    layout: &Layout,
    top: &skiff_e2e::oci_layout::Blob,
    name: &str,
    format: PushFormat,
) -> String {
    layout.set_top(top);
    push(layout, &format!("{}/{name}", registry.addr()), format, None).to_string()
}

fn inspect(skiff: &Skiff, name: &str) -> Value {
    let ran = skiff.run(&["image", "inspect", name]);
    ran.ok();
    serde_json::from_str::<Value>(&ran.stdout).expect("JSON")[0].clone()
}

/// Mounts the image's overlay under `dir/merged` and runs `check` on it.
fn with_rootfs(skiff: &Skiff, name: &str, check: impl FnOnce(&Path)) {
    let store = Store::open(skiff.root().join("image")).unwrap();
    let image = store.resolve(name).unwrap();
    let dir = skiff.dir().join("ctr");
    for sub in ["upper", "work", "merged"] {
        fs::create_dir_all(dir.join(sub)).unwrap();
    }
    mount_overlay(
        &store,
        &image.chain_ids(),
        &dir.join("upper"),
        &dir.join("work"),
        &dir.join("merged"),
    )
    .expect("overlay mounts");
    check(&dir.join("merged"));
    unmount_under(&dir);
}

#[test]
fn pulls_by_tag_and_digest_and_applies_whiteouts() {
    let (registry, skiff, image, name, digest) = pushed(two_layer_image, "app:1.0");
    let ran = skiff.run(&["pull", &name]);
    ran.ok().stdout_has(&name);
    assert!(ran.stderr.contains("Pull complete"), "{}", ran.stderr);
    let doc = inspect(&skiff, &name);
    assert_eq!(doc["Id"], image.config.digest.to_string().as_str());
    assert_eq!(
        doc["RepoDigests"][0],
        format!("{}/app@{digest}", registry.addr()).as_str()
    );
    assert_eq!(doc["Config"]["Cmd"][0], "/bin/sh");
    // The whiteout is an overlay whiteout, the opaque marker an xattr.
    let store = Store::open(skiff.root().join("image")).unwrap();
    let record = store.resolve(&name).unwrap();
    let top = store.layer_diff(&record.layers[1].chain_id);
    let whiteout = fs::symlink_metadata(top.join("etc/hostname")).unwrap();
    assert!(whiteout.file_type().is_char_device() && whiteout.rdev() == 0);
    with_rootfs(&skiff, &name, |root| {
        assert_eq!(
            fs::read_to_string(root.join("etc/motd")).unwrap(),
            "hello from skiff\n"
        );
        assert!(!root.join("etc/hostname").exists(), "whited out");
        assert!(root.join("bin/busybox").is_file());
    });
    // Pulling by digest finds the layers already there.
    let pinned = format!("{}/app@{digest}", registry.addr());
    let again = skiff.run(&["pull", &pinned]);
    again.ok();
    assert!(again.stderr.contains("Already exists"), "{}", again.stderr);
    assert_eq!(inspect(&skiff, &pinned)["Id"], doc["Id"]);
    assert!(skiff.store_entries("image/tmp").is_empty());
}

#[test]
fn indexes_pick_the_platform() {
    let registry = Registry::start();
    let skiff = Skiff::new();
    let layout = Layout::new(&skiff.dir().join("layout"));
    let amd = two_layer_image(&layout);
    let arm = layout.add_image(&[busybox_layer(Compression::None)], "arm64", &["/bin/true"]);
    let index = layout.add_index(&[("amd64", &amd), ("arm64", &arm)]);
    push_image(&registry, &layout, &index, "multi:1", PushFormat::All);
    let name = format!("{}/multi:1", registry.addr());
    skiff.run(&["pull", "-q", &name]).ok();
    assert_eq!(
        inspect(&skiff, &name)["Id"],
        amd.config.digest.to_string().as_str()
    );
    skiff
        .run(&["pull", "--platform", "linux/arm64", &name])
        .ok();
    assert_eq!(
        inspect(&skiff, &name)["Id"],
        arm.config.digest.to_string().as_str()
    );
    let only_arm = layout.add_index(&[("arm64", &arm)]);
    push_image(&registry, &layout, &only_arm, "armonly:1", PushFormat::All);
    let ran = skiff.run(&["pull", &format!("{}/armonly:1", registry.addr())]);
    ran.expect_code(125);
    assert!(
        ran.stderr.contains("linux/amd64") && ran.stderr.contains("linux/arm64"),
        "{}",
        ran.stderr
    );
}

#[test]
fn docker_schema2_and_quiet_output() {
    let registry = Registry::start();
    let skiff = Skiff::new();
    let layout = Layout::new(&skiff.dir().join("layout"));
    let image = layout.add_image(&[busybox_layer(Compression::Gzip)], "amd64", &["sh"]);
    push_image(
        &registry,
        &layout,
        &image.manifest,
        "v2s2:1",
        PushFormat::DockerV2S2,
    );
    let name = format!("{}/v2s2:1", registry.addr());
    let ran = skiff.run(&["pull", "-q", &name]);
    ran.ok();
    assert_eq!(ran.stdout.trim(), name);
    assert!(ran.stderr.is_empty(), "{}", ran.stderr);
    skiff
        .run(&["images", "--digests"])
        .ok()
        .stdout_has("sha256:");
}

#[test]
fn a_tampered_blob_is_refused_and_nothing_is_recorded() {
    let (registry, skiff, image, name, _) = pushed(two_layer_image, "bad:1");
    let blob = registry.blob_path(&image.layers[0].digest.to_string());
    let mut bytes = fs::read(&blob).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs::write(&blob, &bytes).unwrap();
    let ran = skiff.run(&["pull", &name]);
    ran.expect_code(125);
    assert!(ran.stderr.contains("digest mismatch"), "{}", ran.stderr);
    assert!(skiff.store_entries("image/images").is_empty());
    let store = Store::open(skiff.root().join("image")).unwrap();
    assert!(store
        .layers()
        .unwrap()
        .iter()
        .all(|l| l.diff_id != image.diff_ids[0]));
    assert!(
        !store.has_blob(&image.layers[0].digest),
        "the bad blob is not stored"
    );
    assert!(skiff.store_entries("image/tmp").is_empty());
    // Truncated: the registry serves fewer bytes than the manifest says.
    fs::write(&blob, &bytes[..mid]).unwrap();
    let short = skiff.run(&["pull", &name]);
    short.expect_code(125);
    assert!(short.stderr.contains("mismatch"), "{}", short.stderr);
}

#[test]
fn a_hundred_and_twenty_layers_mount_as_one_root() {
    let registry = Registry::start();
    let skiff = Skiff::new();
    let layout = Layout::new(&skiff.dir().join("layout"));
    let mut layers = vec![busybox_layer(Compression::Gzip)];
    for i in 1..120 {
        layers.push(Layer {
            entries: vec![
                Entry::Dir("layers".into(), 0o755),
                Entry::File(format!("layers/{i}"), format!("{i}\n").into_bytes(), 0o644),
            ],
            compression: Compression::Gzip,
        });
    }
    let image = layout.add_image(&layers, "amd64", &["sh"]);
    push_image(
        &registry,
        &layout,
        &image.manifest,
        "tall:1",
        PushFormat::Oci,
    );
    let name = format!("{}/tall:1", registry.addr());
    skiff.run(&["pull", "-q", &name]).ok();
    with_rootfs(&skiff, &name, |root| {
        for i in 1..120 {
            assert_eq!(
                fs::read_to_string(root.join(format!("layers/{i}"))).unwrap(),
                format!("{i}\n")
            );
        }
        assert!(root.join("bin/busybox").is_file());
    });
}

/// An image with one large, incompressible layer, so a pull takes a while.
fn big_image(layout: &Layout) -> Image {
    let mut data = vec![0u8; 48 << 20];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    let big = Layer {
        entries: vec![Entry::File("big".into(), data, 0o644)],
        compression: Compression::None,
    };
    layout.add_image(&[busybox_layer(Compression::Gzip), big], "amd64", &["sh"])
}

#[test]
fn kill_9_mid_pull_leaves_a_store_that_repairs_itself() {
    let (_registry, skiff, image, name, _) = pushed(big_image, "big:1");
    for delay_ms in [0u64, 30, 120] {
        let mut child = skiff
            .command(&["pull", "-q", &name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while skiff.store_entries("image/tmp").is_empty()
            && start.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap();
        child.wait().unwrap();
        // The next command sweeps what the dead pull left in staging.
        skiff.run(&["images"]).ok();
        assert!(
            skiff.store_entries("image/tmp").is_empty(),
            "staging swept after {delay_ms} ms"
        );
    }
    skiff.run(&["pull", "-q", &name]).ok();
    assert_eq!(
        inspect(&skiff, &name)["Id"],
        image.config.digest.to_string().as_str()
    );
    with_rootfs(&skiff, &name, |root| {
        assert_eq!(fs::metadata(root.join("big")).unwrap().len(), 48 << 20);
    });
}

#[test]
fn two_pulls_at_once_both_succeed() {
    let (_registry, skiff, _, name, _) = pushed(big_image, "race:1");
    let children: Vec<_> = (0..2)
        .map(|_| {
            skiff
                .command(&["pull", "-q", &name])
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let store = Store::open(skiff.root().join("image")).unwrap();
    assert_eq!(store.images().unwrap().len(), 1);
    assert_eq!(store.layers().unwrap().len(), 2);
    with_rootfs(&skiff, &name, |root| assert!(root.join("big").is_file()));
    assert!(skiff.store_entries("image/tmp").is_empty());
}

#[test]
fn login_push_and_logout() {
    let registry = Registry::start_with_auth("skiff", "s3cret");
    let skiff = Skiff::new();
    let rootfs = skiff_e2e::busybox_rootfs(skiff.dir());
    let tar = skiff.dir().join("rootfs.tar");
    skiff_e2e::tar_dir(&rootfs, &tar);
    let name = format!("{}/pushed:1", registry.addr());
    skiff.run(&["import", tar.to_str().unwrap(), &name]).ok();
    let denied = skiff.run(&["push", &name]);
    denied.expect_code(125);
    assert!(denied.stderr.contains("skiff login"), "{}", denied.stderr);
    let wrong = skiff.run(&["login", "-u", "skiff", "-p", "nope", &registry.addr()]);
    assert_ne!(wrong.code, Some(0));
    skiff
        .run_with_input(
            &["login", "-u", "skiff", "--password-stdin", &registry.addr()],
            b"s3cret\n",
        )
        .ok()
        .stdout_has("Login Succeeded");
    let auth = fs::read_to_string(skiff.dir().join("auth.json")).unwrap();
    assert!(auth.contains(&registry.addr()), "{auth}");
    skiff.run(&["push", &name]).ok().stdout_has("sha256:");
    let other = Skiff::new();
    fs::copy(skiff.dir().join("auth.json"), other.dir().join("auth.json")).unwrap();
    other.run(&["pull", "-q", &name]).ok();
    assert_eq!(inspect(&other, &name)["Id"], inspect(&skiff, &name)["Id"]);
    skiff.run(&["logout", &registry.addr()]).ok();
    let after = skiff.run(&["pull", &name]);
    assert!(after.stderr.contains("skiff login"), "{}", after.stderr);
}
