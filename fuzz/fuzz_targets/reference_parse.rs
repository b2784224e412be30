//! Any string -> `Reference::from_str`. A reference that parses must print
//! (`to_string`) as a string that parses to the same reference, and its
//! repository has neither `..` components nor upper case (it names
//! directories and registry paths).

#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_image::Reference;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(first) = text.parse::<Reference>() else {
        return;
    };
    let printed = first.to_string();
    let second: Reference = printed
        .parse()
        .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which does not parse: {e}"));
    assert_eq!(first, second, "{text:?} changed in a round trip");
    let repository = first.repository();
    assert!(
        !repository.split('/').any(|c| c == ".." || c == "."),
        "{text:?}: repository {repository:?} has a dot component"
    );
    assert!(
        !repository.bytes().any(|b| b.is_ascii_uppercase()),
        "{text:?}: repository {repository:?} has upper case"
    );
});
