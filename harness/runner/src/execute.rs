//! Running experiments: baselines (trained once per (model, dataset, seed) and shared), then
//! each method applied, evaluated and measured.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

use compbench_core::seed::derive;
use compbench_core::{Splits, Workload};
use compbench_nn::distill::Teacher;
use compbench_nn::{Compressed, MethodCtx, ModelConfig, Network, TrainConfig};
use compbench_suite::Experiment;

use crate::journal::{Measured, Outcome, finite};
use crate::progress::{Event, Observer};

/// A trained float baseline, shared by every experiment on the same (model, dataset, seed).
pub struct Baseline {
    pub net: Network,
    pub cfg: ModelConfig,
    pub train: TrainConfig,
    /// Accuracy of the deployed float baseline on the run's test split.
    pub accuracy: f64,
}

/// Identity of a baseline inside one run.
pub fn baseline_key(e: &Experiment) -> String {
    format!(
        "{}|{}|{}|{}",
        e.dataset,
        e.model.id,
        e.model.params.label(),
        e.seed
    )
}

/// A short human name for logs: `mlp on synthetic, seed 0`.
pub fn baseline_name(e: &Experiment) -> String {
    let p = non_default_label(
        &e.model.params,
        compbench_registry::model(&e.model.id)
            .map(|m| m.params)
            .unwrap_or(&[]),
    );
    let p = if p.is_empty() {
        String::new()
    } else {
        format!(" ({p})")
    };
    format!("{}{p} on {}, seed {}", e.model.label, e.dataset, e.seed)
}

/// `k=v,...` of the parameters that differ from their defaults (all of them when `specs` is
/// empty), so log lines name what the suite chose, not every knob.
pub fn non_default_label(
    params: &compbench_core::Params,
    specs: &[compbench_core::ParamSpec],
) -> String {
    params
        .0
        .iter()
        .filter(|(k, v)| {
            !specs
                .iter()
                .any(|s| s.name == k.as_str() && s.default.to_value() == **v)
        })
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The model parameters as they took effect: recipe values (the `0 = recipe` knobs) filled in
/// from the training configuration actually used, for the `p_model_*` columns.
pub fn effective_model_params(
    given: &compbench_core::Params,
    train: &TrainConfig,
) -> compbench_core::Params {
    use compbench_core::Value;
    let mut p = given.clone();
    let mut fill = |name: &str, v: Value| {
        if p.get(name).is_some() {
            p.set(name, v);
        }
    };
    fill("epochs", Value::Int(train.epochs as i64));
    fill("batch_size", Value::Int(train.batch_size as i64));
    fill("lr", Value::Float(train.lr));
    fill(
        "train_subset",
        Value::Int(train.train_subset.map_or(0, |n| n as i64)),
    );
    p
}

/// A short human name for logs: `ptq-w4 [w_bits=4] · mlp/synthetic/0`.
pub fn experiment_name(e: &Experiment) -> String {
    let specs = compbench_registry::method(&e.method.id)
        .map(|m| m.params())
        .unwrap_or(&[]);
    let p = non_default_label(&e.method.params, specs);
    let p = if p.is_empty() {
        String::new()
    } else {
        format!(" [{p}]")
    };
    format!(
        "{}{p} · {}/{}/{}",
        e.method.label, e.model.label, e.dataset, e.seed
    )
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_string())
}

/// Train (or load from the cache) the baseline of `e`.
pub fn train_baseline(
    e: &Experiment,
    data: &Splits,
    quick: bool,
    train_subset: Option<usize>,
    cache_dir: &std::path::Path,
    obs: &dyn Observer,
) -> Result<Arc<Baseline>, String> {
    let info = compbench_registry::model(&e.model.id).map_err(|x| x.to_string())?;
    let cfg =
        compbench_registry::model_config(info.kind, &e.model.params).map_err(|x| x.to_string())?;
    let mut train = compbench_registry::train_config(info.kind, &e.model.params, quick);
    if let (Some(n), None | Some(0)) = (
        train_subset,
        e.model.params.get("train_subset").and_then(|v| match v {
            compbench_core::Value::Int(i) => Some(*i),
            _ => None,
        }),
    ) {
        train.train_subset = Some(n);
    }
    let name = baseline_name(e);
    let log = |m: &str| {
        obs.event(&Event::Log {
            scope: &name,
            message: m,
        })
    };
    let seed = derive(e.seed, &["model", &e.model.id, &e.dataset]);
    let result = catch_unwind(AssertUnwindSafe(|| {
        compbench_nn::train::train_baseline(&cfg, data, &train, seed, Some(cache_dir), &log)
    }));
    let (net, _info) = match result {
        Ok(Ok(x)) => x,
        Ok(Err(err)) => return Err(format!("baseline {name}: {err}")),
        Err(p) => {
            return Err(format!(
                "baseline {name}: training panicked: {}",
                panic_message(p)
            ));
        }
    };
    let accuracy = catch_unwind(AssertUnwindSafe(|| net.to_deployed().accuracy(&data.test)))
        .map_err(|p| format!("baseline {name}: deploying panicked: {}", panic_message(p)))?;
    Ok(Arc::new(Baseline {
        net,
        cfg,
        train,
        accuracy,
    }))
}

