//! Runner pieces that need no training: seeds and ids, cache keys, shards, the journal, the
//! lock, the table and merging.

use std::collections::{BTreeMap, BTreeSet};

use compbench_core::ir::{Gemm, Layer, NumFormat, Workload};
use compbench_core::seed::derive;
use compbench_core::{HwDesign, HwReport, Params, Value};
use compbench_runner::journal::{self, Journal, Measured, Outcome, Record};
use compbench_runner::plan::{Plan, RunSettings, Shard, cache_key};
use compbench_runner::table::{self, HwColumn, TableContext};
use compbench_runner::{LockError, RunLock};
use compbench_suite::{Mode, Suite};

mod common;
use common::{env, settings};

fn suite(methods: &str) -> Suite {
    let src = format!(
        "schema_version: 1\nname: t\nmodels:\n  - id: mlp\n    params: {{ epochs: [1, 2] }}\ndatasets: [synthetic]\nmethods:\n{methods}seeds: [0, 1, 2]\n"
    );
    compbench_suite::parse("t.yaml", &src, &compbench_registry::catalog()).unwrap()
}

const ONE: &str = "  - id: identity\n";
const TWO: &str = "  - id: identity\n  - id: identity\n    label: again\n";

#[test]
fn seed_derivation_is_stable_and_per_axis() {
    // Pinned: changing these changes every published number.
    assert_eq!(
        derive(0, &["model", "mlp", "synthetic"]),
        derive(0, &["model", "mlp", "synthetic"])
    );
    assert_ne!(
        derive(0, &["model", "mlp", "synthetic"]),
        derive(1, &["model", "mlp", "synthetic"])
    );
    assert_ne!(
        derive(0, &["method", "identity"]),
        derive(0, &["method", "again"])
    );
    assert_eq!(derive(42, &["model", "cnn"]), 0x36ec_f748_7d57_ee7a);
}

#[test]
fn adding_a_method_changes_no_other_experiment() {
    let a = Plan::new(&suite(ONE), settings(Mode::Full, None));
    let b = Plan::new(&suite(TWO), settings(Mode::Full, None));
    assert_eq!(a.experiments.len(), 6);
    assert_eq!(b.experiments.len(), 12);
    let ids_b: BTreeSet<&str> = b.experiments.iter().map(|p| p.id.as_str()).collect();
    for p in &a.experiments {
        assert!(
            ids_b.contains(p.id.as_str()),
            "experiment {} changed when a method was added",
            p.id
        );
    }
    // Ids are unique and modes differ.
    assert_eq!(ids_b.len(), 12);
    let q = Plan::new(&suite(ONE), settings(Mode::Quick, None));
    assert_ne!(q.experiments[0].id, a.experiments[0].id);
}

#[test]
fn cache_key_changes_with_data_and_subsets_only() {
    let p = Plan::new(&suite(ONE), settings(Mode::Full, None));
    let e = &p.experiments[0].experiment;
    let k = cache_key(e, Mode::Full, "fp1", (None, None));
    assert_eq!(
        k,
        cache_key(e, Mode::Full, "fp1", (None, None)),
        "deterministic"
    );
    assert_ne!(
        k,
        cache_key(e, Mode::Full, "fp2", (None, None)),
        "data identity is part of the key"
    );
    assert_ne!(
        k,
        cache_key(e, Mode::Full, "fp1", (Some(100), None)),
        "test subset is part of the key"
    );
    assert_ne!(
        k,
        cache_key(
            &p.experiments[1].experiment,
            Mode::Full,
            "fp1",
            (None, None)
        )
    );
}

#[test]
fn shards_partition_the_grid() {
    let s = suite(TWO);
    let whole: Vec<String> = Plan::new(&s, settings(Mode::Full, None))
        .experiments
        .into_iter()
        .map(|p| p.id)
        .collect();
    for n in [1, 2, 3, 5, 12, 13] {
        let mut seen: Vec<String> = Vec::new();
        for i in 0..n {
            let part = Plan::new(&s, settings(Mode::Full, Some(Shard { index: i, count: n })));
            assert_eq!(part.total, whole.len());
            seen.extend(part.experiments.into_iter().map(|p| p.id));
        }
        let mut a = seen.clone();
        a.sort();
        let mut b = whole.clone();
        b.sort();
        assert_eq!(a, b, "shards of {n} must cover the grid exactly once");
    }
    assert_eq!("3/4".parse::<Shard>(), Ok(Shard { index: 3, count: 4 }));
    for bad in ["4/4", "1/0", "x/2", "1", "-1/2"] {
        assert!(bad.parse::<Shard>().is_err(), "{bad}");
    }
}

