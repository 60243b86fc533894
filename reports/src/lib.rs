//! Markdown and HTML reports, SVG charts, paper-vs-reproduced claims.
//!
//! `compbench report RESULTS_DIR` calls [`render`]; `compbench reproduce all` calls
//! [`render_many`] over several results directories. Both read `rows.parquet` and `env.json`
//! (docs/results-schema.md), aggregate rows per configuration (mean ± 95 % CI over seeds, with
//! polars), check the papers' claims from `suites/references/<paper>.yaml`, draw SVG charts
//! and write:
//!
//! ```text
//! <out_dir>/report.md        pipe tables, figures linked as figures/*.svg   (Format::Markdown)
//! <out_dir>/report.html      one self-contained file, SVG inlined           (Format::Html)
//! <out_dir>/claims.json      [{"id","paper","section","claim","source","paper_number","ours","rule","noise","verdict","holds","evidence"}] (always)
//! <out_dir>/figures/*.svg    one file per chart                             (always)
//! ```
//!
//! [`render`] writes into `RESULTS_DIR/report/` ([`REPORT_DIR`]), so the run's own files stay
//! untouched and a report can be deleted and rebuilt. Every file is written atomically
//! (temporary file + rename).
//!
//! ```no_run
//! use std::path::Path;
//! use compbench_reports::{render, Format};
//! let out = render(Path::new("results/lut-dla/run-1"), &[Format::Markdown, Format::Html],
//!                  Path::new("suites/references"))?;
//! println!("{}", out.summary); // "9 of 11 claims hold (1 does not hold, 1 not run)"
//! # Ok::<(), compbench_reports::ReportError>(())
//! ```
//!
//! The crate's code map and invariants follow (from its ARCHITECTURE.md).
#![doc = include_str!("../ARCHITECTURE.md")]

pub mod charts;
pub mod claims;
mod error;
pub mod fixture;
pub mod index;
pub mod metrics;
pub mod results;
mod stats;
mod templates;
mod view;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use claims::{ClaimOutcome, ClaimsSummary};
pub use error::ReportError;
pub use index::{IndexEntry, IndexOutput, IndexRow, render_index};
pub use view::CROSS_FAMILY_PAPERS;

/// What the results alone do not say.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `(method id, family)` of every registered method (the CLI passes
    /// `compbench_registry::method_families()`): the taxonomy of a cross-family survey
    /// ([`CROSS_FAMILY_PAPERS`]) lists those its results lack as not run. Empty: none listed.
    pub registered_methods: Vec<(String, compbench_core::Family)>,
}

/// Subdirectory of a results directory that [`render`] writes into.
pub const REPORT_DIR: &str = "report";

/// An output format of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `report.md`
    Markdown,
    /// `report.html`
    Html,
}

impl Format {
    /// Parses a comma-separated list (`md,html`), as `--format` takes it. Duplicates are
    /// dropped; an empty list is an error.
    pub fn parse_list(s: &str) -> Result<Vec<Format>, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let f: Format = part.parse()?;
            if !out.contains(&f) {
                out.push(f);
            }
        }
        if out.is_empty() {
            return Err("no format given (expected md, html or md,html)".into());
        }
        Ok(out)
    }

    /// The file this format is written to.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Markdown => "report.md",
            Format::Html => "report.html",
        }
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "md" | "markdown" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            other => Err(format!(
                "unknown report format `{other}` (expected md or html)"
            )),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Markdown => "md",
            Format::Html => "html",
        })
    }
}

/// What [`render`] wrote, and the claims verdicts.
#[derive(Debug, Clone)]
pub struct RenderOutput {
    /// The directory everything was written into.
    pub out_dir: PathBuf,
    /// `report.md`, when [`Format::Markdown`] was asked for.
    pub markdown: Option<PathBuf>,
    /// `report.html`, when [`Format::Html`] was asked for.
    pub html: Option<PathBuf>,
    /// `claims.json` (always written; `[]` when no claims apply).
    pub claims_json: PathBuf,
    /// `figures/*.svg`, in report order.
    pub figures: Vec<PathBuf>,
    /// Every checked claim, in reference-file order.
    pub claims: Vec<ClaimOutcome>,
    /// Counts of the verdicts; `Display` gives the one-line summary.
    pub summary: ClaimsSummary,
}

/// Renders the report of one results directory into `results_dir/report/`.
///
/// `references_dir` holds `<paper>.yaml` claim files; only the papers named in the rows'
/// `paper` column are checked, and a missing directory or file just means no claims.
pub fn render(
    results_dir: &Path,
    formats: &[Format],
    references_dir: &Path,
) -> Result<RenderOutput, ReportError> {
    render_with(results_dir, formats, references_dir, &Options::default())
}

