//! Containers: records and names, the spec, the root filesystem, the
//! monitor that runs each one, and the operations users call.

pub mod admin;
pub mod attach;
pub mod copy;
pub mod create;
pub mod devices;
pub mod driver;
pub mod exec;
pub mod export;
pub mod handover;
pub mod init_binary;
pub mod lifecycle;
pub mod logs;
pub mod monitor;
pub mod names;
pub mod record;
pub mod rootfs;
pub mod running;
pub mod seccomp_profile;
pub mod spec;
pub mod stats;
pub mod store;
pub mod top;
pub mod tree;
pub mod update;
pub mod user;
mod userns_root;
pub mod view;

pub use create::RunOptions;
pub use record::{
    ContainerConfig, ContainerState, MountSpec, NetAttachment, NetConfig, Resources, RestartPolicy,
    Status,
};
pub use running::Stdio;
pub use store::ContainerStore;
