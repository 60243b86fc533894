//! Journal records × hardware configurations → the results table (docs/results-schema.md),
//! written as rows.parquet and rows.csv, atomically.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use compbench_core::{HwDesign, HwModel, HwReport, Params, Value};
use polars::prelude::*;

use crate::env::Environment;
use crate::journal::{Measured, Outcome, Record, finite};

pub const ROWS_PARQUET: &str = "rows.parquet";
pub const ROWS_CSV: &str = "rows.csv";

/// Run-wide values of every row.
#[derive(Debug, Clone)]
pub struct TableContext<'a> {
    pub suite: &'a str,
    pub paper: &'a str,
    pub env: &'a Environment,
    pub quick: bool,
}

/// A built hardware configuration at one pricing batch (the suite's `hw_batch`).
pub struct HwColumn<'a> {
    pub id: &'a str,
    pub label: &'a str,
    pub model: &'a dyn HwModel,
    pub params: &'a Params,
    pub design: &'a dyn HwDesign,
    /// Images per inference the workload is priced at (the `hw_batch` column).
    pub batch: u64,
}

impl HwColumn<'_> {
    /// Price `m`'s workload, scaled from the journaled batch-1 IR to `self.batch`
    /// (`Workload::at_batch`), on this configuration, specialized to the workload when the
    /// model generates its hardware for the network (`HwModel::specialize`). Returns the
    /// parameters of the design that priced it.
    fn price(&self, m: &Measured) -> (Params, HwReport) {
        let scaled;
        let w = if self.batch == 1 {
            &m.workload
        } else {
            scaled = m.workload.at_batch(self.batch);
            &scaled
        };
        let params = self.model.specialize(self.params, w);
        if &params == self.params {
            return (params, self.design.eval(w));
        }
        match self.model.build(&params) {
            Ok(design) => {
                let report = design.eval(w);
                (params, report)
            }
            // specialize() returns resolved parameters, so this is a model bug; price with the
            // suite's design rather than lose the row.
            Err(_) => (self.params.clone(), self.design.eval(w)),
        }
    }
}

/// Fixed metric columns in schema order (compbench-core's metric schema), whose last entry
/// (`train_s`) is written after the `method_*` columns.
const METRICS_HEAD: &[compbench_core::metrics::MetricDef] = compbench_core::metrics::METRICS
    .split_last()
    .expect("metric list is not empty")
    .1;

struct Row<'a> {
    record: &'a Record,
    measured: &'a Measured,
    hw: Option<(&'a HwColumn<'a>, Params, HwReport)>,
}

impl Row<'_> {
    fn metric(&self, name: &str) -> Option<f64> {
        let m = self.measured;
        let hw = |f: fn(&HwReport) -> f64| self.hw.as_ref().and_then(|(_, _, r)| finite(f(r)));
        match name {
            "accuracy" => m.accuracy,
            "baseline_accuracy" => m.baseline_accuracy,
            "accuracy_drop" => match (m.baseline_accuracy, m.accuracy) {
                (Some(b), Some(a)) => finite(100.0 * (b - a)),
                _ => None,
            },
            "measured_latency_s" => m.measured_latency_s,
            "cycles" => hw(|r| r.cycles),
            "latency_s" => hw(|r| r.latency_s),
            "energy_pj" => hw(|r| r.energy_pj),
            "power_w" => hw(|r| r.power_w),
            "area_um2" => hw(|r| r.area_um2),
            "utilization" => hw(|r| r.utilization),
            "ops_per_joule" => hw(|r| r.ops_per_joule()),
            "ops_per_s_per_mm2" => hw(|r| r.ops_per_s_per_mm2()),
            "bits_per_weight" => m.bits_per_weight,
            "sparsity" => m.sparsity,
            "train_s" => m.train_s,
            other => other
                .strip_prefix("method_")
                .and_then(|k| m.method_metrics.get(k).copied().flatten()),
        }
    }
}

