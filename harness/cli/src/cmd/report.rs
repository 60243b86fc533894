//! `compbench report RESULTS_DIR [--format md,html]`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use compbench_reports::{Format, RenderOutput};

use crate::ui;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A results directory (with rows.parquet, or rows.csv).
    pub results_dir: PathBuf,
    /// Comma-separated: md, html.
    #[arg(long, default_value = "md,html")]
    pub format: String,
}

/// Render and return what was written.
pub fn render(dir: &Path, format: &str) -> anyhow::Result<RenderOutput> {
    let formats = match Format::parse_list(format) {
        Ok(f) => f,
        Err(e) => return ui::invalid(format!("--format {format}: {e}")),
    };
    if !dir.join("rows.parquet").is_file() && !dir.join("rows.csv").is_file() {
        return ui::invalid(format!(
            "{} has no rows.parquet or rows.csv: run a suite into it first (compbench run SUITE.yaml --out {})",
            dir.display(),
            dir.display()
        ));
    }
    compbench_reports::render(dir, &formats, Path::new(super::REFERENCES_DIR))
        .with_context(|| format!("rendering the report of {}", dir.display()))
}

pub fn print_output(out: &RenderOutput) {
    for p in out.markdown.iter().chain(&out.html) {
        println!("report: {}", p.display());
    }
    println!("claims: {} ({})", out.summary, out.claims_json.display());
}

pub fn run(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let out = render(&args.results_dir, &args.format)?;
    print_output(&out);
    Ok(ExitCode::SUCCESS)
}
