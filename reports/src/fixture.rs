//! Small, fixed results tables for tests and demos, built in code with the columns of
//! docs/results-schema.md, and a writer for results directories (`rows.parquet` + `env.json`).
//!
//! [`lut_dla_rows`] is shaped so that, against `suites/references/lut-dla.yaml`, 20 of 30 claims
//! hold, 5 do not (the ViT drop is above the paper's range; the power efficiency against the
//! fp16 array is above it) and 5 are not run (no `method_bits_per_activation` column; the ViT
//! ran one c, one v and no stage ablation). [`survey_rows`] (block pruning) runs none of
//! `suites/references/survey.yaml`'s quantization claims: 20 of 35 in all.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::ReportError;

/// One cell of a fixture row.
#[derive(Debug, Clone)]
pub enum Val {
    S(String),
    I(i64),
    F(f64),
    B(bool),
}

impl From<&str> for Val {
    fn from(s: &str) -> Self {
        Val::S(s.to_string())
    }
}
impl From<String> for Val {
    fn from(s: String) -> Self {
        Val::S(s)
    }
}
impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::I(v)
    }
}
impl From<f64> for Val {
    fn from(v: f64) -> Self {
        Val::F(v)
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Self {
        Val::B(v)
    }
}

/// Builds a DataFrame row by row; a column a row does not mention is null there. Columns keep
/// the order in which they first appear; a column's type is that of its first value.
#[derive(Debug, Default)]
pub struct RowsBuilder {
    columns: Vec<(String, Vec<Option<Val>>)>,
    height: usize,
}

impl RowsBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one row.
    pub fn push(&mut self, row: Vec<(&str, Val)>) -> &mut Self {
        for (name, val) in row {
            let idx = match self.columns.iter().position(|(n, _)| n == name) {
                Some(i) => i,
                None => {
                    self.columns
                        .push((name.to_string(), vec![None; self.height]));
                    self.columns.len() - 1
                }
            };
            self.columns[idx].1.push(Some(val));
        }
        self.height += 1;
        for (_, col) in &mut self.columns {
            col.resize(self.height, None);
        }
        self
    }

    /// The table.
    pub fn build(&self) -> PolarsResult<DataFrame> {
        let cols = self
            .columns
            .iter()
            .map(|(name, vals)| {
                let first = vals.iter().flatten().next();
                let name = PlSmallStr::from(name.as_str());
                match first {
                    Some(Val::I(_)) => Column::new(
                        name,
                        vals.iter()
                            .map(|v| match v {
                                Some(Val::I(i)) => Some(*i),
                                _ => None,
                            })
                            .collect::<Vec<_>>(),
                    ),
                    Some(Val::F(_)) => Column::new(
                        name,
                        vals.iter()
                            .map(|v| match v {
                                Some(Val::F(x)) => Some(*x),
                                Some(Val::I(i)) => Some(*i as f64),
                                _ => None,
                            })
                            .collect::<Vec<_>>(),
                    ),
                    Some(Val::B(_)) => Column::new(
                        name,
                        vals.iter()
                            .map(|v| match v {
                                Some(Val::B(b)) => Some(*b),
                                _ => None,
                            })
                            .collect::<Vec<_>>(),
                    ),
                    _ => Column::new(
                        name,
                        vals.iter()
                            .map(|v| match v {
                                Some(Val::S(s)) => Some(s.clone()),
                                Some(Val::I(i)) => Some(i.to_string()),
                                Some(Val::F(x)) => Some(x.to_string()),
                                Some(Val::B(b)) => Some(b.to_string()),
                                None => None,
                            })
                            .collect::<Vec<_>>(),
                    ),
                }
            })
            .collect();
        DataFrame::new_infer_height(cols)
    }
}

macro_rules! row {
    ($($k:expr => $v:expr),* $(,)?) => {
        vec![$(($k, Val::from($v))),*]
    };
}

const NOTE_LUT: &str = "approximate: activations vector-quantised (argmin over c centroids \
                        per v-element sub-vector), products read from a lookup table";

