//! The engine's error type.

/// What can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// From the image crate.
    #[error(transparent)]
    Image(#[from] skiff_image::Error),
    /// A name, id or reference that finds nothing.
    #[error("{0}")]
    NotFound(String),
    /// An operation that conflicts with the state of things.
    #[error("{0}")]
    Conflict(String),
    /// A request that is malformed.
    #[error("{0}")]
    Invalid(String),
    /// The OCI runtime failed.
    #[error("{0}")]
    Runtime(String),
    /// The container's command could not be run: 126 when it cannot be
    /// invoked, 127 when it is not found (Docker's exit codes).
    #[error("{message}")]
    Command {
        /// 126 or 127.
        code: u8,
        /// What the runtime said.
        message: String,
    },
    /// An I/O error, with what was being done.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}

/// The engine's result type.
pub type Result<T> = std::result::Result<T, Error>;
