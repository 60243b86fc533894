//! Design-space exploration: a grid or random samples of one hardware model's parameters,
//! evaluated over a whole workload in parallel (rayon), reduced to the Pareto front over
//! (latency, energy, area) — and accuracy when the workload carries it.
//!
//! A [`DseSpec`] is read from YAML (serde-saphyr, unknown fields refused):
//!
//! ```yaml
//! schema_version: 1
//! hwmodel: systolic
//! workload: cnn            # a built-in name, or instead:
//! # gemms: [{name: fc1, m: 1, k: 784, n: 256}, {m: 196, k: 144, n: 32, lut: true}]
//! fixed: {node_nm: 28}     # optional, applied to every point
//! grid:                    # every combination ...
//!   rows: [8, 16, 32]
//!   dataflow: [os, ws, is]
//! # random:                # ... or random samples
//! #   samples: 100000
//! #   seed: 1
//! #   ranges: {rows: {min: 4, max: 128, log: true}, dataflow: [os, ws]}
//! ```
//!
//! Points are decoded from their index (mixed radix for the grid, a per-index seed for random
//! samples), so memory stays proportional to the number of varying parameters.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use compbench_core::params::{ParamKind, ParamSpec};
use compbench_core::seed::{Rng, derive};
use compbench_core::{BlockSparsity, Gemm, HwModel, Layer, NumFormat, Params, Value, Workload};

use crate::workloads;

/// Largest number of points one spec may ask for.
pub const MAX_POINTS: u64 = 10_000_000;

/// Errors in a DSE spec, with the offending field and the allowed values.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DseError {
    #[error("invalid DSE spec: {0}")]
    Parse(String),
    #[error("{0}")]
    Invalid(String),
}

/// One GEMM given inline in a spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GemmEntry {
    #[serde(default)]
    pub name: Option<String>,
    pub m: u64,
    pub k: u64,
    pub n: u64,
    #[serde(default = "one")]
    pub repeats: u64,
    /// Operand width (integer); 16 means fp16.
    #[serde(default = "eight")]
    pub bits: u8,
    /// Mark as LUT-executed (VQ with the default spec: v=4, c=16, L2, int8 tables).
    #[serde(default)]
    pub lut: bool,
    #[serde(default)]
    pub sparsity: Option<BlockSparsity>,
}

fn one() -> u64 {
    1
}
fn eight() -> u8 {
    8
}
fn schema_one() -> u32 {
    1
}

/// A sampled range: a list of values, or a numeric span (log-uniform when `log`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RangeSpec {
    Choices(Vec<Value>),
    Span {
        min: f64,
        max: f64,
        #[serde(default)]
        log: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomSpec {
    pub samples: u64,
    #[serde(default)]
    pub seed: u64,
    pub ranges: BTreeMap<String, RangeSpec>,
}

/// What to sweep, over what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DseSpec {
    #[serde(default = "schema_one")]
    pub schema_version: u32,
    pub hwmodel: String,
    #[serde(default)]
    pub workload: Option<String>,
    #[serde(default)]
    pub gemms: Option<Vec<GemmEntry>>,
    #[serde(default)]
    pub fixed: BTreeMap<String, Value>,
    #[serde(default)]
    pub grid: Option<BTreeMap<String, Vec<Value>>>,
    #[serde(default)]
    pub random: Option<RandomSpec>,
}

impl DseSpec {
    /// Parse and check the shape of a spec (names are checked against the model in [`run_dse`]).
    pub fn from_yaml(text: &str) -> Result<DseSpec, DseError> {
        let spec: DseSpec =
            serde_saphyr::from_str(text).map_err(|e| DseError::Parse(e.to_string()))?;
        spec.check_shape()?;
        Ok(spec)
    }

