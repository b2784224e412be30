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
    /// An I/O error, with what was being done.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}

/// The engine's result type.
pub type Result<T> = std::result::Result<T, Error>;
