//! The index page of `compbench reproduce all`: one row per paper, linking its report and
//! showing its headline (published claims holding / total; our expectations holding / total)
//! as read back from the paper's `claims.json`, so the page says what the reports say.
//!
//! ```text
//! <out_dir>/index.md     a pipe table, links relative to out_dir
//! <out_dir>/index.html   the same table, self-contained (no URL but the relative links)
//! ```

use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::claims::Counts;
use crate::error::ReportError;
use crate::templates;

/// One paper on the index: where its report was written.
#[derive(Debug, Clone)]
pub struct IndexEntry {
    /// The paper id (`lut-dla`).
    pub paper: String,
    pub title: String,
    /// The directory holding the paper's `report.md`, `report.html` and `claims.json`.
    pub report_dir: PathBuf,
}

/// One row of the index, as the templates show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexRow {
    pub paper: String,
    pub title: String,
    /// Links relative to the index's directory (`/`-separated); `None` when the file is absent.
    pub report_md: Option<String>,
    pub report_html: Option<String>,
    pub claims_json: String,
    /// Verdict counts of the published claims, from claims.json.
    pub claims: Counts,
    /// Verdict counts of our expectations, from claims.json.
    pub expectations: Counts,
    pub claims_total: usize,
    pub expectations_total: usize,
}

/// What [`render_index`] wrote.
#[derive(Debug, Clone)]
pub struct IndexOutput {
    pub markdown: PathBuf,
    pub html: PathBuf,
    pub rows: Vec<IndexRow>,
}

#[derive(Debug, Serialize)]
struct IndexView<'a> {
    title: &'static str,
    version: &'static str,
    quick: bool,
    quick_banner: &'static str,
    rows: &'a [IndexRow],
    claims: Counts,
    expectations: Counts,
    claims_total: usize,
    expectations_total: usize,
}

/// Counts the verdicts of a claims.json (`[{"section": "claim" | "expectation", "verdict": …}]`).
pub fn count_claims(path: &Path) -> Result<(Counts, Counts), ReportError> {
    let text = std::fs::read_to_string(path).map_err(|e| ReportError::io(path, e))?;
    let bad = |message: String| ReportError::Env {
        path: path.to_path_buf(),
        message,
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("claims.json: {e}")))?;
    let entries = value
        .as_array()
        .ok_or_else(|| bad("claims.json: expected a list of outcomes".into()))?;
    let (mut claims, mut expectations) = (Counts::default(), Counts::default());
    for (i, e) in entries.iter().enumerate() {
        let field = |name: &str| {
            e.get(name)
                .and_then(|v| v.as_str())
                .ok_or_else(|| bad(format!("claims.json: entry {i}: no `{name}` string")))
        };
        let counts = match field("section")? {
            "claim" => &mut claims,
            "expectation" => &mut expectations,
            other => {
                return Err(bad(format!(
                    "claims.json: entry {i}: unknown section `{other}`"
                )));
            }
        };
        match field("verdict")? {
            "holds" => counts.holds += 1,
            "fails" => counts.fails += 1,
            "inconclusive" => counts.inconclusive += 1,
            "not_run" => counts.not_run += 1,
            other => {
                return Err(bad(format!(
                    "claims.json: entry {i}: unknown verdict `{other}`"
                )));
            }
        }
    }
    Ok((claims, expectations))
}

/// `to` relative to directory `from`, `/`-separated (both made absolute first).
fn relative_link(from: &Path, to: &Path) -> Result<String, ReportError> {
    let abs = |p: &Path| -> Result<PathBuf, ReportError> {
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| ReportError::io(p, e))?
                .join(p)
        };
        // Lexical normalization: `a/./b/../c` → `a/c`.
        let mut out = PathBuf::new();
        for c in p.components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir => {
                    out.pop();
                }
                other => out.push(other),
            }
        }
        Ok(out)
    };
    let (from, to) = (abs(from)?, abs(to)?);
    let f: Vec<Component> = from.components().collect();
    let t: Vec<Component> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); f.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    Ok(parts.join("/"))
}

/// Writes `index.md` and `index.html` into `out_dir` (created if needed): one row per entry with
/// links to its report and the counts of its claims.json. `quick` shows the quick-run banner.
pub fn render_index(
    out_dir: &Path,
    entries: &[IndexEntry],
    quick: bool,
) -> Result<IndexOutput, ReportError> {
    if entries.is_empty() {
        return Err(ReportError::Usage("no paper reports to index".into()));
    }
    std::fs::create_dir_all(out_dir).map_err(|e| ReportError::io(out_dir, e))?;
    let mut rows = Vec::with_capacity(entries.len());
    for e in entries {
        let claims_path = e.report_dir.join("claims.json");
        let (claims, expectations) = count_claims(&claims_path)?;
        let link = |name: &str| -> Result<Option<String>, ReportError> {
            let p = e.report_dir.join(name);
            if p.is_file() {
                relative_link(out_dir, &p).map(Some)
            } else {
                Ok(None)
            }
        };
        rows.push(IndexRow {
            paper: e.paper.clone(),
            title: e.title.clone(),
            report_md: link(crate::Format::Markdown.file_name())?,
            report_html: link(crate::Format::Html.file_name())?,
            claims_json: relative_link(out_dir, &claims_path)?,
            claims_total: claims.total(),
            expectations_total: expectations.total(),
            claims,
            expectations,
        });
    }
    let sum = |f: fn(&IndexRow) -> Counts| {
        rows.iter().map(f).fold(Counts::default(), |a, b| Counts {
            holds: a.holds + b.holds,
            fails: a.fails + b.fails,
            inconclusive: a.inconclusive + b.inconclusive,
            not_run: a.not_run + b.not_run,
        })
    };
    let (claims, expectations) = (sum(|r| r.claims), sum(|r| r.expectations));
    let view = IndexView {
        title: "compbench: the papers reproduced",
        version: env!("CARGO_PKG_VERSION"),
        quick,
        quick_banner: crate::view::QUICK_BANNER,
        rows: &rows,
        claims_total: claims.total(),
        expectations_total: expectations.total(),
        claims,
        expectations,
    };
    let markdown = out_dir.join("index.md");
    let html = out_dir.join("index.html");
    for (path, name) in [(&markdown, "index.md.j2"), (&html, "index.html.j2")] {
        let text = templates::render_named(name, &view)?;
        crate::write_atomic(path, text.as_bytes())?;
    }
    Ok(IndexOutput {
        markdown,
        html,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_links() {
        let l = |a: &str, b: &str| relative_link(Path::new(a), Path::new(b)).unwrap();
        assert_eq!(
            l("/r", "/r/lut-dla/q/report/report.md"),
            "lut-dla/q/report/report.md"
        );
        assert_eq!(l("/r/idx", "/r/a/report.md"), "../a/report.md");
        assert_eq!(l("/r/./x/..", "/r/a/./b.md"), "a/b.md");
    }
}