/// Hardware metrics of one hardware label for a workload scaled by `w`, priced at `batch` 1 or
/// 16 (where weight and table loads amortize: the LUT design gains more).
fn hw(label: &str, w: f64, eff: f64, batch: i64) -> Vec<(&'static str, Val)> {
    let (model, mut opj, mut opsmm2, mut lat) = match label {
        "lut" => ("lut", 6.0e11 * eff, 9.0e11 * eff, 1.0e-4 / eff),
        "int8-systolic" => ("systolic", 2.0e11, 4.0e10, 2.0e-4),
        _ => ("systolic", 8.0e10, 1.5e10, 4.0e-4),
    };
    let mut w = w;
    if batch > 1 {
        let gain = if model == "lut" { 2.0 } else { 1.5 };
        opj *= gain;
        opsmm2 *= gain;
        lat /= gain; // same design: same area and power
        w *= batch as f64;
    }
    let ops = 2.0e7 * w;
    let energy_j = ops / opj;
    let latency = lat * w;
    row![
        "hwmodel" => model,
        "hw_label" => label,
        "hw_batch" => batch,
        "cycles" => (latency * 1.0e9) as i64,
        "latency_s" => latency,
        "energy_pj" => energy_j * 1e12,
        "power_w" => energy_j / latency,
        "area_um2" => ops / latency / opsmm2 * 1e6,
        "utilization" => 0.8,
        "ops_per_joule" => opj,
        "ops_per_s_per_mm2" => opsmm2,
    ]
}

fn env_cols(quick: bool) -> Vec<(&'static str, Val)> {
    row![
        "git_hash" => "0123456789abcdef0123456789abcdef01234567",
        "rustc" => "rustc 1.95.0",
        "cpu" => "AMD EPYC (fixture)",
        "threads" => 2i64,
        "os" => "linux",
        "timestamp" => "2026-01-02T03:04:05Z",
        "quick" => quick,
        "compbench_version" => "0.1.0",
    ]
}

/// A LUT-DLA-like table: CNN and ViT, PTQ int8 on int8/fp16 systolic arrays, the float network
/// on the fp16 array, LUTBoost over
/// v ∈ {4, 8}, c ∈ {8, 16}, metric ∈ {l2, l1, chebyshev}, a stages 1-4 ablation; 2 seeds;
/// every experiment priced at `hw_batch` 1 and 16.
pub fn lut_dla_rows() -> PolarsResult<DataFrame> {
    let mut b = RowsBuilder::new();
    let mut exp = 0u64;
    // One experiment: its model-side columns, priced by `hw_cols(batch)` at batch 1 and 16.
    let mut push = |b: &mut RowsBuilder,
                    row: Vec<(&'static str, Val)>,
                    hw_cols: &dyn Fn(i64) -> Vec<(&'static str, Val)>| {
        exp += 1;
        for batch in [1, 16] {
            let mut r = row.clone();
            r.insert(2, ("experiment", Val::S(format!("{exp:016x}"))));
            r.extend(hw_cols(batch));
            r.extend(env_cols(true));
            b.push(r);
        }
    };
    for seed in 0..2i64 {
        let jitter = (seed as f64 - 0.5) * 0.1;
        for (model, base) in [("cnn", 0.915), ("vit", 0.87)] {
            // PTQ int8 baseline, priced on two systolic arrays.
            for label in ["int8-systolic", "fp16-systolic"] {
                let drop = if model == "cnn" { 0.2 } else { 0.4 } + jitter;
                let r = row![
                    "suite" => "lut-dla-fixture", "paper" => "lut-dla",
                    "model" => model, "dataset" => "fashion-mnist", "method" => "ptq",
                    "label" => "ptq-w8a8", "seed" => seed,
                    "p_method_bits" => 8i64,
                    "accuracy" => base - drop / 100.0, "baseline_accuracy" => base,
                    "accuracy_drop" => drop, "bits_per_weight" => 8.0,
                    "train_s" => 1.5,
                ];
                let w = if model == "cnn" { 1.0 } else { 2.0 };
                push(&mut b, r, &|batch| hw(label, w, 1.0, batch));
            }
            // The float network on the fp16 array (the suite's `identity` method).
            let r = row![
                "suite" => "lut-dla-fixture", "paper" => "lut-dla",
                "model" => model, "dataset" => "fashion-mnist", "method" => "identity",
                "label" => "identity", "seed" => seed,
                "accuracy" => base, "baseline_accuracy" => base,
                "accuracy_drop" => 0.0, "bits_per_weight" => 32.0,
                "train_s" => 0.0,
            ];
            let w = if model == "cnn" { 1.0 } else { 2.0 };
            push(&mut b, r, &|batch| hw("fp16-systolic", w, 1.0, batch));
            let mut lut = |v: i64, c: i64, metric: &str, stages: i64, drop: f64| {
                let eff = ((v as f64) / 4.0).sqrt()
                    * if c == 8 { 1.1 } else { 1.0 }
                    * match metric {
                        "l2" => 1.0,
                        "l1" => 1.15,
                        _ => 1.25,
                    };
                let drop = drop + jitter;
                let r = row![
                    "suite" => "lut-dla-fixture", "paper" => "lut-dla",
                    "model" => model, "dataset" => "fashion-mnist", "method" => "lutboost",
                    "label" => "lut-metric", "seed" => seed,
                    "p_method_v" => v, "p_method_c" => c, "p_method_metric" => metric,
                    "p_method_stages" => stages, "p_method_table_bits" => 8,
                    "accuracy" => base - drop / 100.0, "baseline_accuracy" => base,
                    "accuracy_drop" => drop, "bits_per_weight" => 8.0 * c as f64 / v as f64,
                    "train_s" => 12.0 * stages as f64,
                    "method_note" => NOTE_LUT,
                ];
                let w = if model == "cnn" { 1.0 } else { 2.0 };
                push(&mut b, r, &|batch| hw("lut", w, eff, batch));
            };
            if model == "cnn" {
                for metric in ["l2", "l1", "chebyshev"] {
                    for v in [4, 8] {
                        for c in [8, 16] {
                            let d = match metric {
                                "l2" => 0.6,
                                "l1" => 0.8,
                                _ => 1.0,
                            } + if v == 8 { 0.5 } else { 0.0 }
                                + if c == 8 { 0.4 } else { 0.0 };
                            lut(v, c, metric, 4, d);
                        }
                    }
                }
                for (stages, d) in [(1, 3.5), (2, 2.0), (3, 1.1)] {
                    lut(4, 16, "l2", stages, d);
                }
            } else {
                lut(4, 16, "l2", 4, 3.4);
            }
        }
    }
    b.build()
}

/// A survey-like table with another schema: block pruning, per-layer sparsity columns
/// (`method_layer<i>_sparsity`), no hardware columns; 2 seeds.
pub fn survey_rows() -> PolarsResult<DataFrame> {
    let mut b = RowsBuilder::new();
    for seed in 0..2i64 {
        let jitter = (seed as f64 - 0.5) * 0.2;
        for sparsity in [0.5, 0.75] {
            let drop = if sparsity > 0.6 { 1.8 } else { 0.7 } + jitter;
            let mut r = row![
                "suite" => "survey-fixture", "paper" => "survey", "experiment" => format!("{seed}{sparsity}"),
                "model" => "cnn", "dataset" => "fashion-mnist", "method" => "block-prune",
                "label" => "block-prune", "seed" => seed,
                "p_method_sparsity" => sparsity, "p_method_block" => 16i64,
                "accuracy" => 0.915 - drop / 100.0, "baseline_accuracy" => 0.915,
                "accuracy_drop" => drop, "sparsity" => sparsity,
            ];
            for (layer, share) in [0.4, 1.1, 1.2, 0.9].iter().enumerate() {
                let name: &'static str = [
                    "method_layer0_sparsity",
                    "method_layer1_sparsity",
                    "method_layer2_sparsity",
                    "method_layer3_sparsity",
                ][layer];
                r.push((name, Val::F((sparsity * share).min(0.95) + jitter * 0.01)));
            }
            r.extend(env_cols(false));
            b.push(r);
        }
    }
    b.build()
}

