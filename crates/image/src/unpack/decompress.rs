//! The layer blob decompressed, and the uncompressed bytes hashed into the
//! layer's diff_id as they pass.

use std::io::{self, Read, Write};

use crate::digest::{Algorithm, Digest, DigestWriter};
use crate::manifest::Compression;

/// A reader over the uncompressed tar of `blob`. gzip members and zstd
/// frames may be concatenated, as both formats allow.
pub(crate) fn decoder<'a>(
    blob: impl Read + 'a,
    compression: Compression,
) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match compression {
        Compression::None => Box::new(blob),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(blob)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(blob)?),
    })
}

/// Passes reads through and hashes (SHA-256) and counts every byte.
pub(crate) struct HashingReader<R> {
    inner: R,
    digest: DigestWriter<io::Sink>,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: R) -> Self {
        HashingReader {
            inner,
            digest: DigestWriter::new(io::sink(), Algorithm::Sha256),
        }
    }

    /// Reads what is left to the end, so the digest covers every byte (a
    /// tar's end-of-archive blocks and any padding after them).
    pub(crate) fn drain(&mut self) -> io::Result<()> {
        io::copy(self, &mut io::sink()).map(drop)
    }

    /// The digest and count of everything read.
    pub(crate) fn finish(self) -> (Digest, u64) {
        let size = self.digest.written();
        (self.digest.finish().0, size)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digest
            .write_all(&buf[..n])
            .expect("a sink never fails");
        Ok(n)
    }
}
