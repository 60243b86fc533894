//! The template context: everything a report shows, as plain serialisable data, the same for
//! Markdown and HTML. Strings here are raw (unescaped); each template escapes for its format.

use serde::Serialize;

use crate::charts::{Figure, inline_svg};
use crate::claims::{
    ClaimOutcome, ClaimsSummary, ReferenceFile, SCHEMA_VERSION, Section, Verdict, verdict_mark,
};
use crate::results::{ConfigTable, ENV_COLUMNS, Results, Run};

mod key_columns;
mod suite_tables;
pub mod taxonomy;

use suite_tables::suite_views;
pub use taxonomy::{CROSS_FAMILY_PAPERS, TaxonomyView};

/// The banner of `--quick` runs.
pub const QUICK_BANNER: &str = "Quick run: fewer epochs and grid points. Numbers show the shape \
     of the results only; do not compare them with the papers' values.";

#[derive(Debug, Serialize)]
pub struct ReportView {
    pub title: String,
    pub version: &'static str,
    pub quick: bool,
    pub quick_banner: &'static str,
    pub summary: String,
    pub counts: ClaimsSummary,
    pub papers: Vec<PaperView>,
    pub missing_references: Vec<String>,
    /// The survey's taxonomy over these results (families → methods → rows); `None` when the
    /// rows carry no `family` column.
    pub taxonomy: Option<TaxonomyView>,
    pub suites: Vec<SuiteView>,
    pub figures: Vec<FigureView>,
    pub runs: Vec<RunView>,
}

#[derive(Debug, Serialize)]
pub struct PaperView {
    pub paper: String,
    pub title: String,
    /// "Authors, Venue, arXiv:id".
    pub citation: String,
    pub note: Option<String>,
    /// "lut-dla: 2 of 5 published claims hold at our scale; 6 of 8 of our expectations hold".
    pub summary: String,
    /// The paper's own claims.
    pub claims: Vec<ClaimView>,
    /// Ours, with a reason each.
    pub expectations: Vec<ClaimView>,
    /// Set for a schema-1 file: its entries are not split into claims and expectations.
    pub deprecated: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ClaimView {
    pub id: String,
    pub claim: String,
    /// A claim's place in the paper; an expectation's reason.
    pub source: String,
    /// The paper's number.
    pub paper: String,
    pub ours: String,
    /// `all`, `any`, `at …`, plus the noise rule.
    pub rule: String,
    /// `holds`, `does not hold`, `inconclusive`, `not run`.
    pub verdict: &'static str,
    /// CSS class: `holds`, `fails`, `inconclusive`, `not-run`.
    pub status: &'static str,
    /// `✓`, `✗`, `≈`, `–`.
    pub mark: &'static str,
    /// The rows compared, one per configuration or setting.
    pub evidence: Vec<PieceView>,
}

#[derive(Debug, Serialize)]
pub struct PieceView {
    pub selection: String,
    pub ours: String,
    pub verdict: &'static str,
    pub mark: &'static str,
    /// False outside an `at:` operating point (shown as context).
    pub decides: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Serialize)]
pub struct ColumnView {
    pub name: String,
    pub numeric: bool,
}

#[derive(Debug, Serialize)]
pub struct CellView {
    pub text: String,
    /// Best value of its column (bold).
    pub best: bool,
    /// The unscaled mean, for sorting in the HTML table.
    pub sort: Option<f64>,
}

/// The results of one suite: its fixed values and one or two tables.
///
/// A suite with both model-side and hardware metrics (`metrics::Side`) gets two tables: the
/// model-side metrics once per configuration of the non-hardware keys, and the hardware costs
/// once per configuration and hardware design. Otherwise one table. Every table has the same
/// compact key columns (`KeyColumns`: model, model params, configuration, hw, hw params), not
/// a column per varying key.
#[derive(Debug, Serialize)]
pub struct SuiteView {
    pub name: String,
    /// The suite's `description` (env.json, or the suite file it names), raw text.
    pub description: Option<String>,
    /// Keys with one value across the suite, and metrics with one printed value in every row
    /// of their table.
    pub fixed: Vec<KeyValue>,
    /// Per model, when the model varies: the model parameters that differ only between models
    /// (a ViT's depth) and metrics with one printed value on every row of that model (its
    /// baseline accuracy). Models with nothing to list are left out.
    pub per_model: Vec<ModelValues>,
    pub tables: Vec<TableView>,
    /// Metrics the rows carry that the suite's `metrics:` list leaves out of its tables (they
    /// stay in rows.csv).
    pub not_shown: Vec<String>,
}

