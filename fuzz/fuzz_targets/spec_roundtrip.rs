//! config.json text that parses must serialize back to JSON that parses to
//! the same spec (skiff writes specs it has read, e.g. into its state).

#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_runtime::spec;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(first) = spec::parse(text) else {
        return;
    };
    let json = serde_json::to_string(&first).expect("a parsed spec serializes");
    let second = spec::parse(&json)
        .unwrap_or_else(|e| panic!("serialized spec does not parse: {e}\n{json}"));
    assert_eq!(first, second, "spec changed in a round trip:\n{json}");
});
