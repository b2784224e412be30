//! Images as users see them: the rows of `images`, the document of
//! `image inspect` (Docker's field names) and the steps of `history`.

use serde_json::{json, Value};
use skiff_image::manifest::ImageConfig;
use skiff_image::store::ImageRecord;
use skiff_image::Reference;

use crate::{Engine, Result};

/// One row of `skiff images`: an image under one of its names.
#[derive(Debug, Clone)]
pub struct ImageRow {
    /// The repository, as Docker shortens it (`busybox`), or `<none>`.
    pub repository: String,
    /// The tag, or `<none>`.
    pub tag: String,
    /// The digest the image was pulled by, or `<none>`.
    pub digest: String,
    /// The image id (`sha256:<hex>`).
    pub id: String,
    /// When the image was made, in seconds since the epoch.
    pub created: Option<i64>,
    /// Unpacked size in bytes.
    pub size: u64,
}

/// One step of an image's history, newest first as Docker prints them.
#[derive(Debug, Clone)]
pub struct HistoryRow {
    /// The image id for the top step, `<missing>` below it.
    pub id: String,
    /// When, in seconds since the epoch.
    pub created: Option<i64>,
    /// The command.
    pub created_by: String,
    /// Bytes the step added.
    pub size: u64,
    /// Its comment.
    pub comment: String,
}

impl Engine {
    /// The rows of `skiff images`, newest image first.
    pub fn image_rows(&self) -> Result<Vec<ImageRow>> {
        let repos = self.store.repositories()?;
        let mut rows = Vec::new();
        for image in self.store.images()? {
            let created = self.created(&image);
            let digest = repos
                .digests_of(&image.id)
                .first()
                .and_then(|d| d.rsplit_once('@').map(|(_, d)| d.to_string()))
                .unwrap_or_else(|| "<none>".into());
            let mut names: Vec<Reference> = repos
                .tags_of(&image.id)
                .iter()
                .filter_map(|t| t.parse().ok())
                .collect();
            names.sort_by_key(|n| n.to_string());
            let row = |repository: String, tag: String| ImageRow {
                repository,
                tag,
                digest: digest.clone(),
                id: image.id.to_string(),
                created,
                size: image.size,
            };
            if names.is_empty() {
                rows.push(row("<none>".into(), "<none>".into()));
            }
            for name in names {
                rows.push(row(
                    name.familiar_name(),
                    name.tag().unwrap_or_default().into(),
                ));
            }
        }
        Ok(rows)
    }

    fn created(&self, image: &ImageRecord) -> Option<i64> {
        let config = self.store.image_config(image).ok()?;
        skiff_timestamp::parse_rfc3339(config.created.as_deref()?)
    }

    /// `image inspect`: Docker's document for an image.
    pub fn inspect_image(&self, name: &str) -> Result<Value> {
        let image = self.find_image(name)?;
        let repos = self.store.repositories()?;
        let config = self.store.image_config(&image)?;
        let familiar = |full: &String| {
            full.parse::<Reference>().map_or(full.clone(), |r| {
                let name = r.familiar_name();
                match (r.digest(), r.tag()) {
                    (Some(d), _) => format!("{name}@{d}"),
                    (None, Some(t)) => format!("{name}:{t}"),
                    _ => name,
                }
            })
        };
        let history_comment = config.history.last().and_then(|h| h.comment.clone());
        Ok(json!({
            "Id": image.id.to_string(),
            "RepoTags": repos.tags_of(&image.id).iter().map(familiar).collect::<Vec<_>>(),
            "RepoDigests": repos.digests_of(&image.id).iter().map(familiar).collect::<Vec<_>>(),
            "Parent": "",
            "Comment": history_comment.unwrap_or_default(),
            "Created": config.created.clone().unwrap_or_default(),
            "Author": config.author.clone().unwrap_or_default(),
            "Config": config.config.clone().map_or(Value::Null, |c| serde_json::to_value(c).unwrap_or_default()),
            "Architecture": config.architecture,
            "Variant": config.variant,
            "Os": config.os,
            "Size": image.size,
            "RootFS": {
                "Type": "layers",
                "Layers": config.rootfs.diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            },
            "Metadata": {"LastTagTime": ""},
            "Manifest": {"Digest": image.manifest.to_string(), "MediaType": image.manifest_media_type},
        }))
    }

    /// `history`: the steps that made an image, newest first.
    pub fn history(&self, name: &str) -> Result<Vec<HistoryRow>> {
        let image = self.find_image(name)?;
        let config: ImageConfig = self.store.image_config(&image)?;
        let mut layer_sizes = image.layers.iter().map(|l| {
            self.store
                .layer(&l.chain_id)
                .ok()
                .flatten()
                .map_or(0, |layer| layer.size)
        });
        let mut rows: Vec<HistoryRow> = config
            .history
            .iter()
            .map(|h| HistoryRow {
                id: "<missing>".into(),
                created: h
                    .created
                    .as_deref()
                    .and_then(skiff_timestamp::parse_rfc3339),
                created_by: h.created_by.clone().unwrap_or_default(),
                size: if h.empty_layer {
                    0
                } else {
                    layer_sizes.next().unwrap_or(0)
                },
                comment: h.comment.clone().unwrap_or_default(),
            })
            .collect();
        if let Some(top) = rows.last_mut() {
            top.id = image.id.to_string();
        }
        rows.reverse();
        Ok(rows)
    }
}