#[test]
fn run_names_are_stable_per_command() {
    let s = settings(Mode::Quick, Some(Shard { index: 1, count: 4 }));
    assert_eq!(s.run_name(), "quick-shard1of4");
    assert_eq!(
        RunSettings {
            mode: Mode::Full,
            seed_override: Some(7),
            shard: None
        }
        .run_name(),
        "full-seed7"
    );
}

#[test]
fn lock_refuses_a_second_writer_and_frees_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let first = RunLock::acquire(dir.path()).unwrap();
    match RunLock::acquire(dir.path()) {
        Err(LockError::Busy { holder, .. }) => assert!(
            holder.contains(&format!("pid {}", std::process::id())),
            "{holder}"
        ),
        other => panic!("expected Busy, got {other:?}"),
    }
    drop(first);
    RunLock::acquire(dir.path()).expect("free after drop");
}

fn workload() -> Workload {
    let mut w = Workload::new("t");
    w.layers.push(Layer::gemm(
        "fc1",
        Gemm::dense(1, 784, 256, NumFormat::INT8),
    ));
    w
}

fn record(i: usize, label: &str, ok: bool) -> Record {
    let mut mp = Params::default();
    mp.set(
        "bits",
        if i.is_multiple_of(2) {
            Value::Int(8)
        } else {
            Value::Int(4)
        },
    );
    common::record(
        i,
        "ptq",
        label,
        mp,
        if ok {
            Outcome::Ok(Measured {
                accuracy: Some(0.8),
                baseline_accuracy: Some(0.85),
                workload: workload(),
                method_metrics: BTreeMap::from([("bits_per_activation".to_string(), Some(8.0))]),
                ..Measured::default()
            })
        } else {
            Outcome::Failed {
                error: "boom".into(),
            }
        },
    )
}

