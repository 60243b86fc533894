//! Reading results directories (rows.parquet + env.json) and aggregating rows into
//! configurations: one row per configuration, mean ± 95 % CI of every metric over seeds.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::ReportError;
use crate::stats;

/// Identity columns of docs/results-schema.md; with the `p_*` columns they define a
/// configuration. (`hw_batch` is an integer, but a key: the batch a row was priced at.
/// `family` is a function of `method`: it never splits a configuration, see [`DERIVED_KEY`].)
pub const IDENTITY_COLUMNS: &[&str] = &[
    "suite", "paper", "model", "dataset", "method", "family", "label", "hwmodel", "hw_label",
    "hw_batch",
];
/// The key column that is determined by another (`family`, by `method`): it groups rows in
/// the taxonomy table and the cross-family charts, and is left out wherever keys name or match
/// configurations (compact key columns, evidence names, claim settings).
pub const DERIVED_KEY: &str = "family";
/// True for the key columns that name the hardware a row was priced on: `hwmodel`, `hw_label`,
/// `hw_batch` and every `p_hw_*` parameter. One experiment has one row per hardware design and
/// pricing batch; every other key is the same on all of them.
pub fn hardware_key(column: &str) -> bool {
    matches!(column, "hwmodel" | "hw_label" | "hw_batch") || column.starts_with("p_hw_")
}

/// Environment columns: constant per run, never part of a configuration.
pub const ENV_COLUMNS: &[&str] = &[
    "git_hash",
    "rustc",
    "cpu",
    "threads",
    "os",
    "timestamp",
    "quick",
    "compbench_version",
    "wall_s",
];
/// Columns that differ between repetitions of one configuration.
const REPETITION_COLUMNS: &[&str] = &["seed", "experiment"];

/// One results directory as read from disk.
#[derive(Debug, Clone)]
pub struct Run {
    /// The directory.
    pub path: PathBuf,
    /// A short, stable name: its last two path components (`<suite>/<run>`).
    pub name: String,
    /// env.json's object, or `None` when the file is missing.
    pub env: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Run {
    /// True when env.json says `quick: true`.
    pub fn quick(&self) -> bool {
        self.env
            .as_ref()
            .and_then(|e| e.get("quick"))
            .and_then(|q| q.as_bool())
            .unwrap_or(false)
    }
}

/// The rows of one or more runs, unioned (columns missing from a run are null).
#[derive(Debug, Clone)]
pub struct Results {
    pub rows: DataFrame,
    pub runs: Vec<Run>,
}

impl Results {
    /// The smallest test-set size any run's env.json reports (`datasets.*.test_examples`):
    /// what a test-set standard error is sized at.
    pub fn test_examples(&self) -> Option<usize> {
        self.runs
            .iter()
            .filter_map(|r| r.env.as_ref()?.get("datasets")?.as_object().cloned())
            .flat_map(|d| {
                d.values()
                    .filter_map(|v| v.get("test_examples")?.as_u64())
                    .collect::<Vec<_>>()
            })
            .min()
            .map(|n| n as usize)
    }

    /// True when any run is a `--quick` run (env.json or the rows' `quick` column).
    pub fn quick(&self) -> bool {
        self.runs.iter().any(Run::quick)
            || self
                .rows
                .column("quick")
                .ok()
                .and_then(|c| c.bool().ok().map(|b| b.iter().any(|v| v == Some(true))))
                .unwrap_or(false)
    }
}

fn short_name(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .rev()
        .take(2)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.into_iter().rev().collect::<Vec<_>>().join("/")
}

fn read_env(dir: &Path) -> Result<Option<serde_json::Map<String, serde_json::Value>>, ReportError> {
    let path = dir.join("env.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ReportError::io(path, e)),
    };
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(ReportError::Env {
            path,
            message: "expected a JSON object".into(),
        }),
        Err(e) => Err(ReportError::Env {
            path,
            message: e.to_string(),
        }),
    }
}

/// `rows.parquet`, or `rows.csv` when there is no parquet file (committed samples keep only
/// the CSV).
fn read_rows(dir: &Path) -> Result<DataFrame, ReportError> {
    let path = dir.join("rows.parquet");
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let csv = dir.join("rows.csv");
            if csv.is_file() {
                return CsvReadOptions::default()
                    .with_infer_schema_length(None)
                    .try_into_reader_with_file_path(Some(csv.clone()))
                    .and_then(|r| r.finish())
                    .map_err(|e| ReportError::table(csv, e));
            }
            return Err(ReportError::NoResults {
                path: dir.to_path_buf(),
            });
        }
        Err(e) => return Err(ReportError::io(path, e)),
    };
    ParquetReader::new(file)
        .finish()
        .map_err(|e| ReportError::table(path, e))
}

