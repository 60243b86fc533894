//! Pricing at several batch sizes (the suite's `hw_batch`): one row per (experiment, hardware
//! configuration, batch), every batch priced from the one journaled batch-1 IR, and no
//! experiment reruns when only the batches change.

use std::collections::BTreeMap;
use std::path::Path;

use compbench_core::Params;
use compbench_core::ir::{Gemm, Layer, NumFormat, Workload};
use compbench_runner::journal::{self, Measured, Outcome, Record};
use compbench_runner::plan::Plan;
use compbench_runner::table::{self, TableContext};
use compbench_runner::{RunOptions, Silent};
use compbench_suite::{Mode, Suite};
use polars::prelude::*;

mod common;
use common::env;

/// A synthetic-data suite small enough to train in seconds; `batch` is the `hw_batch:` line.
fn suite(batch: &str) -> Suite {
    let src = format!(
        "schema_version: 1\nname: hwb\nmodels:\n  - id: mlp\n    params: {{ epochs: 1 }}\n\
         datasets: [synthetic]\nmethods:\n  - id: identity\n  - id: ptq\n    params: {{ w_bits: 8, a_bits: 8 }}\n\
         hwmodels:\n  - id: systolic\n    label: int8-systolic\n    params: {{ rows: 16, cols: 16, dataflow: [os, ws] }}\n\
         {batch}seeds: [0]\nquick:\n  train_subset: 512\n  test_subset: 200\n"
    );
    compbench_suite::parse("t.yaml", &src, &compbench_registry::catalog()).unwrap()
}

fn record(i: usize) -> Record {
    let mut w = Workload::new("t");
    w.layers.push(Layer::gemm(
        "fc1",
        Gemm::dense(1, 784, 256, NumFormat::INT8),
    ));
    // A convolution as im2col GEMM (M = output positions per image): compute-bound, where fc1
    // is bound by its weight load at small batches.
    w.layers.push(Layer::gemm(
        "conv2",
        Gemm::dense(196, 288, 64, NumFormat::INT8),
    ));
    common::record(
        i,
        "identity",
        "identity",
        Params::default(),
        Outcome::Ok(Measured {
            accuracy: Some(0.8),
            baseline_accuracy: Some(0.8),
            workload: w,
            method_metrics: BTreeMap::new(),
            ..Measured::default()
        }),
    )
}

/// The runner's pairing of a plan's hardware configurations with its batches.
fn build_table(plan: &Plan, records: &[Record]) -> DataFrame {
    let designs = compbench_runner::build_hw(plan).unwrap();
    let cols = compbench_runner::hw_columns(plan, &designs);
    let refs: Vec<&Record> = records.iter().collect();
    let e = env();
    table::build(
        &refs,
        &cols,
        &TableContext {
            suite: "hwb",
            paper: "",
            env: &e,
            quick: false,
        },
    )
    .unwrap()
}

fn u64s(df: &DataFrame, name: &str) -> Vec<Option<u64>> {
    df.column(name).unwrap().u64().unwrap().iter().collect()
}

fn f64s(df: &DataFrame, name: &str) -> Vec<f64> {
    df.column(name)
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .map(|x| x.unwrap())
        .collect()
}

#[test]
fn rows_are_experiments_times_hw_configs_times_batches() {
    let plan = Plan::new(
        &suite("hw_batch: [1, 16]\n"),
        common::settings(Mode::Full, None),
    );
    assert_eq!(plan.hw_configs.len(), 2, "dataflow os, ws");
    assert_eq!(plan.hw_batches, [1, 16]);
    let records: Vec<Record> = (0..3).map(record).collect();
    let df = build_table(&plan, &records);
    assert_eq!(df.height(), 3 * 2 * 2);
    assert_eq!(df.column("hw_batch").unwrap().dtype(), &DataType::UInt64);
    assert_eq!(
        u64s(&df, "hw_batch"),
        [Some(1), Some(16)].repeat(6),
        "batches vary fastest, within one configuration"
    );
    // Same experiment and design, two batches: the bigger batch does 16× the work, so it takes
    // longer and costs more energy. (Ops per joule may go either way: weight loads amortize,
    // but activations that no longer fit in SRAM are re-fetched.)
    let (lat, energy) = (f64s(&df, "latency_s"), f64s(&df, "energy_pj"));
    for pair in (0..df.height()).step_by(2) {
        let (b1, b16) = (pair, pair + 1);
        assert!(lat[b16] > lat[b1], "row {b1}: {} vs {}", lat[b16], lat[b1]);
        assert!(energy[b16] > energy[b1], "row {b1}");
    }
    // Batch 1 rows are exactly what a suite without `hw_batch` prices.
    let plain = build_table(
        &Plan::new(&suite(""), common::settings(Mode::Full, None)),
        &records,
    );
    assert_eq!(plain.height(), 3 * 2);
    assert_eq!(u64s(&plain, "hw_batch"), vec![Some(1); 6]);
    let lat1: Vec<f64> = lat.iter().step_by(2).copied().collect();
    assert_eq!(lat1, f64s(&plain, "latency_s"));
}

