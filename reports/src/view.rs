//! The template context: everything a report shows, as plain serialisable data, the same for
//! Markdown and HTML. Strings here are raw (unescaped); each template escapes for its format.

use serde::Serialize;

use crate::charts::{Figure, inline_svg};
use crate::claims::{ClaimOutcome, ClaimsSummary, ReferenceFile};
use crate::metrics::{Better, header, info, scale_for};
use crate::results::{ConfigTable, ENV_COLUMNS, Results, Run, short_key};

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
    pub summary: String,
    pub claims: Vec<ClaimView>,
}

#[derive(Debug, Serialize)]
pub struct ClaimView {
    pub id: String,
    pub claim: String,
    pub source: String,
    pub expected: String,
    pub ours: String,
    /// `holds`, `does not hold`, `not run`.
    pub verdict: &'static str,
    /// CSS class: `holds`, `fails`, `not-run`.
    pub status: &'static str,
    /// `✓`, `✗`, `–`.
    pub mark: &'static str,
}

#[derive(Debug, Serialize)]
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

/// One results table: the configurations of one suite.
#[derive(Debug, Serialize)]
pub struct SuiteView {
    pub name: String,
    /// Key columns with one value across the suite.
    pub fixed: Vec<KeyValue>,
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

pub fn build(
    results: &Results,
    table: &ConfigTable,
    references: &[ReferenceFile],
    missing: &[String],
    outcomes: &[ClaimOutcome],
    summary: ClaimsSummary,
    figures: &[Figure],
) -> ReportView {
    let papers: Vec<PaperView> = references.iter().map(|r| paper_view(r, outcomes)).collect();
    let mut title_parts: Vec<String> = references.iter().map(|r| r.paper.clone()).collect();
    title_parts.extend(missing.iter().cloned());
    let suites = suite_views(table);
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
        summary: counts.to_string(),
        claims: mine
            .into_iter()
            .map(|o| {
                let (verdict, status, mark) = match o.holds {
                    Some(true) => ("holds", "holds", "✓"),
                    Some(false) => ("does not hold", "fails", "✗"),
                    None => ("not run", "not-run", "–"),
                };
                ClaimView {
                    id: o.id.clone(),
                    claim: o.claim.clone(),
                    source: o.source.clone(),
                    expected: o.expected.clone(),
                    ours: o.ours.clone(),
                    verdict,
                    status,
                    mark,
                }
            })
            .collect(),
    }
}

/// Metric columns that belong in tables (per-layer columns go to their chart).
fn table_metric(column: &str) -> bool {
    !column.starts_with("method_layer")
}

fn note_header(column: &str) -> String {
    match column {
        "method_note" => "note".into(),
        other => other.to_string(),
    }
}

fn suite_views(table: &ConfigTable) -> Vec<SuiteView> {
    // suite name -> rows, in order of appearance
    let mut suites: Vec<(String, Vec<usize>)> = Vec::new();
    for r in 0..table.rows.len() {
        let name = table.key(r, "suite").unwrap_or("results").to_string();
        match suites.iter_mut().find(|(n, _)| *n == name) {
            Some((_, rs)) => rs.push(r),
            None => suites.push((name, vec![r])),
        }
    }
    suites
        .into_iter()
        .map(|(name, rows)| suite_view(table, name, &rows))
        .collect()
}

