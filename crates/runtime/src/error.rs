//! The runtime's error type: every variant says what was wrong and names the
//! field, path or container involved.

use std::io;

/// Errors from the runtime library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bundle's config.json is malformed or asks for something invalid.
    #[error("config.json: {0}")]
    Spec(String),
    /// A container id is empty or could escape the state directory.
    #[error("invalid container id {id:?}: {why}")]
    InvalidId {
        /// The offending id.
        id: String,
        /// Why it was refused.
        why: &'static str,
    },
    /// No container with this id exists under the state root.
    #[error("container {0:?} does not exist")]
    NotFound(String),
    /// A container with this id already exists under the state root.
    #[error("container {0:?} already exists")]
    Exists(String),
    /// The operation does not fit the container's current status.
    #[error("container {id:?} is {status}: {what}")]
    WrongState {
        /// The container.
        id: String,
        /// Its current status.
        status: String,
        /// What was refused.
        what: &'static str,
    },
    /// A command-line argument was invalid.
    #[error("{0}")]
    Usage(String),
    /// The container's init process reported a failure while setting up.
    #[error("container init: {0}")]
    Init(String),
    /// A lifecycle hook failed.
    #[error("{0}")]
    Hook(String),
    /// The process to run cannot be run (missing executable, bad args or env).
    #[error("process: {0}")]
    Process(String),
    /// A system call or file operation failed.
    #[error("{context}: {source}")]
    Os {
        /// What was being done, naming the path or object.
        context: String,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },
    /// A cgroup operation failed.
    #[error(transparent)]
    Cgroup(#[from] skiff_cgroups::Error),
}

/// Result type of the runtime library.
pub type Result<T> = std::result::Result<T, Error>;

/// Adds context to OS-level errors.
pub trait Context<T> {
    /// Wrap the error with a description of what was being done.
    fn ctx<F: FnOnce() -> String>(self, what: F) -> Result<T>;
}

impl<T> Context<T> for io::Result<T> {
    fn ctx<F: FnOnce() -> String>(self, what: F) -> Result<T> {
        self.map_err(|source| Error::Os {
            context: what(),
            source,
        })
    }
}

impl<T> Context<T> for nix::Result<T> {
    fn ctx<F: FnOnce() -> String>(self, what: F) -> Result<T> {
        self.map_err(|errno| Error::Os {
            context: what(),
            source: io::Error::from(errno),
        })
    }
}
