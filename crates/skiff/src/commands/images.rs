//! Image commands.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};

use anyhow::{bail, Context, Result};
use serde_json::json;
use skiff_engine::images::Removal;
use skiff_engine::Engine;

use crate::cli::{
    ImagesArgs, ImportArgs, InspectArgs, LoadArgs, LoginArgs, LogoutArgs, NameArg, PruneArgs,
    PullArgs, PushArgs, RmiArgs, SaveArgs, TagArgs,
};
use crate::format::{ago, short_id, size, table};
use crate::progress::PullProgress;

pub fn pull(engine: &Engine, a: PullArgs) -> Result<u8> {
    let platform = a.platform.as_deref().map(str::parse).transpose()?;
    let progress = PullProgress::new(a.quiet);
    if !a.quiet {
        let r = skiff_engine::images::parse_reference(&a.name)?;
        eprintln!("{}: Pulling from {}", r.manifest_ref(), r.repository());
    }
    let (reference, image) = engine.pull(&a.name, platform, &progress)?;
    if !a.quiet {
        eprintln!(
            "Digest: {}",
            image.index.as_ref().unwrap_or(&image.manifest)
        );
    }
    println!("{reference}");
    Ok(0)
}

pub fn push(engine: &Engine, a: PushArgs) -> Result<u8> {
    let quiet = a.quiet;
    let mut report = |d: &skiff_image::Digest, existed: bool| {
        if !quiet {
            let what = if existed {
                "Layer already exists"
            } else {
                "Pushed"
            };
            eprintln!("{}: {what}", &d.hex()[..12]);
        }
    };
    let digest = engine.push(&a.name, &mut report)?;
    println!("{digest}");
    Ok(0)
}

pub fn login(engine: &Engine, a: LoginArgs) -> Result<u8> {
    let Some(user) = a.username else {
        bail!("login needs a user name (-u)");
    };
    let password = match (a.password, a.password_stdin) {
        (Some(_), true) => bail!("--password and --password-stdin are exclusive"),
        (Some(p), false) => p,
        (None, true) => {
            let mut p = String::new();
            io::stdin()
                .read_to_string(&mut p)
                .context("reading the password")?;
            p.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => bail!("login needs a password (-p or --password-stdin)"),
    };
    engine.login(&a.server, &user, &password)?;
    println!("Login Succeeded");
    Ok(0)
}

pub fn logout(engine: &Engine, a: LogoutArgs) -> Result<u8> {
    engine.logout(&a.server)?;
    println!("Removing login credentials for {}", a.server);
    Ok(0)
}

pub fn list(engine: &Engine, a: ImagesArgs) -> Result<u8> {
    let mut rows = engine.image_rows()?;
    if let Some(filter) = &a.repository {
        let (repo, tag) = match filter.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
            Some((r, t)) => (r.to_string(), Some(t.to_string())),
            None => (filter.clone(), None),
        };
        rows.retain(|r| r.repository == repo && tag.as_ref().is_none_or(|t| *t == r.tag));
    }
    if a.format == "json" {
        let docs: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({"Repository": r.repository, "Tag": r.tag, "Digest": r.digest,
                       "ID": short_id(&r.id, a.no_trunc), "CreatedAt": r.created,
                       "CreatedSince": ago(r.created), "Size": r.size})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&docs)?);
        return Ok(0);
    }
    if a.format != "table" {
        bail!("unknown --format {:?}: table or json", a.format);
    }
    if a.quiet {
        let mut seen = std::collections::HashSet::new();
        for r in rows.iter().filter(|r| seen.insert(r.id.clone())) {
            println!("{}", short_id(&r.id, a.no_trunc));
        }
        return Ok(0);
    }
    let mut header = vec!["REPOSITORY", "TAG"];
    if a.digests {
        header.push("DIGEST");
    }
    header.extend(["IMAGE ID", "CREATED", "SIZE"]);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut row = vec![r.repository.clone(), r.tag.clone()];
            if a.digests {
                row.push(r.digest.clone());
            }
            row.extend([short_id(&r.id, a.no_trunc), ago(r.created), size(r.size)]);
            row
        })
        .collect();
    print!("{}", table(&header, &cells));
    Ok(0)
}

