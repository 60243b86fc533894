//! One module per subcommand: an `Args` struct (clap derive) and a `run` function.

pub mod bench;
pub mod bench_models;
pub mod data;
pub mod hw;
pub mod list;
pub mod report;
pub mod reproduce;
pub mod results;
pub mod run;
pub mod train;
pub mod validate;

use std::path::{Path, PathBuf};

use compbench_suite::{Suite, SuiteErrors};

/// `compbench train`: cmd/train.rs's arguments plus the shared `--data-dir`.
#[derive(Debug, clap::Args)]
pub struct TrainCommand {
    #[command(flatten)]
    pub args: train::TrainArgs,
    /// Extra directory to look for datasets in. Repeatable.
    #[arg(long = "data-dir", value_name = "D")]
    pub data_dirs: Vec<PathBuf>,
}

/// Where suites live, relative to the working directory (the repository root).
pub const SUITES_DIR: &str = "suites";
/// Where the papers' published numbers live.
pub const REFERENCES_DIR: &str = "suites/references";
/// Root of default results directories.
pub const RESULTS_DIR: &str = "results";

/// Load and validate a suite against the registry.
pub fn load_suite(path: &Path) -> Result<Suite, SuiteErrors> {
    compbench_suite::load(path, &compbench_registry::catalog())
}

/// Print a suite's problems (one `file:line:col: field: message` per line) to stderr.
pub fn print_suite_errors(errors: &SuiteErrors) {
    for d in errors.iter() {
        crate::ui::error(&d.to_string());
    }
}

/// Load a suite or fail with exit code 2 after printing its problems.
pub fn load_suite_or_exit2(path: &Path) -> anyhow::Result<Suite> {
    match load_suite(path) {
        Ok(s) => Ok(s),
        Err(errors) => {
            print_suite_errors(&errors);
            crate::ui::invalid(format!(
                "{}: {} problem(s); nothing was run",
                path.display(),
                errors.len()
            ))
        }
    }
}

/// `suites/*.yaml`, sorted.
pub fn suite_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(SUITES_DIR)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}
