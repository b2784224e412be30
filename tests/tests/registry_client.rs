//! The registry client against Debian's `docker-registry`, with images pushed
//! by Debian's `skopeo`: manifests by tag and digest in OCI and Docker form,
//! indexes, verified blobs, tampered storage, Basic authentication with login
//! and logout, pushes, and the errors for unknown tags and dead registries.
//!
//! Each test starts its own registry and keeps its files in its own temporary
//! directories, removed (and the registry killed) even when it fails.

use skiff_e2e::free_port;
use skiff_e2e::oci_layout::{
    busybox_layer, two_layer_image, Compression, Entry, Image, Layer, Layout, PushFormat,
};
use skiff_e2e::registry::{test_client, Registry};
use skiff_image::manifest::{
    AnyManifest, Descriptor, Manifest, Platform, DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_MANIFEST,
    OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST,
};
use skiff_image::registry::Client;
use skiff_image::{Digest, Error, Reference};
use std::fs;
use std::io::Cursor;

const USER: &str = "skiff";
const PASSWORD: &str = "s3cret-pass";

fn reference(registry: &Registry, name: &str) -> Reference {
    format!("{}/{name}", registry.addr())
        .parse()
        .expect("test reference")
}

fn manifest_of(bytes: &[u8], media_type: &str) -> Manifest {
    match AnyManifest::parse(bytes, Some(media_type)).expect("parse manifest") {
        AnyManifest::Image(m) => *m,
        AnyManifest::Index(_) => panic!("an index, not a manifest"),
    }
}

fn fetch_to_vec(client: &Client, r: &Reference, desc: &Descriptor) -> Vec<u8> {
    let mut out = Vec::new();
    let n = client.fetch_blob(r, desc, &mut out).expect("fetch blob");
    assert_eq!(n, desc.size);
    out
}

#[test]
fn oci_manifest_by_tag_and_by_digest_with_verified_blobs() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let layout = Layout::new(&work.path().join("layout"));
    let image = two_layer_image(&layout, Compression::Gzip);
    layout.set_top(&image.manifest);
    let pushed = skiff_e2e::oci_layout::push(
        &layout,
        &format!("{}/app:1.0", registry.addr()),
        PushFormat::Oci,
        None,
    );
    assert_eq!(pushed, image.manifest.digest);

    let client = test_client(work.path());
    let r = reference(&registry, "app:1.0");
    let by_tag = client.fetch_manifest(&r).expect("fetch by tag");
    assert_eq!(by_tag.media_type, OCI_MANIFEST);
    assert_eq!(by_tag.digest, pushed);
    assert_eq!(by_tag.bytes, layout.blob(&pushed));

    let pinned = reference(&registry, &format!("app@{pushed}"));
    let by_digest = client.fetch_manifest(&pinned).expect("fetch by digest");
    assert_eq!(by_digest.bytes, by_tag.bytes);
    let again = client
        .fetch_manifest_digest(&r, &pushed)
        .expect("fetch_manifest_digest");
    assert_eq!(again.digest, pushed);

    let manifest = manifest_of(&by_tag.bytes, &by_tag.media_type);
    assert_eq!(manifest.config.media_type, OCI_CONFIG);
    for desc in std::iter::once(&manifest.config).chain(&manifest.layers) {
        assert!(client.blob_exists(&r, &desc.digest).expect("blob_exists"));
        assert_eq!(fetch_to_vec(&client, &r, desc), layout.blob(&desc.digest));
    }
    let missing = Digest::sha256_of(b"not in this registry");
    assert!(!client.blob_exists(&r, &missing).expect("blob_exists"));
}

#[test]
fn docker_schema2_manifest() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let layout = Layout::new(&work.path().join("layout"));
    let image = layout.add_image(&[busybox_layer(Compression::Gzip)], "amd64", &["/bin/sh"]);
    layout.set_top(&image.manifest);
    let dest = format!("{}/docker/app:v2s2", registry.addr());
    let pushed = skiff_e2e::oci_layout::push(&layout, &dest, PushFormat::DockerV2S2, None);

    let client = test_client(work.path());
    let r = reference(&registry, "docker/app:v2s2");
    let fetched = client.fetch_manifest(&r).expect("fetch v2s2");
    assert_eq!(fetched.media_type, DOCKER_MANIFEST);
    assert_eq!(fetched.digest, pushed);
    let manifest = manifest_of(&fetched.bytes, &fetched.media_type);
    assert_eq!(manifest.config.media_type, DOCKER_CONFIG);
    assert_eq!(manifest.layers[0].media_type, DOCKER_LAYER_GZIP);
    // The conversion keeps the layer's bytes; only its media type changes.
    assert_eq!(manifest.layers[0].digest, image.layers[0].digest);
    let layer = fetch_to_vec(&client, &r, &manifest.layers[0]);
    assert_eq!(layer, layout.blob(&image.layers[0].digest));
    let config = fetch_to_vec(&client, &r, &manifest.config);
    let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(config["config"]["Cmd"][0], "/bin/sh");
}

