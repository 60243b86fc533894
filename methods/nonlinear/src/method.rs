//! The registered method `nonlinear`: replace a network's non-linear ops by an approximation,
//! calibrated on the inputs those ops actually see, optionally fine-tuned with the
//! approximation in the forward pass, optionally on top of W8A8 post-training quantization.
//!
//! Pipeline: (1) the base deployed model: the float network, or `ptq` (scalar-quant, W8A8,
//! first/last layer float) of it; (2) record every replaced op's inputs on a calibration subset
//! through the base model with exact non-linear kernels; (3) fit the kernels to those ranges;
//! (4) optionally fine-tune the float network through [`ApproxHooks`] and rebuild the base model
//! from it (kernels stay as fitted; inputs are re-recorded for the error table); (5) swap the
//! kernels in, measure each op's max / mean absolute error against the exact op on the recorded
//! inputs, the op's CPU time against the exact kernel on one image's worth of those inputs, and
//! the whole model's latency against the same model with exact ops.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use compbench_core::seed::derive;
use compbench_core::{NonlinearImpl, NonlinearKind, ParamError, ParamSpec, Params, Value};
use compbench_nn::bench::median_seconds;
use compbench_nn::data::calibration_subset;
use compbench_nn::train::fit;
use compbench_nn::{
    Compressed, DeployedModel, Method, MethodCtx, MethodError, ModelConfig, ModelKind, Network,
    NonlinearKernel,
};

use crate::hooks::ApproxHooks;
use crate::kernel::{Approx, ApproxKernel, InputStats, build, exact_f32};

pub const OPS: &[&str] = &["all", "softmax", "gelu", "layernorm", "relu"];
pub const IMPLS: &[&str] = &["exact", "ibert", "pwl", "softermax", "poly", "square"];

const PARAMS: &[ParamSpec] = &[
    ParamSpec::choice(
        "ops",
        "all",
        OPS,
        "which non-linear ops to replace (all = every op the implementation applies to)",
    ),
    ParamSpec::choice(
        "impl",
        "pwl",
        IMPLS,
        "exact | ibert (integer-only) | pwl (piecewise-linear LUT) | softermax (base-2 softmax) | poly (least-squares polynomial) | square (x², for ReLU/GELU)",
    ),
    ParamSpec::int(
        "segments",
        16,
        2,
        64,
        "pwl: segments (cut points fitted by dynamic programming on the calibrated range)",
    ),
    ParamSpec::int("degree", 2, 2, 4, "poly: polynomial degree"),
    ParamSpec::int("bits", 16, 8, 16, "ibert: input integer width"),
    ParamSpec::float(
        "range_scale",
        1.0,
        0.1,
        4.0,
        "fitted input range = calibrated [min, max] × this (below 1 shows approximations outside their range)",
    ),
    ParamSpec::int(
        "calib_images",
        64,
        4,
        4096,
        "training images whose op inputs calibrate the ranges and measure the errors (halved under --quick)",
    ),
    ParamSpec::bool(
        "w8a8",
        false,
        "combine with W8A8 post-training quantization of the GEMMs (method ptq's defaults), as I-BERT runs",
    ),
    ParamSpec::int(
        "finetune_epochs",
        0,
        0,
        20,
        "fine-tuning epochs with the approximation in the forward pass (0 = none; --quick: at most 1)",
    ),
    ParamSpec::int(
        "ft_images",
        0,
        0,
        60_000,
        "training images per fine-tuning epoch (0 = the whole split; --quick caps at 6400)",
    ),
    ParamSpec::float("lr", 2e-4, 1e-6, 1.0, "peak fine-tuning learning rate"),
];

/// Fine-tuning images per epoch under --quick.
pub const QUICK_FINETUNE_IMAGES: usize = 6400;

pub static NONLINEAR: Nonlinear = Nonlinear;

#[derive(Debug, Clone, Copy, Default)]
pub struct Nonlinear;

/// The implementation the parameters ask for.
pub fn approx_of(params: &Params) -> Approx {
    match params.str("impl") {
        "exact" => Approx::Exact,
        "ibert" => Approx::Ibert {
            bits: params.int("bits") as u32,
        },
        "pwl" => Approx::Pwl {
            segments: params.int("segments") as usize,
        },
        "softermax" => Approx::Softermax,
        "poly" => Approx::Poly {
            degree: params.int("degree") as usize,
        },
        _ => Approx::Square,
    }
}

/// The op kinds a model of `kind` has.
pub fn model_ops(kind: ModelKind) -> &'static [NonlinearKind] {
    match kind {
        ModelKind::Vit => &[
            NonlinearKind::Softmax,
            NonlinearKind::Gelu,
            NonlinearKind::LayerNorm,
        ],
        _ => &[NonlinearKind::Relu],
    }
}

