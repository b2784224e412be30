//! Arbitrary bytes as a plain layer tar -> `unpack::unpack_layer` into
//! `case/dest`. Besides not panicking, nothing may appear beside `dest` or
//! beside `case`: every write stays inside the layer directory.

#![no_main]

#[path = "common/confined.rs"]
mod confined;

use libfuzzer_sys::fuzz_target;
use skiff_image::manifest::Compression;
use skiff_image::unpack::unpack_layer;

fuzz_target!(|data: &[u8]| {
    confined::check("dest", |dest| {
        let _ = unpack_layer(data, Compression::None, dest);
    });
});
