//! A `linux.seccomp` object -> `seccomp::validate`, which compiles the
//! libseccomp filter without loading it. It must never panic: a bad profile
//! is an error naming the field.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oci_spec::runtime::LinuxSeccomp;
use skiff_runtime::seccomp;

fuzz_target!(|data: &[u8]| {
    if let Ok(profile) = serde_json::from_slice::<LinuxSeccomp>(data) {
        let _ = seccomp::validate(&profile);
    }
});