/// Build the table: one row per (successful experiment, hardware column), experiments in
/// `records` order (a hardware column is one configuration at one `hw_batch`); one row with
/// empty `hwmodel` and null `hw_batch` per experiment when there is no hardware.
pub fn build(records: &[&Record], hw: &[HwColumn], ctx: &TableContext) -> PolarsResult<DataFrame> {
    let mut rows: Vec<Row> = Vec::new();
    for r in records {
        let Outcome::Ok(m) = &r.outcome else { continue };
        if hw.is_empty() {
            rows.push(Row {
                record: r,
                measured: m,
                hw: None,
            });
        }
        for h in hw {
            rows.push(Row {
                record: r,
                measured: m,
                hw: Some({
                    let (params, report) = h.price(m);
                    (h, params, report)
                }),
            });
        }
    }
    let n = rows.len();
    let mut cols: Vec<Column> = Vec::new();
    let str_col = |name: &str, f: &dyn Fn(&Row) -> String| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<String>>())
    };

    cols.push(str_col("suite", &|_| ctx.suite.to_string()));
    cols.push(str_col("paper", &|_| ctx.paper.to_string()));
    cols.push(str_col("experiment", &|r| r.record.experiment.clone()));
    cols.push(str_col("model", &|r| r.record.model.clone()));
    cols.push(str_col("dataset", &|r| r.record.dataset.clone()));
    cols.push(str_col("method", &|r| r.record.method.clone()));
    // The method's survey family (compbench_core::Family), so reports group rows by family from
    // the table alone. Validation refuses methods without one; "" only for a method that is no
    // longer registered (an old journal).
    cols.push(str_col("family", &|r| {
        compbench_registry::method(&r.record.method)
            .ok()
            .and_then(|m| m.family())
            .map_or(String::new(), |f| f.id().to_string())
    }));
    cols.push(str_col("label", &|r| r.record.label.clone()));
    cols.push(str_col("hwmodel", &|r| {
        r.hw.as_ref()
            .map_or(String::new(), |(h, _, _)| h.id.to_string())
    }));
    cols.push(str_col("hw_label", &|r| {
        r.hw.as_ref()
            .map_or(String::new(), |(h, _, _)| h.label.to_string())
    }));
    cols.push(Column::new(
        "hw_batch".into(),
        rows.iter()
            .map(|r| r.hw.as_ref().map(|(h, _, _)| h.batch))
            .collect::<Vec<Option<u64>>>(),
    ));
    cols.push(Column::new(
        "seed".into(),
        rows.iter()
            .map(|r| r.record.seed as i64)
            .collect::<Vec<i64>>(),
    ));

    let method_params: Vec<Option<&Params>> =
        rows.iter().map(|r| Some(&r.record.method_params)).collect();
    let hw_params: Vec<Option<&Params>> = rows
        .iter()
        .map(|r| r.hw.as_ref().map(|(_, p, _)| p))
        .collect();
    let model_params: Vec<Option<&Params>> =
        rows.iter().map(|r| Some(&r.record.model_params)).collect();
    cols.extend(param_cols("p_method_", &method_params));
    cols.extend(param_cols("p_hw_", &hw_params));
    cols.extend(param_cols("p_model_", &model_params));

    let method_metrics: BTreeSet<String> = rows
        .iter()
        .flat_map(|r| {
            r.measured
                .method_metrics
                .keys()
                .map(|k| format!("method_{k}"))
        })
        .collect();
    let metric_names = METRICS_HEAD
        .iter()
        .map(|m| m.name.to_string())
        .chain(method_metrics)
        .chain(["train_s".to_string()]);
    for name in metric_names {
        cols.push(Column::new(
            name.as_str().into(),
            rows.iter()
                .map(|r| r.metric(&name))
                .collect::<Vec<Option<f64>>>(),
        ));
    }

    let env = ctx.env;
    // Each row carries the commit that computed its experiment (a cached one may predate HEAD).
    cols.push(str_col("git_hash", &|r| r.record.provenance()));
    cols.push(str_col("rustc", &|_| env.rustc.clone()));
    cols.push(str_col("cpu", &|_| env.cpu.clone()));
    cols.push(Column::new("threads".into(), vec![env.threads; n]));
    cols.push(str_col("os", &|_| env.os.clone()));
    cols.push(str_col("timestamp", &|r| r.record.timestamp.clone()));
    cols.push(Column::new("quick".into(), vec![ctx.quick; n]));
    cols.push(str_col("compbench_version", &|_| {
        env.compbench_version.clone()
    }));
    DataFrame::new(n, cols)
}

/// One column per parameter name present in any row (name order), null where absent.
fn param_cols(prefix: &str, per_row: &[Option<&Params>]) -> Vec<Column> {
    let names: BTreeSet<&str> = per_row
        .iter()
        .flatten()
        .flat_map(|p| p.0.keys().map(|k| k.as_str()))
        .collect();
    names
        .into_iter()
        .map(|k| {
            let vals: Vec<Option<&Value>> =
                per_row.iter().map(|p| p.and_then(|p| p.get(k))).collect();
            param_column(&format!("{prefix}{k}"), &vals)
        })
        .collect()
}

/// A parameter column in its natural type when every present value agrees (integers widen to
/// floats), else strings.
fn param_column(name: &str, vals: &[Option<&Value>]) -> Column {
    let present = || vals.iter().flatten();
    let all = |f: fn(&Value) -> bool| present().all(|v| f(v));
    if all(|v| matches!(v, Value::Int(_))) {
        let v: Vec<Option<i64>> = vals
            .iter()
            .map(|v| {
                v.and_then(|v| {
                    if let Value::Int(i) = v {
                        Some(*i)
                    } else {
                        None
                    }
                })
            })
            .collect();
        Column::new(name.into(), v)
    } else if all(|v| matches!(v, Value::Int(_) | Value::Float(_))) {
        let v: Vec<Option<f64>> = vals
            .iter()
            .map(|v| match v {
                Some(Value::Int(i)) => Some(*i as f64),
                Some(Value::Float(x)) => Some(*x),
                _ => None,
            })
            .collect();
        Column::new(name.into(), v)
    } else if all(|v| matches!(v, Value::Bool(_))) {
        let v: Vec<Option<bool>> = vals
            .iter()
            .map(|v| {
                v.and_then(|v| {
                    if let Value::Bool(b) = v {
                        Some(*b)
                    } else {
                        None
                    }
                })
            })
            .collect();
        Column::new(name.into(), v)
    } else {
        let v: Vec<Option<String>> = vals.iter().map(|v| v.map(|v| v.to_string())).collect();
        Column::new(name.into(), v)
    }
}