/// The baseline-shaped experiment that trains `e`'s teacher: the teacher's model point on the
/// same dataset and seed (so a teacher equal to a suite model shares its cached baseline).
pub fn teacher_experiment(e: &Experiment) -> Option<Experiment> {
    let t = e.teacher.as_ref()?;
    Some(Experiment {
        model: t.clone(),
        teacher: None,
        ..e.clone()
    })
}

/// Train (or load) a teacher and deploy it; also its deployed test accuracy. T and λ are set
/// per experiment ([`Teacher::with_kd`](compbench_nn::distill::Teacher::with_kd)); the
/// teacher's logits cache is shared by all of them.
pub fn train_teacher(
    t: &Experiment,
    data: &Splits,
    quick: bool,
    train_subset: Option<usize>,
    cache_dir: &std::path::Path,
    obs: &dyn Observer,
) -> Result<(Arc<Teacher>, f64), String> {
    let b = train_baseline(t, data, quick, train_subset, cache_dir, obs)?;
    if b.net.classes() != data.classes {
        return Err(format!(
            "teacher `{}` has {} classes, dataset `{}` has {}",
            t.model.label,
            b.net.classes(),
            t.dataset,
            data.classes
        ));
    }
    let deployed = catch_unwind(AssertUnwindSafe(|| b.net.to_deployed())).map_err(|p| {
        format!(
            "teacher `{}`: deploying panicked: {}",
            t.model.label,
            panic_message(p)
        )
    })?;
    let defaults = |name: &str| {
        compbench_nn::distill::TEACHER_PARAMS
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| match s.default.to_value() {
                compbench_core::Value::Float(x) => Some(x),
                _ => None,
            })
            .unwrap_or(0.0)
    };
    let teacher = Teacher::new(
        t.model.label.clone(),
        baseline_key(t),
        deployed,
        defaults("kd_temperature"),
        defaults("kd_lambda"),
    );
    Ok((Arc::new(teacher), b.accuracy))
}

/// The method parameters as journaled: the entry's, plus `teacher` (its label) when the
/// method distilled from one, so results say which teacher (`p_method_teacher`).
pub fn journaled_method_params(e: &Experiment) -> compbench_core::Params {
    let mut p = e.method.params.clone();
    if let Some(t) = &e.teacher {
        p.set("teacher", compbench_core::Value::Str(t.label.clone()));
    }
    p
}

/// Apply `e`'s method to its baseline: the compressed model, or why not (panics caught).
/// `teacher` is `e`'s trained teacher when it names one (its recipe then distills from it).
/// `compbench bench models` builds its deployed models through this too.
pub fn compress(
    e: &Experiment,
    baseline: &Baseline,
    teacher: Option<&Result<Arc<Teacher>, String>>,
    data: &Splits,
    quick: bool,
    obs: &dyn Observer,
) -> Result<Compressed, String> {
    let name = experiment_name(e);
    let method = compbench_registry::method(&e.method.id).map_err(|err| err.to_string())?;
    let log = |m: &str| {
        obs.event(&Event::Log {
            scope: &name,
            message: m,
        })
    };
    let mut train = baseline.train.clone();
    match teacher {
        None => {}
        Some(Err(err)) => return Err(format!("teacher: {err}")),
        Some(Ok(t)) => {
            let kd = |name: &str, default: f64| match e.method.params.get(name) {
                Some(compbench_core::Value::Float(x)) => *x,
                Some(compbench_core::Value::Int(x)) => *x as f64,
                _ => default,
            };
            let mode = match e.method.params.get("kd_mode") {
                None => t.mode,
                Some(compbench_core::Value::Str(s)) => compbench_nn::distill::KdMode::parse(s)
                    .ok_or_else(|| {
                        format!(
                            "kd_mode `{s}` is not one of {}",
                            compbench_nn::distill::KdMode::NAMES.join(", ")
                        )
                    })?,
                Some(v) => return Err(format!("kd_mode must be a string, got {v}")),
            };
            train.teacher = Some(
                t.with_kd(
                    kd("kd_temperature", t.temperature),
                    kd("kd_lambda", t.lambda),
                )
                .with_mode(mode),
            );
        }
    }
    let device = compbench_nn::device();
    let ctx = MethodCtx {
        baseline: &baseline.net,
        model: &baseline.cfg,
        data,
        train: &train,
        device: &device,
        seed: derive(e.seed, &["method", &e.method.label]),
        quick,
        log: &log,
    };
    match catch_unwind(AssertUnwindSafe(|| method.apply(&ctx, &e.method.params))) {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(err)) => Err(format!("method `{}` failed: {err}", e.method.label)),
        Err(p) => Err(format!(
            "method `{}` panicked: {}",
            e.method.label,
            panic_message(p)
        )),
    }
}