/// [`render`] with [`Options`].
pub fn render_with(
    results_dir: &Path,
    formats: &[Format],
    references_dir: &Path,
    options: &Options,
) -> Result<RenderOutput, ReportError> {
    render_many_with(
        &[results_dir.to_path_buf()],
        &results_dir.join(REPORT_DIR),
        formats,
        references_dir,
        options,
    )
}

/// Renders one report over several results directories (their rows unioned; a column one run
/// lacks is null there) into `out_dir`, which is created if needed. Each run gets its own
/// environment block. Stale `figures/*.svg` from an earlier render are removed.
pub fn render_many(
    results_dirs: &[PathBuf],
    out_dir: &Path,
    formats: &[Format],
    references_dir: &Path,
) -> Result<RenderOutput, ReportError> {
    render_many_with(
        results_dirs,
        out_dir,
        formats,
        references_dir,
        &Options::default(),
    )
}

/// [`render_many`] with [`Options`].
pub fn render_many_with(
    results_dirs: &[PathBuf],
    out_dir: &Path,
    formats: &[Format],
    references_dir: &Path,
    options: &Options,
) -> Result<RenderOutput, ReportError> {
    let results = results::load(results_dirs)?;
    let table =
        results::aggregate(&results.rows).map_err(|e| ReportError::table(&results_dirs[0], e))?;

    let papers = distinct_papers(&table);
    let (references, missing) = claims::load_references(references_dir, &papers)?;
    let ctx = claims::EvalContext {
        test_examples: results.test_examples(),
    };
    let outcomes: Vec<ClaimOutcome> = references
        .iter()
        .flat_map(|r| claims::check_reference(r, &table, &ctx))
        .collect();
    let summary = ClaimsSummary::of(&outcomes);
    let figures = charts::all(&table)?;

    let fig_dir = out_dir.join("figures");
    std::fs::create_dir_all(&fig_dir).map_err(|e| ReportError::io(&fig_dir, e))?;
    let mut figure_paths = Vec::with_capacity(figures.len());
    for f in &figures {
        let path = fig_dir.join(format!("{}.svg", f.name));
        write_atomic(&path, f.svg.as_bytes())?;
        figure_paths.push(path);
    }
    remove_stale_figures(&fig_dir, &figure_paths)?;

    let claims_json = out_dir.join("claims.json");
    let json = serde_json::to_string_pretty(&outcomes).expect("claims serialise");
    write_atomic(&claims_json, format!("{json}\n").as_bytes())?;

    // A cross-family survey lists every registered method; other reports only what ran.
    let cross_family = papers
        .iter()
        .any(|p| CROSS_FAMILY_PAPERS.contains(&p.as_str()));
    let registered = (cross_family && !options.registered_methods.is_empty())
        .then_some(options.registered_methods.as_slice());
    let report = view::build(view::Inputs {
        results: &results,
        table: &table,
        references: &references,
        missing: &missing,
        outcomes: &outcomes,
        summary,
        figures: &figures,
        registered,
    });
    let mut out = RenderOutput {
        out_dir: out_dir.to_path_buf(),
        markdown: None,
        html: None,
        claims_json,
        figures: figure_paths,
        claims: outcomes,
        summary,
    };
    for &format in formats {
        let text = templates::render(format, &report)?;
        let path = out_dir.join(format.file_name());
        write_atomic(&path, text.as_bytes())?;
        match format {
            Format::Markdown => out.markdown = Some(path),
            Format::Html => out.html = Some(path),
        }
    }
    Ok(out)
}

/// Distinct non-empty values of the `paper` column, in order of appearance.
fn distinct_papers(table: &results::ConfigTable) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in 0..table.rows.len() {
        if let Some(p) = table.key(r, "paper").filter(|p| !p.is_empty())
            && !out.iter().any(|o| o == p)
        {
            out.push(p.to_string());
        }
    }
    out
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).map_err(|e| ReportError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| ReportError::io(path, e))
}

fn remove_stale_figures(dir: &Path, keep: &[PathBuf]) -> Result<(), ReportError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ReportError::io(dir, e))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "svg") && !keep.contains(&path) {
            std::fs::remove_file(&path).map_err(|e| ReportError::io(&path, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_list() {
        assert_eq!(
            Format::parse_list("md, html,md").unwrap(),
            [Format::Markdown, Format::Html]
        );
        assert!(Format::parse_list("pdf").is_err());
        assert!(Format::parse_list("").is_err());
    }
}
