//! The image crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong with an image, a registry or the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A digest string that is not `algorithm:hex` with a known algorithm.
    #[error("invalid digest {0:?}: {1}")]
    InvalidDigest(String, &'static str),
    /// Content whose digest is not the one it was asked for under.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The digest the content was named by.
        expected: String,
        /// The digest of the bytes that arrived.
        actual: String,
    },
    /// A size that does not match the descriptor's.
    #[error("size mismatch for {digest}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The blob's digest.
        digest: String,
        /// The size the descriptor gives.
        expected: u64,
        /// The size that arrived.
        actual: u64,
    },
    /// An image reference that Docker's grammar does not accept.
    #[error("invalid reference {0:?}: {1}")]
    InvalidReference(String, String),
    /// A system call or file operation failed on a path.
    #[error("{context} {}: {source}", path.display())]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file or directory it was done to.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Anything else, with a message that says what.
    #[error("{0}")]
    Other(String),
    /// A registry that did not answer at all (refused, timed out, TLS failed).
    #[error("cannot reach registry at {url}: {reason}")]
    RegistryUnreachable {
        /// The URL that was asked.
        url: String,
        /// What the connection attempt said.
        reason: String,
    },
    /// A registry that wants credentials it was not given, or refused them.
    #[error("authentication required: run skiff login {registry} ({detail})")]
    AuthRequired {
        /// The registry, as `skiff login` takes it.
        registry: String,
        /// What the registry said.
        detail: String,
    },
    /// A tag or digest the repository does not have.
    #[error("manifest unknown: {0}")]
    ManifestUnknown(String),
    /// Any other error status from a registry, with its error body's message.
    #[error("registry error from {url}: HTTP {status}: {message}")]
    Registry {
        /// The URL that was asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The registry's error codes and messages, or the status's reason.
        message: String,
    },
    /// A layer entry that could not be unpacked.
    #[error("layer entry {entry:?}: {reason}")]
    Unpack {
        /// The tar entry's name (or where in the archive, for a header).
        entry: String,
        /// What was wrong.
        reason: String,
    },
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An I/O error on `path` while doing `context`.
    pub fn io(context: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            context,
            path: path.into(),
            source,
        }
    }
}
