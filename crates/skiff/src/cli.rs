//! The command line, defined in one place.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

/// A daemonless container engine with Docker's command line.
#[derive(Parser, Debug)]
#[command(name = "skiff", version, about)]
pub struct Cli {
    /// Where images, containers and volumes are stored (root's default is
    /// /var/lib/skiff, another user's ~/.local/share/skiff).
    #[arg(long, global = true, env = "SKIFF_ROOT", default_value_os_t = skiff_engine::rootless::default_root())]
    pub root: PathBuf,
    /// Where run state is kept (root's default is /run/skiff, another
    /// user's $XDG_RUNTIME_DIR/skiff).
    #[arg(long, global = true, env = "SKIFF_RUNROOT", default_value_os_t = skiff_engine::rootless::default_runroot())]
    pub runroot: PathBuf,
    /// Registry credentials (Docker's config.json format).
    #[arg(long, global = true, env = "SKIFF_AUTHFILE")]
    pub authfile: Option<PathBuf>,
    /// A runc-compatible runtime binary (runc, crun) for new containers,
    /// instead of the built-in runtime; also accepted after `run`/`create`.
    #[arg(long, global = true, env = "SKIFF_OCI_RUNTIME")]
    pub runtime: Option<String>,
    /// A storage option, as Podman's: `overlay.mount_program=PATH` has
    /// that program (/usr/bin/fuse-overlayfs) mount containers' root
    /// overlays instead of the kernel.
    #[arg(
        long = "storage-opt",
        global = true,
        env = "SKIFF_STORAGE_OPT",
        value_name = "KEY=VALUE"
    )]
    pub storage_opt: Vec<String>,
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
    /// Run a command in a new container.
    Run(RunArgs),
    /// Create a container without starting it.
    Create(RunArgs),
    /// Start stopped containers.
    Start(StartArgs),
    /// List containers.
    Ps(PsArgs),
    /// Show a container's output.
    Logs(LogsArgs),
    /// Stop running containers.
    Stop(StopArgs),
    /// Restart containers.
    Restart(StopArgs),
    /// Send a signal to running containers.
    Kill(KillArgs),
    /// Remove containers.
    Rm(RmArgs),
    /// Wait for containers to stop and print their exit codes.
    Wait(NamesArg),
    /// Pause all processes in containers.
    Pause(NamesArg),
    /// Unpause containers.
    Unpause(NamesArg),
    /// Rename a container.
    Rename(RenameArgs),
    /// Attach to a running container.
    Attach(AttachArgs),
    /// Run a command in a running container.
    Exec(ExecArgs),
    /// Manage containers.
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Manage networks.
    #[command(subcommand)]
    Network(NetworkCommand),
    /// List a container's published ports.
    Port(PortArgs),
    /// The DNS responder of a network (started by skiff itself).
    #[command(hide = true)]
    InternalDns(InternalDnsArgs),
    /// Show a container's processes.
    Top(ContainerArg),
    /// Show containers' resource use.
    Stats(StatsArgs),
    /// Copy files between a container and the host.
    Cp(CpArgs),
    /// Write a container's filesystem as a tar archive.
    Export(ExportArgs),
    /// Change containers' resource limits and restart policy.
    Update(UpdateArgs),
    /// Disk use, prune.
    #[command(subcommand)]
    System(SystemCommand),
    /// Show how skiff is set up and what it holds.
    Info,
    /// Show skiff's version.
    Version,
    /// Print a shell completion script.
    Completion(CompletionArgs),
}

/// `skiff network ...`
#[derive(Subcommand, Debug)]
pub enum NetworkCommand {
    /// Create a network.
    Create(NetworkCreateArgs),
    /// List networks.
    #[command(alias = "list")]
    Ls(QuietArg),
    /// Show networks as JSON.
    Inspect(NamesArg),
    /// Remove networks.
    #[command(alias = "remove")]
    Rm(NamesArg),
    /// Remove networks no container uses.
    Prune(ForceArg),
    /// Put a container on a network.
    Connect(NetworkConnectArgs),
    /// Take a container off a network.
    Disconnect(NetworkConnectArgs),
}