#[test]
fn journal_survives_a_torn_line_and_appends_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(dir.path()).unwrap();
    j.append(&record(0, "a", true)).unwrap();
    j.append(&record(1, "a", false)).unwrap();
    drop(j);
    // A kill in the middle of a write leaves half a line.
    let path = dir.path().join(journal::JOURNAL_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(br#"{"key":"key2","experi"#);
    std::fs::write(&path, bytes).unwrap();
    let j = Journal::open(dir.path()).unwrap();
    j.append(&record(3, "a", true)).unwrap();
    let (records, skipped) = journal::read(dir.path()).unwrap();
    assert_eq!(skipped, 1);
    assert_eq!(
        records.iter().map(|r| r.index).collect::<Vec<_>>(),
        vec![0, 1, 3]
    );
    assert_eq!(
        records[0],
        record(0, "a", true),
        "records round-trip exactly"
    );
}

#[test]
fn compact_drops_torn_lines_and_keeps_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(dir.path()).unwrap();
    j.append(&record(0, "a", true)).unwrap();
    drop(j);
    let path = dir.path().join(journal::JOURNAL_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(br#"{"key":"key1","experi"#);
    std::fs::write(&path, bytes).unwrap();
    let j = Journal::open(dir.path()).unwrap();
    j.append(&record(2, "a", false)).unwrap();
    drop(j);
    assert_eq!(journal::read(dir.path()).unwrap().1, 1);
    journal::compact(dir.path()).unwrap();
    let (records, skipped) = journal::read(dir.path()).unwrap();
    assert_eq!(skipped, 0, "the torn line is gone");
    assert_eq!(records, vec![record(0, "a", true), record(2, "a", false)]);
    // Appending after a compaction still gives whole lines.
    let j = Journal::open(dir.path()).unwrap();
    j.append(&record(3, "a", true)).unwrap();
    assert_eq!(journal::read(dir.path()).unwrap().0.len(), 3);
}

struct FakeDesign(f64);
impl HwDesign for FakeDesign {
    fn eval_layer(&self, layer: &Layer) -> HwReport {
        let g = layer.as_gemm().unwrap();
        let mut r = HwReport::zero(self.0);
        r.macs = g.macs() as f64;
        r.cycles = g.macs() as f64 / 256.0;
        r.latency_s = r.cycles * 1e-9;
        r.energy_pj = r.macs * 0.2;
        r.peak_macs_per_cycle = 256.0;
        r
    }
    fn area_um2(&self) -> f64 {
        self.0
    }
}

#[test]
fn table_has_the_schema_columns_in_order() {
    let recs = [
        record(0, "a", true),
        record(1, "b", false),
        record(2, "b", true),
    ];
    let refs: Vec<&Record> = recs.iter().collect();
    let (d1, d2) = (FakeDesign(1e6), FakeDesign(2e6));
    let mut p1 = Params::default();
    p1.set("rows", Value::Int(16));
    let hw = [
        HwColumn {
            id: "systolic",
            label: "s16",
            model: compbench_registry::hwmodel("systolic").unwrap(),
            params: &p1,
            design: &d1,
            batch: 1,
        },
        HwColumn {
            id: "systolic",
            label: "s32",
            model: compbench_registry::hwmodel("systolic").unwrap(),
            params: &p1,
            design: &d2,
            batch: 1,
        },
    ];
    let e = env();
    let df = table::build(
        &refs,
        &hw,
        &TableContext {
            suite: "t",
            paper: "",
            env: &e,
            quick: true,
        },
    )
    .unwrap();
    assert_eq!(
        df.height(),
        4,
        "2 ok experiments × 2 hardware configs; the failed one has no rows"
    );
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let expected = [
        "suite",
        "paper",
        "experiment",
        "model",
        "dataset",
        "method",
        "family",
        "label",
        "hwmodel",
        "hw_label",
        "hw_batch",
        "seed",
        "p_method_bits",
        "p_hw_rows",
        "accuracy",
        "baseline_accuracy",
        "accuracy_drop",
        "measured_latency_s",
        "cycles",
        "latency_s",
        "energy_pj",
        "power_w",
        "area_um2",
        "utilization",
        "ops_per_joule",
        "ops_per_s_per_mm2",
        "bits_per_weight",
        "sparsity",
        "method_bits_per_activation",
        "train_s",
        "git_hash",
        "rustc",
        "cpu",
        "threads",
        "os",
        "timestamp",
        "quick",
        "compbench_version",
    ];
    assert_eq!(names, expected);
    // Every row carries its method's survey family (ptq: scalar quantization).
    let family = df.column("family").unwrap().str().unwrap().get(0).unwrap();
    assert_eq!(family, "scalar-quantization");
    let drop = df
        .column("accuracy_drop")
        .unwrap()
        .f64()
        .unwrap()
        .get(0)
        .unwrap();
    assert!((drop - 5.0).abs() < 1e-9);
    let opj = df
        .column("ops_per_joule")
        .unwrap()
        .f64()
        .unwrap()
        .get(0)
        .unwrap();
    assert!((opj - 2.0 / 0.2e-12).abs() / opj < 1e-9);
    assert_eq!(
        df.column("p_method_bits").unwrap().dtype(),
        &polars::prelude::DataType::Int64
    );
    // Provenance: each row carries the commit that computed its experiment (records 0 and 2:
    // clean), not the HEAD of the environment building the table ("abc").
    let hashes: Vec<&str> = df
        .column("git_hash")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|h| h.unwrap_or("<null>"))
        .collect();
    assert_eq!(hashes, ["commit0", "commit0", "commit2", "commit2"]);
}

#[test]
fn provenance_marks_dirty_and_unrecorded_commits() {
    let mut r = record(1, "a", true);
    assert_eq!(r.provenance(), "commit1-dirty");
    // A journal line written before provenance was recorded reads back as unknown.
    r.commit = None;
    r.dirty = None;
    let line = serde_json::to_string(&r).unwrap();
    assert!(!line.contains("commit"), "{line}");
    let back: Record = serde_json::from_str(&line).unwrap();
    assert_eq!(back.provenance(), "unknown");
}

#[test]
fn merge_joins_shards_and_drops_duplicates() {
    let e = env();
    let d = FakeDesign(1e6);
    let p = Params::default();
    let hw = [HwColumn {
        id: "systolic",
        label: "s",
        model: compbench_registry::hwmodel("systolic").unwrap(),
        params: &p,
        design: &d,
        batch: 1,
    }];
    let ctx = TableContext {
        suite: "t",
        paper: "",
        env: &e,
        quick: false,
    };
    let root = tempfile::tempdir().unwrap();
    let dirs: Vec<std::path::PathBuf> = (0..2)
        .map(|i| root.path().join(format!("shard{i}")))
        .collect();
    for (i, dir) in dirs.iter().enumerate() {
        std::fs::create_dir_all(dir).unwrap();
        // Shard 1 has a method metric shard 0 lacks: the merged table has the union of columns.
        let mut recs = [record(i, "a", true), record(i + 2, "a", true)];
        if i == 1
            && let Outcome::Ok(m) = &mut recs[0].outcome
        {
            m.method_metrics.insert("extra".into(), Some(1.0));
        }
        let refs: Vec<&Record> = recs.iter().collect();
        let mut df = table::build(&refs, &hw, &ctx).unwrap();
        table::write(dir, &mut df).unwrap();
        std::fs::write(
            dir.join("env.json"),
            format!("{{\"suite\":\"t\",\"shard\":\"{i}/2\"}}"),
        )
        .unwrap();
    }
    let out = root.path().join("merged");
    let s = compbench_runner::merge(&dirs, &out).unwrap();
    assert_eq!(s.rows, 4);
    let df = table::read(&out).unwrap();
    assert!(df.column("method_extra").is_ok());
    assert_eq!(df.column("method_extra").unwrap().null_count(), 3);
    // The same directory twice: duplicates are dropped.
    let s = compbench_runner::merge(&[dirs[0].clone(), dirs[0].clone()], &root.path().join("m2"))
        .unwrap();
    assert_eq!(s.rows, 2);
    let env: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("env.json")).unwrap()).unwrap();
    assert_eq!(env["merged_from"].as_array().unwrap().len(), 2);
    assert!(out.join("rows.csv").is_file());
}