    fn check_shape(&self) -> Result<(), DseError> {
        if self.schema_version != 1 {
            return Err(DseError::Invalid(format!(
                "schema_version {} is not supported (allowed: 1)",
                self.schema_version
            )));
        }
        match (&self.workload, &self.gemms) {
            (Some(_), Some(_)) => {
                return Err(DseError::Invalid(
                    "give either `workload` or `gemms`, not both".into(),
                ));
            }
            (None, None) => {
                return Err(DseError::Invalid(format!(
                    "missing `workload` (one of {}) or `gemms`",
                    workloads::BUILTIN_NAMES.join(", ")
                )));
            }
            (None, Some(g)) if g.is_empty() => {
                return Err(DseError::Invalid("`gemms` is empty".into()));
            }
            _ => {}
        }
        match (&self.grid, &self.random) {
            (Some(_), Some(_)) => Err(DseError::Invalid(
                "give either `grid` or `random`, not both".into(),
            )),
            (None, None) => Err(DseError::Invalid("missing `grid` or `random`".into())),
            (Some(grid), None) => {
                if let Some((name, _)) = grid.iter().find(|(_, v)| v.is_empty()) {
                    return Err(DseError::Invalid(format!(
                        "grid parameter `{name}` has no values"
                    )));
                }
                let n = grid
                    .values()
                    .try_fold(1u64, |acc, v| acc.checked_mul(v.len() as u64));
                match n {
                    Some(n) if n <= MAX_POINTS => Ok(()),
                    _ => Err(DseError::Invalid(format!(
                        "the grid has more than {MAX_POINTS} points"
                    ))),
                }
            }
            (None, Some(r)) => {
                if r.samples == 0 || r.samples > MAX_POINTS {
                    return Err(DseError::Invalid(format!(
                        "random.samples must be in [1, {MAX_POINTS}]"
                    )));
                }
                for (name, range) in &r.ranges {
                    match range {
                        RangeSpec::Choices(c) if c.is_empty() => {
                            return Err(DseError::Invalid(format!(
                                "random range `{name}` has no values"
                            )));
                        }
                        RangeSpec::Span { min, max, log }
                            if !(min.is_finite() && max.is_finite() && min <= max)
                                || (*log && *min <= 0.0) =>
                        {
                            return Err(DseError::Invalid(format!(
                                "random range `{name}`: need finite min ≤ max (and min > 0 with log)"
                            )));
                        }
                        _ => {}
                    }
                }
                Ok(())
            }
        }
    }

    /// The workload the spec names or lists.
    pub fn workload(&self) -> Result<Workload, DseError> {
        if let Some(name) = &self.workload {
            return workloads::builtin(name).ok_or_else(|| {
                DseError::Invalid(format!(
                    "unknown workload `{name}` (allowed: {})",
                    workloads::BUILTIN_NAMES.join(", ")
                ))
            });
        }
        let mut w = Workload::new("inline");
        for (i, e) in self.gemms.iter().flatten().enumerate() {
            if e.m == 0 || e.k == 0 || e.n == 0 {
                return Err(DseError::Invalid(format!(
                    "gemm {i}: m, k and n must be positive"
                )));
            }
            let fmt = if e.bits == 16 {
                NumFormat::FP16
            } else {
                NumFormat::Int(e.bits)
            };
            let mut g = Gemm::dense(e.m, e.k, e.n, fmt);
            if e.lut {
                g.vq = Some(workloads::default_vq());
            }
            g.sparsity = e.sparsity.clone();
            let name = e.name.clone().unwrap_or_else(|| format!("gemm{i}"));
            w.layers
                .push(Layer::gemm(name, g).with_repeats(e.repeats.max(1)));
        }
        Ok(w)
    }

