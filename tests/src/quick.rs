//! One-shot helpers: run a bundle in the foreground and collect its output.

use crate::bundle::Bundle;
use crate::runtime::{assert_ok, text, Runtime};
use std::process::Output;

/// Runs `bundle` in the foreground as container `t-<name>-<pid>` on a fresh runtime,
/// then asserts that nothing was left behind. Returns the runtime's output, which
/// includes the container's (no terminal).
pub fn run_bundle(name: &str, bundle: &Bundle) -> Output {
    let rt = Runtime::new();
    let c = rt.container(name);
    let out = c.run(bundle);
    c.assert_nothing_left(None);
    out
}

/// Runs `sh -c script` in `bundle` (see [`run_bundle`]), requires success, and
/// returns standard output.
pub fn sh_output(name: &str, bundle: Bundle, script: &str) -> String {
    let bundle = bundle.args(&["sh", "-c", script]);
    let out = run_bundle(name, &bundle);
    assert_ok(&out, &format!("run of `{script}`"));
    text(&out.stdout)
}
