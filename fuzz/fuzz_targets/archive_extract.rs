//! Any bytes as an image archive -> `archive::load` into a store at
//! `case/store`. Besides not panicking, nothing may appear beside the store
//! or above it: every write stays under the store root.

#![no_main]

#[path = "common/confined.rs"]
mod confined;

use libfuzzer_sys::fuzz_target;
use skiff_image::archive;
use skiff_image::store::Store;

fuzz_target!(|data: &[u8]| {
    confined::check("store", |root| {
        let store = Store::open(root).unwrap();
        let _ = archive::load(&store, &mut &data[..]);
    });
});
