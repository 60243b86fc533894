//! compbench-runner: runs a suite's experiments and writes its results table.
//!
//! ```text
//! Suite ─Plan::new─> [Planned] (shard) ─cache lookup (journal)─> pending
//!   phase 1: baselines of pending experiments (rayon, shared, cached on disk by compbench-nn)
//!   phase 2: Method::apply → accuracy, measured latency, Workload IR → journal line (flushed)
//!   finally: journal × hardware configurations → rows.parquet + rows.csv + env.json (atomic)
//! ```
//!
//! Architecture invariants:
//! * A finished experiment is on disk (one flushed journal line) before it counts as done, so
//!   a killed run loses only running experiments and the same command resumes.
//! * Hardware is priced from the journaled (batch-1) Workload IR when the table is written, at
//!   each of the suite's `hw_batch` sizes, so adding a hardware configuration or a pricing
//!   batch to a suite never reruns an experiment.
//! * One writer per results directory (an OS file lock).
//! * No printing: progress goes to an [`Observer`].
//!
//! The crate's code map and invariants follow (from its ARCHITECTURE.md).
#![doc = include_str!("../ARCHITECTURE.md")]

pub mod env;
pub mod execute;
pub mod interrupt;
pub mod journal;
pub mod lock;
pub mod plan;
pub mod progress;
pub mod table;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use compbench_core::{HwDesign, Splits};
use compbench_suite::{Mode, Suite};
use rayon::prelude::*;
use serde_json::json;

pub use env::Environment;
pub use journal::{Outcome, Record};
pub use lock::{LockError, RunLock};
pub use plan::{Plan, Planned, RunSettings, Shard};
pub use progress::{Event, Observer, Silent};

use crate::execute::Baseline;
use crate::table::{HwColumn, TableContext};

/// How to run a suite.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub settings: RunSettings,
    /// The results directory (see [`default_out_dir`]).
    pub out_dir: PathBuf,
    /// Worker threads (0 = one per core).
    pub jobs: usize,
    /// Extra dataset directories (`--data-dir`), searched first.
    pub data_dirs: Vec<PathBuf>,
    /// Where trained baselines are cached.
    pub cache_dir: PathBuf,
}

/// `results/<suite>/<run>`, where run is stable for a command (so rerunning it resumes).
pub fn default_out_dir(results_root: &Path, suite: &Suite, settings: &RunSettings) -> PathBuf {
    results_root.join(&suite.name).join(settings.run_name())
}

/// The baseline cache directory: `$COMPBENCH_CACHE`, else `results/.cache`.
pub fn default_cache_dir(results_root: &Path) -> PathBuf {
    match std::env::var_os("COMPBENCH_CACHE") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => results_root.join(".cache"),
    }
}

