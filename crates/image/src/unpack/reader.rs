//! Tar entries, one header at a time, with every extension header (PAX,
//! GNU long names) read under a size bound before anything is allocated.
//!
//! `tar::Archive` reads long names and PAX records whole, however large the
//! header says they are; a few kilobytes of gzip could make it allocate
//! gigabytes. Headers are parsed with `tar::Header` and `tar::PaxExtensions`;
//! only the walk from header to header is here.

use std::io::{self, Read};

use tar::{EntryType, Header, PaxExtensions};

use super::name::MAX_NAME;
use super::sys::Mtime;

/// The largest PAX extended header accepted (xattr values are at most 64 KiB).
const MAX_PAX: u64 = 1 << 20;
/// The tar block size.
const BLOCK: u64 = 512;
/// How much of an over-long name an error message quotes.
const QUOTE: usize = 64;

/// One file system entry, with its extension headers applied.
pub(crate) struct Entry {
    /// The ustar/GNU header.
    pub header: Header,
    /// The name, from a GNU long name, PAX `path` or the header.
    pub path: Vec<u8>,
    /// The link target, from a GNU long link, PAX `linkpath` or the header.
    pub link: Option<Vec<u8>>,
    /// Bytes of data that follow.
    pub size: u64,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Modification time.
    pub mtime: Mtime,
    /// Extended attributes from PAX `SCHILY.xattr.NAME` records.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Entry {
    /// The name for messages: lossy UTF-8, cut short if very long.
    pub(crate) fn display_name(&self) -> String {
        quote(&self.path)
    }
}

/// Lossy UTF-8 of `bytes`, its first bytes and `…` if long.
pub(crate) fn quote(bytes: &[u8]) -> String {
    if bytes.len() > QUOTE {
        format!("{}…", String::from_utf8_lossy(&bytes[..QUOTE]))
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn truncated(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("tar truncated in {what}"),
    )
}

/// Padding after `size` bytes of data, up to the next block.
fn padding(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

/// Reads entries from a tar stream; between entries it reads the current
/// entry's data (through `Read`) and skips what was not read.
pub(crate) struct TarReader<R> {
    inner: R,
    /// Unread data bytes of the current entry.
    remaining: u64,
    /// Padding after the current entry's data.
    padding: u64,
}

/// Extension headers seen before the entry they describe.
#[derive(Default)]
struct Extensions {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: Option<Vec<u8>>,
}

impl<R: Read> TarReader<R> {
    /// Reads tar from `inner`.
    pub(crate) fn new(inner: R) -> Self {
        TarReader {
            inner,
            remaining: 0,
            padding: 0,
        }
    }

    /// The next entry; `None` at the end-of-archive block or at end of input
    /// on a block boundary.
    pub(crate) fn next_entry(&mut self) -> io::Result<Option<Entry>> {
        self.skip_rest()?;
        let mut ext = Extensions::default();
        loop {
            let Some(header) = self.read_header()? else {
                if ext.long_name.is_some() || ext.long_link.is_some() || ext.pax.is_some() {
                    return Err(invalid("extension header at the end of the archive".into()));
                }
                return Ok(None);
            };
            let size = header.entry_size()?;
            match header.entry_type() {
                EntryType::GNULongName => {
                    let name = self.read_extension(size, MAX_NAME as u64 + 1, "GNU long name")?;
                    set_once(&mut ext.long_name, trim_nul(name), "GNU long name")?;
                }
                EntryType::GNULongLink => {
                    let link = self.read_extension(size, MAX_NAME as u64 + 1, "GNU long link")?;
                    set_once(&mut ext.long_link, trim_nul(link), "GNU long link")?;
                }
                EntryType::XHeader => {
                    let pax = self.read_extension(size, MAX_PAX, "PAX header")?;
                    set_once(&mut ext.pax, pax, "PAX header")?;
                }
                // Global PAX records set defaults no layer tool relies on; read and ignored.
                EntryType::XGlobalHeader => {
                    self.read_extension(size, MAX_PAX, "PAX global header")?;
                }
                _ => return ext.apply(header).map(|entry| self.start(entry)),
            }
        }
    }

    fn start(&mut self, entry: Entry) -> Option<Entry> {
        self.remaining = entry.size;
        self.padding = padding(entry.size);
        Some(entry)
    }

    fn skip_rest(&mut self) -> io::Result<()> {
        let left = self.remaining + self.padding;
        let skipped = io::copy(&mut (&mut self.inner).take(left), &mut io::sink())?;
        self.remaining = 0;
        self.padding = 0;
        if skipped < left {
            return Err(truncated("entry data"));
        }
        Ok(())
    }

    /// A header block; `None` for an all-zero block or end of input.
    fn read_header(&mut self) -> io::Result<Option<Header>> {
        let mut header = Header::new_old();
        let got = read_full(&mut self.inner, header.as_mut_bytes())?;
        if got == 0 {
            return Ok(None);
        }
        if got < BLOCK as usize {
            return Err(truncated("a header"));
        }
        if header.as_bytes().iter().all(|&b| b == 0) {
            return Ok(None);
        }
        let stored = header.cksum()?;
        let sum: u32 = header
            .as_bytes()
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    b as u32
                }
            })
            .sum();
        if sum != stored {
            return Err(invalid("header checksum mismatch".into()));
        }
        Ok(Some(header))
    }

    /// The data of an extension header, refused unread if over `limit`.
    fn read_extension(&mut self, size: u64, limit: u64, what: &str) -> io::Result<Vec<u8>> {
        if size > limit {
            // Quote the start of an over-long name, so the message names the entry.
            let mut head = vec![0; QUOTE.min(size as usize)];
            let got = read_full(&mut self.inner, &mut head)?;
            return Err(invalid(format!(
                "{what} {:?} is {size} bytes, over the limit of {}",
                quote(&head[..got]),
                limit - 1
            )));
        }
        let mut data = vec![0; size as usize];
        if read_full(&mut self.inner, &mut data)? < data.len() {
            return Err(truncated(what));
        }
        self.padding = padding(size);
        self.skip_rest()?;
        Ok(data)
    }
}