/// Reads `rows.parquet` and `env.json` of every directory and unions the rows (diagonally:
/// a column one run lacks is null there; differing types are widened).
pub fn load(dirs: &[PathBuf]) -> Result<Results, ReportError> {
    let mut frames = Vec::with_capacity(dirs.len());
    let mut runs = Vec::with_capacity(dirs.len());
    for dir in dirs {
        frames.push(read_rows(dir)?.lazy());
        runs.push(Run {
            path: dir.clone(),
            name: short_name(dir),
            env: read_env(dir)?,
        });
    }
    let first = dirs
        .first()
        .ok_or_else(|| ReportError::Usage("no results directory given".into()))?;
    let rows = concat(
        frames,
        UnionArgs {
            diagonal: true,
            to_supertypes: true,
            parallel: false,
            maintain_order: true,
            ..Default::default()
        },
    )
    .and_then(|lf| lf.collect())
    .map_err(|e| ReportError::table(first, e))?;
    Ok(Results { rows, runs })
}

/// Mean, 95 % CI half-width and count of one metric over the seeds of one configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    pub mean: f64,
    /// `None` with fewer than two non-null values.
    pub ci95: Option<f64>,
    /// Sample standard deviation (ddof 1); `None` with fewer than two non-null values.
    pub std: Option<f64>,
    pub n: usize,
}

/// One configuration: its key values (as strings, the CSV representation), its metric stats
/// and its notes.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigRow {
    pub keys: Vec<Option<String>>,
    pub stats: Vec<Option<Stat>>,
    pub notes: Vec<Option<String>>,
    /// Number of result rows (seeds) in this configuration.
    pub n_rows: usize,
}

/// Results aggregated per configuration, in the order configurations first appear.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfigTable {
    /// Key columns: identity columns and `p_*` parameters.
    pub keys: Vec<String>,
    /// Numeric columns that are neither keys nor environment: the metrics.
    pub metrics: Vec<String>,
    /// Other string columns (e.g. `method_note`), shown beside a configuration.
    pub notes: Vec<String>,
    pub rows: Vec<ConfigRow>,
}

/// Column roles in a results table.
struct Roles {
    keys: Vec<String>,
    metrics: Vec<String>,
    notes: Vec<String>,
}

fn classify(schema: &Schema) -> Roles {
    let mut roles = Roles {
        keys: Vec::new(),
        metrics: Vec::new(),
        notes: Vec::new(),
    };
    for (name, dtype) in schema.iter() {
        let name = name.as_str();
        if ENV_COLUMNS.contains(&name) || REPETITION_COLUMNS.contains(&name) {
            continue;
        }
        if IDENTITY_COLUMNS.contains(&name) || name.starts_with("p_") {
            roles.keys.push(name.to_string());
        } else if dtype.is_primitive_numeric() {
            roles.metrics.push(name.to_string());
        } else if !dtype.is_null() {
            roles.notes.push(name.to_string());
        }
    }
    roles
}