pub fn remove(engine: &Engine, a: RmiArgs) -> Result<u8> {
    let mut failed = false;
    for name in &a.names {
        match engine.remove_image(name, a.force) {
            Ok(removals) => {
                for r in removals {
                    match r {
                        Removal::Untagged(n) => println!("Untagged: {n}"),
                        Removal::Deleted(d) => println!("Deleted: {d}"),
                    }
                }
            }
            Err(e) => {
                eprintln!("skiff: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

pub fn tag(engine: &Engine, a: TagArgs) -> Result<u8> {
    engine.tag(&a.source, &a.target)?;
    Ok(0)
}

pub fn history(engine: &Engine, a: NameArg) -> Result<u8> {
    let rows: Vec<Vec<String>> = engine
        .history(&a.name)?
        .into_iter()
        .map(|h| {
            let id = if h.id.starts_with("sha256:") {
                short_id(&h.id, a.no_trunc)
            } else {
                h.id
            };
            vec![id, ago(h.created), h.created_by, size(h.size), h.comment]
        })
        .collect();
    print!(
        "{}",
        table(
            &["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
            &rows
        )
    );
    Ok(0)
}

pub fn load(engine: &Engine, a: LoadArgs) -> Result<u8> {
    let mut input: Box<dyn Read> = match &a.input {
        Some(path) => {
            Box::new(File::open(path).with_context(|| format!("opening {}", path.display()))?)
        }
        None if io::stdin().is_terminal() => bail!("no archive: give -i FILE or pipe one in"),
        None => Box::new(io::stdin().lock()),
    };
    for (image, names) in engine.load(&mut io::BufReader::new(&mut input))? {
        if names.is_empty() {
            println!("Loaded image ID: {}", image.id);
        }
        for name in names {
            println!("Loaded image: {name}");
        }
    }
    Ok(0)
}

pub fn save(engine: &Engine, a: SaveArgs) -> Result<u8> {
    write_archive(a.output.as_deref(), &mut |out| {
        Ok(engine.save(&a.names, out)?)
    })?;
    Ok(0)
}

/// Writes an archive to `output` (staged beside it, renamed when complete)
/// or to standard output, which must not be a terminal.
pub fn write_archive(
    output: Option<&std::path::Path>,
    write: &mut dyn FnMut(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    match output {
        Some(path) => {
            let staged = path.with_file_name(format!(
                ".{}.partial",
                path.file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("archive")
            ));
            let file =
                File::create(&staged).with_context(|| format!("creating {}", staged.display()))?;
            let mut out = io::BufWriter::new(file);
            let written = write(&mut out).and_then(|()| {
                out.into_inner()?.sync_all()?;
                std::fs::rename(&staged, path)?;
                Ok(())
            });
            if written.is_err() {
                let _ = std::fs::remove_file(&staged);
            }
            written
        }
        None if io::stdout().is_terminal() => {
            bail!("refusing to write an archive to a terminal: give -o FILE or redirect")
        }
        None => {
            let mut out = io::BufWriter::new(io::stdout().lock());
            write(&mut out)?;
            Ok(out.flush()?)
        }
    }
}

pub fn import(engine: &Engine, a: ImportArgs) -> Result<u8> {
    let mut input: Box<dyn Read> = if a.file == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(&a.file).with_context(|| format!("opening {}", a.file))?)
    };
    let image = engine.import(
        &mut io::BufReader::new(&mut input),
        a.reference.as_deref(),
        a.message,
    )?;
    println!("{}", image.id);
    Ok(0)
}

pub fn inspect(engine: &Engine, a: InspectArgs) -> Result<u8> {
    let mut docs = Vec::new();
    let mut failed = false;
    for name in &a.names {
        match engine.inspect_image(name) {
            Ok(doc) => docs.push(doc),
            Err(e) => {
                eprintln!("skiff: {e}");
                failed = true;
            }
        }
    }
    crate::template::print(&docs, a.format.as_deref())?;
    Ok(if failed { 1 } else { 0 })
}

pub fn prune(engine: &Engine, a: PruneArgs) -> Result<u8> {
    let removed = engine.prune_images(a.all)?;
    if !removed.is_empty() {
        println!("Deleted Images:");
    }
    for id in &removed {
        println!("deleted: {id}");
    }
    Ok(0)
}