impl<R: Read> Read for TarReader<R> {
    /// Reads the current entry's data, and nothing past it.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let max = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        if max == 0 {
            return Ok(0);
        }
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(truncated("entry data"));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Reads until `buf` is full or input ends; how many bytes were read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn trim_nul(mut bytes: Vec<u8>) -> Vec<u8> {
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    bytes
}

fn set_once(slot: &mut Option<Vec<u8>>, value: Vec<u8>, what: &str) -> io::Result<()> {
    if slot.replace(value).is_some() {
        return Err(invalid(format!("two {what}s for one entry")));
    }
    Ok(())
}

impl Extensions {
    /// The entry `header` describes, with the extensions applied.
    fn apply(self, header: Header) -> io::Result<Entry> {
        let mut entry = Entry {
            path: header.path_bytes().into_owned(),
            link: header.link_name_bytes().map(|l| l.into_owned()),
            size: header.entry_size()?,
            uid: header.uid()?,
            gid: header.gid()?,
            mtime: Mtime {
                secs: header.mtime()? as i64,
                nanos: 0,
            },
            xattrs: Vec::new(),
            header,
        };
        if let Some(pax) = &self.pax {
            apply_pax(&mut entry, pax)?;
        }
        if let Some(name) = self.long_name {
            entry.path = name;
        }
        if let Some(link) = self.long_link {
            entry.link = Some(link);
        }
        for name in std::iter::once(&entry.path).chain(&entry.link) {
            if name.len() > MAX_NAME {
                return Err(invalid(format!(
                    "name {:?} is {} bytes, over the limit of {MAX_NAME}",
                    quote(name),
                    name.len()
                )));
            }
        }
        Ok(entry)
    }
}

/// Applies PAX records: they override the header's fields.
fn apply_pax(entry: &mut Entry, pax: &[u8]) -> io::Result<()> {
    for record in PaxExtensions::new(pax) {
        let record = record?;
        let value = record.value_bytes();
        match record.key_bytes() {
            b"path" => entry.path = value.to_vec(),
            b"linkpath" => entry.link = Some(value.to_vec()),
            b"size" => entry.size = pax_number(value, "size")?,
            b"uid" => entry.uid = pax_number(value, "uid")?,
            b"gid" => entry.gid = pax_number(value, "gid")?,
            b"mtime" => entry.mtime = pax_time(value)?,
            key => {
                if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                    entry.xattrs.push((name.to_vec(), value.to_vec()));
                }
            }
        }
    }
    Ok(())
}

fn pax_number(value: &[u8], key: &str) -> io::Result<u64> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("PAX {key} {:?} is not a number", quote(value))))
}

/// A PAX time: decimal seconds, maybe negative, maybe with a fraction.
fn pax_time(value: &[u8]) -> io::Result<Mtime> {
    let bad = || invalid(format!("PAX mtime {:?} is not a time", quote(value)));
    let text = std::str::from_utf8(value).map_err(|_| bad())?;
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let secs: i64 = whole.parse().map_err(|_| bad())?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    // Nanoseconds: the first nine fraction digits, right-padded with zeros.
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    let nanos: u32 = digits.parse().map_err(|_| bad())?;
    if whole.starts_with('-') && nanos > 0 {
        // -1.25 is 1.25 s before the epoch: -2 s plus 0.75 s.
        return Ok(Mtime {
            secs: secs - 1,
            nanos: 1_000_000_000 - nanos,
        });
    }
    Ok(Mtime { secs, nanos })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pax_times() {
        assert_eq!(pax_time(b"12").unwrap(), Mtime { secs: 12, nanos: 0 });
        assert_eq!(
            pax_time(b"12.5").unwrap(),
            Mtime {
                secs: 12,
                nanos: 500_000_000
            }
        );
        assert_eq!(
            pax_time(b"-1.25").unwrap(),
            Mtime {
                secs: -2,
                nanos: 750_000_000
            }
        );
        assert!(pax_time(b"1.x").is_err());
        assert!(pax_time(b"").is_err());
    }

    #[test]
    fn pads_to_blocks() {
        assert_eq!(padding(0), 0);
        assert_eq!(padding(1), 511);
        assert_eq!(padding(512), 0);
    }
}