/// `network create`
#[derive(Args, Debug)]
pub struct NetworkCreateArgs {
    /// Driver (bridge is the only one).
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR form; give it twice for an IPv4 and an IPv6 one.
    #[arg(long)]
    pub subnet: Vec<String>,
    /// Gateway address (the bridge's), one per subnet family.
    #[arg(long)]
    pub gateway: Vec<String>,
    /// An IPv6 subnet besides the IPv4 one (a free ULA /64 unless an IPv6
    /// --subnet is given).
    #[arg(long)]
    pub ipv6: bool,
    /// Allocate container addresses from this range only.
    #[arg(long)]
    pub ip_range: Option<String>,
    /// No way out of the network.
    #[arg(long)]
    pub internal: bool,
    /// Driver options: mtu=N, com.docker.network.bridge.name=NAME.
    #[arg(short, long)]
    pub opt: Vec<String>,
    /// A label: KEY=VALUE.
    #[arg(long)]
    pub label: Vec<String>,
    /// The network's name.
    pub name: String,
}

/// `network connect` / `disconnect`
#[derive(Args, Debug)]
pub struct NetworkConnectArgs {
    /// The network.
    pub network: String,
    /// The container.
    pub container: String,
}

/// `port`
#[derive(Args, Debug)]
pub struct PortArgs {
    /// The container.
    pub container: String,
    /// Only this container port (PORT[/PROTO]).
    pub port: Option<String>,
}

/// `internal-dns`
#[derive(Args, Debug)]
pub struct InternalDnsArgs {
    /// The network.
    #[arg(long)]
    pub network: String,
    /// Where to listen.
    #[arg(long)]
    pub listen: std::net::SocketAddr,
    /// The records file.
    #[arg(long)]
    pub records: PathBuf,
    /// Where to forward other names.
    #[arg(long)]
    pub upstream: Vec<std::net::SocketAddr>,
}

/// `skiff container ...`
#[derive(Subcommand, Debug)]
pub enum ContainerCommand {
    /// List containers.
    #[command(alias = "list")]
    Ls(PsArgs),
    /// Remove every stopped container.
    Prune(ForceArg),
    /// Show containers as JSON.
    Inspect(InspectArgs),
    /// Run a command in a new container.
    Run(RunArgs),
    /// Create a container.
    Create(RunArgs),
    /// Start containers.
    Start(StartArgs),
    /// Stop containers.
    Stop(StopArgs),
    /// Remove containers.
    Rm(RmArgs),
    /// Show a container's output.
    Logs(LogsArgs),
}

