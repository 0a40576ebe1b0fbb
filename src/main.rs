//! The `meridian` binary: parse, load config before binding anything, run, exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use meridian::cli::{Cli, Command};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // hickory logs every query at INFO (~5 us each): keep it to warnings unless asked.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,hickory_server=warn,hickory_proto=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();

    let result = match cli.command {
        Command::CheckConfig { path } => {
            meridian::node::check_config(path.as_deref().unwrap_or(&cli.config))
        }
        Command::Explain(args) => meridian::explain::run(&cli.config, &args),
        Command::Demo(args) => {
            runtime().and_then(|rt| rt.block_on(meridian::demo::run(&cli.config, &args)))
        }
        Command::Run(args) => {
            runtime().and_then(|rt| rt.block_on(meridian::node::run(&cli.config, &args)))
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

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
