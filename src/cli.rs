//! Command line: `demo`, `run`, `check-config`, `explain`, `reload`, `region`, `backend`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "meridian",
    version,
    about = "Global traffic manager with an authoritative GeoDNS front"
)]
pub struct Cli {
    /// The main configuration file; region files and the geo database are found relative to it.
    #[arg(long, global = true, default_value = "meridian.toml")]
    pub config: PathBuf,
    /// Log format on stderr: `text` for people, `json` (one object per line) for machines.
    /// Levels come from RUST_LOG (e.g. `RUST_LOG=debug`, `RUST_LOG=meridian=debug`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole local system (every region of the config) on loopback in one process.
    Demo(DemoArgs),
    /// Run the node of one region.
    Run(RunArgs),
    /// Validate the configuration without serving.
    CheckConfig {
        /// Defaults to --config.
        path: Option<PathBuf>,
        /// Check against this MaxMind DB file instead of the one in the config.
        #[arg(long)]
        geo_db: Option<PathBuf>,
    },
    /// Show how a query from a client is answered, step by step.
    Explain(ExplainArgs),
    /// Ask a running node to reload its configuration (same as `kill -HUP <pid>`).
    Reload(ReloadArgs),
    /// Drain, undrain or force up a region, through any running node; every node follows.
    Region(RegionArgs),
    /// Drain or undrain one backend of a region's proxy, through a node of that region.
    Backend(BackendArgs),
}

#[derive(Debug, Args)]
pub struct BackendArgs {
    #[arg(value_enum)]
    pub action: BackendAction,
    /// The backend's id (`[[proxy.backend]] id`).
    pub id: String,
    /// The backend's region; the node (--node) must be one of that region's.
    #[arg(long)]
    pub region: String,
    #[command(flatten)]
    pub admin: ReloadArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendAction {
    /// No new requests (sticky sessions and requests in flight go on); kept across restarts.
    Drain,
    /// Back to taking new requests.
    Undrain,
}

impl BackendAction {
    /// The admin API's word for it.
    pub fn path(self) -> &'static str {
        match self {
            Self::Drain => "drain",
            Self::Undrain => "undrain",
        }
    }
}

#[derive(Debug, Args)]
pub struct RegionArgs {
    #[arg(value_enum)]
    pub action: RegionAction,
    /// The region's name.
    pub name: String,
    #[command(flatten)]
    pub admin: ReloadArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RegionAction {
    /// No traffic to the region, whatever the probes say.
    Drain,
    /// Back to what the probes say.
    Undrain,
    /// Traffic to the region, whatever the probes say.
    ForceUp,
}

impl RegionAction {
    /// The admin API's word for it.
    pub fn path(self) -> &'static str {
        match self {
            Self::Drain => "drain",
            Self::Undrain => "undrain",
            Self::ForceUp => "force-up",
        }
    }
}

#[derive(Debug, Args)]
pub struct ReloadArgs {
    /// The node's status URL, e.g. http://127.0.1.1:8053
    #[arg(long)]
    pub node: String,
    /// The admin token; defaults to the MERIDIAN_ADMIN_TOKEN environment variable.
    #[arg(long, env = "MERIDIAN_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// DNS port on every region's address.
    #[arg(long, default_value_t = 1053)]
    pub dns_port: u16,
    /// HTTP port on every region's address.
    #[arg(long, default_value_t = 8080)]
    pub http_port: u16,
    /// Status port (`/healthz`, admin actions) on every region's address.
    #[arg(long, default_value_t = 8053)]
    pub status_port: u16,
    /// Use this MaxMind DB file instead of the one in the config.
    #[arg(long)]
    pub geo_db: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Which region's node this is.
    #[arg(long)]
    pub region: String,
    /// Serve DNS here instead of the region's `listen.dns` (repeatable).
    #[arg(long)]
    pub dns_listen: Vec<SocketAddr>,
    /// Serve HTTP here instead of the region's `listen.http`.
    #[arg(long)]
    pub http_listen: Option<SocketAddr>,
    /// Serve the status listener here instead of the region's `listen.status`.
    #[arg(long)]
    pub status_listen: Option<SocketAddr>,
    /// This node's name, reported on `/healthz` (default: the host name).
    #[arg(long)]
    pub node_name: Option<String>,
    /// UDP sockets (and threads) per DNS address; defaults to the number of CPUs.
    #[arg(long)]
    pub udp_sockets: Option<usize>,
    /// HTTP proxy workers (threads, each with its own listener); defaults to the number of
    /// CPUs.
    #[arg(long)]
    pub http_workers: Option<usize>,
    /// Use this MaxMind DB file instead of the one in the config.
    #[arg(long)]
    pub geo_db: Option<PathBuf>,
    /// Keep the operator state file here instead of `[health] state_dir` (a writable
    /// folder, e.g. systemd's StateDirectory).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The client: an address (the packet source, no ECS) or a resolver's subnet such as
    /// 81.2.69.0/24 (sent as ECS).
    #[arg(long)]
    pub client: crate::explain::Client,
    /// The name queried, e.g. www.gtm.test.
    pub name: String,
    /// The record type.
    #[arg(default_value = "A")]
    pub record_type: String,
    /// Use this MaxMind DB file instead of the one in the config.
    #[arg(long)]
    pub geo_db: Option<PathBuf>,
    /// Explain with a running node's verdicts (its status URL, e.g. http://127.0.1.1:8053),
    /// and show every vantage point's votes; without it every region counts as up.
    #[arg(long)]
    pub node: Option<String>,
}