/// Values that hold for every row of one model.
#[derive(Debug, Serialize)]
pub struct ModelValues {
    pub model: String,
    pub values: Vec<KeyValue>,
}

/// One results table.
#[derive(Debug, Serialize)]
pub struct TableView {
    /// A small heading: "Accuracy and CPU measurements", "Hardware costs", "Measurements".
    pub title: &'static str,
    /// One sentence under the heading: what a row is, what the compact columns hold.
    pub caption: String,
    pub columns: Vec<ColumnView>,
    pub rows: Vec<Vec<CellView>>,
    /// Notes (e.g. "approximate: …"), referenced from note cells as `[1]`, `[2]`, ….
    pub footnotes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct FigureView {
    /// Relative to the report: `figures/<name>.svg`.
    pub file: String,
    pub title: String,
    pub caption: String,
    /// The SVG, marked safe for the HTML template (plotters escapes its text).
    pub svg: minijinja::Value,
}

#[derive(Debug, Serialize)]
pub struct RunView {
    pub name: String,
    pub entries: Vec<KeyValue>,
}

/// Everything [`build`] turns into a view.
pub struct Inputs<'a> {
    pub results: &'a Results,
    pub table: &'a ConfigTable,
    pub references: &'a [ReferenceFile],
    pub missing: &'a [String],
    pub outcomes: &'a [ClaimOutcome],
    pub summary: ClaimsSummary,
    pub figures: &'a [Figure],
    /// The registry's methods, for a cross-family taxonomy's "not run" rows.
    pub registered: Option<&'a [(String, compbench_core::Family)]>,
}

pub fn build(inputs: Inputs) -> ReportView {
    let Inputs {
        results,
        table,
        references,
        missing,
        outcomes,
        summary,
        figures,
        registered,
    } = inputs;
    let papers: Vec<PaperView> = references.iter().map(|r| paper_view(r, outcomes)).collect();
    let mut title_parts: Vec<String> = references.iter().map(|r| r.paper.clone()).collect();
    title_parts.extend(missing.iter().cloned());
    let mut suites = suite_views(table, &|name| suite_metrics(results, name));
    for s in &mut suites {
        s.description = suite_description(results, &s.name);
    }
    if title_parts.is_empty() {
        title_parts = suites.iter().map(|s| s.name.clone()).collect();
    }
    ReportView {
        title: format!("compbench report: {}", title_parts.join(", ")),
        version: env!("CARGO_PKG_VERSION"),
        quick: results.quick(),
        quick_banner: QUICK_BANNER,
        summary: summary.to_string(),
        counts: summary,
        papers,
        missing_references: missing.to_vec(),
        taxonomy: taxonomy::build(table, registered),
        suites,
        figures: figures
            .iter()
            .map(|f| FigureView {
                file: format!("figures/{}.svg", f.name),
                title: f.title.clone(),
                caption: f.caption.clone(),
                svg: minijinja::Value::from_safe_string(inline_svg(&f.svg)),
            })
            .collect(),
        runs: results.runs.iter().map(run_view).collect(),
    }
}

fn status(v: Verdict) -> &'static str {
    match v {
        Verdict::Holds => "holds",
        Verdict::Fails => "fails",
        Verdict::Inconclusive => "inconclusive",
        Verdict::NotRun => "not-run",
    }
}

fn claim_view(o: &ClaimOutcome) -> ClaimView {
    let rule = if o.noise.is_empty() {
        o.rule.clone()
    } else {
        format!("{}; {}", o.rule, o.noise)
    };
    ClaimView {
        id: o.id.clone(),
        claim: o.claim.clone(),
        source: o.source.clone(),
        paper: o.paper_number.clone(),
        ours: o.ours.clone(),
        rule,
        verdict: o.verdict.words(),
        status: status(o.verdict),
        mark: verdict_mark(o.verdict),
        evidence: o
            .evidence
            .iter()
            .map(|p| PieceView {
                selection: p.selection.clone(),
                ours: p.ours.clone(),
                verdict: p.verdict.words(),
                mark: verdict_mark(p.verdict),
                decides: p.decides,
            })
            .collect(),
    }
}

