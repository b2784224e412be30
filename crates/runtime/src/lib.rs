//! skiff's OCI runtime as a library: an OCI bundle in, a running container out.
//!
//! The binary `skiff-runtime` is a thin command line over this crate; the
//! engine uses the crate directly. The process model, the order of the
//! set-up steps and the security choices are described in `docs/runtime.md`.

pub mod capabilities;
pub mod cgroup;
pub mod console;
pub mod container;
pub mod default_spec;
pub mod default_syscalls;
pub mod devices;
pub mod error;
pub mod events;
pub mod exec;
pub mod fdpass;
pub mod features;
pub mod foreground;
pub mod fuse_overlay;
pub mod hooks;
pub mod idmap;
pub mod init;
pub mod log;
pub mod mount_options;
pub mod namespaces;
pub mod process;
pub mod process_attrs;
pub mod resolve;
pub mod rootfs;
pub mod rootless;
pub mod sealed_exe;
pub mod seccomp;
pub mod security_defaults;
pub mod signals;
pub mod spawn;
pub mod spec;
pub mod state;
pub mod sync;
pub mod update;

pub use error::{Error, Result};
