//! Any bytes -> `AnyManifest::parse`, without a content type and with each
//! accepted manifest type, and -> `ImageConfig::parse`. None may panic, and
//! neither may `Index::select` on a parsed index for the host's platform.

#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_image::manifest::{AnyManifest, ImageConfig, Platform, ACCEPTED_MANIFESTS};

fuzz_target!(|data: &[u8]| {
    let content_types = std::iter::once(None).chain(ACCEPTED_MANIFESTS.map(Some));
    for content_type in content_types {
        if let Ok(AnyManifest::Index(index)) = AnyManifest::parse(data, content_type) {
            let _ = index.select(&Platform::host());
        }
    }
    let _ = ImageConfig::parse(data);
});