/// A dense kernel that says it stores its weights as 4-bit codes (what a weight-sharing
/// kernel reports), with IR that still says f32: the runner must believe the kernel.
struct FourBit(compbench_nn::deployed::DenseGemm);

impl compbench_nn::GemmKernel for FourBit {
    fn kind(&self) -> &'static str {
        "four-bit-test"
    }
    fn k(&self) -> usize {
        self.0.k()
    }
    fn n(&self) -> usize {
        self.0.n()
    }
    fn forward(&self, x: &[f32], m: usize, out: &mut [f32]) {
        self.0.forward(x, m, out)
    }
    fn gemm_ir(&self, m: u64) -> Gemm {
        self.0.gemm_ir(m)
    }
    fn weight_bits(&self) -> f64 {
        (self.k() * self.n()) as f64 * 4.0
    }
}

#[test]
fn bits_per_weight_comes_from_the_kernels_not_the_ir_compute_format() {
    use compbench_nn::{ModelConfig, ModelKind, Network};
    use compbench_runner::execute::{kernel_bits_per_weight, workload_bits_per_weight};
    let net = Network::new(
        &ModelConfig::new(ModelKind::Mlp),
        &compbench_nn::device(),
        3,
    );
    let mut dep = net.to_deployed();
    assert_eq!(kernel_bits_per_weight(&dep), Some(32.0));
    let (k, n) = {
        let layers = dep.gemm_layers();
        let (name, first) = layers[0];
        assert_eq!(name, "fc1");
        (first.k(), first.n())
    };
    dep.replace_gemm("fc1", |old| {
        let (w, b) = old.dense_weights().unwrap();
        Box::new(FourBit(compbench_nn::deployed::DenseGemm::new(
            k,
            n,
            w.to_vec(),
            b.map(|b| b.to_vec()),
        )))
    })
    .unwrap();
    let total: f64 = dep
        .gemm_layers()
        .iter()
        .map(|(_, g)| (g.k() * g.n()) as f64)
        .sum();
    let fc1 = (k * n) as f64;
    let want = (fc1 * 4.0 + (total - fc1) * 32.0) / total;
    assert_eq!(kernel_bits_per_weight(&dep), Some(want));
    // The IR still computes fc1 in f32 and stores it so (the kernel gave no storage spec).
    assert_eq!(workload_bits_per_weight(&dep.workload(1)), Some(32.0));
}
