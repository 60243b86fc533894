//! Paper vs reproduced: loading `suites/references/<paper>.yaml`, checking each published claim
//! and each of our expectations against the results, and summarising them apart ("2 of 5
//! published claims hold at our scale; 6 of 8 of our expectations hold").

mod eval;
pub mod schema;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::ReportError;
use crate::results::ConfigTable;

pub use eval::{
    EvalContext, Evaluation, Piece, Verdict, combine_all, combine_any, evaluate, verdict_mark,
};
pub use schema::*;

/// One claim or expectation after checking it; serialised into claims.json.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimOutcome {
    pub id: String,
    /// The paper id (`lut-dla`).
    pub paper: String,
    pub section: Section,
    /// The claim's (or expectation's) words.
    pub claim: String,
    /// A claim's place in the paper; an expectation's reason.
    pub source: String,
    /// The paper's number as printed (for an expectation: what we expect, in words).
    pub paper_number: String,
    /// Our numbers, in one line.
    pub ours: String,
    /// `all`, `any` or `at <operating point>`.
    pub rule: String,
    /// The noise rule in words (empty when the metric is exact).
    pub noise: String,
    pub verdict: Verdict,
    /// `verdict == holds` (kept for readers of the first claims.json format).
    pub holds: bool,
    /// One entry per configuration or setting compared.
    pub evidence: Vec<Piece>,
    /// The file's schema version (1 is deprecated: sections not separated).
    #[serde(skip)]
    pub schema_version: u32,
}

/// Counts of the four verdicts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub holds: usize,
    pub fails: usize,
    pub inconclusive: usize,
    pub not_run: usize,
}

impl Counts {
    pub fn total(&self) -> usize {
        self.holds + self.fails + self.inconclusive + self.not_run
    }

    fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Holds => self.holds += 1,
            Verdict::Fails => self.fails += 1,
            Verdict::Inconclusive => self.inconclusive += 1,
            Verdict::NotRun => self.not_run += 1,
        }
    }

    /// `(1 does not hold, 2 inconclusive)`, empty when all hold.
    fn rest(&self) -> String {
        let mut rest = Vec::new();
        if self.fails > 0 {
            rest.push(format!(
                "{} {}",
                self.fails,
                if self.fails == 1 {
                    "does not hold"
                } else {
                    "do not hold"
                }
            ));
        }
        if self.inconclusive > 0 {
            rest.push(format!("{} inconclusive", self.inconclusive));
        }
        if self.not_run > 0 {
            rest.push(format!("{} not run", self.not_run));
        }
        if rest.is_empty() {
            String::new()
        } else {
            format!(" ({})", rest.join(", "))
        }
    }
}

/// Verdict counts of published claims and of our expectations, kept apart. `Display` is the
/// report's one-line headline, e.g. `2 of 5 published claims hold at our scale (3 do not
/// hold); 6 of 8 of our expectations hold (2 inconclusive)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ClaimsSummary {
    pub claims: Counts,
    pub expectations: Counts,
}

impl ClaimsSummary {
    /// Counts the verdicts of `outcomes`.
    pub fn of(outcomes: &[ClaimOutcome]) -> Self {
        let mut s = Self::default();
        for o in outcomes {
            match o.section {
                Section::Claim => s.claims.add(o.verdict),
                Section::Expectation => s.expectations.add(o.verdict),
            }
        }
        s
    }

    /// Number of entries checked.
    pub fn total(&self) -> usize {
        self.claims.total() + self.expectations.total()
    }
}

impl fmt::Display for ClaimsSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.total() == 0 {
            return f.write_str("no paper claims checked");
        }
        let mut parts = Vec::new();
        let c = &self.claims;
        if c.total() > 0 {
            let noun = if c.total() == 1 { "claim" } else { "claims" };
            let verb = if c.holds == 1 { "holds" } else { "hold" };
            parts.push(format!(
                "{} of {} published {noun} {verb} at our scale{}",
                c.holds,
                c.total(),
                c.rest()
            ));
        }
        let e = &self.expectations;
        if e.total() > 0 {
            let verb = if e.holds == 1 { "holds" } else { "hold" };
            parts.push(format!(
                "{} of {} of our expectations {verb}{}",
                e.holds,
                e.total(),
                e.rest()
            ));
        }
        f.write_str(&parts.join("; "))
    }
}

