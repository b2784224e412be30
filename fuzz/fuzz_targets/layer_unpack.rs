//! Arbitrary bytes as a plain layer tar -> `unpack::unpack_layer` into
//! `case/dest`. Besides not panicking, nothing may appear beside `dest` or
//! beside `case`: every write stays inside the layer directory.

#![no_main]

use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use skiff_image::manifest::Compression;
use skiff_image::unpack::unpack_layer;
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
    let dest = case.join("dest");
    fs::create_dir_all(&dest).unwrap();
    let _ = unpack_layer(data, Compression::None, &dest);
    assert_eq!(names(&case), ["dest"], "written beside the layer directory");
    assert_eq!(names(base), ["case"], "written above the layer directory");
    fs::remove_dir_all(&case).unwrap();
});
