//! compbench-suite: the suite file format.
//!
//! A suite is a YAML file naming models, datasets, methods (with parameter grids), hardware
//! models (with grids), seeds and metrics, plus a `quick:` block for `--quick` runs.
//! [`parse`] reads one, checks every rule before any work starts, and reports every problem as
//! `file:line:col: field: message`. [`Suite::experiments`] expands the grids.
//!
//! Architecture invariant: no IO beyond reading the suite file, no plugin crate dependency:
//! validation looks names up in a [`Catalog`] the caller passes in. Parsing never panics, on
//! any input (a fuzz target checks it).
//!
//! ```yaml
//! schema_version: 1
//! name: smoke
//! paper: survey                   # optional
//! models:
//!   - id: mlp
//!     params: { epochs: 2 }       # scalars are fixed values
//! datasets: [synthetic]
//! methods:
//!   - id: identity
//!   - id: ptq
//!     label: ptq-sweep
//!     params: { w_bits: [8, 4] }  # lists are grid axes (cartesian product)
//!     zip:                        # groups that vary together
//!       - { a_bits: [8, 8], per_channel: [true, false] }
//!   - id: distill                 # any method may name a teacher; it then also takes the
//!     teacher: wide-mlp           # catalog's teacher parameters (kd_temperature, kd_lambda, kd_mode)
//!     params: { kd_temperature: [2, 4] }
//!     models: [mlp]               # optional: the model labels it runs on (default: all);
//!                                 # a model entry's `methods: [labels]` restricts it likewise
//! teachers:                       # optional: trained like baselines, one point each
//!   - { id: mlp, label: wide-mlp, params: { hidden: 512 } }
//! hwmodels:
//!   - { id: systolic, label: int8-systolic, params: { rows: 16 } }
//! hw_batch: [1, 16]               # optional: batch sizes hardware is priced at (default 1)
//! seeds: [0, 1]                   # every experiment runs once per seed
//! metrics: [accuracy, energy_pj]  # optional: the columns reports show, in this order (default: all)
//! quick:                          # used by --quick
//!   seeds: [0]
//!   test_subset: 1000
//!   models: { mlp: { epochs: 1 } }
//! ```
//!
//! The crate's code map and invariants follow (from its ARCHITECTURE.md).
#![doc = include_str!("../ARCHITECTURE.md")]

mod catalog;
mod diag;
mod expand;
mod grid;
mod raw;
mod validate;
pub mod yaml_path;

use std::path::Path;

pub use catalog::{Catalog, MethodCheck, PluginInfo, RENAMED_IDS, Section, TeacherCheck};
use compbench_core::Params;
pub use diag::{Diagnostic, SuiteErrors};
pub use expand::{Experiment, Point};
pub use grid::{Axis, Grid, MAX_POINTS};

/// The suite format version this crate reads.
pub const SCHEMA_VERSION: i64 = 1;

/// The most experiments a suite may expand to (in either mode).
pub const MAX_EXPERIMENTS: u64 = 100_000;

/// The largest batch a suite may price hardware at (`hw_batch`).
pub const MAX_HW_BATCH: u64 = 1_000_000;

/// Suite files larger than this are refused (a suite is a page of YAML).
pub const MAX_SUITE_BYTES: usize = 1 << 20;

/// Full runs or `--quick` runs (the suite's `quick:` overrides applied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Full,
    Quick,
}

impl Mode {
    pub fn from_quick(quick: bool) -> Mode {
        if quick { Mode::Quick } else { Mode::Full }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Quick => "quick",
        }
    }
}

/// A checked suite.
#[derive(Debug, Clone, PartialEq)]
pub struct Suite {
    /// The file it came from, as given.
    pub file: String,
    pub name: String,
    /// Paper id (`lut-dla`, `lpvit`, `survey`) or empty.
    pub paper: String,
    pub description: String,
    pub datasets: Vec<String>,
    pub models: Vec<Entry>,
    pub methods: Vec<Entry>,
    /// Models methods distill from (`teachers:`), each one point in each mode.
    pub teachers: Vec<Entry>,
    /// Empty when the suite prices no hardware.
    pub hwmodels: Vec<Entry>,
    /// Batch sizes every hardware configuration prices the workload at (`hw_batch`, default
    /// `[1]`): one results row per (experiment, hardware configuration, batch).
    pub hw_batch: Vec<u64>,
    pub seeds: Vec<u64>,
    /// The suite's `metrics:` list, in its order: the columns its report tables show. Empty
    /// when the suite omits it, and then reports show every metric the rows carry. Every row
    /// keeps every metric either way (rows.csv).
    pub metrics: Vec<String>,
    pub quick: Quick,
}