fn kind_of(op: &str) -> Option<NonlinearKind> {
    match op {
        "softmax" => Some(NonlinearKind::Softmax),
        "gelu" => Some(NonlinearKind::Gelu),
        "layernorm" => Some(NonlinearKind::LayerNorm),
        "relu" => Some(NonlinearKind::Relu),
        _ => None,
    }
}

/// Metric-name suffix of a kind.
pub fn kind_name(k: NonlinearKind) -> &'static str {
    match k {
        NonlinearKind::Softmax => "softmax",
        NonlinearKind::Gelu => "gelu",
        NonlinearKind::LayerNorm => "layernorm",
        NonlinearKind::Relu => "relu",
        NonlinearKind::Silu => "silu",
        NonlinearKind::MaxPool => "maxpool",
        NonlinearKind::Other => "other",
    }
}

/// The kinds this run replaces on `model`, or why none.
pub fn replaced_kinds(params: &Params, model: ModelKind) -> Result<Vec<NonlinearKind>, ParamError> {
    let approx = approx_of(params);
    let has = model_ops(model);
    let err = |param: &str, message: String| ParamError::Constraint {
        param: param.into(),
        message,
    };
    let kinds: Vec<NonlinearKind> = match kind_of(params.str("ops")) {
        Some(k) => {
            if !has.contains(&k) {
                return Err(err(
                    "ops",
                    format!(
                        "the {} has no {} op (it has: {})",
                        model.name(),
                        params.str("ops"),
                        has.iter()
                            .map(|k| kind_name(*k))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            if !approx.supports(k) {
                return Err(err(
                    "impl",
                    format!(
                        "`{}` does not apply to {}",
                        params.str("impl"),
                        kind_name(k)
                    ),
                ));
            }
            vec![k]
        }
        None => has
            .iter()
            .copied()
            .filter(|k| approx.supports(*k))
            .collect(),
    };
    if kinds.is_empty() {
        return Err(err(
            "impl",
            format!(
                "`{}` applies to none of the {}'s ops",
                params.str("impl"),
                model.name()
            ),
        ));
    }
    Ok(kinds)
}

impl Method for Nonlinear {
    fn id(&self) -> &'static str {
        "nonlinear"
    }

    fn describe(&self) -> &'static str {
        "approximate non-linear ops (I-BERT integer, PWL LUT, Softermax, polynomials, x²), calibrated, optional fine-tune and W8A8"
    }

    fn family(&self) -> Option<compbench_core::Family> {
        Some(compbench_core::Family::NonlinearApproximation)
    }

    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }

    fn check(&self, params: &Params, model: &ModelConfig) -> Result<(), ParamError> {
        replaced_kinds(params, model.kind).map(|_| ())
    }

    fn apply(&self, ctx: &MethodCtx, params: &Params) -> Result<Compressed, MethodError> {
        let approx = approx_of(params);
        let kinds = replaced_kinds(params, ctx.model.kind)?;
        let w8a8 = params.bool("w8a8");
        let range_scale = params.float("range_scale") as f32;
        let calib_n = params.int("calib_images") as usize;
        let calib_n = if ctx.quick {
            (calib_n / 2).max(4)
        } else {
            calib_n
        };
        let calib = calibration_subset(&ctx.data.train, calib_n, derive(ctx.seed, &["calib"]));
        let mut notes = vec![format!(
            "approximate non-linear ops: {} on {}{}",
            approx.name(),
            kinds
                .iter()
                .map(|k| kind_name(*k))
                .collect::<Vec<_>>()
                .join(", "),
            if w8a8 { ", with W8A8 PTQ GEMMs" } else { "" }
        )];

        // 1-2. Base model and the inputs each replaced op sees.
        let mut base = base_model(ctx, ctx.baseline, w8a8, calib_n)?;
        let names: Vec<(String, NonlinearKind)> = base
            .nonlinear_layers()
            .iter()
            .filter(|(_, k)| kinds.contains(&k.kind()))
            .map(|(n, k)| (n.to_string(), k.kind()))
            .collect();
        let mut seen = record(&mut base, &names, &calib)?;

        // 3. Fit one kernel per op on its own inputs.
        let mut kernels: BTreeMap<String, Arc<ApproxKernel>> = BTreeMap::new();
        for (name, kind) in &names {
            let (data, cols) = &seen[name];
            let stats = InputStats::of(data, *cols);
            let k = build(*kind, approx, &stats, range_scale)
                .map_err(|e| MethodError::Failed(format!("`{name}`: {e}")))?;
            kernels.insert(name.clone(), Arc::new(k));
        }

        // 4. Optional fine-tune with the kernels in the forward pass.
        let epochs = params.int("finetune_epochs") as usize;
        if epochs > 0 {
            let mut cfg = ctx.train.clone();
            cfg.lr = params.float("lr");
            cfg.warmup_epochs = 0.05;
            cfg.label_smoothing = 0.0;
            cfg.epochs = if ctx.quick { epochs.min(1) } else { epochs };
            let ft = params.int("ft_images") as usize;
            let cap = if ctx.quick {
                QUICK_FINETUNE_IMAGES
            } else {
                usize::MAX
            };
            let subset = if ft > 0 { ft } else { usize::MAX };
            let n = subset.min(cap).min(cfg.train_subset.unwrap_or(usize::MAX));
            cfg.train_subset = (n != usize::MAX).then_some(n);
            let hooks = ApproxHooks {
                kernels: kernels.clone(),
            };
            let (tuned, log) = fit(
                ctx.baseline.clone(),
                &cfg,
                &ctx.data.train,
                ctx.device,
                derive(ctx.seed, &["finetune"]),
                |m: &Network, x| m.forward(x, &hooks),
                ctx.log,
            );
            (ctx.log)(&format!("nonlinear fine-tuning: {:.1} s", log.train_s));
            notes.push(format!(
                "fine-tuned {} epoch(s) over {} images with the approximation in the forward pass ({})",
                cfg.epochs,
                cfg.train_subset
                    .map_or(ctx.data.train.len(), |s| s.min(ctx.data.train.len())),
                if w8a8 {
                    "float GEMMs during fine-tuning; W8A8 PTQ applied after"
                } else {
                    "float GEMMs"
                }
            ));
            base = base_model(ctx, &tuned, w8a8, calib_n)?;
            seen = record(&mut base, &names, &calib)?;
        }

        // 5. Errors and op timings on the recorded inputs, then the whole model.
        let mut metrics = BTreeMap::new();
        let mut per_kind: BTreeMap<&'static str, KindAcc> = BTreeMap::new();
        for (name, kind) in &names {
            let (data, cols) = &seen[name];
            let k = &kernels[name];
            let rows = data.len() / cols;
            let mut exact = data.clone();
            exact_f32(*kind, &mut exact, rows, *cols);
            let mut approx_out = data.clone();
            k.run(&mut approx_out, rows, *cols, true);
            let acc = per_kind.entry(kind_name(*kind)).or_default();
            for (a, e) in approx_out.iter().zip(&exact) {
                let d = (a - e).abs() as f64;
                acc.max_err = acc.max_err.max(if d.is_nan() { f64::INFINITY } else { d });
                acc.sum_err += d;
                acc.n += 1;
            }
            // One image's worth of rows, the exact kernel and ours on the same values.
            let one = (rows / calib.len().max(1)).max(1);
            let sample = &data[..one * cols];
            let mut buf = sample.to_vec();
            let exact_k = compbench_nn::deployed::exact_kernel(*kind);
            let t_exact = median_seconds(0.01, || {
                buf.copy_from_slice(sample);
                exact_k.forward(std::hint::black_box(&mut buf), one, *cols);
            });
            let t_approx = median_seconds(0.01, || {
                buf.copy_from_slice(sample);
                k.forward(std::hint::black_box(&mut buf), one, *cols);
            });
            acc.t_exact += t_exact;
            acc.t_approx += t_approx;
        }
        for (kind, a) in &per_kind {
            metrics.insert(format!("err_max_{kind}"), a.max_err);
            metrics.insert(format!("err_mean_{kind}"), a.sum_err / a.n.max(1) as f64);
            metrics.insert(format!("op_latency_s_{kind}"), a.t_approx);
            metrics.insert(format!("op_speedup_{kind}"), a.t_exact / a.t_approx);
        }

        let mut deployed = base;
        let exact_latency = model_latency(&deployed, ctx);
        for (name, _) in &names {
            let k = kernels[name].clone();
            deployed
                .replace_nonlinear(name, |_| Box::new(SharedKernel(k)))
                .map_err(MethodError::Failed)?;
        }
        let approx_latency = model_latency(&deployed, ctx);
        if let (Some(e), Some(a)) = (exact_latency, approx_latency) {
            metrics.insert("model_speedup".into(), e / a);
        }
        metrics.insert("ops_replaced".into(), names.len() as f64);
        deployed.name = format!("{}/nonlinear-{}", ctx.model.label(), approx.name());
        if matches!(approx, Approx::Ibert { .. }) {
            notes.push(
                "I-BERT kernels quantize their float input at a calibrated scale and dequantize their output (the surrounding network is float); softmax sums and LayerNorm's final product are i64"
                    .into(),
            );
        }
        if approx == Approx::Softermax {
            notes.push(
                "Softermax: base-2 exponent with a quadratic 2^frac, two-pass (max, then exp) rather than the online normalization; float, not Softermax's fixed point"
                    .into(),
            );
        }
        Ok(Compressed {
            deployed,
            metrics,
            notes,
        })
    }

    fn kernel_benches(&self, quick: bool) -> Vec<compbench_nn::bench::KernelBenchRow> {
        crate::bench::bench_rows(quick)
    }
}

#[derive(Debug, Default)]
struct KindAcc {
    max_err: f64,
    sum_err: f64,
    n: usize,
    t_exact: f64,
    t_approx: f64,
}

/// The float network deployed, or W8A8 PTQ of it.
fn base_model(
    ctx: &MethodCtx,
    net: &Network,
    w8a8: bool,
    calib_images: usize,
) -> Result<DeployedModel, MethodError> {
    if !w8a8 {
        return Ok(net.to_deployed());
    }
    let sub = MethodCtx {
        baseline: net,
        model: ctx.model,
        data: ctx.data,
        train: ctx.train,
        device: ctx.device,
        seed: derive(ctx.seed, &["ptq"]),
        quick: ctx.quick,
        log: ctx.log,
    };
    let ptq = &compbench_scalar_quant::PTQ;
    let mut p = Params::defaults(ptq.params());
    p.set("w_bits", Value::Int(8));
    p.set("a_bits", Value::Int(8));
    p.set("calib_images", Value::Int(calib_images as i64));
    Ok(ptq.apply(&sub, &p)?.deployed)
}

/// Median batch-1 latency of `model` on the first test image.
fn model_latency(model: &DeployedModel, ctx: &MethodCtx) -> Option<f64> {
    if ctx.data.test.is_empty() {
        return None;
    }
    let x = ctx.data.test.image(0);
    Some(median_seconds(0.05, || {
        std::hint::black_box(model.forward(std::hint::black_box(x), 1));
    }))
}

/// Records the inputs of an op, then computes it exactly.
struct Recorder {
    kind: NonlinearKind,
    seen: Mutex<(Vec<f32>, usize)>,
}

impl NonlinearKernel for Recorder {
    fn kind(&self) -> NonlinearKind {
        self.kind
    }
    fn implementation(&self) -> NonlinearImpl {
        NonlinearImpl::Exact
    }
    fn forward(&self, x: &mut [f32], rows: usize, cols: usize) {
        {
            let mut s = self.seen.lock().expect("recorder lock");
            s.0.extend_from_slice(x);
            s.1 = cols;
        }
        exact_f32(self.kind, x, rows, cols);
    }
}

/// A kernel shared between the deployed model and the method's own bookkeeping.
struct SharedKernel<K: NonlinearKernel>(Arc<K>);

impl<K: NonlinearKernel> NonlinearKernel for SharedKernel<K> {
    fn kind(&self) -> NonlinearKind {
        self.0.kind()
    }
    fn implementation(&self) -> NonlinearImpl {
        self.0.implementation()
    }
    fn forward(&self, x: &mut [f32], rows: usize, cols: usize) {
        self.0.forward(x, rows, cols)
    }
}

/// Run `images` through `model` with recorders on the named ops (exact values) and return each
/// op's inputs `(values, cols)`. One thread, so the recorded order is deterministic.
fn record(
    model: &mut DeployedModel,
    names: &[(String, NonlinearKind)],
    images: &compbench_core::ImageSplit,
) -> Result<BTreeMap<String, (Vec<f32>, usize)>, MethodError> {
    let mut recs = Vec::new();
    for (name, kind) in names {
        let r = Arc::new(Recorder {
            kind: *kind,
            seen: Mutex::new((Vec::new(), 1)),
        });
        model
            .replace_nonlinear(name, |_| Box::new(SharedKernel(r.clone())))
            .map_err(MethodError::Failed)?;
        recs.push((name.clone(), r));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| MethodError::Failed(format!("thread pool: {e}")))?;
    const CHUNK: usize = 16;
    let p = images.pixels_per_image();
    pool.install(|| {
        for (x, y) in images
            .images
            .chunks(CHUNK * p)
            .zip(images.labels.chunks(CHUNK))
        {
            model.forward(x, y.len());
        }
    });
    let mut out = BTreeMap::new();
    for (name, r) in recs {
        let kind = r.kind;
        let seen = std::mem::take(&mut *r.seen.lock().expect("recorder lock"));
        if seen.0.is_empty() {
            return Err(MethodError::Failed(format!("`{name}` saw no inputs")));
        }
        out.insert(name.clone(), seen);
        model
            .replace_nonlinear(&name, |_| compbench_nn::deployed::exact_kernel(kind))
            .map_err(MethodError::Failed)?;
    }
    Ok(out)
}
