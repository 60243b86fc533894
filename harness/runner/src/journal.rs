//! The run's journal: one JSON line per finished experiment, appended and flushed as soon as
//! the experiment ends. It is both the resume log and the per-experiment cache.
//!
//! Invariant: a line is written with one `write_all` of a complete line and flushed before the
//! experiment counts as done, so a SIGKILL loses at most the experiments still running. A torn
//! last line (killed mid-write) is skipped on reading, and its experiment simply runs again.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use compbench_core::{Params, Workload};
use serde::{Deserialize, Serialize};

/// File name of the journal inside a results directory.
pub const JOURNAL_FILE: &str = "experiments.jsonl";

/// What became of one experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Outcome {
    Ok(Measured),
    Failed { error: String },
}

/// Everything measured for one experiment, before hardware pricing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Measured {
    pub accuracy: Option<f64>,
    pub baseline_accuracy: Option<f64>,
    pub measured_latency_s: Option<f64>,
    pub train_s: Option<f64>,
    pub bits_per_weight: Option<f64>,
    pub sparsity: Option<f64>,
    /// Extra metrics of the method (`method_<name>` columns).
    pub method_metrics: BTreeMap<String, Option<f64>>,
    pub notes: Vec<String>,
    /// The deployed model as Workload IR (batch 1): priced by every hardware configuration.
    pub workload: Workload,
    /// Test examples accuracy was computed on.
    pub test_examples: usize,
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub key: String,
    pub experiment: String,
    pub index: usize,
    pub dataset: String,
    pub model: String,
    pub model_label: String,
    pub method: String,
    pub label: String,
    pub seed: u64,
    pub model_params: Params,
    pub method_params: Params,
    /// RFC 3339 UTC, when the experiment finished.
    pub timestamp: String,
    /// The commit whose code computed this experiment (`git rev-parse HEAD` when the run
    /// started); `None` outside a git checkout and in journals written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Whether the work tree had uncommitted changes to tracked files when the run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dirty: Option<bool>,
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl Record {
    /// The `git_hash` cell of this experiment's rows: its commit, `-dirty` when the work tree
    /// had changes, `unknown` when not recorded (never the HEAD at table time, which may be
    /// a later commit than the one that computed a cached experiment).
    pub fn provenance(&self) -> String {
        crate::env::provenance(self.commit.as_deref(), self.dirty == Some(true))
    }
}

/// Read every complete record; unreadable lines (a torn last line) are counted and skipped.
pub fn read(dir: &Path) -> std::io::Result<(Vec<Record>, usize)> {
    let path = dir.join(JOURNAL_FILE);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e),
    };
    let mut records = Vec::new();
    let mut skipped = 0;
    for line in BufReader::new(file).split(b'\n') {
        let line = line?;
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        match serde_json::from_slice::<Record>(&line) {
            Ok(r) => records.push(r),
            Err(_) => skipped += 1,
        }
    }
    Ok((records, skipped))
}

/// Rewrite the journal with only its readable records (atomically: a temporary file renamed
/// over it), dropping torn lines. Call it while holding the run lock.
pub fn compact(dir: &Path) -> std::io::Result<()> {
    let (records, skipped) = read(dir)?;
    if skipped == 0 {
        return Ok(());
    }
    let mut bytes = Vec::new();
    for r in &records {
        serde_json::to_writer(&mut bytes, r).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
    }
    crate::table::write_bytes_atomic(&dir.join(JOURNAL_FILE), &bytes)
}

/// Appends records, one flushed line each. Shared by the worker threads.
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
}

impl Journal {
    pub fn open(dir: &Path) -> std::io::Result<Journal> {
        let path = dir.join(JOURNAL_FILE);
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)?;
        // If the previous run was killed mid-line, start on a fresh line so the torn fragment
        // stays a single unreadable line instead of corrupting the next record.
        let len = file.metadata()?.len();
        if len > 0 {
            use std::io::{Read, Seek, SeekFrom};
            let mut last = [0u8; 1];
            let mut reader = File::open(&path)?;
            reader.seek(SeekFrom::Start(len - 1))?;
            reader.read_exact(&mut last)?;
            if last[0] != b'\n' {
                file.write_all(b"\n")?;
            }
        }
        Ok(Journal {
            path,
            file: Mutex::new(file),
        })
    }

    pub fn append(&self, record: &Record) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(&line)?;
        f.flush()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Non-finite numbers become `None` (JSON has no NaN, and a NaN metric means "not measured").
pub fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}