#[test]
fn no_hardware_means_null_hw_batch() {
    let src = "schema_version: 1\nname: nohw\nmodels:\n  - id: mlp\ndatasets: [synthetic]\nmethods:\n  - id: identity\nseeds: [0]\n";
    let s = compbench_suite::parse("t.yaml", src, &compbench_registry::catalog()).unwrap();
    let plan = Plan::new(&s, common::settings(Mode::Full, None));
    let df = build_table(&plan, &[record(0), record(1)]);
    assert_eq!(df.height(), 2);
    assert_eq!(df.column("hw_batch").unwrap().null_count(), 2);
}

#[test]
fn merge_keeps_every_batch_and_design() {
    let plan = Plan::new(
        &suite("hw_batch: [1, 16]\n"),
        common::settings(Mode::Full, None),
    );
    let root = tempfile::tempdir().unwrap();
    let dirs: Vec<std::path::PathBuf> = (0..2)
        .map(|i| root.path().join(format!("shard{i}")))
        .collect();
    for (i, dir) in dirs.iter().enumerate() {
        std::fs::create_dir_all(dir).unwrap();
        let mut df = build_table(&plan, &[record(i)]);
        table::write(dir, &mut df).unwrap();
    }
    let out = root.path().join("merged");
    let s = compbench_runner::merge(&dirs, &out).unwrap();
    // 2 experiments × 2 designs (one hw_label, dataflow os/ws) × 2 batches: nothing is a
    // duplicate, although the two designs share a label.
    assert_eq!(s.rows, 2 * 2 * 2);
    let s = compbench_runner::merge(&[dirs[0].clone(), dirs[0].clone()], &root.path().join("m2"))
        .unwrap();
    assert_eq!(s.rows, 2 * 2, "the same directory twice is deduplicated");
}

fn run(suite: &Suite, out: &Path, cache: &Path) -> compbench_runner::RunSummary {
    let opts = RunOptions {
        settings: common::settings(Mode::Quick, None),
        out_dir: out.to_path_buf(),
        jobs: 2,
        data_dirs: Vec::new(),
        cache_dir: cache.to_path_buf(),
    };
    compbench_runner::run(suite, &opts, &Silent).unwrap()
}

#[test]
fn changing_only_hw_batch_reprices_without_rerunning() {
    let dir = tempfile::tempdir().unwrap();
    let (out, cache) = (dir.path().join("out"), dir.path().join("cache"));
    let first = run(&suite(""), &out, &cache);
    assert!(first.failures.is_empty(), "{:?}", first.failures);
    assert_eq!((first.experiments, first.ran, first.cached), (2, 2, 0));
    assert_eq!(first.rows, 2 * 2, "2 experiments × 2 designs × batch 1");
    let before = table::read(&out).unwrap();

    let second = run(&suite("hw_batch: [1, 16]\n"), &out, &cache);
    assert_eq!(
        (second.experiments, second.ran, second.cached),
        (2, 0, 2),
        "a new pricing batch is a cache hit: nothing retrains or reruns"
    );
    assert_eq!(second.rows, 2 * 2 * 2);
    let (records, _) = journal::read(&out).unwrap();
    assert_eq!(records.len(), 2, "no new journal lines");
    let after = table::read(&out).unwrap();
    assert_eq!(u64s(&after, "hw_batch"), [Some(1), Some(16)].repeat(4));
    // Batch-1 rows are unchanged; batch-16 rows cost more time for the same row.
    let lat = f64s(&after, "latency_s");
    let lat1: Vec<f64> = lat.iter().step_by(2).copied().collect();
    assert_eq!(lat1, f64s(&before, "latency_s"));
    for pair in (0..after.height()).step_by(2) {
        assert!(lat[pair + 1] > lat[pair], "row {pair}");
    }
    // Model-side numbers are the experiment's, whatever the batch.
    let acc = f64s(&after, "accuracy");
    assert!(acc.chunks(2).all(|c| c[0] == c[1]));
    let env: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("env.json")).unwrap()).unwrap();
    assert_eq!(env["hw_batch"], serde_json::json!([1, 16]));
}
