//! The command line, defined in one place: runc's commands and flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// An OCI container runtime with runc's command line.
#[derive(Parser, Debug)]
#[command(name = "skiff-runtime", version = version(), about)]
pub struct Cli {
    /// Directory for container state [default: /run/skiff-runtime for root;
    /// $XDG_RUNTIME_DIR/skiff-runtime for other users].
    #[arg(long, global = true)]
    pub root: Option<PathBuf>,
    /// Write the log to this file instead of stderr.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log debug lines.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Use systemd to manage cgroups (not supported: an error says so).
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// Accepted for runc compatibility: rootless mode is detected from the user.
    #[arg(long, value_name = "true|false|auto")]
    pub rootless: Option<String>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

fn version() -> &'static str {
    concat!(env!("CARGO_PKG_VERSION"), "\nspec: 1.2.1")
}

/// Log formats.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// key=value lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Output formats of `list` and `ps`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A table.
    Table,
    /// JSON.
    Json,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write a default config.json into the bundle.
    Spec {
        /// Make a spec for a rootless container.
        #[arg(long)]
        rootless: bool,
        /// The bundle directory.
        #[arg(long, short, default_value = ".")]
        bundle: PathBuf,
    },
    /// Create a container that waits for `start`.
    Create(CreateArgs),
    /// Start a created container.
    Start {
        /// The container id.
        id: String,
    },
    /// Create and start a container.
    Run {
        /// Create flags.
        #[command(flatten)]
        create: CreateArgs,
        /// Return once the process runs instead of waiting for it.
        #[arg(long, short)]
        detach: bool,
    },
    /// Print a container's state as JSON.
    State {
        /// The container id.
        id: String,
    },
    /// List containers.
    #[command(alias = "ls")]
    List {
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Print only ids.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Send a signal to a container's init (SIGTERM by default).
    Kill {
        /// Signal every process in the container's cgroup.
        #[arg(long, short)]
        all: bool,
        /// The container id.
        id: String,
        /// Signal name or number.
        signal: Option<String>,
    },
    /// Delete a container.
    Delete {
        /// Kill a running container first.
        #[arg(long, short)]
        force: bool,
        /// The container id.
        id: String,
    },
    /// Run a new process in a running container.
    Exec(ExecArgs),
    /// List a container's processes.
    Ps {
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// The container id.
        id: String,
        /// Arguments for ps(1) (default -ef).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Freeze a container's processes.
    Pause {
        /// The container id.
        id: String,
    },
    /// Thaw a paused container.
    Resume {
        /// The container id.
        id: String,
    },
    /// Print what this runtime supports, as JSON.
    Features,
    /// Change a container's resource limits.
    Update(UpdateArgs),
    /// Print a container's resource statistics and OOM events as JSON lines.
    Events {
        /// Print the statistics once and exit.
        #[arg(long)]
        stats: bool,
        /// How often to print statistics (5s, 250ms, 1m).
        #[arg(long, default_value = "5s")]
        interval: String,
        /// The container id.
        id: String,
    },
}

/// Flags of `update`.
#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// The container id.
    pub id: String,
    /// Resources as JSON (`linux.resources` of the spec), from a file or `-` for stdin.
    #[arg(long, short)]
    pub resources: Option<PathBuf>,
    /// Memory limit (bytes, or with k, m, g).
    #[arg(long, short)]
    pub memory: Option<String>,
    /// Memory soft limit.
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit (-1 for unlimited).
    #[arg(long)]
    pub memory_swap: Option<String>,
    /// CPU shares.
    #[arg(long)]
    pub cpu_share: Option<u64>,
    /// CFS quota in microseconds.
    #[arg(long)]
    pub cpu_quota: Option<i64>,
    /// CFS period in microseconds.
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// Real-time runtime in microseconds.
    #[arg(long)]
    pub cpu_rt_runtime: Option<i64>,
    /// Real-time period in microseconds.
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    /// CPUs to use (e.g. 0-3,5).
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use.
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes.
    #[arg(long)]
    pub pids_limit: Option<i64>,
    /// Block IO weight (10-1000).
    #[arg(long)]
    pub blkio_weight: Option<u16>,
}

/// Flags of `create` and `run`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The container id.
    pub id: String,
    /// The bundle directory.
    #[arg(long, short, default_value = ".")]
    pub bundle: PathBuf,
    /// Write init's pid to this file.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// A unix socket that receives the pty master.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Use a move mount and chroot instead of pivot_root.
    #[arg(long)]
    pub no_pivot: bool,
    /// Keep the runtime's session keyring.
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass this many descriptors from 3 on to the process.
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: i32,
}

/// Flags of `exec`.
#[derive(Args, Debug)]
pub struct ExecArgs {
    /// A process.json describing the process.
    #[arg(long, short)]
    pub process: Option<PathBuf>,
    /// Return once the process runs.
    #[arg(long, short)]
    pub detach: bool,
    /// Write the process's pid to this file.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// A unix socket that receives the pty master.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Allocate a terminal.
    #[arg(long, short)]
    pub tty: bool,
    /// Working directory.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Environment variables KEY=VALUE.
    #[arg(long, short)]
    pub env: Vec<String>,
    /// UID[:GID].
    #[arg(long, short)]
    pub user: Option<String>,
    /// Supplementary group ids.
    #[arg(long, short = 'g')]
    pub additional_gids: Vec<u32>,
    /// Add a capability.
    #[arg(long, short)]
    pub cap: Vec<String>,
    /// Set no_new_privs.
    #[arg(long)]
    pub no_new_privs: bool,
    /// Pass this many descriptors from 3 on to the process.
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: i32,
    /// Allow exec into a paused container.
    #[arg(long)]
    pub ignore_paused: bool,
    /// AppArmor profile for the process (applied where the host has AppArmor).
    #[arg(long)]
    pub apparmor: Option<String>,
    /// SELinux label for the process (applied where the host has SELinux).
    #[arg(long)]
    pub process_label: Option<String>,
    /// The container id.
    pub id: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn version_names_the_spec() {
        assert!(version().ends_with(skiff_runtime::state::OCI_VERSION));
    }

    #[test]
    fn options_after_the_id() {
        let cli = Cli::try_parse_from(["skiff-runtime", "create", "c1", "--bundle", "/b"]).unwrap();
        let Command::Create(a) = cli.command else {
            panic!("not create")
        };
        assert_eq!(
            (a.id.as_str(), a.bundle.as_path()),
            ("c1", std::path::Path::new("/b"))
        );
    }

    #[test]
    fn exec_keeps_the_command_flags() {
        let cli = Cli::try_parse_from(["skiff-runtime", "exec", "c1", "sh", "-c", "true"]).unwrap();
        let Command::Exec(a) = cli.command else {
            panic!("not exec")
        };
        assert_eq!(a.command, ["sh", "-c", "true"]);
    }
}
