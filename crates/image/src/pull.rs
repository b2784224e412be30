//! `pull`: a manifest (through an index when the registry serves one),
//! the configuration, then every missing layer, several at once, each
//! verified while it streams and unpacked before the image is recorded.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::ingest::{ensure_layer, layer_plan, record_image, NewImage};
use crate::manifest::{AnyManifest, Compression, Descriptor, Manifest, Platform};
use crate::reference::Reference;
use crate::registry::Client;
use crate::store::{ImageRecord, Store};
use crate::unpack::unpack_layer;

/// How to pull.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// The platform to pick from an index.
    pub platform: Platform,
    /// How many layers download at once.
    pub jobs: usize,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: Platform::host(),
            jobs: 3,
        }
    }
}

/// What a pull reports as it goes.
#[derive(Debug)]
pub enum PullEvent<'a> {
    /// The manifest is known: its digest and layers.
    Resolved {
        /// The digest the reference resolved to (the index's, if any).
        digest: &'a Digest,
        /// The layers to have.
        layers: &'a [Descriptor],
    },
    /// A layer the store already has.
    LayerExists(&'a Descriptor),
    /// More bytes of a layer arrived (the total so far).
    Downloading(&'a Descriptor, u64),
    /// A layer is downloaded and verified, and unpacks now.
    Extracting(&'a Descriptor),
    /// A layer is unpacked.
    LayerDone(&'a Descriptor),
}

/// Receives [`PullEvent`]s, from several threads.
pub trait Progress: Sync {
    /// One event.
    fn event(&self, event: PullEvent<'_>);
}

/// Reports nothing.
pub struct Quiet;

impl Progress for Quiet {
    fn event(&self, _: PullEvent<'_>) {}
}

/// Pulls `reference` into the store and names it so.
pub fn pull(
    store: &Store,
    client: &Client,
    reference: &Reference,
    options: &PullOptions,
    progress: &dyn Progress,
) -> Result<ImageRecord> {
    let _lock = store.lock_for_adding()?;
    let resolved = resolve(store, client, reference, &options.platform)?;
    progress.event(PullEvent::Resolved {
        digest: &resolved.top_digest,
        layers: &resolved.manifest.layers,
    });
    fetch_blob_once(store, client, reference, &resolved.manifest.config, &|_| {})?;
    let config_bytes = store.read_blob(&resolved.manifest.config.digest)?;
    let (config, chains) = layer_plan(&config_bytes, &resolved.manifest)?;
    let next = AtomicUsize::new(0);
    let failure = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.clamp(1, 16) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(blob) = resolved.manifest.layers.get(i) else {
                    break;
                };
                if failure.lock().unwrap().is_some() {
                    break;
                }
                let parent = i.checked_sub(1).map(|p| &chains[p]);
                let got = (|| {
                    if store.layer(&chains[i])?.is_some() {
                        progress.event(PullEvent::LayerExists(blob));
                        return Ok(());
                    }
                    let report = |n| progress.event(PullEvent::Downloading(blob, n));
                    let layer = LayerJob {
                        blob,
                        diff_id: &config.rootfs.diff_ids[i],
                        chain_id: &chains[i],
                        parent,
                    };
                    if store.has_blob(&blob.digest) {
                        progress.event(PullEvent::Extracting(blob));
                        ensure_layer(store, blob, layer.diff_id, layer.chain_id, parent)?;
                    } else {
                        fetch_and_unpack(store, client, reference, &layer, &report)?;
                    }
                    progress.event(PullEvent::LayerDone(blob));
                    Ok(())
                })();
                if let Err(e) = got {
                    failure.lock().unwrap().get_or_insert(e);
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap() {
        return Err(e);
    }
    let mut names = vec![reference.with_digest(resolved.top_digest.clone())];
    if reference.tag().is_some() {
        names.push(reference.clone());
    }
    record_image(
        store,
        NewImage {
            manifest_bytes: &resolved.manifest_bytes,
            manifest_media_type: &resolved.media_type,
            manifest: &resolved.manifest,
            index: resolved.index,
            names: &names,
        },
    )
}

struct Resolved {
    manifest: Manifest,
    manifest_bytes: Vec<u8>,
    media_type: String,
    index: Option<Digest>,
    top_digest: Digest,
}

/// Fetches the manifest, following an index to the platform's entry.
fn resolve(store: &Store, client: &Client, r: &Reference, platform: &Platform) -> Result<Resolved> {
    let top = client.fetch_manifest(r)?;
    match AnyManifest::parse(&top.bytes, Some(&top.media_type))? {
        AnyManifest::Image(manifest) => Ok(Resolved {
            manifest: *manifest,
            manifest_bytes: top.bytes,
            media_type: top.media_type,
            index: None,
            top_digest: top.digest,
        }),
        AnyManifest::Index(index) => {
            let entry = index.select(platform)?;
            let fetched = client.fetch_manifest_digest(r, &entry.digest)?;
            let AnyManifest::Image(manifest) =
                AnyManifest::parse(&fetched.bytes, Some(&fetched.media_type))?
            else {
                return Err(Error::Other(format!(
                    "index entry {} is not an image manifest",
                    entry.digest
                )));
            };
            store.put_blob(&top.bytes)?;
            Ok(Resolved {
                manifest: *manifest,
                manifest_bytes: fetched.bytes,
                media_type: fetched.media_type,
                index: Some(top.digest.clone()),
                top_digest: top.digest,
            })
        }
    }
}

/// Downloads a blob into the store unless it is there; the client verifies
/// size and digest as it streams, and only a verified file is committed.
fn fetch_blob_once(
    store: &Store,
    client: &Client,
    r: &Reference,
    desc: &Descriptor,
    report: &dyn Fn(u64),
) -> Result<()> {
    if store.has_blob(&desc.digest) {
        return Ok(());
    }
    let staging = store.staging()?;
    let path = staging.join("blob");
    let file = File::create(&path).map_err(|e| Error::io("creating", &path, e))?;
    let mut out = Counting {
        inner: BufWriter::new(file),
        written: 0,
        report,
    };
    client.fetch_blob(r, desc, &mut out)?;
    out.inner
        .into_inner()
        .map_err(|e| Error::io("writing", &path, e.into_error()))?;
    store.commit_blob(&path, &desc.digest)
}

/// A layer to have: its blob and where it goes in the store.
struct LayerJob<'a> {
    blob: &'a Descriptor,
    diff_id: &'a Digest,
    chain_id: &'a Digest,
    parent: Option<&'a Digest>,
}

/// Downloads a layer's blob and unpacks it at the same time: the bytes go
/// to the staged blob file and, through a pipe, to an unpacking thread.
/// Both stay in staging until the download is verified (size and digest)
/// and the unpacked tar hashed to the diff id; only then are the blob and
/// the layer committed. Nothing unverified is used.
fn fetch_and_unpack(
    store: &Store,
    client: &Client,
    r: &Reference,
    layer: &LayerJob<'_>,
    report: &dyn Fn(u64),
) -> Result<()> {
    let _lock = store.lock_layer(layer.chain_id)?;
    if store.layer(layer.chain_id)?.is_some() {
        return fetch_blob_once(store, client, r, layer.blob, report);
    }
    let compression = Compression::of_media_type(&layer.blob.media_type)?;
    let staging = store.staging()?;
    let (blob_path, diff) = (staging.join("blob"), staging.join("diff"));
    crate::store::create_dir_all(&diff)?;
    let file = File::create(&blob_path).map_err(|e| Error::io("creating", &blob_path, e))?;
    let (pipe_in, pipe_out) =
        std::io::pipe().map_err(|e| Error::io("making a pipe for", &blob_path, e))?;
    let (fetched, unpacked) = std::thread::scope(|scope| {
        let unpacker =
            scope.spawn(|| unpack_layer(io::BufReader::new(pipe_in), compression, &diff));
        let mut out = Counting {
            inner: Tee(BufWriter::new(file), Some(pipe_out)),
            written: 0,
            report,
        };
        let fetched = client.fetch_blob(r, layer.blob, &mut out).and_then(|_| {
            out.inner
                .finish()
                .map_err(|e| Error::io("writing", &blob_path, e))
        });
        // Dropping the pipe's writer ends the unpacker's input, whatever happened.
        drop(out);
        (fetched, unpacker.join())
    });
    fetched?;
    let stats = unpacked
        .map_err(|_| {
            Error::Other(format!(
                "layer {}: the unpacking thread panicked",
                layer.blob.digest
            ))
        })?
        .map_err(|e| Error::Other(format!("layer {}: {e}", layer.blob.digest)))?;
    if &stats.diff_id != layer.diff_id {
        return Err(Error::Other(format!(
            "layer {} unpacks to {}, but the image configuration says {}",
            layer.blob.digest, stats.diff_id, layer.diff_id
        )));
    }
    store.commit_blob(&blob_path, &layer.blob.digest)?;
    store.commit_layer(&staging, layer.chain_id, layer.diff_id, layer.parent)?;
    Ok(())
}

/// Writes to a file and to a pipe; a pipe whose reader gave up (a bad tar)
/// is dropped so the download still completes and is verified, and the
/// unpacker's error is the one reported.
struct Tee<W>(W, Option<io::PipeWriter>);

impl<W: Write> Tee<W> {
    /// Flushes the file and closes the pipe.
    fn finish(&mut self) -> io::Result<()> {
        self.1 = None;
        self.0.flush()
    }
}

impl<W: Write> Write for Tee<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.0.write(buf)?;
        if let Some(pipe) = &mut self.1 {
            if pipe.write_all(&buf[..n]).is_err() {
                self.1 = None;
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// A writer that reports how much went through it.
struct Counting<'a, W> {
    inner: W,
    written: u64,
    report: &'a dyn Fn(u64),
}

impl<W: Write> Write for Counting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        (self.report)(self.written);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