/// Apply `e`'s method to its baseline and measure the result.
pub fn run_experiment(
    e: &Experiment,
    baseline: &Baseline,
    teacher: Option<&Result<Arc<Teacher>, String>>,
    data: &Splits,
    quick: bool,
    obs: &dyn Observer,
) -> Outcome {
    let t0 = Instant::now();
    let compressed = match compress(e, baseline, teacher, data, quick, obs) {
        Ok(c) => c,
        Err(error) => return Outcome::Failed { error },
    };
    let train_s = t0.elapsed().as_secs_f64();
    let measured = catch_unwind(AssertUnwindSafe(|| {
        let deployed = &compressed.deployed;
        let accuracy = deployed.accuracy(&data.test);
        let latency = if data.test.is_empty() {
            None
        } else {
            let x = data.test.image(0);
            finite(median_seconds(0.02, || {
                std::hint::black_box(deployed.forward(std::hint::black_box(x), 1));
            }))
        };
        (
            accuracy,
            latency,
            deployed.workload(1),
            kernel_bits_per_weight(deployed),
        )
    }));
    let (accuracy, latency, workload, kernel_bits) = match measured {
        Ok(x) => x,
        Err(p) => {
            return Outcome::Failed {
                error: format!(
                    "evaluating the model of method `{}` panicked: {}",
                    e.method.label,
                    panic_message(p)
                ),
            };
        }
    };
    let mut metrics: BTreeMap<String, f64> = compressed.metrics;
    let bits_per_weight = metrics.remove("bits_per_weight").or(kernel_bits);
    let sparsity = metrics
        .remove("sparsity")
        .or_else(|| workload_sparsity(&workload));
    Outcome::Ok(Measured {
        accuracy: finite(accuracy),
        baseline_accuracy: finite(baseline.accuracy),
        measured_latency_s: latency,
        train_s: finite(train_s),
        bits_per_weight: bits_per_weight.and_then(finite),
        sparsity: sparsity.and_then(finite),
        method_metrics: metrics.into_iter().map(|(k, v)| (k, finite(v))).collect(),
        notes: compressed.notes,
        workload,
        test_examples: data.test.len(),
    })
}

/// Weights of static GEMMs, as (dense count, kept count).
fn static_weights(w: &Workload) -> (f64, f64) {
    w.gemms()
        .filter(|(_, g)| g.weights_static)
        .map(|(_, g)| ((g.k * g.n) as f64, (g.k * g.n) as f64 * g.density()))
        .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1))
}

/// Mean stored bits per (dense) weight over static GEMMs, from the IR's weight storage
/// ([`Workload::weight_bits`]).
pub fn workload_bits_per_weight(w: &Workload) -> Option<f64> {
    let (dense, _) = static_weights(w);
    (dense > 0.0).then(|| w.weight_bits() / dense)
}

/// Mean stored bits per (dense) weight of a deployed model, from its kernels' own
/// [`GemmKernel::weight_bits`](compbench_nn::deployed::GemmKernel::weight_bits): what the
/// kernels actually keep (codebooks, tables, masks included), not the IR's compute format.
/// The runner's `bits_per_weight` unless the method reports its own.
pub fn kernel_bits_per_weight(d: &compbench_nn::deployed::DeployedModel) -> Option<f64> {
    let layers = d.gemm_layers();
    let dense: f64 = layers.iter().map(|(_, k)| (k.k() * k.n()) as f64).sum();
    (dense > 0.0).then(|| d.weight_bits() / dense)
}

/// Fraction of static GEMM weights removed.
pub fn workload_sparsity(w: &Workload) -> Option<f64> {
    let (dense, kept) = static_weights(w);
    (dense > 0.0).then(|| 1.0 - kept / dense)
}

/// Measured latency is the run's one noisy number: the median resists outliers.
pub use compbench_nn::bench::median_seconds;
