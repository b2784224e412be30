//! config.json text -> `spec::parse`, and when it parses, `spec::validate`
//! against a bundle whose `rootfs/` is an empty directory. Neither may panic,
//! whatever the input; errors are the expected outcome for most inputs.

#![no_main]

use std::ffi::c_int;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use skiff_runtime::spec;

/// The bundle directory, made once per process (under `$TMPDIR`).
static BUNDLE: OnceLock<PathBuf> = OnceLock::new();

/// Removes the bundle when libFuzzer exits normally (it calls `exit`, which
/// skips Rust destructors but runs `atexit` handlers).
extern "C" fn remove_bundle() {
    if let Some(dir) = BUNDLE.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

extern "C" {
    fn atexit(f: extern "C" fn()) -> c_int;
}

fn bundle() -> &'static Path {
    BUNDLE.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("skiff-fuzz-bundle.")
            .tempdir()
            .expect("create the fuzz bundle directory")
            .keep();
        std::fs::create_dir(dir.join("rootfs")).expect("create rootfs/");
        // SAFETY: registering a plain function with no captured state.
        unsafe { atexit(remove_bundle) };
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let bundle = bundle();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = spec::parse(text) {
        let _ = spec::validate(&spec, bundle);
    }
});
