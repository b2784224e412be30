//! Blobs verified while they stream, in both directions: downloads checked
//! for size and digest as they are written out, uploads hashed and counted
//! as they are read in. Neither holds more than a buffer of a blob.

use std::io::{self, ErrorKind, Read, Write};

use crate::digest::{Digest, DigestWriter};
use crate::error::{Error, Result};
use crate::manifest::Descriptor;

const BUFFER: usize = 64 * 1024;

/// Copies the blob `desc` from `reader` (the response from `url`) to `out`,
/// refusing more bytes than the descriptor's size, fewer, or others.
pub(crate) fn copy_verified(
    reader: &mut dyn Read,
    desc: &Descriptor,
    out: &mut dyn Write,
    url: &str,
) -> Result<u64> {
    let mut writer = DigestWriter::new(out, desc.digest.algorithm());
    let mut buf = vec![0u8; BUFFER];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::Other(format!(
                    "download of {} from {url} broke off after {} of {} bytes: {e}",
                    desc.digest,
                    writer.written(),
                    desc.size
                )))
            }
        };
        let total = writer.written() + n as u64;
        if total > desc.size {
            // Stop here: a registry that sends too much may never stop.
            return Err(size_mismatch(desc, total));
        }
        writer
            .write_all(&buf[..n])
            .map_err(|e| Error::Other(format!("writing blob {}: {e}", desc.digest)))?;
    }
    if writer.written() != desc.size {
        return Err(size_mismatch(desc, writer.written()));
    }
    writer.verify(&desc.digest)?;
    Ok(desc.size)
}

fn size_mismatch(desc: &Descriptor, actual: u64) -> Error {
    Error::SizeMismatch {
        digest: desc.digest.to_string(),
        expected: desc.size,
        actual,
    }
}

/// A reader over exactly `size` bytes of `inner` that hashes what passes and
/// fails (rather than sending a short body) when `inner` ends early.
pub(crate) struct VerifyingReader<'a> {
    inner: &'a mut dyn Read,
    size: u64,
    hasher: DigestWriter<io::Sink>,
    ended_short: bool,
}

impl<'a> VerifyingReader<'a> {
    /// Reads `size` bytes of `inner`, hashing for `expected`'s algorithm.
    pub(crate) fn new(inner: &'a mut dyn Read, size: u64, expected: &Digest) -> Self {
        VerifyingReader {
            inner,
            size,
            hasher: DigestWriter::new(io::sink(), expected.algorithm()),
            ended_short: false,
        }
    }

    /// After the upload: an error if the data was short or hashed to
    /// another digest; nothing to say if it was not all read (the upload
    /// failed for another reason, which the caller reports).
    pub(crate) fn check(self, expected: &Digest) -> Result<()> {
        let read = self.hasher.written();
        if self.ended_short {
            return Err(Error::SizeMismatch {
                digest: expected.to_string(),
                expected: self.size,
                actual: read,
            });
        }
        if read < self.size {
            return Ok(());
        }
        self.hasher.verify(expected).map(|_| ())
    }
}

impl Read for VerifyingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.size - self.hasher.written();
        if left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            self.ended_short = true;
            return Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                format!(
                    "blob data ended after {} of {} bytes",
                    self.hasher.written(),
                    self.size
                ),
            ));
        }
        self.hasher.write_all(&buf[..n])?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(data: &[u8]) -> Descriptor {
        Descriptor {
            media_type: crate::manifest::OCI_LAYER_TAR.into(),
            digest: Digest::sha256_of(data),
            size: data.len() as u64,
            platform: None,
            annotations: Default::default(),
            urls: Vec::new(),
        }
    }

    #[test]
    fn download_checks_size_and_digest() {
        let d = desc(b"hello");
        let mut out = Vec::new();
        assert_eq!(
            copy_verified(&mut &b"hello"[..], &d, &mut out, "u").unwrap(),
            5
        );
        assert_eq!(out, b"hello");
        let short = copy_verified(&mut &b"hell"[..], &d, &mut Vec::new(), "u").unwrap_err();
        assert!(
            matches!(
                short,
                Error::SizeMismatch {
                    expected: 5,
                    actual: 4,
                    ..
                }
            ),
            "{short}"
        );
        let long = copy_verified(&mut &b"hello!"[..], &d, &mut Vec::new(), "u").unwrap_err();
        assert!(
            matches!(long, Error::SizeMismatch { actual: 6, .. }),
            "{long}"
        );
        let other = copy_verified(&mut &b"jello"[..], &d, &mut Vec::new(), "u").unwrap_err();
        assert!(matches!(other, Error::DigestMismatch { .. }), "{other}");
    }

    #[test]
    fn upload_reader_counts_and_hashes() {
        let d = Digest::sha256_of(b"hello");
        let mut src = &b"hello and more"[..];
        let mut r = VerifyingReader::new(&mut src, 5, &d);
        let mut sent = Vec::new();
        r.read_to_end(&mut sent).unwrap();
        assert_eq!(sent, b"hello");
        r.check(&d).unwrap();

        let mut src = &b"hel"[..];
        let mut r = VerifyingReader::new(&mut src, 5, &d);
        assert!(r.read_to_end(&mut Vec::new()).is_err());
        assert!(matches!(
            r.check(&d),
            Err(Error::SizeMismatch { actual: 3, .. })
        ));

        let mut src = &b"jello"[..];
        let mut r = VerifyingReader::new(&mut src, 5, &d);
        r.read_to_end(&mut Vec::new()).unwrap();
        assert!(matches!(r.check(&d), Err(Error::DigestMismatch { .. })));
    }
}