fn paper_view(r: &ReferenceFile, outcomes: &[ClaimOutcome]) -> PaperView {
    let mine: Vec<&ClaimOutcome> = outcomes.iter().filter(|o| o.paper == r.paper).collect();
    let counts = {
        let owned: Vec<ClaimOutcome> = mine.iter().map(|o| (*o).clone()).collect();
        ClaimsSummary::of(&owned)
    };
    let mut citation = Vec::new();
    if let Some(a) = &r.citation.authors {
        citation.push(a.clone());
    }
    citation.push(r.citation.venue.clone());
    if let Some(x) = &r.citation.arxiv {
        citation.push(format!("arXiv:{x}"));
    }
    PaperView {
        paper: r.paper.clone(),
        title: r.citation.title.clone(),
        citation: citation.join(", "),
        note: r.note.clone(),
        summary: format!("{}: {counts}", r.paper),
        claims: mine
            .iter()
            .filter(|o| o.section == Section::Claim)
            .map(|o| claim_view(o))
            .collect(),
        expectations: mine
            .iter()
            .filter(|o| o.section == Section::Expectation)
            .map(|o| claim_view(o))
            .collect(),
        deprecated: (r.schema_version < SCHEMA_VERSION).then(|| {
            format!(
                "This reference file uses schema_version {}: its entries are not yet split into \
                 the paper's claims and our expectations, so all are listed as claims \
                 (docs: reports/src/claims/schema.rs).",
                r.schema_version
            )
        }),
    }
}

/// The `metrics:` list of suite `name`, as the runner wrote it into env.json (empty when the
/// suite declares none, or the run predates the field).
fn suite_metrics(results: &Results, name: &str) -> Vec<String> {
    results
        .runs
        .iter()
        .filter_map(|run| run.env.as_ref())
        .find(|env| env.get("suite").and_then(|v| v.as_str()) == Some(name))
        .and_then(|env| env.get("metrics")?.as_array().cloned())
        .map(|list| {
            list.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The description of suite `name`: env.json's `description` (written by the runner), else
/// the `description` of the suite file env.json names, when it can be read from here.
fn suite_description(results: &Results, name: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Described {
        #[serde(default)]
        description: Option<String>,
    }
    results.runs.iter().find_map(|run| {
        let env = run.env.as_ref()?;
        if env.get("suite").and_then(|v| v.as_str()) != Some(name) {
            return None;
        }
        if let Some(d) = env.get("description").and_then(|v| v.as_str()) {
            return Some(d.to_string());
        }
        let file = env.get("suite_file")?.as_str()?;
        let text = std::fs::read_to_string(file).ok()?;
        // Only the one field: serde ignores the rest of the suite.
        serde_saphyr::from_str::<Described>(&text).ok()?.description
    })
}

fn wall_time(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!(
            "{} min {:02} s",
            (s / 60.0).floor(),
            (s % 60.0).round() as u64
        )
    } else {
        format!(
            "{} h {:02} min",
            (s / 3600.0).floor(),
            ((s % 3600.0) / 60.0).round() as u64
        )
    }
}

fn run_view(run: &Run) -> RunView {
    let Some(env) = &run.env else {
        return RunView {
            name: run.name.clone(),
            entries: vec![KeyValue {
                key: "env.json".into(),
                value: "missing".into(),
            }],
        };
    };
    const LABELS: [(&str, &str); 9] = [
        ("git_hash", "git"),
        ("cpu", "CPU"),
        ("threads", "threads"),
        ("rustc", "rustc"),
        ("os", "OS"),
        ("timestamp", "date"),
        ("wall_s", "wall time"),
        ("quick", "quick"),
        ("compbench_version", "compbench"),
    ];
    let text = |key: &str, v: &serde_json::Value| match (key, v) {
        ("wall_s", serde_json::Value::Number(n)) => n.as_f64().map(wall_time).unwrap_or_default(),
        (_, serde_json::Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    };
    let mut entries: Vec<KeyValue> = LABELS
        .iter()
        .map(|(key, label)| KeyValue {
            key: (*label).into(),
            value: env
                .get(*key)
                .map(|v| text(key, v))
                .unwrap_or_else(|| "unknown".into()),
        })
        .collect();
    debug_assert!(LABELS.iter().all(|(k, _)| ENV_COLUMNS.contains(k)));
    for (k, v) in env {
        if !LABELS.iter().any(|(key, _)| key == k) {
            entries.push(KeyValue {
                key: k.clone(),
                value: text(k, v),
            });
        }
    }
    RunView {
        name: run.name.clone(),
        entries,
    }
}