/// One model, method or hardware entry, with its grid expanded and resolved in both modes.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: String,
    /// Unique within its section; defaults to the id.
    pub label: String,
    /// Resolved parameters (defaults filled) of every grid point, full mode.
    pub full: Vec<Params>,
    /// The same with the `quick:` overrides applied.
    pub quick: Vec<Params>,
    /// Methods only: the label of the `teachers:` entry this method distills from.
    pub teacher: Option<String>,
    /// Models: the method labels the model runs (`methods:`); methods: the model labels the
    /// method runs on (`models:`). `None`: all of them. See [`Suite::pairs`].
    pub only: Option<Vec<String>>,
}

impl Entry {
    pub fn points(&self, mode: Mode) -> &[Params] {
        match mode {
            Mode::Full => &self.full,
            Mode::Quick => &self.quick,
        }
    }

    /// True unless this entry's `only` list leaves out `label`.
    pub fn admits(&self, label: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|l| l.iter().any(|x| x == label))
    }
}

/// True when model entry `model` and method entry `method` form an experiment: the model's
/// `methods:` (if any) names the method's label and the method's `models:` (if any) names the
/// model's label.
pub fn pairs(model: &Entry, method: &Entry) -> bool {
    model.admits(&method.label) && method.admits(&model.label)
}

/// The `quick:` block's run-wide settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Quick {
    /// Replaces `seeds` in quick mode.
    pub seeds: Option<Vec<u64>>,
    /// Replaces `hw_batch` in quick mode.
    pub hw_batch: Option<Vec<u64>>,
    /// Test examples used for accuracy in quick mode (the first n); all when `None`.
    pub test_subset: Option<usize>,
    /// Training examples used in quick mode (the first n); all when `None`.
    pub train_subset: Option<usize>,
}

/// Parse and validate suite text. `file` is only used in messages.
pub fn parse(file: &str, src: &str, catalog: &Catalog) -> Result<Suite, SuiteErrors> {
    let one = |line, col, field: String, message: String| {
        SuiteErrors(vec![Diagnostic {
            file: file.to_string(),
            line,
            col,
            field,
            message,
        }])
    };
    if src.len() > MAX_SUITE_BYTES {
        return Err(one(
            0,
            0,
            String::new(),
            format!(
                "file is {} bytes; a suite may be at most {MAX_SUITE_BYTES}",
                src.len()
            ),
        ));
    }
    let raw: raw::RawSuite = match serde_saphyr::from_str(src) {
        Ok(raw) => raw,
        Err(e) => {
            let (mut line, mut col) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            let mut field = if line > 0 {
                yaml_path::path_at(src, line, col)
            } else {
                String::new()
            };
            let message = serde_message(&e);
            if message.starts_with("missing field") {
                // serde reports a missing field where the mapping ended; point at the mapping.
                field = yaml_path::parent(&field).to_string();
                (line, col) = yaml_path::location_of(src, &field).unwrap_or((1, 1));
            }
            return Err(one(line, col, field, message));
        }
    };
    validate::validate(raw, file, catalog)
}

/// Read, parse and validate a suite file.
pub fn load(path: &Path, catalog: &Catalog) -> Result<Suite, SuiteErrors> {
    let file = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            return Err(SuiteErrors(vec![Diagnostic {
                file,
                line: 0,
                col: 0,
                field: String::new(),
                message: format!("cannot read suite: {e}"),
            }]));
        }
    };
    match String::from_utf8(bytes) {
        Ok(src) => parse(&file, &src, catalog),
        Err(e) => Err(SuiteErrors(vec![Diagnostic {
            file,
            line: 0,
            col: 0,
            field: String::new(),
            message: format!("not UTF-8 text: {e}"),
        }])),
    }
}

/// serde-saphyr's message without its own `line N column M:` prefix and source snippet
/// (we print `file:line:col` ourselves).
fn serde_message(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("").trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // "line 3 column 1: unknown field ..." → "unknown field ..."
    let msg = match first.find(": ") {
        Some(i) if first.starts_with("line ") => &first[i + 2..],
        _ => first,
    };
    // "... at line 1, column 1" → "..."
    let msg = match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains(", column ") => &msg[..i],
        _ => msg,
    };
    let msg = msg.replace(", set DuplicateKeyPolicy in Options if acceptable", "");
    let msg = msg.replace(
        "unexpected end of input",
        "empty suite (expected a mapping with schema_version, name, models, ...)",
    );
    msg.replace("expected sequence start", "expected a list")
        .replace("expected mapping start", "expected a mapping")
}
