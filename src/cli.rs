//! Command line: `demo`, `run`, `check-config`, `explain`.

use std::net::{IpAddr, SocketAddr};
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
    #[command(subcommand)]
    pub command: Command,
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
    },
    /// Show how a query from a client is answered, step by step.
    Explain(ExplainArgs),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// DNS port on every region's address.
    #[arg(long, default_value_t = 1053)]
    pub dns_port: u16,
    /// HTTP port on every region's address.
    #[arg(long, default_value_t = 8080)]
    pub http_port: u16,
    /// Status port (reserved for the health and dashboard endpoints).
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
    /// UDP sockets (and threads) per DNS address; defaults to the number of CPUs.
    #[arg(long)]
    pub udp_sockets: Option<usize>,
    /// Use this MaxMind DB file instead of the one in the config.
    #[arg(long)]
    pub geo_db: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The client (or resolver subnet) address to answer for.
    #[arg(long)]
    pub client: IpAddr,
    /// The name queried, e.g. www.gtm.test.
    pub name: String,
    /// The record type.
    #[arg(default_value = "A")]
    pub record_type: String,
    /// Use this MaxMind DB file instead of the one in the config.
    #[arg(long)]
    pub geo_db: Option<PathBuf>,
}
