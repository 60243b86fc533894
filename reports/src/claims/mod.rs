//! Paper vs reproduced: loading `suites/references/<paper>.yaml`, checking each claim against
//! the results, and summarising ("9 of 11 claims hold").

mod eval;
pub mod schema;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::ReportError;
use crate::results::ConfigTable;

pub use eval::{Verdict, evaluate};
pub use schema::*;

/// One claim after checking it; serialised into claims.json as
/// `{"id","paper","claim","ours","holds"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimOutcome {
    pub id: String,
    pub paper: String,
    pub claim: String,
    pub ours: String,
    /// `true` holds, `false` does not hold, `null` not run.
    pub holds: Option<bool>,
    /// Where in the paper (not in claims.json).
    #[serde(skip)]
    pub source: String,
    /// The check in words (not in claims.json).
    #[serde(skip)]
    pub expected: String,
}

/// Counts of claim verdicts. `Display` is the report's one-line summary, e.g.
/// `9 of 11 claims hold (1 does not hold, 1 not run)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ClaimsSummary {
    pub holds: usize,
    pub fails: usize,
    pub not_run: usize,
}

impl ClaimsSummary {
    /// Counts the verdicts of `outcomes`.
    pub fn of(outcomes: &[ClaimOutcome]) -> Self {
        let mut s = Self::default();
        for o in outcomes {
            match o.holds {
                Some(true) => s.holds += 1,
                Some(false) => s.fails += 1,
                None => s.not_run += 1,
            }
        }
        s
    }

    /// Number of claims.
    pub fn total(&self) -> usize {
        self.holds + self.fails + self.not_run
    }
}

impl fmt::Display for ClaimsSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.total();
        if total == 0 {
            return f.write_str("no paper claims checked");
        }
        let noun = if total == 1 { "claim" } else { "claims" };
        let verb = if self.holds == 1 { "holds" } else { "hold" };
        write!(f, "{} of {total} {noun} {verb}", self.holds)?;
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
        if self.not_run > 0 {
            rest.push(format!("{} not run", self.not_run));
        }
        if !rest.is_empty() {
            write!(f, " ({})", rest.join(", "))?;
        }
        Ok(())
    }
}

fn reference_error(path: &Path, message: impl Into<String>) -> ReportError {
    ReportError::Reference {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Parses and validates one reference file: schema version, paper id = file stem, unique claim
/// ids, well-formed checks.
pub fn load_reference(path: &Path) -> Result<ReferenceFile, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|e| ReportError::io(path, e))?;
    let file: ReferenceFile =
        serde_saphyr::from_str(&text).map_err(|e| reference_error(path, e.to_string()))?;
    if file.schema_version != SCHEMA_VERSION {
        return Err(reference_error(
            path,
            format!(
                "schema_version {} is not supported (expected {SCHEMA_VERSION})",
                file.schema_version
            ),
        ));
    }
    if path.file_stem().and_then(|s| s.to_str()) != Some(file.paper.as_str()) {
        return Err(reference_error(
            path,
            format!("paper `{}` must match the file name", file.paper),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for claim in &file.claims {
        if !seen.insert(claim.id.as_str()) {
            return Err(reference_error(
                path,
                format!("claim id `{}` appears twice", claim.id),
            ));
        }
        if let Some(p) = claim.check.problems().first() {
            return Err(reference_error(path, format!("claim `{}`: {p}", claim.id)));
        }
    }
    Ok(file)
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

/// Checks every claim of `reference` against `table`. When the table has a `paper` column,
/// only that paper's rows count.
pub fn check_reference(reference: &ReferenceFile, table: &ConfigTable) -> Vec<ClaimOutcome> {
    let mut scope = Filter::new();
    if table.key_index("paper").is_some() {
        scope.insert(
            "paper".into(),
            FilterValue::One(Scalar::Str(reference.paper.clone())),
        );
    }
    reference
        .claims
        .iter()
        .map(|claim| {
            let v = evaluate(&claim.check, table, &scope);
            ClaimOutcome {
                id: claim.id.clone(),
                paper: reference.paper.clone(),
                claim: claim.claim.clone(),
                ours: v.ours,
                holds: v.holds,
                source: claim.source.clone(),
                expected: claim.check.expected(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
