//! The network crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong with a network, an address or a rule.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A network the store does not have.
    #[error("network {0:?} not found: create it with `skiff network create {0}`")]
    UnknownNetwork(String),
    /// A network name (or bridge name) already taken.
    #[error("network {0:?} already exists")]
    NetworkExists(String),
    /// Input that is not what it should be: a bad CIDR, a gateway outside
    /// its subnet, an overlapping subnet, a malformed port spec.
    #[error("{0}")]
    Invalid(String),
    /// A request that conflicts with what is already there: an address or a
    /// port in use, a network with containers still attached.
    #[error("{0}")]
    Conflict(String),
    /// A netlink request the kernel refused.
    #[error("netlink: {what}: {source}")]
    Netlink {
        /// What was asked of the kernel.
        what: String,
        /// The kernel's answer.
        source: std::io::Error,
    },
    /// `nft` failed to load skiff's rules.
    #[error("nftables: {0}")]
    Nft(String),
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
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on `path` while doing `context`.
    pub fn io(context: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            context,
            path: path.into(),
            source,
        }
    }

    /// A netlink error for request `what`.
    pub fn netlink(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Netlink {
            what: what.into(),
            source,
        }
    }

    /// Whether this is the kernel saying a link or address does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Netlink { source, .. }
            if matches!(source.raw_os_error(), Some(libc::ENODEV) | Some(libc::ENOENT) | Some(libc::ESRCH)))
    }
}