/// Pushes an index of one image per architecture in `arches` as `name:multi`.
fn push_index(registry: &Registry, layout: &Layout, name: &str, arches: &[&str]) -> Digest {
    let images: Vec<(&str, Image)> = arches
        .iter()
        .map(|arch| {
            let marker = Layer {
                entries: vec![Entry::File("arch".into(), arch.as_bytes().to_vec(), 0o644)],
                compression: Compression::Gzip,
            };
            (*arch, layout.add_image(&[marker], arch, &["/bin/sh"]))
        })
        .collect();
    let listed: Vec<(&str, &Image)> = images.iter().map(|(a, i)| (*a, i)).collect();
    let index = layout.add_index(&listed);
    layout.set_top(&index);
    let dest = format!("{}/{name}:multi", registry.addr());
    skiff_e2e::oci_layout::push(layout, &dest, PushFormat::All, None)
}

#[test]
fn index_is_followed_to_linux_amd64() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let layout = Layout::new(&work.path().join("layout"));
    let pushed = push_index(&registry, &layout, "multi", &["arm64", "amd64"]);

    let client = test_client(work.path());
    let r = reference(&registry, "multi:multi");
    let fetched = client.fetch_manifest(&r).expect("fetch index");
    assert_eq!(fetched.media_type, OCI_INDEX);
    assert_eq!(fetched.digest, pushed);
    let AnyManifest::Index(index) =
        AnyManifest::parse(&fetched.bytes, Some(&fetched.media_type)).unwrap()
    else {
        panic!("not an index");
    };
    let amd64: Platform = "linux/amd64".parse().unwrap();
    let entry = index.select(&amd64).expect("an amd64 entry");
    let image = client
        .fetch_manifest_digest(&r, &entry.digest)
        .expect("follow the index");
    assert_eq!(image.digest, entry.digest);
    let manifest = manifest_of(&image.bytes, &image.media_type);
    assert_eq!(manifest.layers[0].media_type, OCI_LAYER_GZIP);
    let config = fetch_to_vec(&client, &r, &manifest.config);
    let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(config["architecture"], "amd64");
}

#[test]
fn index_without_amd64_fails_clearly() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let layout = Layout::new(&work.path().join("layout"));
    push_index(&registry, &layout, "armonly", &["arm64", "s390x"]);

    let client = test_client(work.path());
    let fetched = client
        .fetch_manifest(&reference(&registry, "armonly:multi"))
        .expect("fetch index");
    let AnyManifest::Index(index) =
        AnyManifest::parse(&fetched.bytes, Some(&fetched.media_type)).unwrap()
    else {
        panic!("not an index");
    };
    let err = index
        .select(&"linux/amd64".parse().unwrap())
        .unwrap_err()
        .to_string();
    for word in ["linux/amd64", "linux/arm64", "linux/s390x"] {
        assert!(err.contains(word), "{err:?} does not name {word}");
    }
}

#[test]
fn tampered_and_truncated_blobs_are_refused() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let layout = Layout::new(&work.path().join("layout"));
    let image = layout.add_image(&[busybox_layer(Compression::Gzip)], "amd64", &["/bin/sh"]);
    layout.set_top(&image.manifest);
    skiff_e2e::oci_layout::push(
        &layout,
        &format!("{}/tamper:1", registry.addr()),
        PushFormat::Oci,
        None,
    );

    let client = test_client(work.path());
    let r = reference(&registry, "tamper:1");
    let manifest = client.fetch_manifest(&r).expect("fetch manifest");
    let layer = manifest_of(&manifest.bytes, &manifest.media_type).layers[0].clone();
    let stored = registry.blob_path(&layer.digest.to_string());
    let mut bytes = fs::read(&stored).expect("registry's stored blob");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    fs::write(&stored, &bytes).unwrap();
    let err = client.fetch_blob(&r, &layer, &mut Vec::new()).unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");

    bytes.truncate(middle);
    fs::write(&stored, &bytes).unwrap();
    let err = client.fetch_blob(&r, &layer, &mut Vec::new()).unwrap_err();
    assert!(
        matches!(err, Error::SizeMismatch { actual, .. } if actual == middle as u64),
        "{err}"
    );
}