fn reference_error(path: &Path, message: impl Into<String>) -> ReportError {
    ReportError::Reference {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn located(path: &Path, loc: &serde_saphyr::Location, message: impl Into<String>) -> ReportError {
    ReportError::Reference {
        path: PathBuf::from(format!(
            "{}:{}:{}",
            path.display(),
            loc.line(),
            loc.column()
        )),
        message: message.into(),
    }
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Parses and validates one reference file: schema version, paper id = file stem, unique ids,
/// a `source` on every claim and a `reason` on every expectation, well-formed checks and rules.
/// Errors about one entry carry its `file:line:col`.
pub fn load_reference(path: &Path) -> Result<ReferenceFile, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|e| ReportError::io(path, e))?;
    let raw: ReferenceFileRaw =
        serde_saphyr::from_str(&text).map_err(|e| reference_error(path, e.to_string()))?;
    let version = raw.schema_version;
    if version != SCHEMA_VERSION && version != SCHEMA_VERSION_V1 {
        return Err(reference_error(
            path,
            format!("schema_version {version} is not supported (expected {SCHEMA_VERSION})"),
        ));
    }
    if path.file_stem().and_then(|s| s.to_str()) != Some(raw.paper.as_str()) {
        return Err(reference_error(
            path,
            format!("paper `{}` must match the file name", raw.paper),
        ));
    }
    if version == SCHEMA_VERSION_V1 && !raw.expectations.is_empty() {
        return Err(reference_error(
            path,
            "`expectations` needs schema_version 2",
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut entries = Vec::new();
    let sections = [
        (Section::Claim, &raw.claims),
        (Section::Expectation, &raw.expectations),
    ];
    for (section, list) in sections {
        for spanned in list {
            let e = &spanned.value;
            let loc = &spanned.referenced;
            let err = |m: String| located(path, loc, format!("`{}`: {m}", e.id));
            if !seen.insert(e.id.clone()) {
                return Err(err("this id appears twice".into()));
            }
            let (text, source) = match section {
                Section::Claim => {
                    if e.expectation.is_some() || e.reason.is_some() {
                        return Err(err(
                            "a published claim has `claim` and `source`; `expectation` and `reason` belong under `expectations`".into(),
                        ));
                    }
                    let text = non_empty(&e.claim)
                        .ok_or_else(|| err("a claim needs `claim`: the paper's words".into()))?;
                    let source = non_empty(&e.source).ok_or_else(|| {
                        err("a claim needs a `source`: where the paper states it (abstract, Table N, Fig. N, §N)".into())
                    })?;
                    (text, source)
                }
                Section::Expectation => {
                    if e.claim.is_some() || e.source.is_some() {
                        return Err(err(
                            "an expectation has `expectation` and `reason`; `claim` and `source` are for the paper's own claims".into(),
                        ));
                    }
                    let text = non_empty(&e.expectation).ok_or_else(|| {
                        err("an expectation needs `expectation`: what we expect".into())
                    })?;
                    let reason = non_empty(&e.reason).ok_or_else(|| {
                        err("an expectation needs a `reason`: why we expect it".into())
                    })?;
                    (text, reason)
                }
            };
            if let Some(p) = e.check.problems(version).first() {
                return Err(err(p.clone()));
            }
            let rule = e.rule.clone().unwrap_or_default();
            if matches!(&rule, Rule::At(f) if f.is_empty()) {
                return Err(err(
                    "`rule: {at: …}` needs a filter naming the operating point".into(),
                ));
            }
            if !matches!(e.check, Check::Ratio(_))
                && e.evidence
                    .iter()
                    .any(|ev| ev.numerator.is_some() || ev.denominator.is_some())
            {
                return Err(err(
                    "evidence `numerator` / `denominator` only apply to a ratio".into(),
                ));
            }
            for ev in &e.evidence {
                match (&ev.order, &e.check) {
                    (Some(o), Check::Ordering(_)) if o.len() < 2 => {
                        return Err(err("evidence `order` needs at least two values".into()));
                    }
                    (Some(_), Check::Ordering(_)) | (None, _) => {}
                    (Some(_), _) => {
                        return Err(err("evidence `order` only applies to an ordering".into()));
                    }
                }
            }
            entries.push(Entry {
                id: e.id.clone(),
                section,
                text: text.to_string(),
                source: source.to_string(),
                paper: non_empty(&e.paper)
                    .map(str::to_string)
                    .unwrap_or_else(|| e.check.expected()),
                rule,
                check: e.check.clone(),
                evidence: e.evidence.clone(),
            });
        }
    }
    Ok(ReferenceFile {
        schema_version: version,
        paper: raw.paper,
        citation: raw.citation,
        note: raw.note,
        entries,
    })
}

/// The reference files for `papers`, from `references_dir/<paper>.yaml`. Papers without a
/// file are returned in the second list (the report says so); a missing directory means no
/// references at all.
pub fn load_references(
    references_dir: &Path,
    papers: &[String],
) -> Result<(Vec<ReferenceFile>, Vec<String>), ReportError> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for paper in papers {
        let path: PathBuf = references_dir.join(format!("{paper}.yaml"));
        if path.is_file() {
            found.push(load_reference(&path)?);
        } else {
            missing.push(paper.clone());
        }
    }
    Ok((found, missing))
}

/// Checks every entry of `reference` against `table`. When the table has a `paper` column,
/// only that paper's rows count.
pub fn check_reference(
    reference: &ReferenceFile,
    table: &ConfigTable,
    ctx: &EvalContext,
) -> Vec<ClaimOutcome> {
    let mut scope = Filter::new();
    if table.key_index("paper").is_some() {
        scope.insert(
            "paper".into(),
            FilterValue::One(Scalar::Str(reference.paper.clone())),
        );
    }
    reference
        .entries
        .iter()
        .map(|e| {
            let ev = evaluate(&e.check, &e.evidence, &e.rule, &e.paper, table, &scope, ctx);
            ClaimOutcome {
                id: e.id.clone(),
                paper: reference.paper.clone(),
                section: e.section,
                claim: e.text.clone(),
                source: e.source.clone(),
                paper_number: e.paper.clone(),
                ours: ev.ours,
                rule: e.rule.to_string(),
                noise: ev.noise,
                verdict: ev.verdict,
                holds: ev.verdict == Verdict::Holds,
                evidence: ev.pieces,
                schema_version: reference.schema_version,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