/// `skiff volume ...`
#[derive(Subcommand, Debug)]
pub enum VolumeCommand {
    /// Create a volume.
    Create(VolumeCreateArgs),
    /// List volumes.
    #[command(alias = "list")]
    Ls(QuietArg),
    /// Show volumes as JSON.
    Inspect(NamesArg),
    /// Remove volumes.
    Rm(NamesArg),
    /// Remove volumes no container uses.
    Prune(ForceArg),
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
    /// A Go-style template (`{{.State.Status}}`, `{{json .Config}}`) or `json`.
    #[arg(short, long)]
    pub format: Option<String>,
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

/// `run` and `create`.
#[derive(Args, Debug)]
#[command(trailing_var_arg = true, disable_help_flag = true)]
pub struct RunArgs {
    /// Print help (`-h` is the hostname, as in Docker).
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// Run in the background and print the container's id.
    #[arg(short, long)]
    pub detach: bool,
    /// Keep stdin open.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-terminal.
    #[arg(short, long)]
    pub tty: bool,
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// The container's name.
    #[arg(long)]
    pub name: Option<String>,
    /// Set an environment variable (NAME=value, or NAME to take ours).
    #[arg(short, long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// Read environment variables from a file.
    #[arg(long)]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// User (name|uid[:group|gid]).
    #[arg(short, long)]
    pub user: Option<String>,
    /// Override the image's entrypoint.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// The container's hostname.
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Bind mount or volume: [SOURCE:]TARGET[:ro|rw].
    #[arg(short, long)]
    pub volume: Vec<String>,
    /// A mount: type=bind|volume|tmpfs,source=...,target=...[,readonly].
    #[arg(long)]
    pub mount: Vec<String>,
    /// Mount a tmpfs: PATH[:OPTIONS].
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Mount the root filesystem read-only.
    #[arg(long)]
    pub read_only: bool,
    #[command(flatten)]
    pub resources: ResourceArgs,
    /// Resource limit: TYPE=SOFT[:HARD] (nofile=1024:2048).
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Add a capability.
    #[arg(long)]
    pub cap_add: Vec<String>,
    /// Drop a capability.
    #[arg(long)]
    pub cap_drop: Vec<String>,
    /// All capabilities and devices, no seccomp, no masked paths.
    #[arg(long)]
    pub privileged: bool,
    /// seccomp=PROFILE|unconfined, no-new-privileges[:true|false].
    #[arg(long)]
    pub security_opt: Vec<String>,
    /// Add a host device: HOST[:CONTAINER[:rwm]].
    #[arg(long)]
    pub device: Vec<String>,
    /// Run skiff's init as pid 1 (reaps zombies, forwards signals).
    #[arg(long)]
    pub init: bool,
    /// Restart policy: no, on-failure[:N], always, unless-stopped.
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// The signal that stops the container.
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Seconds to wait for the stop signal before SIGKILL.
    #[arg(long)]
    pub stop_timeout: Option<u64>,
    /// A label: KEY=VALUE.
    #[arg(short, long)]
    pub label: Vec<String>,
    /// Network: bridge (the default network), none, host, container:ID, or a network's name
    /// (an ordinary user's containers take none, host or container:ID; host by default).
    #[arg(long = "network", alias = "net", default_value_t = skiff_engine::net::default_network())]
    pub network: String,
    /// Publish a port: [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp], ranges allowed.
    #[arg(short, long)]
    pub publish: Vec<String>,
    /// Publish every exposed port on a free host port.
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// Another name for the container on its network.
    #[arg(long)]
    pub network_alias: Vec<String>,
    /// A static IPv4 address on the network.
    #[arg(long)]
    pub ip: Option<String>,
    /// A MAC address.
    #[arg(long)]
    pub mac_address: Option<String>,
    /// A DNS server for the container.
    #[arg(long)]
    pub dns: Vec<String>,
    /// A DNS search domain.
    #[arg(long)]
    pub dns_search: Vec<String>,
    /// A resolver option.
    #[arg(long)]
    pub dns_option: Vec<String>,
    /// An /etc/hosts entry: NAME:IP.
    #[arg(long)]
    pub add_host: Vec<String>,
    /// Log options: max-size=SIZE, max-file=N.
    #[arg(long)]
    pub log_opt: Vec<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// The image.
    pub image: String,
    /// The command and its arguments.
    pub command: Vec<String>,
}

/// `start`
#[derive(Args, Debug)]
pub struct StartArgs {
    /// Attach to the container's output and wait for it.
    #[arg(short, long)]
    pub attach: bool,
    /// Attach stdin.
    #[arg(short, long)]
    pub interactive: bool,
    /// Containers.
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// `ps`
#[derive(Args, Debug)]
pub struct PsArgs {
    /// All containers, not only running ones.
    #[arg(short, long)]
    pub all: bool,
    /// Only ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// The last N containers (all states).
    #[arg(short = 'n', long)]
    pub last: Option<usize>,
    /// The latest container (all states).
    #[arg(short, long)]
    pub latest: bool,
    /// Do not shorten ids and commands.
    #[arg(long)]
    pub no_trunc: bool,
    /// Show sizes.
    #[arg(short, long)]
    pub size: bool,
    /// Filter: status=, name=, label=, ancestor=, id=.
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// `table` (the default) or `json`.
    #[arg(long, default_value = "table")]
    pub format: String,
}

/// `logs`
#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow the output.
    #[arg(short, long)]
    pub follow: bool,
    /// Only the last N lines (or `all`).
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps.
    #[arg(short, long)]
    pub timestamps: bool,
    /// Only since (RFC 3339 or a duration like 10m).
    #[arg(long)]
    pub since: Option<String>,
    /// Only until (RFC 3339 or a duration).
    #[arg(long)]
    pub until: Option<String>,
    /// The container.
    pub name: String,
}

/// `stop` and `restart`
#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait before SIGKILL.
    #[arg(short, long)]
    pub time: Option<u64>,
    /// Containers.
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// `kill`
#[derive(Args, Debug)]
pub struct KillArgs {
    /// The signal.
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    /// Containers.
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// `rm`
#[derive(Args, Debug)]
pub struct RmArgs {
    /// Kill a running container first.
    #[arg(short, long)]
    pub force: bool,
    /// Also remove its anonymous volumes.
    #[arg(short, long)]
    pub volumes: bool,
    /// Containers.
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// Commands that take names only.
#[derive(Args, Debug)]
pub struct NamesArg {
    /// Names or ids.
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// `rename`
#[derive(Args, Debug)]
pub struct RenameArgs {
    /// The container.
    pub name: String,
    /// Its new name.
    pub new_name: String,
}

/// `attach`
#[derive(Args, Debug)]
pub struct AttachArgs {
    /// The container.
    pub name: String,
}

/// `-f` for prunes.
#[derive(Args, Debug)]
pub struct ForceArg {
    /// Do not ask.
    #[arg(short, long)]
    pub force: bool,
}

/// `-q` for lists.
#[derive(Args, Debug)]
pub struct QuietArg {
    /// Only names.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `volume create`
#[derive(Args, Debug)]
pub struct VolumeCreateArgs {
    /// A label: KEY=VALUE.
    #[arg(short, long)]
    pub label: Vec<String>,
    /// The name (made up if not given).
    pub name: Option<String>,
}

/// `exec`
#[derive(Args, Debug)]
#[command(trailing_var_arg = true)]
pub struct ExecArgs {
    /// Run in the background.
    #[arg(short, long)]
    pub detach: bool,
    /// Keep stdin open.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-terminal.
    #[arg(short, long)]
    pub tty: bool,
    /// Set an environment variable.
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Working directory.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// User (name|uid[:group|gid]).
    #[arg(short, long)]
    pub user: Option<String>,
    /// Every capability.
    #[arg(long)]
    pub privileged: bool,
    /// The container.
    pub container: String,
    /// The command and its arguments.
    #[arg(required = true)]
    pub command: Vec<String>,
}

/// One container.
#[derive(Args, Debug)]
pub struct ContainerArg {
    /// The container.
    pub name: String,
}

/// `stats`
#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Print one sample and exit.
    #[arg(long)]
    pub no_stream: bool,
    /// Do not shorten ids.
    #[arg(long)]
    pub no_trunc: bool,
    /// Containers (every running one if none).
    pub names: Vec<String>,
}

/// `cp`
#[derive(Args, Debug)]
pub struct CpArgs {
    /// Keep owners (uid and gid).
    #[arg(short, long)]
    pub archive: bool,
    /// CONTAINER:SRC or a host path.
    pub src: String,
    /// CONTAINER:DEST or a host path.
    pub dest: String,
}

/// `export`
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write to a file instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The container.
    pub name: String,
}

/// `update`
#[derive(Args, Debug)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub resources: ResourceArgs,
    /// Restart policy: no, on-failure[:N], always, unless-stopped.
    #[arg(long)]
    pub restart: Option<String>,
    /// Containers.
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// `skiff system ...`
#[derive(Subcommand, Debug)]
pub enum SystemCommand {
    /// Show disk use.
    Df,
    /// Remove stopped containers, unused images and (with --volumes) volumes.
    Prune(SystemPruneArgs),
    /// Show how skiff is set up and what it holds.
    Info,
}

/// `system prune`
#[derive(Args, Debug)]
pub struct SystemPruneArgs {
    /// Every unused image, not only those without names.
    #[arg(short, long)]
    pub all: bool,
    /// Also volumes no container uses.
    #[arg(long)]
    pub volumes: bool,
    /// Do not ask.
    #[arg(short, long)]
    pub force: bool,
}

/// `completion`
#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

/// The resource flags `run`, `create` and `update` share.
#[derive(Args, Debug)]
pub struct ResourceArgs {
    /// Memory limit (bytes, or with b, k, m, g).
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Memory plus swap limit (-1: unlimited swap).
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// CPUs (a fraction is a quota).
    #[arg(long)]
    pub cpus: Option<f64>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long)]
    pub cpu_shares: Option<u64>,
    /// Maximum number of processes (-1: unlimited).
    #[arg(long, allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
}