#[test]
fn basic_auth_with_login_and_logout() {
    let registry = Registry::start_with_auth(USER, PASSWORD);
    let work = tempfile::tempdir().unwrap();
    let layout = Layout::new(&work.path().join("layout"));
    let image = layout.add_image(&[busybox_layer(Compression::Gzip)], "amd64", &["/bin/sh"]);
    layout.set_top(&image.manifest);
    let creds = format!("{USER}:{PASSWORD}");
    skiff_e2e::oci_layout::push(
        &layout,
        &format!("{}/private:1", registry.addr()),
        PushFormat::Oci,
        Some(&creds),
    );

    let client = test_client(work.path());
    let r = reference(&registry, "private:1");
    let err = client.fetch_manifest(&r).unwrap_err();
    let hint = format!(
        "authentication required: run skiff login {}",
        registry.addr()
    );
    assert!(err.to_string().contains(&hint), "{err}");

    let err = client.login(&registry.addr(), USER, "wrong").unwrap_err();
    assert!(err.to_string().contains("failed"), "{err}");
    assert!(
        !work.path().join("auth.json").exists(),
        "a failed login stored credentials"
    );

    client
        .login(&registry.addr(), USER, PASSWORD)
        .expect("login");
    let file: serde_json::Value =
        serde_json::from_slice(&fs::read(work.path().join("auth.json")).unwrap()).unwrap();
    assert!(file["auths"][registry.addr()]["auth"].is_string(), "{file}");
    let fetched = client.fetch_manifest(&r).expect("fetch after login");
    assert_eq!(fetched.digest, image.manifest.digest);
    // A second client reads the stored credentials.
    let other = test_client(work.path());
    let config = manifest_of(&fetched.bytes, &fetched.media_type).config;
    fetch_to_vec(&other, &r, &config);

    client.logout(&registry.addr()).expect("logout");
    let file: serde_json::Value =
        serde_json::from_slice(&fs::read(work.path().join("auth.json")).unwrap()).unwrap();
    assert!(file["auths"].get(registry.addr()).is_none(), "{file}");
    let err = client.fetch_manifest(&r).unwrap_err();
    assert!(matches!(err, Error::AuthRequired { .. }), "{err}");
    assert!(
        client.logout(&registry.addr()).is_err(),
        "a second logout succeeded"
    );
}

#[test]
fn pushed_blobs_and_manifest_come_back() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let layout = Layout::new(&work.path().join("layout"));
    let image = layout.add_image(&[busybox_layer(Compression::Zstd)], "amd64", &["/bin/sh"]);

    let client = test_client(work.path());
    let r = reference(&registry, "pushed/app:2");
    for blob in std::iter::once(&image.config).chain(&image.layers) {
        let bytes = layout.blob(&blob.digest);
        client
            .push_blob(&r, &blob.digest, blob.size, &mut Cursor::new(&bytes))
            .expect("push blob");
        assert!(client.blob_exists(&r, &blob.digest).unwrap());
    }
    let manifest = layout.blob(&image.manifest.digest);
    let digest = client
        .push_manifest(&r, &manifest, OCI_MANIFEST)
        .expect("push manifest");
    assert_eq!(digest, image.manifest.digest);

    let fetched = client.fetch_manifest(&r).expect("fetch pushed manifest");
    assert_eq!(fetched.bytes, manifest);
    assert_eq!(fetched.media_type, OCI_MANIFEST);
    let layer = &manifest_of(&fetched.bytes, &fetched.media_type).layers[0];
    assert_eq!(fetch_to_vec(&client, &r, layer), layout.blob(&layer.digest));

    let data = b"some bytes that are not what the digest says".to_vec();
    let wrong = Digest::sha256_of(b"other bytes");
    let err = client
        .push_blob(&r, &wrong, data.len() as u64, &mut Cursor::new(&data))
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    let short = Digest::sha256_of(&data);
    let err = client
        .push_blob(&r, &short, data.len() as u64 + 10, &mut Cursor::new(&data))
        .unwrap_err();
    assert!(matches!(err, Error::SizeMismatch { .. }), "{err}");
    assert!(!client.blob_exists(&r, &short).unwrap());
}

#[test]
fn unknown_tag_is_manifest_unknown() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let client = test_client(work.path());
    let err = client
        .fetch_manifest(&reference(&registry, "nothing/here:nope"))
        .unwrap_err();
    assert!(matches!(err, Error::ManifestUnknown(_)), "{err}");
    assert_eq!(
        err.to_string(),
        format!("manifest unknown: {}/nothing/here:nope", registry.addr())
    );
}

#[test]
fn unreachable_registry_names_the_url() {
    let work = tempfile::tempdir().unwrap();
    let port = free_port();
    let client = test_client(work.path());
    let r: Reference = format!("127.0.0.1:{port}/gone:1").parse().unwrap();
    let err = client.fetch_manifest(&r).unwrap_err();
    assert!(matches!(err, Error::RegistryUnreachable { .. }), "{err}");
    let url = format!("http://127.0.0.1:{port}/v2/gone/manifests/1");
    assert!(err.to_string().contains(&url), "{err}");
}
