//! `compbench data fetch [--dest D]`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct DataArgs {
    #[command(subcommand)]
    pub command: DataCommand,
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Get Fashion-MNIST into the data directory (from Debian's dataset-fashion-mnist package,
    /// without root). Never downloads at run time.
    Fetch {
        /// Destination (default: $COMPBENCH_DATA, else ./data).
        #[arg(long)]
        dest: Option<PathBuf>,
    },
}

pub fn run(args: &DataArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        DataCommand::Fetch { dest } => {
            let dest = dest
                .clone()
                .unwrap_or_else(|| match std::env::var_os("COMPBENCH_DATA") {
                    Some(d) if !d.is_empty() => PathBuf::from(d),
                    _ => PathBuf::from("data"),
                });
            let dir = compbench_nn::data::fetch(&dest)
                .with_context(|| format!("fetching Fashion-MNIST into {}", dest.display()))?;
            println!("Fashion-MNIST is in {}", dir.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}