/// Groups rows by configuration (keys cast to strings; nulls form their own group) and computes
/// each metric's mean, sample std and non-null count with one lazy polars query.
pub fn aggregate(rows: &DataFrame) -> PolarsResult<ConfigTable> {
    let roles = classify(rows.schema());
    if rows.height() == 0 {
        return Ok(ConfigTable {
            keys: roles.keys,
            metrics: roles.metrics,
            notes: roles.notes,
            rows: Vec::new(),
        });
    }
    let mut lf = rows.clone().lazy();
    let group_keys: Vec<Expr> = if roles.keys.is_empty() {
        lf = lf.with_column(lit("all").alias("__all"));
        vec![col("__all")]
    } else {
        lf = lf.with_columns(
            roles
                .keys
                .iter()
                .map(|k| col(k.as_str()).cast(DataType::String))
                .collect::<Vec<_>>(),
        );
        roles.keys.iter().map(|k| col(k.as_str())).collect()
    };
    let mut aggs = vec![len().cast(DataType::Float64).alias("__rows")];
    for (i, m) in roles.metrics.iter().enumerate() {
        let c = col(m.as_str()).cast(DataType::Float64);
        aggs.push(c.clone().mean().alias(format!("__mean{i}")));
        aggs.push(c.clone().std(1).alias(format!("__std{i}")));
        aggs.push(c.count().cast(DataType::Float64).alias(format!("__n{i}")));
    }
    for (i, n) in roles.notes.iter().enumerate() {
        aggs.push(
            col(n.as_str())
                .cast(DataType::String)
                .first_non_null()
                .alias(format!("__note{i}")),
        );
    }
    let out = lf.group_by_stable(group_keys).agg(aggs).collect()?;

    let f64_col = |name: &str| -> PolarsResult<Vec<Option<f64>>> {
        Ok(out.column(name)?.f64()?.iter().collect())
    };
    let str_col = |name: &str| -> PolarsResult<Vec<Option<String>>> {
        Ok(out
            .column(name)?
            .str()?
            .iter()
            .map(|s| s.map(str::to_string))
            .collect())
    };
    let key_cols = roles
        .keys
        .iter()
        .map(|k| str_col(k))
        .collect::<PolarsResult<Vec<_>>>()?;
    let n_rows = f64_col("__rows")?;
    let mut metric_cols = Vec::new();
    for i in 0..roles.metrics.len() {
        metric_cols.push((
            f64_col(&format!("__mean{i}"))?,
            f64_col(&format!("__std{i}"))?,
            f64_col(&format!("__n{i}"))?,
        ));
    }
    let note_cols = (0..roles.notes.len())
        .map(|i| str_col(&format!("__note{i}")))
        .collect::<PolarsResult<Vec<_>>>()?;

    let rows = (0..out.height())
        .map(|r| ConfigRow {
            keys: key_cols.iter().map(|c| c[r].clone()).collect(),
            stats: metric_cols
                .iter()
                .map(|(mean, std, n)| {
                    let n = n[r].unwrap_or(0.0) as usize;
                    match mean[r] {
                        Some(mean) if n > 0 && mean.is_finite() => Some(Stat {
                            mean,
                            ci95: std[r].and_then(|s| stats::ci95(s, n)),
                            std: std[r].filter(|s| n >= 2 && s.is_finite()),
                            n,
                        }),
                        _ => None,
                    }
                })
                .collect(),
            notes: note_cols.iter().map(|c| c[r].clone()).collect(),
            n_rows: n_rows[r].unwrap_or(0.0) as usize,
        })
        .collect();
    Ok(ConfigTable {
        keys: roles.keys,
        metrics: roles.metrics,
        notes: roles.notes,
        rows,
    })
}

/// A short display name for a key column: `p_method_v` → `v` (unless that is ambiguous in
/// `others`, then `method.v`).
pub fn short_key(column: &str, others: &[&str]) -> String {
    for prefix in ["p_method_", "p_hw_", "p_model_"] {
        if let Some(rest) = column.strip_prefix(prefix) {
            let clashes = others.iter().filter(|o| **o != column).any(|o| {
                ["p_method_", "p_hw_", "p_model_"]
                    .iter()
                    .any(|p| o.strip_prefix(p) == Some(rest))
                    || *o == rest
            });
            // (metric columns are passed in `others` too, so `p_method_sparsity` next to a
            // `sparsity` metric prints as `method.sparsity`)
            return if clashes {
                format!("{}.{rest}", &prefix[2..prefix.len() - 1])
            } else {
                rest.to_string()
            };
        }
    }
    column.to_string()
}

impl ConfigTable {
    /// Index of key column `name`.
    pub fn key_index(&self, name: &str) -> Option<usize> {
        self.keys.iter().position(|k| k == name)
    }

    /// Index of metric column `name`.
    pub fn metric_index(&self, name: &str) -> Option<usize> {
        self.metrics.iter().position(|k| k == name)
    }

    /// The value of key `name` in row `r` (`None` when the column is missing or null).
    pub fn key(&self, r: usize, name: &str) -> Option<&str> {
        self.key_index(name)
            .and_then(|k| self.rows[r].keys[k].as_deref())
    }

    /// The stat of metric `name` in row `r`.
    pub fn stat(&self, r: usize, name: &str) -> Option<Stat> {
        self.metric_index(name).and_then(|m| self.rows[r].stats[m])
    }