/// A cross-family survey table (the runner's `family` column): the float CNN, PTQ W8A8, LUTBoost,
/// block pruning and, on an MLP, HE; each priced on an int8 array and the LUT accelerator at
/// batch 1 and 16; 2 seeds.
pub fn cross_family_rows() -> PolarsResult<DataFrame> {
    let mut b = RowsBuilder::new();
    let configs: [(&str, &str, &str, &str, f64, f64); 5] = [
        // (model, method, family, label, accuracy, energy scale)
        ("cnn", "identity", "baseline", "identity", 0.915, 4.0),
        ("cnn", "ptq", "scalar-quantization", "ptq-w8a8", 0.913, 1.0),
        (
            "cnn",
            "lutboost",
            "vector-quantization",
            "lutboost",
            0.905,
            0.6,
        ),
        ("cnn", "block-prune", "pruning", "block-prune", 0.90, 0.7),
        (
            "mlp",
            "he",
            "homomorphic-encryption",
            "he-per-image",
            0.84,
            50.0,
        ),
    ];
    for seed in 0..2i64 {
        let jitter = seed as f64 * 0.002;
        for (model, method, family, label, acc, energy) in configs {
            let exp = format!("{label}-{seed}");
            for (hw_label, hwmodel, area) in
                [("int8-systolic", "systolic", 2.0e5), ("lut", "lut", 1.5e5)]
            {
                for batch in [1i64, 16] {
                    let mut r = row![
                        "suite" => "survey-cross", "paper" => "survey", "experiment" => exp.clone(),
                        "model" => model, "dataset" => "fashion-mnist", "method" => method,
                        "family" => family, "label" => label, "hwmodel" => hwmodel,
                        "hw_label" => hw_label, "hw_batch" => batch, "seed" => seed,
                        "accuracy" => acc + jitter, "baseline_accuracy" => 0.915,
                        "accuracy_drop" => 100.0 * (0.915 - acc - jitter),
                        "energy_pj" => 1.0e6 * energy * batch as f64 * if hw_label == "lut" { 0.8 } else { 1.0 },
                        "area_um2" => area,
                    ];
                    r.extend(env_cols(false));
                    b.push(r);
                }
            }
        }
    }
    b.build()
}

