//! `skiff` image commands without a registry: import, load, save, tag, rmi,
//! history, inspect, prune, and their bad input.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use skiff_e2e::{busybox_rootfs, docker_archive, require_program, run, tar_dir, Input, Skiff};

fn rootfs_tar(dir: &Path) -> PathBuf {
    let rootfs = busybox_rootfs(dir);
    let tar = dir.join("rootfs.tar");
    tar_dir(&rootfs, &tar);
    tar
}

fn sha256(path: &Path) -> String {
    let ran = run(Command::new("sha256sum").arg(path), Input::Null);
    ran.ok();
    format!("sha256:{}", ran.stdout.split_whitespace().next().unwrap())
}

fn inspect(skiff: &Skiff, name: &str) -> Value {
    let ran = skiff.run(&["image", "inspect", name]);
    ran.ok();
    let docs: Value = serde_json::from_str(&ran.stdout).expect("inspect prints JSON");
    docs[0].clone()
}

#[test]
fn import_makes_a_one_layer_image() {
    let skiff = Skiff::new();
    let tar = rootfs_tar(skiff.dir());
    let ran = skiff.run(&[
        "import",
        "-m",
        "from a test",
        tar.to_str().unwrap(),
        "busybox:imported",
    ]);
    ran.ok();
    let id = ran.stdout.trim().to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    let doc = inspect(&skiff, "busybox:imported");
    assert_eq!(doc["Id"], id.as_str());
    assert_eq!(doc["RepoTags"][0], "busybox:imported");
    assert_eq!(
        doc["RootFS"]["Layers"][0],
        sha256(&tar).as_str(),
        "diff id is the tar's digest"
    );
    assert_eq!(doc["Comment"], "from a test");
    assert_eq!(doc["Os"], "linux");
    let images = skiff.run(&["images"]);
    images
        .ok()
        .stdout_has("REPOSITORY")
        .stdout_has("busybox")
        .stdout_has("imported");
    assert!(images.stdout.contains(&id[7..19]), "{}", images.stdout);
    let history = skiff.run(&["history", "busybox:imported"]);
    history
        .ok()
        .stdout_has("skiff import")
        .stdout_has("from a test");
    // The unpacked layer holds the files with their link structure.
    let layers = skiff.store_entries("image/layers");
    let layer_dir = layers
        .iter()
        .find(|n| !n.ends_with(".lock"))
        .expect("a layer");
    let diff = skiff
        .root()
        .join("image/layers")
        .join(layer_dir)
        .join("diff");
    assert_eq!(
        fs::read_link(diff.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert!(
        skiff.store_entries("image/tmp").is_empty(),
        "staging is cleaned"
    );
}

#[test]
fn import_from_stdin_gzip_and_by_id_prefix() {
    let skiff = Skiff::new();
    let tar = rootfs_tar(skiff.dir());
    run(Command::new("gzip").arg("-k").arg(&tar), Input::Null).ok();
    let gz = fs::read(tar.with_extension("tar.gz")).unwrap();
    let ran = skiff.run_with_input(&["import", "-", "local/gz"], &gz);
    ran.ok();
    let id = ran.stdout.trim();
    let doc = inspect(&skiff, &id[7..15]);
    assert_eq!(doc["RepoTags"][0], "local/gz:latest");
    assert_eq!(
        doc["RootFS"]["Layers"][0],
        sha256(&tar).as_str(),
        "diff id of the uncompressed tar"
    );
    skiff.run(&["images", "-q"]).ok().stdout_has(&id[7..19]);
}

#[test]
fn load_reads_docker_save_archives() {
    let skiff = Skiff::new();
    let tar = rootfs_tar(skiff.dir());
    let archive = docker_archive(skiff.dir(), &tar, "example.com/team/app:v1");
    let ran = skiff.run(&["load", "-i", archive.to_str().unwrap()]);
    ran.ok().stdout_has("Loaded image: example.com/team/app:v1");
    let doc = inspect(&skiff, "example.com/team/app:v1");
    assert_eq!(doc["Config"]["Cmd"][0], "sh");
    assert_eq!(doc["RootFS"]["Layers"][0], sha256(&tar).as_str());
}

#[test]
fn save_then_load_round_trips_and_skopeo_reads_it() {
    require_program("skopeo", "skopeo");
    let skiff = Skiff::new();
    let tar = rootfs_tar(skiff.dir());
    let id = skiff
        .run(&["import", tar.to_str().unwrap(), "busybox:saved"])
        .stdout
        .trim()
        .to_string();
    let archive = skiff.dir().join("saved.tar");
    skiff
        .run(&["save", "-o", archive.to_str().unwrap(), "busybox:saved"])
        .ok();
    for transport in ["docker-archive", "oci-archive"] {
        let ran = run(
            Command::new("skopeo")
                .arg("inspect")
                .arg(format!("{transport}:{}", archive.display())),
            Input::Null,
        );
        ran.ok().stdout_has("\"Layers\"");
    }
    let other = Skiff::new();
    let ran = other.run(&["load", "-i", archive.to_str().unwrap()]);
    ran.ok().stdout_has("busybox:saved");
    assert_eq!(inspect(&other, "busybox:saved")["Id"], id.as_str());
}

#[test]
fn tag_rmi_and_prune_leave_an_empty_store() {
    let skiff = Skiff::new();
    let tar = rootfs_tar(skiff.dir());
    let id = skiff
        .run(&["import", tar.to_str().unwrap(), "one:1"])
        .stdout
        .trim()
        .to_string();
    skiff.run(&["tag", "one:1", "two:2"]).ok();
    let refused = skiff.run(&["rmi", &id[7..19]]);
    assert_ne!(refused.code, Some(0));
    assert!(
        refused.stderr.contains("several names"),
        "{}",
        refused.stderr
    );
    skiff
        .run(&["rmi", "two:2"])
        .ok()
        .stdout_has("Untagged: docker.io/library/two:2");
    assert_eq!(
        inspect(&skiff, "one:1")["Id"],
        id.as_str(),
        "still there under its other name"
    );
    skiff
        .run(&["rmi", "one:1"])
        .ok()
        .stdout_has(&format!("Deleted: {id}"));
    assert_eq!(skiff.store_entries("image/images"), Vec::<String>::new());
    assert!(
        skiff.store_entries("image/l").is_empty(),
        "layer links are gone"
    );
    assert!(
        skiff.store_entries("image/blobs/sha256").is_empty(),
        "blobs are gone"
    );
    // prune removes images without names.
    skiff.run(&["import", tar.to_str().unwrap()]).ok();
    skiff.run(&["images"]).ok().stdout_has("<none>");
    skiff
        .run(&["image", "prune", "-f"])
        .ok()
        .stdout_has("deleted: sha256:");
    assert!(skiff.store_entries("image/images").is_empty());
}

#[test]
fn bad_input_is_refused_clearly_and_leaves_nothing() {
    let skiff = Skiff::new();
    let junk = skiff.dir().join("junk.tar");
    fs::write(&junk, b"this is not a tar archive, not even close........").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["pull", "Bad:Ref"], "lowercase"),
        (vec!["pull", "a//b"], "invalid reference"),
        (vec!["tag", "nothing:here", "x"], "no such image"),
        (vec!["image", "inspect", "missing"], "no such image"),
        (vec!["rmi", "missing"], "no such image"),
        (
            vec!["load", "-i", "/nonexistent/archive.tar"],
            "/nonexistent/archive.tar",
        ),
        (vec!["load", "-i", junk.to_str().unwrap()], "archive"),
        (vec!["images", "--format", "yaml"], "yaml"),
        (vec!["pull", "--platform", "linux", "busybox"], "platform"),
        (vec!["images", "--bogus"], "--bogus"),
    ];
    skiff.expect_failures(&cases);
    assert_eq!(
        skiff.run(&["images", "--bogus"]).code,
        Some(125),
        "usage errors exit 125"
    );
    assert!(skiff.store_entries("image/images").is_empty());
    assert!(skiff.store_entries("image/blobs/sha256").is_empty());
    assert!(skiff.store_entries("image/tmp").is_empty());
}
