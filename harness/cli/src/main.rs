//! `compbench`: reproduce DNN-compression and accelerator co-design results from one command.
//!
//! This crate is the only one that prints. Each subcommand lives in `cmd/<name>.rs` as an
//! `Args` struct and a `run` function; exit codes are 0 (success), 1 (something failed),
//! 2 (invalid input: a bad suite, flag or argument).
//!
//! The crate's code map and invariants follow (from its ARCHITECTURE.md).
#![doc = include_str!("../ARCHITECTURE.md")]

mod cmd;
mod interrupt;
mod progress;
mod ui;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Reproduce DNN-compression / accelerator co-design papers at small scale.
#[derive(Debug, Parser)]
#[command(name = "compbench", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// What exists: methods, hardware models, models, datasets, suites (with parameters).
    List(cmd::list::ListArgs),
    /// Check suite files without running them (exit 2 if any is invalid).
    Validate(cmd::validate::ValidateArgs),
    /// Run a suite (resumes where a previous run of the same command stopped).
    Run(cmd::run::RunArgs),
    /// Render the Markdown/HTML report of a results directory.
    Report(cmd::report::ReportArgs),
    /// Work with results directories (merge shards).
    Results(cmd::results::ResultsArgs),
    /// Reproduce a paper: validate, run and report its suites in one command.
    Reproduce(cmd::reproduce::ReproduceArgs),
    /// Hardware models alone: price GEMMs or a workload on one design, sweep a design space.
    Hw(cmd::hw::HwArgs),
    /// Datasets (fetch Fashion-MNIST).
    Data(cmd::data::DataArgs),
    /// Measured speeds (kernels) and evaluation rates (hardware models).
    Bench(cmd::bench::BenchArgs),
    /// Train (or load from the cache) one float baseline and report it.
    Train(cmd::TrainCommand),
}

fn main() -> ExitCode {
    reset_sigpipe();
    let cli = Cli::parse();
    init_logging();
    let result = match &cli.command {
        Command::List(a) => cmd::list::run(a),
        Command::Validate(a) => cmd::validate::run(a),
        Command::Run(a) => cmd::run::run(a),
        Command::Report(a) => cmd::report::run(a),
        Command::Results(a) => cmd::results::run(a),
        Command::Reproduce(a) => cmd::reproduce::run(a),
        Command::Hw(a) => cmd::hw::run(a).map(|()| ExitCode::SUCCESS),
        Command::Data(a) => cmd::data::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Train(a) => cmd::train::run(&a.args, &a.data_dirs).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            ui::error(&format!("{e:#}"));
            if e.downcast_ref::<ui::InvalidInput>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// Rust ignores SIGPIPE, which turns `compbench list | head` into a "broken pipe" panic in
/// `println!`. Restore the default (the process ends quietly), as ripgrep does.
fn reset_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Logs go to stderr, filtered by `RUST_LOG` (default: warnings).
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