/// A small grid for the two-table layout: 3 method configurations (LUTBoost v ∈ {4, 8}, PTQ
/// int8) × 2 hardware designs (`int8-systolic` and `big-systolic`, whose `p_hw_rows` differ),
/// 2 seeds. The model-side metrics of an experiment are the same on both designs.
pub fn hw_grid_rows() -> PolarsResult<DataFrame> {
    let mut b = RowsBuilder::new();
    for seed in 0..2i64 {
        let jitter = seed as f64 * 0.002;
        for (method, label, v, acc) in [
            ("lutboost", "lutboost", Some(4i64), 0.90),
            ("lutboost", "lutboost", Some(8), 0.88),
            ("ptq", "ptq-w8a8", None, 0.91),
        ] {
            let exp = format!("{method}-{}-{seed}", v.unwrap_or(0));
            for (hw_label, rows, scale) in
                [("int8-systolic", 16i64, 1.0), ("big-systolic", 32, 0.5)]
            {
                let mut r = row![
                    "suite" => "hw-grid", "experiment" => exp.clone(),
                    "model" => "cnn", "dataset" => "fashion-mnist", "method" => method,
                    "label" => label, "hwmodel" => "systolic", "hw_label" => hw_label,
                    "seed" => seed,
                ];
                match v {
                    Some(v) => r.push(("p_method_v", Val::I(v))),
                    None => r.push(("p_method_bits", Val::I(8))),
                }
                let work = v.map_or(1.0, |v| 4.0 / v as f64);
                r.extend(row![
                    "p_hw_rows" => rows,
                    "accuracy" => acc + jitter,
                    "measured_latency_s" => 0.002 * work,
                    "cycles" => (1.0e5 * work * scale) as i64,
                    "energy_pj" => 3.0e7 * work * scale + seed as f64,
                ]);
                b.push(r);
            }
        }
    }
    b.build()
}

/// The env.json of a fixture run.
pub fn env_json(quick: bool, wall_s: f64) -> serde_json::Value {
    serde_json::json!({
        "git_hash": "0123456789abcdef0123456789abcdef01234567",
        "rustc": "rustc 1.95.0 (59807616e 2026-04-14)",
        "cpu": "AMD EPYC 7B13 (fixture)",
        "threads": 2,
        "os": "linux x86_64",
        "timestamp": "2026-01-02T03:04:05Z",
        "quick": quick,
        "compbench_version": "0.1.0",
        "wall_s": wall_s,
        "datasets": { "fashion-mnist": { "test_examples": 10000 } },
    })
}

/// Writes `rows.parquet` and `env.json` into `dir` (created if needed).
pub fn write_run(
    dir: &Path,
    rows: &mut DataFrame,
    env: &serde_json::Value,
) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir).map_err(|e| ReportError::io(dir, e))?;
    let path = dir.join("rows.parquet");
    let file = std::fs::File::create(&path).map_err(|e| ReportError::io(&path, e))?;
    ParquetWriter::new(file)
        .finish(rows)
        .map_err(|e| ReportError::table(&path, e))?;
    let env_path = dir.join("env.json");
    let text = serde_json::to_string_pretty(env).expect("json value serialises");
    std::fs::write(&env_path, text).map_err(|e| ReportError::io(&env_path, e))
}

/// Writes the two fixture runs under `root`: `root/lut-dla/fixture` (quick) and
/// `root/survey/fixture`, and returns their directories in that order.
pub fn write_fixture(root: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let lut = root.join("lut-dla").join("fixture");
    let survey = root.join("survey").join("fixture");
    let mut rows = lut_dla_rows().map_err(|e| ReportError::table(&lut, e))?;
    write_run(&lut, &mut rows, &env_json(true, 754.2))?;
    let mut rows = survey_rows().map_err(|e| ReportError::table(&survey, e))?;
    write_run(&survey, &mut rows, &env_json(false, 42.0))?;
    Ok(vec![lut, survey])
}