/// An experiment that did not produce a result.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub experiment: String,
    pub name: String,
    pub error: String,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub out_dir: PathBuf,
    /// Experiments in this run (its shard).
    pub experiments: usize,
    /// Of which were found finished in the journal.
    pub cached: usize,
    /// Of which ran now (successfully or not).
    pub ran: usize,
    /// Of which were not started because a stop was requested ([`interrupt`]).
    pub not_run: usize,
    pub failures: Vec<Failure>,
    /// Rows in rows.parquet.
    pub rows: usize,
    pub wall_s: f64,
    /// Torn journal lines skipped (a previous run was killed mid-write). The journal is
    /// rewritten without them at the end of the run, so the next run does not see them again.
    pub skipped_lines: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("{0}")]
    Data(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("results table: {0}")]
    Table(#[from] polars::error::PolarsError),
    #[error("hardware configuration `{label}`: {message}")]
    Hw { label: String, message: String },
    #[error("{0}")]
    Other(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |source| RunError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Load the datasets the plan needs, with the run's test subset applied.
fn load_data(
    plan: &Plan,
    suite: &Suite,
    opts: &RunOptions,
    obs: &dyn Observer,
) -> Result<BTreeMap<String, Splits>, RunError> {
    let locator = compbench_nn::data::locator(&opts.data_dirs);
    let mut out = BTreeMap::new();
    for p in &plan.experiments {
        let id = &p.experiment.dataset;
        if out.contains_key(id) {
            continue;
        }
        let ds = compbench_registry::dataset(id).map_err(|e| RunError::Data(e.to_string()))?;
        let mut splits = ds
            .load(&locator)
            .map_err(|e| RunError::Data(e.to_string()))?;
        if plan.settings.mode == Mode::Quick
            && let Some(n) = suite.quick.test_subset
        {
            splits.test = splits.test.head(n);
        }
        obs.event(&Event::DataLoaded {
            dataset: id,
            train: splits.train.len(),
            test: splits.test.len(),
        });
        out.insert(id.clone(), splits);
    }
    Ok(out)
}

/// Build every hardware configuration of the plan once.
pub fn build_hw(plan: &Plan) -> Result<Vec<Box<dyn HwDesign>>, RunError> {
    plan.hw_configs
        .iter()
        .map(|h| {
            let model = compbench_registry::hwmodel(&h.id).map_err(|e| RunError::Hw {
                label: h.label.clone(),
                message: e.to_string(),
            })?;
            model.build(&h.params).map_err(|e| RunError::Hw {
                label: h.label.clone(),
                message: e.to_string(),
            })
        })
        .collect()
}

/// The results table's hardware columns: every (hardware configuration, pricing batch) pair of
/// the plan, batches varying fastest. `designs` is [`build_hw`]'s output for the same plan.
pub fn hw_columns<'a>(plan: &'a Plan, designs: &'a [Box<dyn HwDesign>]) -> Vec<HwColumn<'a>> {
    plan.hw_configs
        .iter()
        .zip(designs)
        .flat_map(|(h, d)| {
            plan.hw_batches.iter().map(move |&batch| HwColumn {
                id: &h.id,
                label: &h.label,
                model: compbench_registry::hwmodel(&h.id).expect("looked up in build_hw"),
                params: &h.params,
                design: d.as_ref(),
                batch,
            })
        })
        .collect()
}

/// Run (or resume) `suite` into `opts.out_dir`.
pub fn run(suite: &Suite, opts: &RunOptions, obs: &dyn Observer) -> Result<RunSummary, RunError> {
    let start = Instant::now();
    let out = &opts.out_dir;
    let _lock = RunLock::acquire(out)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs)
        .build()
        .map_err(|e| RunError::Other(format!("cannot start {} worker threads: {e}", opts.jobs)))?;
    let threads = pool.current_num_threads();
    let plan = Plan::new(suite, opts.settings.clone());
    let quick = plan.settings.quick();
    let designs = build_hw(&plan)?;
    let data = load_data(&plan, suite, opts, obs)?;
    let subsets = if quick {
        (suite.quick.test_subset, suite.quick.train_subset)
    } else {
        (None, None)
    };

    // Cache lookup: a journal record with the same key and an ok outcome is a finished experiment.
    let keys: Vec<String> = plan
        .experiments
        .iter()
        .map(|p| {
            plan::cache_key(
                &p.experiment,
                plan.settings.mode,
                &data[&p.experiment.dataset].fingerprint,
                subsets,
            )
        })
        .collect();
    let (old, skipped_lines) = journal::read(out).map_err(io_err(out))?;
    let mut done: HashMap<String, Record> = HashMap::new();
    for r in old {
        if matches!(r.outcome, Outcome::Ok(_)) {
            done.insert(r.key.clone(), r);
        }
    }
    let pending: Vec<(usize, &Planned)> = plan
        .experiments
        .iter()
        .enumerate()
        .filter(|(i, _)| !done.contains_key(&keys[*i]))
        .collect();
    // Experiments sharing a baseline form a group: the baseline trains (or loads) once, then
    // the group's methods run. Groups run in parallel; nothing ever waits on another task.
    let mut groups: BTreeMap<String, Vec<(usize, &Planned)>> = BTreeMap::new();
    for &(i, p) in &pending {
        groups
            .entry(execute::baseline_key(&p.experiment))
            .or_default()
            .push((i, p));
    }
    obs.event(&Event::Planned {
        total: plan.experiments.len(),
        cached: plan.experiments.len() - pending.len(),
        baselines: groups.len(),
        hw_configs: plan.hw_configs.len(),
        hw_batches: &plan.hw_batches,
    });

    // Provenance: the code that computes this run's experiments is the checkout as it is now.
    let commit = env::git_commit();
    let journal = journal::Journal::open(out).map_err(io_err(out))?;
    std::fs::create_dir_all(&opts.cache_dir).map_err(io_err(&opts.cache_dir))?;
    let mut fresh: HashMap<String, Record> = HashMap::new();
    let mut append_errors: Vec<String> = Vec::new();
    // Teachers of pending experiments train (or load) first, once each, so no baseline group
    // ever waits on another task for one.
    let mut teacher_jobs: BTreeMap<String, compbench_suite::Experiment> = BTreeMap::new();
    for &(_, p) in &pending {
        if let Some(t) = execute::teacher_experiment(&p.experiment) {
            teacher_jobs.entry(execute::baseline_key(&t)).or_insert(t);
        }
    }
    let teachers: HashMap<String, Result<Arc<compbench_nn::distill::Teacher>, String>> = pool
        .install(|| {
            teacher_jobs
                .par_iter()
                .map(|(key, t)| {
                    let name = format!("teacher {}", execute::baseline_name(t));
                    obs.event(&Event::BaselineStarted { name: &name });
                    let t0 = Instant::now();
                    let trained = execute::train_teacher(
                        t,
                        &data[&t.dataset],
                        quick,
                        subsets.1,
                        &opts.cache_dir,
                        obs,
                    );
                    obs.event(&Event::BaselineFinished {
                        name: &name,
                        accuracy: trained.as_ref().ok().map(|(_, accuracy)| *accuracy),
                        error: trained.as_ref().err().map(|s| s.as_str()),
                        seconds: t0.elapsed().as_secs_f64(),
                    });
                    (key.clone(), trained.map(|(teacher, _)| teacher))
                })
                .collect()
        });
    let run_one = |i: usize, p: &Planned, baseline: &Result<Arc<Baseline>, String>| {
        if interrupt::requested() {
            return None;
        }
        let e = &p.experiment;
        let name = execute::experiment_name(e);
        obs.event(&Event::ExperimentStarted { name: &name });
        let t0 = Instant::now();
        let teacher =
            execute::teacher_experiment(e).and_then(|t| teachers.get(&execute::baseline_key(&t)));
        let outcome = match baseline {
            Ok(b) => execute::run_experiment(e, b, teacher, &data[&e.dataset], quick, obs),
            Err(err) => Outcome::Failed { error: err.clone() },
        };
        let record = Record {
            key: keys[i].clone(),
            experiment: p.id.clone(),
            index: e.index,
            dataset: e.dataset.clone(),
            model: e.model.id.clone(),
            model_label: e.model.label.clone(),
            method: e.method.id.clone(),
            label: e.method.label.clone(),
            seed: e.seed,
            model_params: match baseline {
                Ok(b) => execute::effective_model_params(&e.model.params, &b.train),
                Err(_) => e.model.params.clone(),
            },
            method_params: execute::journaled_method_params(e),
            timestamp: env::now_rfc3339(),
            commit: commit.as_ref().map(|(h, _)| h.clone()),
            dirty: commit.as_ref().map(|(_, d)| *d),
            outcome,
        };
        // Journaled (and flushed) the moment it exists: a kill after this keeps it.
        let append = journal
            .append(&record)
            .err()
            .map(|err| format!("{}: {err}", journal.path().display()));
        let (accuracy, error) = match &record.outcome {
            Outcome::Ok(m) => (m.accuracy, None),
            Outcome::Failed { error } => (None, Some(error.as_str())),
        };
        obs.event(&Event::ExperimentFinished {
            name: &name,
            accuracy,
            error,
            seconds: t0.elapsed().as_secs_f64(),
        });
        Some((keys[i].clone(), record, append))
    };
    let results: Vec<Vec<(String, Record, Option<String>)>> = pool.install(|| {
        groups
            .par_iter()
            .map(|(_, members)| {
                if interrupt::requested() {
                    return Vec::new();
                }
                let e = &members[0].1.experiment;
                let name = execute::baseline_name(e);
                obs.event(&Event::BaselineStarted { name: &name });
                let t0 = Instant::now();
                let b = execute::train_baseline(
                    e,
                    &data[&e.dataset],
                    quick,
                    subsets.1,
                    &opts.cache_dir,
                    obs,
                );
                obs.event(&Event::BaselineFinished {
                    name: &name,
                    accuracy: b.as_ref().ok().map(|b| b.accuracy),
                    error: b.as_ref().err().map(|s| s.as_str()),
                    seconds: t0.elapsed().as_secs_f64(),
                });
                members
                    .par_iter()
                    .filter_map(|&(i, p)| run_one(i, p, &b))
                    .collect()
            })
            .collect()
    });
    for (key, record, append) in results.into_iter().flatten() {
        append_errors.extend(append);
        fresh.insert(key, record);
    }
    if let Some(e) = append_errors.first() {
        return Err(RunError::Other(format!("could not journal results: {e}")));
    }
    if skipped_lines > 0 {
        // Drop the torn lines now that their experiments ran again (or are still pending),
        // so later runs do not warn about them forever.
        drop(journal);
        journal::compact(out).map_err(io_err(out))?;
    }

    // The table: every planned experiment in plan order, fresh results first, then cached.
    let mut records: Vec<&Record> = Vec::new();
    let mut failures = Vec::new();
    for (i, p) in plan.experiments.iter().enumerate() {
        let Some(r) = fresh.get(&keys[i]).or_else(|| done.get(&keys[i])) else {
            continue;
        };
        if let Outcome::Failed { error } = &r.outcome {
            failures.push(Failure {
                experiment: p.id.clone(),
                name: execute::experiment_name(&p.experiment),
                error: error.clone(),
            });
        }
        records.push(r);
    }
    let environment = Environment::with_commit(threads, commit.clone());
    let hw_cols = hw_columns(&plan, &designs);
    let ctx = TableContext {
        suite: &suite.name,
        paper: &suite.paper,
        env: &environment,
        quick,
    };
    let mut df = table::build(&records, &hw_cols, &ctx)?;
    table::write(out, &mut df).map_err(io_err(out))?;
    let wall_s = start.elapsed().as_secs_f64();
    let summary = RunSummary {
        out_dir: out.clone(),
        experiments: plan.experiments.len(),
        cached: plan.experiments.len() - pending.len(),
        ran: fresh.len(),
        not_run: pending.len() - fresh.len(),
        failures,
        rows: df.height(),
        wall_s,
        skipped_lines,
    };
    write_env(out, suite, &plan, &environment, &data, &summary)?;
    Ok(summary)
}

fn write_env(
    out: &Path,
    suite: &Suite,
    plan: &Plan,
    environment: &Environment,
    data: &BTreeMap<String, Splits>,
    summary: &RunSummary,
) -> Result<(), RunError> {
    let doc = json!({
        "suite": suite.name,
        "paper": suite.paper,
        "suite_file": suite.file,
        "description": suite.description,
        "run": plan.settings.run_name(),
        "mode": plan.settings.mode.name(),
        "quick": plan.settings.quick(),
        "seed_override": plan.settings.seed_override,
        "shard": plan.settings.shard.map(|s| s.to_string()),
        "git_hash": environment.git_hash,
        "rustc": environment.rustc,
        "cpu": environment.cpu,
        "threads": environment.threads,
        "os": environment.os,
        "compbench_version": environment.compbench_version,
        "timestamp": env::now_rfc3339(),
        "wall_s": summary.wall_s,
        "latency_batch": 1,
        "hw_batch": if plan.hw_configs.is_empty() { json!(null) } else { json!(plan.hw_batches) },
        "datasets": data.iter().map(|(k, s)| (k.clone(), json!({
            "fingerprint": s.fingerprint, "train": s.train.len(), "test_examples": s.test.len(),
        }))).collect::<serde_json::Map<_, _>>(),
        "metrics": suite.metrics,
        "experiments": { "planned": summary.experiments, "total_all_shards": plan.total, "cached": summary.cached,
                         "ran": summary.ran, "not_run": summary.not_run, "failed": summary.failures.len() },
        "rows": summary.rows,
        "failures": summary.failures.iter().map(|f| json!({"experiment": f.experiment, "name": f.name, "error": f.error})).collect::<Vec<_>>(),
    });
    let path = out.join("env.json");
    let bytes = serde_json::to_vec_pretty(&doc).map_err(|e| RunError::Other(e.to_string()))?;
    table::write_bytes_atomic(&path, &bytes).map_err(io_err(&path))
}

/// What `results merge` did.
#[derive(Debug, Clone)]
pub struct MergeSummary {
    pub out_dir: PathBuf,
    pub inputs: usize,
    pub rows: usize,
}

/// Join the results directories `dirs` (e.g. the shards of one run) into `out`: rows.parquet,
/// rows.csv and an env.json listing every input's environment.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<MergeSummary, RunError> {
    if dirs.is_empty() {
        return Err(RunError::Other(
            "nothing to merge: give at least one results directory".into(),
        ));
    }
    let _lock = RunLock::acquire(out)?;
    let mut tables = Vec::new();
    let mut envs = Vec::new();
    for d in dirs {
        tables.push(table::read(d)?);
        let env_path = d.join("env.json");
        let env: serde_json::Value = std::fs::read(&env_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(serde_json::Value::Null);
        envs.push(json!({ "dir": d.display().to_string(), "env": env }));
    }
    let mut df = table::concat(&tables)?;
    table::write(out, &mut df).map_err(io_err(out))?;
    // The first input's run-wide fields at top level (so env.json reads like a single run's),
    // plus every input.
    let mut doc = envs[0]["env"].as_object().cloned().unwrap_or_default();
    doc.insert("shard".into(), serde_json::Value::Null);
    doc.insert("rows".into(), json!(df.height()));
    doc.insert("timestamp".into(), json!(env::now_rfc3339()));
    doc.insert("merged_from".into(), json!(envs));
    let path = out.join("env.json");
    let bytes = serde_json::to_vec_pretty(&doc).map_err(|e| RunError::Other(e.to_string()))?;
    table::write_bytes_atomic(&path, &bytes).map_err(io_err(&path))?;
    Ok(MergeSummary {
        out_dir: out.to_path_buf(),
        inputs: dirs.len(),
        rows: df.height(),
    })
}
