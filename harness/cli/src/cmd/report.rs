//! `compbench report RESULTS_DIR [--format md,html]`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use compbench_reports::{Format, Options, RenderOutput};

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
    compbench_reports::render_with(dir, &formats, Path::new(super::REFERENCES_DIR), &options())
        .with_context(|| format!("rendering the report of {}", dir.display()))
}

/// What a report needs from the registry: every method's survey family (a cross-family
/// survey's taxonomy lists the methods its results lack as not run). A method without a
/// family is the registry's error, shown as a warning here: the report still renders.
pub fn options() -> Options {
    if let Err(e) = compbench_registry::taxonomy() {
        ui::warn(&e.to_string());
    }
    Options {
        registered_methods: compbench_registry::method_families()
            .into_iter()
            .map(|(id, f)| (id.to_string(), f))
            .collect(),
    }
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