/// Write `df` as rows.parquet and rows.csv in `dir`, each through a temporary file renamed into
/// place, so a reader (or a crash) never sees half a table.
pub fn write(dir: &Path, df: &mut DataFrame) -> std::io::Result<()> {
    write_atomic(&dir.join(ROWS_PARQUET), |f| {
        ParquetWriter::new(f).finish(df).map(|_| ())
    })?;
    write_atomic(&dir.join(ROWS_CSV), |f| {
        CsvWriter::new(f).include_header(true).finish(df)
    })?;
    Ok(())
}

fn tmp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

fn write_atomic(path: &Path, f: impl FnOnce(&mut File) -> PolarsResult<()>) -> std::io::Result<()> {
    let tmp = tmp_path(path);
    let result = (|| {
        let mut file = File::create(&tmp)?;
        f(&mut file).map_err(std::io::Error::other)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Write bytes atomically (env.json).
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = tmp_path(path);
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Read a results directory's rows.parquet.
pub fn read(dir: &Path) -> PolarsResult<DataFrame> {
    let file = File::open(dir.join(ROWS_PARQUET)).map_err(|e| {
        polars_err!(ComputeError: "{}: {e} (is it a compbench results directory?)", dir.join(ROWS_PARQUET).display())
    })?;
    ParquetReader::new(file).finish()
}

/// Stack tables whose columns may differ: the union of columns (first-seen order; a column
/// missing from one table is null there), rows deduplicated on the experiment and its hardware
/// (`hw_label`, `hw_batch`, every `p_hw_*`), keeping the first. Shards of one run partition the
/// experiments, so nothing is dropped there; a directory given twice is.
pub fn concat(tables: &[DataFrame]) -> PolarsResult<DataFrame> {
    let mut names: Vec<PlSmallStr> = Vec::new();
    let mut types: BTreeMap<PlSmallStr, DataType> = BTreeMap::new();
    for t in tables {
        for c in t.columns() {
            let name = c.name().clone();
            match types.get(&name) {
                None => {
                    names.push(name.clone());
                    types.insert(name, c.dtype().clone());
                }
                // Disagreeing types (e.g. a parameter that is an integer in one shard and a
                // string in another): fall back to strings, as in a single table.
                Some(t0) if t0 != c.dtype() && *c.dtype() != DataType::Null => {
                    let to = if t0.is_primitive_numeric() && c.dtype().is_primitive_numeric() {
                        DataType::Float64
                    } else {
                        DataType::String
                    };
                    types.insert(name, to);
                }
                Some(_) => {}
            }
        }
    }
    let mut out: Option<DataFrame> = None;
    for t in tables {
        let h = t.height();
        let cols = names
            .iter()
            .map(|n| {
                let dt = &types[n];
                match t.column(n.as_str()) {
                    Ok(c) => c.cast(dt),
                    Err(_) => Ok(Column::full_null(n.clone(), h, dt)),
                }
            })
            .collect::<PolarsResult<Vec<Column>>>()?;
        let df = DataFrame::new(h, cols)?;
        match &mut out {
            None => out = Some(df),
            Some(o) => {
                o.vstack_mut_owned(df)?;
            }
        }
    }
    let out = out.unwrap_or_default();
    dedupe(out)
}

fn dedupe(df: DataFrame) -> PolarsResult<DataFrame> {
    if df.column("experiment").is_err() {
        return Ok(df);
    }
    // The row identity: the experiment and every column naming the hardware it was priced on.
    let key_cols = df
        .columns()
        .iter()
        .filter(|c| {
            let n = c.name().as_str();
            matches!(n, "experiment" | "hw_label" | "hw_batch") || n.starts_with("p_hw_")
        })
        .map(|c| c.cast(&DataType::String))
        .collect::<PolarsResult<Vec<Column>>>()?;
    let key_cols = key_cols
        .iter()
        .map(|c| c.str().cloned())
        .collect::<PolarsResult<Vec<StringChunked>>>()?;
    let mut seen = std::collections::HashSet::new();
    let mask: BooleanChunked = (0..df.height())
        .map(|i| {
            let key: Vec<Option<String>> = key_cols
                .iter()
                .map(|c| c.get(i).map(str::to_string))
                .collect();
            Some(seen.insert(key))
        })
        .collect();
    df.filter(&mask)
}
