//! Builders shared by the runner's integration tests (included with `mod common;`).
#![allow(dead_code)]

use compbench_core::Params;
use compbench_runner::Environment;
use compbench_runner::journal::{Outcome, Record};
use compbench_runner::plan::{RunSettings, Shard};
use compbench_suite::Mode;

pub fn settings(mode: Mode, shard: Option<Shard>) -> RunSettings {
    RunSettings {
        mode,
        seed_override: None,
        shard,
    }
}

pub fn env() -> Environment {
    Environment {
        git_hash: "abc".into(),
        rustc: "rustc 1.95.0".into(),
        cpu: "cpu".into(),
        threads: 2,
        os: "linux".into(),
        compbench_version: "0.1.0".into(),
    }
}

/// Experiment `i` (seed `i`) of the MLP on synthetic data, run by `method` as `label`.
pub fn record(
    i: usize,
    method: &str,
    label: &str,
    method_params: Params,
    outcome: Outcome,
) -> Record {
    Record {
        key: format!("key{i}"),
        experiment: format!("exp{i:02}"),
        index: i,
        dataset: "synthetic".into(),
        model: "mlp".into(),
        model_label: "mlp".into(),
        method: method.into(),
        label: label.into(),
        seed: i as u64,
        model_params: Params::default(),
        method_params,
        timestamp: "2026-11-27T00:00:00Z".into(),
        commit: Some(format!("commit{i}")),
        dirty: Some(i % 2 == 1),
        outcome,
    }
}
