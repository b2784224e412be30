//! Builds `skiff-init` (init/skiff-init.c), the static pid 1 that
//! `skiff run --init` puts in a container, with the system's C compiler.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let src = "init/skiff-init.c";
    println!("cargo:rerun-if-changed={src}");
    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("skiff-init");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args(["-static", "-Os", "-Wall", "-Werror", "-s", "-o"])
        .arg(&out)
        .arg(src)
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc}: {e}"));
    assert!(
        status.success(),
        "building {src} failed (needs a C compiler and a static libc: libc6-dev)"
    );
}
