//! The command line, defined in one place.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

/// A daemonless container engine with Docker's command line.
#[derive(Parser, Debug)]
#[command(name = "skiff", version, about)]
pub struct Cli {
    /// Where images, containers and volumes are stored.
    #[arg(
        long,
        global = true,
        env = "SKIFF_ROOT",
        default_value = "/var/lib/skiff"
    )]
    pub root: PathBuf,
    /// Where run state is kept.
    #[arg(
        long,
        global = true,
        env = "SKIFF_RUNROOT",
        default_value = "/run/skiff"
    )]
    pub runroot: PathBuf,
    /// Registry credentials (Docker's config.json format).
    #[arg(long, global = true, env = "SKIFF_AUTHFILE")]
    pub authfile: Option<PathBuf>,
    /// Registries configuration (`{"insecure": ["host:port"]}`).
    #[arg(long, global = true, env = "SKIFF_REGISTRIES_CONF")]
    pub registries_conf: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Pull an image from a registry.
    Pull(PullArgs),
    /// Push an image to a registry.
    Push(PushArgs),
    /// Log in to a registry.
    Login(LoginArgs),
    /// Log out of a registry.
    Logout(LogoutArgs),
    /// List images.
    Images(ImagesArgs),
    /// Remove images.
    Rmi(RmiArgs),
    /// Give an image another name.
    Tag(TagArgs),
    /// Show the steps that made an image.
    History(NameArg),
    /// Load images from a `docker save` or OCI archive.
    Load(LoadArgs),
    /// Save images to an archive.
    Save(SaveArgs),
    /// Make an image from a root filesystem tarball.
    Import(ImportArgs),
    /// Show low-level information as JSON.
    Inspect(InspectArgs),
    /// Manage images.
    #[command(subcommand)]
    Image(ImageCommand),
}

/// `skiff image ...`
#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// List images.
    #[command(alias = "list")]
    Ls(ImagesArgs),
    /// Remove images.
    Rm(RmiArgs),
    /// Show images as JSON.
    Inspect(InspectArgs),
    /// Remove unused images.
    Prune(PruneArgs),
    /// Show the steps that made an image.
    History(NameArg),
    /// Give an image another name.
    Tag(TagArgs),
    /// Pull an image.
    Pull(PullArgs),
    /// Push an image.
    Push(PushArgs),
    /// Load images from an archive.
    Load(LoadArgs),
    /// Save images to an archive.
    Save(SaveArgs),
    /// Make an image from a tarball.
    Import(ImportArgs),
}

/// Registry access flags.
#[derive(Args, Debug, Clone)]
pub struct TlsArgs {
    /// Require HTTPS and verify certificates (`--tls-verify=false` allows plain HTTP).
    #[arg(long, default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub tls_verify: bool,
}

/// `pull`
#[derive(Args, Debug)]
pub struct PullArgs {
    /// Print only the image's name.
    #[arg(short, long)]
    pub quiet: bool,
    /// The platform to pull (os/arch[/variant]).
    #[arg(long)]
    pub platform: Option<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// The image.
    pub name: String,
}

/// `push`
#[derive(Args, Debug)]
pub struct PushArgs {
    /// Print only the digest.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// The image.
    pub name: String,
}

/// `login`
#[derive(Args, Debug)]
pub struct LoginArgs {
    /// User name.
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password (prefer --password-stdin).
    #[arg(short, long)]
    pub password: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// The registry (host[:port]).
    pub server: String,
}

/// `logout`
#[derive(Args, Debug)]
pub struct LogoutArgs {
    /// The registry (host[:port]).
    pub server: String,
}

/// `images`
#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// Only ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// Show digests.
    #[arg(long)]
    pub digests: bool,
    /// Do not shorten ids.
    #[arg(long)]
    pub no_trunc: bool,
    /// `table` (the default) or `json`.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Only this repository (and tag).
    pub repository: Option<String>,
}

/// `rmi`
#[derive(Args, Debug)]
pub struct RmiArgs {
    /// Remove an image with several names by id.
    #[arg(short, long)]
    pub force: bool,
    /// Images.
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// `tag`
#[derive(Args, Debug)]
pub struct TagArgs {
    /// The image.
    pub source: String,
    /// The new name.
    pub target: String,
}

/// One image.
#[derive(Args, Debug)]
pub struct NameArg {
    /// Do not shorten ids.
    #[arg(long)]
    pub no_trunc: bool,
    /// The image.
    pub name: String,
}

/// `load`
#[derive(Args, Debug)]
pub struct LoadArgs {
    /// The archive (standard input if not given).
    #[arg(short, long)]
    pub input: Option<PathBuf>,
    /// Print less.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `save`
#[derive(Args, Debug)]
pub struct SaveArgs {
    /// The archive to write (standard output if not given).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Images.
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// `import`
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// A history comment.
    #[arg(short, long)]
    pub message: Option<String>,
    /// The tarball, or `-` for standard input.
    pub file: String,
    /// The new image's name.
    pub reference: Option<String>,
}

/// `inspect`
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Objects to inspect.
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// `image prune`
#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Every unused image, not only those without names.
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask.
    #[arg(short, long)]
    pub force: bool,
}
