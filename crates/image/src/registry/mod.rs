//! A client for the OCI distribution API: manifests and blobs fetched and
//! pushed over HTTPS (plain HTTP for loopback and insecure registries),
//! Docker's token authentication and Basic authentication, credentials in
//! Docker's `config.json`.
//!
//! Synchronous, on `ureq`: the engine fetches layers from several threads
//! with clones of one [`Client`], and joins them before it starts a
//! container process.

mod auth;
mod client;
pub mod config;
pub mod credentials;
mod errors;
mod stream;
mod transport;

use std::path::PathBuf;

pub use auth::{parse_challenges, Challenge};
pub use client::Client;
pub use config::{RegistriesConfig, DEFAULT_REGISTRIES_CONF};
pub use credentials::{CredentialStore, Credentials};

use crate::digest::Digest;

/// How a [`Client`] talks to registries.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Verify TLS certificates; `false` speaks plain HTTP to every registry.
    pub tls_verify: bool,
    /// The credentials file (`--authfile`); Docker's `config.json` if `None`.
    pub auth_file: Option<PathBuf>,
    /// The registries configuration; [`DEFAULT_REGISTRIES_CONF`] if `None`.
    pub registries_conf: Option<PathBuf>,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            tls_verify: true,
            auth_file: None,
            registries_conf: None,
            user_agent: format!("skiff/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// A manifest or index as the registry sent it.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// The exact bytes, which its digest is of.
    pub bytes: Vec<u8>,
    /// Its media type: the Content-Type, or else the document's `mediaType`.
    pub media_type: String,
    /// The SHA-256 of `bytes`.
    pub digest: Digest,
}

#[cfg(test)]
mod tests;