    /// Names of the parameters that vary, in the order points list their values.
    pub fn axes(&self) -> Vec<String> {
        match (&self.grid, &self.random) {
            (Some(g), _) => g.keys().cloned().collect(),
            (None, Some(r)) => r.ranges.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// Number of points the spec asks for.
    pub fn len(&self) -> u64 {
        match (&self.grid, &self.random) {
            (Some(g), _) => g.values().map(|v| v.len() as u64).product(),
            (None, Some(r)) => r.samples,
            _ => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The varying values of point `index`.
    fn point_values(&self, index: u64, specs: &[ParamSpec]) -> Vec<Value> {
        match (&self.grid, &self.random) {
            (Some(g), _) => {
                // Mixed radix, last axis fastest.
                let mut rest = index;
                let mut out = vec![Value::Int(0); g.len()];
                for (slot, values) in out.iter_mut().zip(g.values()).rev() {
                    let n = values.len() as u64;
                    *slot = values[(rest % n) as usize].clone();
                    rest /= n;
                }
                out
            }
            (None, Some(r)) => {
                let mut rng = Rng::new(derive(r.seed, &["dse", &index.to_string()]));
                r.ranges
                    .iter()
                    .map(|(name, range)| {
                        sample(&mut rng, range, specs.iter().find(|s| s.name == name))
                    })
                    .collect()
            }
            _ => Vec::new(),
        }
    }
}

fn sample(rng: &mut Rng, range: &RangeSpec, spec: Option<&ParamSpec>) -> Value {
    match range {
        RangeSpec::Choices(c) => c[rng.below(c.len())].clone(),
        RangeSpec::Span { min, max, log } => {
            let u = rng.next_f64();
            let x = if *log {
                (min.ln() + (max.ln() - min.ln()) * u).exp()
            } else {
                min + (max - min) * u
            };
            match spec.map(|s| s.kind) {
                Some(ParamKind::Int { .. }) => {
                    let (lo, hi) = (min.ceil(), max.floor().max(min.ceil()));
                    Value::Int(x.round().clamp(lo, hi) as i64)
                }
                _ => Value::Float(x),
            }
        }
    }
}

/// One evaluated design.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DsePoint {
    /// Values of the varying parameters, in [`DseResult::axes`] order.
    pub values: Vec<Value>,
    pub cycles: f64,
    pub latency_s: f64,
    pub energy_pj: f64,
    pub power_w: f64,
    pub area_um2: f64,
    pub utilization: f64,
    pub accuracy: Option<f64>,
}

/// Result of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DseResult {
    pub hwmodel: String,
    pub workload: String,
    pub axes: Vec<String>,
    /// Every valid design, in index order.
    pub points: Vec<DsePoint>,
    /// Indices into `points` of the Pareto-optimal designs, by increasing latency.
    pub pareto: Vec<usize>,
    /// Points refused by the model's cross-parameter checks (e.g. skip_cols not dividing cols).
    pub invalid: u64,
    pub elapsed_s: f64,
}

/// Sweep the spec's designs of `model` over `workload`. The caller resolves the spec's
/// `hwmodel` through the registry (`compbench_registry::hwmodel`), so models added there,
/// plugins included, sweep like the built-in ones.
pub fn run_dse(
    model: &dyn HwModel,
    spec: &DseSpec,
    workload: &Workload,
) -> Result<DseResult, DseError> {
    spec.check_shape()?;
    if model.id() != spec.hwmodel {
        return Err(DseError::Invalid(format!(
            "the spec sweeps hwmodel `{}` but was given `{}`",
            spec.hwmodel,
            model.id()
        )));
    }
    let start = Instant::now();
    let specs = model.params();
    let axes = spec.axes();
    // Names are checked once, before any work, with the model's allowed values.
    let base = Params::resolve(specs, &spec.fixed)
        .map_err(|e| DseError::Invalid(format!("fixed: {e}")))?;
    for name in &axes {
        if !specs.iter().any(|s| s.name == name) {
            return Err(DseError::Invalid(format!(
                "unknown parameter `{name}` for `{}` (allowed: {})",
                model.id(),
                specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let resolve = |values: &[Value]| -> Result<Params, DseError> {
        let mut given = base.0.clone();
        for (name, v) in axes.iter().zip(values) {
            given.insert(name.clone(), v.clone());
        }
        Params::resolve(specs, &given).map_err(|e| DseError::Invalid(e.to_string()))
    };
    // Values out of a parameter's range are user errors: check every grid value up front.
    if let Some(grid) = &spec.grid {
        for (name, values) in grid {
            let s = specs
                .iter()
                .find(|s| s.name == name)
                .expect("checked above");
            for v in values {
                s.check(v)
                    .map_err(|e| DseError::Invalid(format!("grid: {e}")))?;
            }
        }
    }
    let n = spec.len();
    let evaluated: Vec<Result<Option<DsePoint>, DseError>> = (0..n)
        .into_par_iter()
        .map(|i| {
            let values = spec.point_values(i, specs);
            let params = resolve(&values)?;
            let Ok(design) = model.build(&params) else {
                return Ok(None);
            };
            let r = design.eval(workload);
            Ok(Some(DsePoint {
                values,
                cycles: r.cycles,
                latency_s: r.latency_s,
                energy_pj: r.energy_pj,
                power_w: r.power_w,
                area_um2: r.area_um2,
                utilization: r.utilization,
                accuracy: workload.accuracy,
            }))
        })
        .collect();
    let mut points = Vec::with_capacity(evaluated.len());
    let mut invalid = 0;
    for e in evaluated {
        match e? {
            Some(p) => points.push(p),
            None => invalid += 1,
        }
    }
    let pareto = pareto_front(&points);
    Ok(DseResult {
        hwmodel: model.id().to_string(),
        workload: workload.name.clone(),
        axes,
        points,
        pareto,
        invalid,
        elapsed_s: start.elapsed().as_secs_f64(),
    })
}

/// Objectives to minimize: latency, energy, area, and −accuracy when known.
fn objectives(p: &DsePoint) -> [f64; 4] {
    [
        p.latency_s,
        p.energy_pj,
        p.area_um2,
        -p.accuracy.unwrap_or(0.0),
    ]
}

/// `a` is at least as good as `b` everywhere (so `b` adds nothing to the front).
fn covers(a: &[f64; 4], b: &[f64; 4]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y)
}

/// Indices of the non-dominated points, by increasing latency. Points are swept in
/// lexicographic order of their objectives, so a later point can never dominate an earlier
/// one; each point is checked only against the front found so far. Exact duplicates keep the
/// first occurrence.
pub fn pareto_front(points: &[DsePoint]) -> Vec<usize> {
    let objs: Vec<[f64; 4]> = points.iter().map(objectives).collect();
    let mut order: Vec<usize> = (0..points.len())
        .filter(|&i| objs[i].iter().all(|x| !x.is_nan()))
        .collect();
    order.sort_by(|&a, &b| {
        objs[a]
            .partial_cmp(&objs[b])
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut front: Vec<usize> = Vec::new();
    for i in order {
        if !front.iter().any(|&f| covers(&objs[f], &objs[i])) {
            front.push(i);
        }
    }
    front
}

impl DseResult {
    /// The Pareto front as a Markdown table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} on {}: {} designs ({} invalid), {} on the Pareto front, {:.2} s",
            self.hwmodel,
            self.workload,
            self.points.len(),
            self.invalid,
            self.pareto.len(),
            self.elapsed_s
        );
        let has_acc = self
            .pareto
            .iter()
            .any(|&i| self.points[i].accuracy.is_some());
        let mut header: Vec<String> = self.axes.clone();
        header.extend(
            ["latency_us", "energy_uJ", "area_mm2", "power_mW", "util_%"].map(String::from),
        );
        if has_acc {
            header.push("accuracy".into());
        }
        let _ = writeln!(s, "| {} |", header.join(" | "));
        let _ = writeln!(s, "|{}", "---|".repeat(header.len()));
        for &i in &self.pareto {
            let p = &self.points[i];
            let mut row: Vec<String> = p.values.iter().map(|v| v.to_string()).collect();
            row.push(format!("{:.3}", p.latency_s * 1e6));
            row.push(format!("{:.4}", p.energy_pj * 1e-6));
            row.push(format!("{:.4}", p.area_um2 * 1e-6));
            row.push(format!("{:.2}", p.power_w * 1e3));
            row.push(format!("{:.1}", p.utilization * 100.0));
            if has_acc {
                row.push(p.accuracy.map_or("-".into(), |a| format!("{a:.4}")));
            }
            let _ = writeln!(s, "| {} |", row.join(" | "));
        }
        s
    }
}
