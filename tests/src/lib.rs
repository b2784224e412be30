//! Helpers for end-to-end tests that drive an OCI runtime binary (runc's command line)
//! as root on the real kernel.
//!
//! The binary under test comes from the `SKIFF_RUNTIME` environment variable and
//! defaults to the workspace's `target/debug/skiff-runtime`. Every test builds its own
//! [`Bundle`], uses its own [`Runtime`] (with a private `--root`), and names its
//! containers through a [`Container`] guard that removes them even when the test fails.
//!
//! The tests need root. Because the command line is runc's, they can be checked
//! against runc: `SKIFF_RUNTIME=/usr/sbin/runc cargo nextest run -p skiff-e2e`.
//! Checks of skiff-specific behaviour return early under another runtime; see
//! [`skip_skiff_checks`].

mod bundle;
mod clients;
mod guard;
pub mod oci_layout;
mod procs;
mod quick;
pub mod registry;
mod runtime;
mod skiff;
mod user;

pub use bundle::{Bundle, DEFAULT_PATH};
pub use clients::{
    busybox_rootfs, cgroup_limit, docker_archive, eventually, free_port, http_get, image_arch,
    remove_iptables_rules_naming, require_program, run, run_in_pty, shell_quote, tar_dir,
    unmount_under, wait_http, Input, Ran, Scratch, COMMAND_TIMEOUT, DEBIAN_RUNC, INDEX_PAGE,
};
pub use guard::{assert_nothing_left, cgroup_dirs, Container, HostDir, NetNs};
pub use procs::{
    become_subreaper, child_pids, ns_link, ns_report_script, parse_ns_report, pid_alive,
    reap_children, set_owned, wait_until, DEADLINE, NS_KINDS,
};
pub use quick::{run_bundle, sh_output};
pub use runtime::{assert_ok, runtime_binary, skip_skiff_checks, text, Runtime, Spawned};
pub use skiff::{skiff_binary, Skiff};
pub use user::{account_tool, User};
