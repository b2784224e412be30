//! Any bytes as an image archive -> `archive::load` into a store at
//! `case/store`. Besides not panicking, nothing may appear beside the store
//! or above it: every write stays under the store root.

#![no_main]

use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use skiff_image::archive;
use skiff_image::store::Store;
use tempfile::TempDir;

/// The directory each input's `case` is made in (under `$TMPDIR`).
static BASE: OnceLock<TempDir> = OnceLock::new();

fn names(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let base = BASE.get_or_init(|| TempDir::new().unwrap()).path();
    let case = base.join("case");
    let root = case.join("store");
    let store = Store::open(&root).unwrap();
    let _ = archive::load(&store, &mut &data[..]);
    assert_eq!(names(&case), ["store"], "written beside the store root");
    assert_eq!(names(base), ["case"], "written above the store root");
    fs::remove_dir_all(&case).unwrap();
});
