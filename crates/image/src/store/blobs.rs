//! Blobs by digest (`blobs/sha256/<hex>`), as in an OCI image layout. A blob
//! is written to staging, verified, and only then renamed into place, so a
//! blob under its name always has that digest.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::staging::Staging;
use super::Store;
use crate::digest::{Algorithm, Digest, DigestWriter};
use crate::error::{Error, Result};

impl Store {
    /// Where the blob `digest` lives (whether or not it is there).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(digest.algorithm().name())
            .join(digest.hex())
    }

    /// Whether the store has the blob.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// The blob's bytes (for manifests and configurations, which are small).
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        let bytes = fs::read(&path).map_err(|e| Error::io("reading blob", &path, e))?;
        digest.verify(&bytes)?;
        Ok(bytes)
    }

    /// Opens the blob for streaming.
    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        let path = self.blob_path(digest);
        File::open(&path).map_err(|e| Error::io("opening blob", &path, e))
    }

    /// Stores `bytes`, returning their sha256 digest.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::sha256_of(bytes);
        if !self.has_blob(&digest) {
            let staging = Staging::new(&self.tmp())?;
            let path = staging.join("blob");
            fs::write(&path, bytes).map_err(|e| Error::io("writing", &path, e))?;
            self.commit_blob(&path, &digest)?;
        }
        Ok(digest)
    }

    /// Streams `data` into a staged file whose digest (in `algorithm`) and
    /// size are computed on the way; returns the staged path and both.
    pub fn stage_blob(
        &self,
        staging: &Staging,
        algorithm: Algorithm,
        data: &mut dyn Read,
    ) -> Result<(PathBuf, Digest, u64)> {
        let path = staging.join(&format!("blob-{}", super::fsutil::random_name()));
        let file = File::create(&path).map_err(|e| Error::io("creating", &path, e))?;
        let mut writer = DigestWriter::new(io::BufWriter::new(file), algorithm);
        io::copy(data, &mut writer).map_err(|e| Error::io("writing", &path, e))?;
        let size = writer.written();
        let (digest, buffered) = writer.finish();
        let file = buffered
            .into_inner()
            .map_err(|e| Error::io("writing", &path, e.into_error()))?;
        file.sync_all()
            .map_err(|e| Error::io("syncing", &path, e))?;
        Ok((path, digest, size))
    }

    /// Moves a staged, verified file into place as blob `digest`. A blob that
    /// is already there (another pull got it first) has the same bytes.
    pub fn commit_blob(&self, staged: &Path, digest: &Digest) -> Result<()> {
        let dest = self.blob_path(digest);
        if let Some(dir) = dest.parent() {
            super::fsutil::create_dir_all(dir)?;
        }
        File::open(staged)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io("syncing", staged, e))?;
        fs::rename(staged, &dest).map_err(|e| Error::io("storing blob", &dest, e))
    }

    /// Removes a blob.
    pub fn remove_blob(&self, digest: &Digest) -> Result<()> {
        super::fsutil::remove_all(&self.blob_path(digest))
    }

    /// Every blob in the store.
    pub fn blobs(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        for algo in [Algorithm::Sha256, Algorithm::Sha512] {
            let dir = self.root.join("blobs").join(algo.name());
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = format!("{}:{}", algo.name(), entry.file_name().to_string_lossy());
                if let Ok(d) = name.parse() {
                    out.push(d);
                }
            }
        }
        Ok(out)
    }
}
