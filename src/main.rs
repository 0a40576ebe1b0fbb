//! The `meridian` binary: parse, start logging, run, map the result to an exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use meridian::cli::{Cli, Command, LogFormat};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs(cli.log_format);
    let result = match &cli.command {
        Command::CheckConfig { path, geo_db } => meridian::commands::check_config(
            path.as_deref().unwrap_or(&cli.config),
            geo_db.as_deref(),
        ),
        Command::Explain(args) => meridian::commands::explain(&cli.config, args),
        Command::Reload(args) => {
            runtime().and_then(|rt| rt.block_on(meridian::commands::reload(args)))
        }
        Command::Region(args) => {
            runtime().and_then(|rt| rt.block_on(meridian::commands::region(args)))
        }
        Command::Backend(args) => {
            runtime().and_then(|rt| rt.block_on(meridian::commands::backend(args)))
        }
        Command::Demo(args) => {
            runtime().and_then(|rt| rt.block_on(meridian::demo::run(&cli.config, args)))
        }
        Command::Run(args) => {
            runtime().and_then(|rt| rt.block_on(meridian::node::run(&cli.config, args)))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr; RUST_LOG picks levels. hickory logs every query at INFO (~5 us each):
/// it stays at warnings unless asked.
fn init_logs(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,hickory_server=warn,hickory_proto=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