    /// Key columns whose value differs between the given rows.
    pub fn varying_keys(&self, rows: &[usize]) -> Vec<usize> {
        (0..self.keys.len())
            .filter(|&k| {
                let mut vals = rows.iter().map(|&r| &self.rows[r].keys[k]);
                match vals.next() {
                    Some(first) => vals.any(|v| v != first),
                    None => false,
                }
            })
            .collect()
    }

    /// Keeps one row per model-side configuration (the first): rows that differ only in
    /// hardware keys ([`hardware_key`]) other than key column `keep` are one experiment priced
    /// on several designs or batches, with the same model-side metrics (accuracy), which must
    /// count once.
    pub fn model_configs(&self, rows: &[usize], keep: Option<usize>) -> Vec<usize> {
        let model_keys: Vec<usize> = (0..self.keys.len())
            .filter(|&k| Some(k) == keep || !hardware_key(&self.keys[k]))
            .collect();
        let mut seen: std::collections::HashSet<Vec<Option<&str>>> =
            std::collections::HashSet::new();
        rows.iter()
            .copied()
            .filter(|&r| {
                seen.insert(
                    model_keys
                        .iter()
                        .map(|&k| self.rows[r].keys[k].as_deref())
                        .collect(),
                )
            })
            .collect()
    }

    /// Names the given rows by their varying keys (`lutboost v=4 c=16`), in key order;
    /// identity columns print bare values, parameters `name=value`. Keys in `skip` are left out.
    pub fn describe(&self, rows: &[usize], skip: &[&str]) -> Vec<String> {
        let varying: Vec<usize> = self
            .varying_keys(rows)
            .into_iter()
            .filter(|&k| self.keys[k] != DERIVED_KEY && !skip.contains(&self.keys[k].as_str()))
            .collect();
        let names: Vec<&str> = varying.iter().map(|&k| self.keys[k].as_str()).collect();
        rows.iter()
            .map(|&r| {
                let parts: Vec<String> = varying
                    .iter()
                    .filter_map(|&k| {
                        let v = self.rows[r].keys[k].as_deref()?;
                        let name = &self.keys[k];
                        Some(if name.starts_with("p_") || name == "hw_batch" {
                            format!("{}={v}", short_key(name, &names))
                        } else {
                            v.to_string()
                        })
                    })
                    .collect();
                if parts.is_empty() {
                    "all".to_string()
                } else {
                    parts.join(" ")
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_seeds_per_configuration() {
        let df = df![
            "suite" => ["s", "s", "s", "s"],
            "method" => ["a", "a", "b", "b"],
            "p_method_v" => [Some(4i64), Some(4), None, None],
            "seed" => [0i64, 1, 0, 1],
            "accuracy" => [0.8, 0.9, 0.5, 0.5],
            "cycles" => [Some(10i64), None, None, None],
            "method_note" => [Some("approximate"), None, None, None],
            "quick" => [true, true, true, true],
        ]
        .unwrap();
        let t = aggregate(&df).unwrap();
        assert_eq!(t.keys, ["suite", "method", "p_method_v"]);
        assert_eq!(t.metrics, ["accuracy", "cycles"]);
        assert_eq!(t.notes, ["method_note"]);
        assert_eq!(t.rows.len(), 2);
        let a = t.stat(0, "accuracy").unwrap();
        assert!((a.mean - 0.85).abs() < 1e-12);
        assert_eq!(a.n, 2);
        assert!(a.ci95.unwrap() > 0.0);
        assert_eq!(t.stat(0, "cycles").unwrap().n, 1);
        assert_eq!(t.stat(0, "cycles").unwrap().ci95, None);
        assert_eq!(t.stat(1, "cycles"), None);
        assert_eq!(t.key(0, "p_method_v"), Some("4"));
        assert_eq!(t.key(1, "p_method_v"), None);
        assert_eq!(t.rows[0].notes[0].as_deref(), Some("approximate"));
        assert_eq!(t.describe(&[0, 1], &[]), ["a v=4", "b"]);
    }

    #[test]
    fn short_keys() {
        assert_eq!(short_key("p_method_v", &["p_method_v", "p_hw_rows"]), "v");
        assert_eq!(
            short_key("p_method_v", &["p_method_v", "p_hw_v"]),
            "method.v"
        );
        assert_eq!(short_key("model", &[]), "model");
    }
}