fn suite_view(table: &ConfigTable, name: String, rows: &[usize]) -> SuiteView {
    let varying = table.varying_keys(rows);
    // Short names must not clash with each other or with metric columns.
    let names: Vec<&str> = table
        .keys
        .iter()
        .chain(&table.metrics)
        .map(String::as_str)
        .collect();
    let mut fixed: Vec<KeyValue> = (0..table.keys.len())
        .filter(|k| !varying.contains(k) && table.keys[*k] != "suite")
        .filter_map(|k| {
            let v = table.rows[rows[0]].keys[k].clone()?;
            Some(KeyValue {
                key: short_key(&table.keys[k], &names),
                value: v,
            })
        })
        .collect();
    let shown: Vec<usize> = (0..table.metrics.len())
        .filter(|&m| table_metric(&table.metrics[m]))
        .filter(|&m| rows.iter().any(|&r| table.rows[r].stats[m].is_some()))
        .collect();
    // A metric with one printed value in every row (e.g. a constant utilization) is listed
    // with the fixed values instead of taking a column.
    let mut metrics = Vec::new();
    for m in shown {
        let means: Vec<Option<f64>> = rows
            .iter()
            .map(|&r| table.rows[r].stats[m].map(|s| s.mean))
            .collect();
        let present: Vec<f64> = means.iter().flatten().copied().collect();
        let scale = scale_for(info(&table.metrics[m]).unit, &present);
        let printed: Vec<String> = present.iter().map(|x| scale.number(*x)).collect();
        let no_ci = rows
            .iter()
            .all(|&r| table.rows[r].stats[m].is_none_or(|s| s.ci95.is_none_or(|c| c == 0.0)));
        if rows.len() > 1
            && present.len() == rows.len()
            && no_ci
            && printed.iter().all(|p| *p == printed[0])
        {
            fixed.push(KeyValue {
                key: crate::metrics::label(&table.metrics[m]),
                value: scale.with_unit(present[0]),
            });
        } else {
            metrics.push(m);
        }
    }
    let notes: Vec<usize> = (0..table.notes.len())
        .filter(|&n| {
            rows.iter().any(|&r| {
                table.rows[r].notes[n]
                    .as_deref()
                    .is_some_and(|s| !s.is_empty())
            })
        })
        .collect();

    let mut columns: Vec<ColumnView> = varying
        .iter()
        .map(|&k| ColumnView {
            name: short_key(&table.keys[k], &names),
            numeric: false,
        })
        .collect();
    let scales: Vec<_> = metrics
        .iter()
        .map(|&m| {
            let means: Vec<f64> = rows
                .iter()
                .filter_map(|&r| table.rows[r].stats[m].map(|s| s.mean))
                .collect();
            scale_for(info(&table.metrics[m]).unit, &means)
        })
        .collect();
    for (i, &m) in metrics.iter().enumerate() {
        columns.push(ColumnView {
            name: header(&table.metrics[m], &scales[i]),
            numeric: true,
        });
    }
    columns.push(ColumnView {
        name: "seeds".into(),
        numeric: true,
    });
    for &n in &notes {
        columns.push(ColumnView {
            name: note_header(&table.notes[n]),
            numeric: false,
        });
    }

    // Best printed value per metric column.
    let best: Vec<Option<String>> = metrics
        .iter()
        .enumerate()
        .map(|(i, &m)| {
            let better = info(&table.metrics[m]).better;
            let vals: Vec<f64> = rows
                .iter()
                .filter_map(|&r| table.rows[r].stats[m].map(|s| s.mean))
                .collect();
            if vals.len() < 2 {
                return None;
            }
            let pick = match better {
                Better::Higher => vals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                Better::Lower => vals.iter().copied().fold(f64::INFINITY, f64::min),
                Better::Neither => return None,
            };
            Some(scales[i].number(pick))
        })
        .collect();

    let mut footnotes: Vec<String> = Vec::new();
    let body = rows
        .iter()
        .map(|&r| {
            let row = &table.rows[r];
            let mut cells: Vec<CellView> = varying
                .iter()
                .map(|&k| CellView {
                    text: row.keys[k].clone().unwrap_or_else(|| "—".into()),
                    best: false,
                    sort: None,
                })
                .collect();
            for (i, &m) in metrics.iter().enumerate() {
                cells.push(match row.stats[m] {
                    Some(s) => CellView {
                        text: scales[i].mean_ci(s.mean, s.ci95),
                        best: best[i].as_deref() == Some(scales[i].number(s.mean).as_str()),
                        sort: Some(s.mean),
                    },
                    None => CellView {
                        text: "—".into(),
                        best: false,
                        sort: None,
                    },
                });
            }
            cells.push(CellView {
                text: row.n_rows.to_string(),
                best: false,
                sort: Some(row.n_rows as f64),
            });
            for &n in &notes {
                let text = match row.notes[n].as_deref().filter(|s| !s.is_empty()) {
                    Some(note) => {
                        let i = match footnotes.iter().position(|f| f == note) {
                            Some(i) => i,
                            None => {
                                footnotes.push(note.to_string());
                                footnotes.len() - 1
                            }
                        };
                        format!("[{}]", i + 1)
                    }
                    None => String::new(),
                };
                cells.push(CellView {
                    text,
                    best: false,
                    sort: None,
                });
            }
            cells
        })
        .collect();
    SuiteView {
        name,
        fixed,
        columns,
        rows: body,
        footnotes,
    }
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
