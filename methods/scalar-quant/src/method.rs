//! The three registered methods: `ptq`, `qat` (ste | lsq | pact) and `binary` (binary |
//! ternary weights, optional binary activations).
//!
//! All three share one pipeline: pick the layers to quantize (`keep_float`), capture each
//! layer's exact GEMM inputs on a calibration subset of the training split through the float
//! deployed model, fit grids, optionally fine-tune the trainable model with [`crate::qat`]
//! hooks, and build the deployed model with integer kernels ([`crate::deployed`]).

use std::collections::BTreeMap;

use burn::module::Module;
use compbench_core::seed::derive;
use compbench_core::{NumFormat, ParamError, ParamSpec, Params};
use compbench_nn::data::calibration_subset;
use compbench_nn::deployed::GemmKernel;
use compbench_nn::models::GemmLayerInfo;
use compbench_nn::train::{TrainConfig, fit, fit_with_loss};
use compbench_nn::{Captured, Compressed, Method, MethodCtx, MethodError, ModelConfig, Network};

use crate::calibrate::{Calibration, calibrate, min_max, weight_grids};
use crate::deployed::{ActSpec, QuantGemm, WeightOnlyGemm, XnorGemm};
use crate::qat::{ActQ, Learned, QatHooks, QatPlan, WeightQ};
use crate::quantizer::{Operand, QParams, QuantizedWeights, Scheme, column};

const KEEP_FLOAT: &[&str] = &["first_last", "first", "last", "none"];
const GRANULARITY: &[&str] = &["per_channel", "per_tensor"];

const P_W_BITS: ParamSpec = ParamSpec::int("w_bits", 8, 2, 8, "weight bit width");
const P_A_BITS: ParamSpec = ParamSpec::int(
    "a_bits",
    8,
    2,
    32,
    "activation (GEMM input) bit width: 2..8, or 32 to keep activations in float (weight-only)",
);
const P_GRAN: ParamSpec = ParamSpec::choice(
    "granularity",
    "per_channel",
    GRANULARITY,
    "weight grids: one per output channel, or one per tensor",
);
const P_SYM: ParamSpec = ParamSpec::bool(
    "symmetric",
    true,
    "zero point 0 (non-negative activations then use the unsigned grid); false = affine grids fitted to [min, max]",
);
const P_CALIB: ParamSpec = ParamSpec::choice(
    "calibration",
    "minmax",
    Calibration::NAMES,
    "activation range: observed min-max, a percentile of |x|, the clip minimizing quantization MSE, or the clip minimizing the KL divergence of the |x| histograms (TensorRT entropy calibration)",
);
const P_PCT: ParamSpec = ParamSpec::float(
    "percentile",
    99.99,
    90.0,
    100.0,
    "percentile used by calibration=percentile",
);
const P_W_CALIB: ParamSpec = ParamSpec::choice(
    "w_calibration",
    "minmax",
    &["minmax", "mse"],
    "weight range: min-max, or the MSE-optimal clip per grid",
);
const P_CALIB_N: ParamSpec = ParamSpec::int(
    "calib_images",
    256,
    1,
    10_000,
    "training images used for calibration (a seeded random subset; halved under --quick)",
);
const P_KEEP: ParamSpec = ParamSpec::choice(
    "keep_float",
    "first_last",
    KEEP_FLOAT,
    "GEMM layers left in float: the first (pixels in) and last (logits out) by default",
);
const P_EPOCHS: ParamSpec = ParamSpec::int(
    "epochs",
    2,
    0,
    50,
    "fine-tuning epochs from the float baseline (--quick: 1 epoch of at most 6400 images, ≈ 50 steps)",
);

/// Post-training quantization.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ptq;

/// Quantization-aware training: STE, LSQ or PACT.
#[derive(Debug, Clone, Copy, Default)]
pub struct Qat;

/// Binary (XNOR-Net) or ternary (TWN) weights, optionally binary activations (BNN).
#[derive(Debug, Clone, Copy, Default)]
pub struct Binary;

pub static PTQ: Ptq = Ptq;
pub static QAT: Qat = Qat;
pub static BINARY: Binary = Binary;

const PTQ_PARAMS: &[ParamSpec] = &[
    P_W_BITS, P_A_BITS, P_GRAN, P_SYM, P_CALIB, P_PCT, P_W_CALIB, P_CALIB_N, P_KEEP,
];

const QAT_PARAMS: &[ParamSpec] = &[
    ParamSpec::choice(
        "scheme",
        "lsq",
        &["ste", "lsq", "pact"],
        "ste: fixed grids + straight-through estimator; lsq: learned steps (Esser 2020); pact: learned activation clip (Choi 2018)",
    ),
    ParamSpec::int("w_bits", 4, 2, 8, "weight bit width"),
    ParamSpec::int("a_bits", 4, 2, 8, "activation (GEMM input) bit width"),
    P_GRAN,
    ParamSpec::choice(
        "calibration",
        "mse",
        Calibration::NAMES,
        "initial activation range (ste keeps it fixed; lsq/pact start from it)",
    ),
    P_PCT,
    P_CALIB_N,
    P_KEEP,
    P_EPOCHS,
    ParamSpec::float(
        "lr",
        2e-4,
        1e-6,
        1.0,
        "peak fine-tuning learning rate (AdamW, cosine)",
    ),
    ParamSpec::float("pact_decay", 1e-4, 0.0, 1.0, "L2 penalty on PACT's clip α"),
];

const BINARY_PARAMS: &[ParamSpec] = &[
    ParamSpec::choice(
        "weights",
        "binary",
        &["binary", "ternary"],
        "binary: α·sign(W), α = mean|W| per channel (XNOR-Net); ternary: threshold 0.7·mean|W| (TWN)",
    ),
    ParamSpec::bool(
        "binary_activations",
        false,
        "binarize GEMM inputs to μ + β·sign(x − μ) (BNN; μ, β calibrated); with binary weights runs the xnor/popcount kernel",
    ),
    ParamSpec::int(
        "a_bits",
        8,
        2,
        8,
        "activation bit width when activations are not binary",
    ),
    P_CALIB_N,
    P_KEEP,
    P_EPOCHS,
    ParamSpec::float(
        "lr",
        5e-4,
        1e-6,
        1.0,
        "peak fine-tuning learning rate (AdamW, cosine)",
    ),
];

fn check_a_bits(params: &Params) -> Result<(), ParamError> {
    let a = params.int("a_bits");
    if a > 8 && a != 32 {
        return Err(ParamError::Constraint {
            param: "a_bits".into(),
            message: format!(
                "{a} is not a supported width (allowed: 2..8, or 32 for float activations)"
            ),
        });
    }
    Ok(())
}

impl Method for Ptq {
    fn id(&self) -> &'static str {
        "ptq"
    }

    fn describe(&self) -> &'static str {
        "post-training uniform quantization (W2-8, A2-8/float; per-channel/tensor; min-max, percentile, MSE calibration), int8 kernels"
    }

    fn family(&self) -> Option<compbench_core::Family> {
        Some(compbench_core::Family::ScalarQuantization)
    }

    fn params(&self) -> &'static [ParamSpec] {
        PTQ_PARAMS
    }

    /// Every scalar kernel (int8/low-bit and xnor) is timed once, here: QAT and binary deploy
    /// the same kernels.
    fn kernel_benches(&self, quick: bool) -> Vec<compbench_nn::bench::KernelBenchRow> {
        crate::bench_rows(quick)
    }

    fn check(&self, params: &Params, _model: &ModelConfig) -> Result<(), ParamError> {
        check_a_bits(params)
    }

    fn apply(&self, ctx: &MethodCtx, params: &Params) -> Result<Compressed, MethodError> {
        check_a_bits(params)?;
        let w_bits = params.int("w_bits") as u32;
        let a_bits = params.int("a_bits") as u32;
        let scheme = if params.bool("symmetric") {
            Scheme::Symmetric
        } else {
            Scheme::Affine
        };
        let per_channel = params.str("granularity") == "per_channel";
        let calib = calibration(params);
        let w_calib = if params.str("w_calibration") == "mse" {
            Calibration::Mse
        } else {
            Calibration::MinMax
        };
        let layers = quantized_layers(ctx.baseline, params.str("keep_float"));
        let captured = capture(ctx, params, &layers);
        let mut specs = BTreeMap::new();
        for info in &layers {
            let (w, _) = ctx.baseline.gemm_weights(&info.name).expect("listed layer");
            let grids = weight_grids(&w, info.k(), info.n(), w_bits, scheme, w_calib, per_channel);
            let act = (a_bits <= 8).then(|| {
                let x = &captured[&info.name].data;
                ActSpec::Uniform {
                    grid: calibrate(x, a_bits, scheme, Operand::Activation, calib),
                    bits: a_bits,
                }
            });
            specs.insert(
                info.name.clone(),
                LayerSpec::Uniform {
                    grids,
                    bits: w_bits,
                    act,
                },
            );
        }
        let mut out = deploy(ctx, ctx.baseline, &specs, "ptq");
        out.metrics.insert("a_bits".into(), a_bits as f64);
        out.metrics.insert("w_bits".into(), w_bits as f64);
        Ok(out)
    }
}

impl Method for Qat {
    fn id(&self) -> &'static str {
        "qat"
    }

    fn describe(&self) -> &'static str {
        "quantization-aware fine-tuning from the float baseline: STE, LSQ (learned step) or PACT (learned clip), int8 kernels"
    }

    fn family(&self) -> Option<compbench_core::Family> {
        Some(compbench_core::Family::ScalarQuantization)
    }

    fn params(&self) -> &'static [ParamSpec] {
        QAT_PARAMS
    }

    fn apply(&self, ctx: &MethodCtx, params: &Params) -> Result<Compressed, MethodError> {
        let scheme = QatScheme::parse(params.str("scheme"))?;
        let setup = QatSetup {
            w_bits: params.int("w_bits") as u32,
            a_bits: params.int("a_bits") as u32,
            per_channel: params.str("granularity") == "per_channel",
        };
        let layers = quantized_layers(ctx.baseline, params.str("keep_float"));
        let captured = capture(ctx, params, &layers);
        let calib = calibration(params);

        // Initial quantizers: calibrated activation grids; LSQ steps start at MSE weight grids.
        let mut plan = QatPlan::default();
        let mut init = LearnedInit::default();
        for info in &layers {
            let (w, _) = ctx.baseline.gemm_weights(&info.name).expect("listed layer");
            let x = &captured[&info.name].data;
            let a_grid = calibrate(
                x,
                setup.a_bits,
                Scheme::Symmetric,
                Operand::Activation,
                calib,
            );
            let signed = min_max(x).0 < 0.0;
            let q = match scheme {
                QatScheme::Ste => setup.ste_layer(a_grid),
                QatScheme::Pact => setup.pact_layer(a_grid, signed, &mut init),
                QatScheme::Lsq => setup.lsq_layer(info, &w, a_grid, &mut init),
            };
            plan.layers.insert(info.name.clone(), q);
        }
        let learned = Learned::new(init.w, init.a, ctx.device);
        let cfg = finetune_config(ctx, params);
        let (net, learned) = if cfg.epochs == 0 {
            (ctx.baseline.clone(), learned)
        } else {
            let decay = (scheme == QatScheme::Pact).then(|| params.float("pact_decay") as f32);
            qat_finetune(ctx, &cfg, &plan, learned, decay)
        };

        // Deployed grids from the trained model and quantizer parameters (the same arithmetic
        // as the hooks' hard forward).
        let mut specs = BTreeMap::new();
        for info in &layers {
            let (w, _) = net.gemm_weights(&info.name).expect("listed layer");
            let (wq, aq) = plan.layers[&info.name];
            let spec = LayerSpec::Uniform {
                grids: setup.deployed_weight_grids(wq, info, &w, &learned)?,
                bits: setup.w_bits,
                act: Some(ActSpec::Uniform {
                    grid: deployed_act_grid(aq, &learned)?,
                    bits: setup.a_bits,
                }),
            };
            specs.insert(info.name.clone(), spec);
        }
        let mut out = deploy(ctx, &net, &specs, &format!("qat-{}", scheme.name()));
        out.metrics.insert("a_bits".into(), setup.a_bits as f64);
        out.metrics.insert("w_bits".into(), setup.w_bits as f64);
        out.metrics
            .insert("finetune_epochs".into(), cfg.epochs as f64);
        if ctx.quick {
            out.notes.push(format!(
                "quick: {} fine-tuning step(s) only",
                steps(&cfg, ctx)
            ));
        }
        Ok(out)
    }
}

/// QAT's `scheme` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QatScheme {
    /// Fixed calibrated grids, straight-through estimator.
    Ste,
    /// Learned weight and activation steps (Esser et al., 2020).
    Lsq,
    /// Learned activation clip (Choi et al., 2018) with min-max weight grids.
    Pact,
}

impl QatScheme {
    const ALL: [QatScheme; 3] = [QatScheme::Ste, QatScheme::Lsq, QatScheme::Pact];

    fn name(self) -> &'static str {
        match self {
            QatScheme::Ste => "ste",
            QatScheme::Lsq => "lsq",
            QatScheme::Pact => "pact",
        }
    }

    fn parse(s: &str) -> Result<QatScheme, MethodError> {
        QatScheme::ALL
            .into_iter()
            .find(|q| q.name() == s)
            .ok_or_else(|| MethodError::Failed(format!("qat: unknown scheme `{s}`")))
    }
}

/// Initial values of the learned steps/clips, in the order the quantizers index them.
#[derive(Default)]
struct LearnedInit {
    w: Vec<Vec<f32>>,
    a: Vec<f32>,
}

/// The bit widths and granularity shared by every layer of one QAT run.
struct QatSetup {
    w_bits: u32,
    a_bits: u32,
    per_channel: bool,
}

impl QatSetup {
    fn min_max_weights(&self) -> WeightQ {
        WeightQ::MinMax {
            qmax: (1 << (self.w_bits - 1)) - 1,
            per_channel: self.per_channel,
        }
    }

    fn ste_layer(&self, a_grid: QParams) -> (WeightQ, ActQ) {
        (self.min_max_weights(), ActQ::Fixed(a_grid))
    }

    fn pact_layer(&self, a_grid: QParams, signed: bool, init: &mut LearnedInit) -> (WeightQ, ActQ) {
        init.a.push(a_grid.range().1);
        let levels = if signed {
            (1 << (self.a_bits - 1)) - 1
        } else {
            (1 << self.a_bits) - 1
        };
        let aq = ActQ::Pact {
            idx: init.a.len() - 1,
            levels,
            signed,
        };
        (self.min_max_weights(), aq)
    }

    fn lsq_layer(
        &self,
        info: &GemmLayerInfo,
        w: &[f32],
        a_grid: QParams,
        init: &mut LearnedInit,
    ) -> (WeightQ, ActQ) {
        let (wqn, wqp) = lsq_weight_range(self.w_bits);
        let (k, n) = (info.k(), info.n());
        let grids = weight_grids(
            w,
            k,
            n,
            self.w_bits,
            Scheme::Symmetric,
            Calibration::Mse,
            self.per_channel,
        );
        init.w.push(if self.per_channel {
            grids.iter().map(|g| g.scale).collect()
        } else {
            vec![grids[0].scale]
        });
        // LSQ's gradient scale 1/√(N·Q_P), N = elements sharing one step.
        let n_w = if self.per_channel { k } else { k * n };
        let (aqn, aqp) = (a_grid.q_n(), a_grid.q_p());
        init.a.push(a_grid.scale);
        let n_a = k * info.rows_per_image;
        let wq = WeightQ::Lsq {
            idx: init.w.len() - 1,
            qn: wqn,
            qp: wqp,
            g: 1.0 / ((n_w as f32) * wqp as f32).sqrt(),
        };
        let aq = ActQ::Lsq {
            idx: init.a.len() - 1,
            qn: aqn,
            qp: aqp,
            g: 1.0 / ((n_a as f32) * aqp as f32).sqrt(),
        };
        (wq, aq)
    }

    /// The deployed weight grids of a layer fine-tuned with `wq`.
    fn deployed_weight_grids(
        &self,
        wq: WeightQ,
        info: &GemmLayerInfo,
        w: &[f32],
        learned: &Learned,
    ) -> Result<Vec<QParams>, MethodError> {
        match wq {
            WeightQ::MinMax { .. } => Ok(weight_grids(
                w,
                info.k(),
                info.n(),
                self.w_bits,
                Scheme::Symmetric,
                Calibration::MinMax,
                self.per_channel,
            )),
            WeightQ::Lsq { idx, qn, qp, .. } => {
                let s = learned.w_values(idx);
                Ok((0..info.n())
                    .map(|j| QParams {
                        scale: s[if s.len() == 1 { 0 } else { j }],
                        zero_point: 0,
                        qmin: -qn,
                        qmax: qp,
                    })
                    .collect())
            }
            WeightQ::Float | WeightQ::Binary | WeightQ::Ternary => Err(MethodError::Failed(
                format!("qat: {wq:?} weights have no uniform grid"),
            )),
        }
    }
}

/// The deployed activation grid of a layer fine-tuned with `aq`.
fn deployed_act_grid(aq: ActQ, learned: &Learned) -> Result<QParams, MethodError> {
    match aq {
        ActQ::Fixed(g) => Ok(g),
        ActQ::Lsq { idx, qn, qp, .. } => Ok(QParams {
            scale: learned.a_value(idx),
            zero_point: 0,
            qmin: -qn,
            qmax: qp,
        }),
        ActQ::Pact {
            idx,
            levels,
            signed,
        } => Ok(QParams {
            scale: learned.a_value(idx) / levels as f32,
            zero_point: 0,
            qmin: if signed { -levels } else { 0 },
            qmax: levels,
        }),
        ActQ::Float | ActQ::Sign { .. } => Err(MethodError::Failed(format!(
            "qat: {aq:?} activations have no uniform grid"
        ))),
    }
}

/// Fine-tune the baseline through the QAT hooks; `pact_decay` adds PACT's L2 penalty on the
/// learned clips.
fn qat_finetune(
    ctx: &MethodCtx,
    cfg: &TrainConfig,
    plan: &QatPlan,
    learned: Learned,
    pact_decay: Option<f32>,
) -> (Network, Learned) {
    let seed = derive(ctx.seed, &["qat", "finetune"]);
    let module = (ctx.baseline.clone(), learned);
    let forward = |m: &(Network, Learned), x| {
        m.0.forward(
            x,
            &QatHooks {
                plan,
                learned: &m.1,
            },
        )
    };
    let ((net, learned), _) = match pact_decay {
        Some(decay) => fit_with_loss(
            module,
            cfg,
            &ctx.data.train,
            ctx.device,
            seed,
            move |m: &(Network, Learned), x, y| {
                let logits = forward(m, x);
                let mut loss = compbench_nn::train::cross_entropy(logits, y, cfg.label_smoothing);
                for a in &m.1.a {
                    loss = loss + a.val().powi_scalar(2).sum().mul_scalar(decay);
                }
                loss
            },
            ctx.log,
        ),
        None => fit(
            module,
            cfg,
            &ctx.data.train,
            ctx.device,
            seed,
            forward,
            ctx.log,
        ),
    };
    (net.valid(), learned.valid())
}

impl Method for Binary {
    fn id(&self) -> &'static str {
        "binary"
    }

    fn describe(&self) -> &'static str {
        "binary (XNOR-Net) or ternary (TWN) weights, optional binary activations (xnor/popcount kernel), STE fine-tuning"
    }

    fn family(&self) -> Option<compbench_core::Family> {
        Some(compbench_core::Family::ScalarQuantization)
    }

    fn params(&self) -> &'static [ParamSpec] {
        BINARY_PARAMS
    }

    fn apply(&self, ctx: &MethodCtx, params: &Params) -> Result<Compressed, MethodError> {
        let ternary = params.str("weights") == "ternary";
        let bin_act = params.bool("binary_activations");
        let a_bits = params.int("a_bits") as u32;
        let layers = quantized_layers(ctx.baseline, params.str("keep_float"));
        let captured = capture(ctx, params, &layers);
        let mut plan = QatPlan::default();
        for info in &layers {
            let x = &captured[&info.name].data;
            let aq = if bin_act {
                let (mu, beta) = sign_params(x);
                ActQ::Sign { mu, beta }
            } else {
                ActQ::Fixed(calibrate(
                    x,
                    a_bits,
                    Scheme::Symmetric,
                    Operand::Activation,
                    Calibration::Mse,
                ))
            };
            plan.layers.insert(
                info.name.clone(),
                (
                    if ternary {
                        WeightQ::Ternary
                    } else {
                        WeightQ::Binary
                    },
                    aq,
                ),
            );
        }
        let learned = Learned::new(Vec::new(), Vec::new(), ctx.device);
        let cfg = finetune_config(ctx, params);
        let net = if cfg.epochs == 0 {
            ctx.baseline.clone()
        } else {
            let plan_ref = &plan;
            let seed = derive(ctx.seed, &["binary", "finetune"]);
            let ((net, _), _) = fit(
                (ctx.baseline.clone(), learned),
                &cfg,
                &ctx.data.train,
                ctx.device,
                seed,
                |m: &(Network, Learned), x| {
                    m.0.forward(
                        x,
                        &QatHooks {
                            plan: plan_ref,
                            learned: &m.1,
                        },
                    )
                },
                ctx.log,
            );
            net.valid()
        };
        let mut specs = BTreeMap::new();
        for info in &layers {
            let (w, _) = net.gemm_weights(&info.name).expect("listed layer");
            let (_, aq) = plan.layers[&info.name];
            let act = match aq {
                ActQ::Sign { mu, beta } => ActSpec::Sign { mu, beta },
                ActQ::Fixed(grid) => ActSpec::Uniform { grid, bits: a_bits },
                ActQ::Float | ActQ::Lsq { .. } | ActQ::Pact { .. } => {
                    return Err(MethodError::Failed(format!(
                        "binary: {aq:?} activations are not deployable by the xnor kernel"
                    )));
                }
            };
            specs.insert(info.name.clone(), LayerSpec::Binary { ternary, act, w });
        }
        let mut out = deploy(
            ctx,
            &net,
            &specs,
            if ternary { "ternary" } else { "binary" },
        );
        out.metrics
            .insert("a_bits".into(), if bin_act { 1.0 } else { a_bits as f64 });
        out.metrics
            .insert("w_bits".into(), if ternary { 2.0 } else { 1.0 });
        out.metrics
            .insert("finetune_epochs".into(), cfg.epochs as f64);
        Ok(out)
    }
}

/// What one quantized layer deploys as.
enum LayerSpec {
    /// Uniform weight grids; `act: None` = float activations (weight-only kernel).
    Uniform {
        grids: Vec<QParams>,
        bits: u32,
        act: Option<ActSpec>,
    },
    /// Binary/ternary weights from the float weights `w` (k × n).
    Binary {
        ternary: bool,
        act: ActSpec,
        w: Vec<f32>,
    },
}

fn calibration(params: &Params) -> Calibration {
    Calibration::parse(params.str("calibration"), params.float("percentile"))
        .expect("validated choice")
}

/// LSQ's weight grid `[−Q_N, Q_P]`: the full signed range, except −128 at 8 bits (kernel).
pub fn lsq_weight_range(bits: u32) -> (i32, i32) {
    let qp = (1 << (bits - 1)) - 1;
    (if bits == 8 { qp } else { qp + 1 }, qp)
}

/// Threshold μ = mean(x) and scale β = mean|x − μ| of binary activations.
pub fn sign_params(x: &[f32]) -> (f32, f32) {
    let n = x.len().max(1) as f64;
    let mu = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    let beta = x.iter().map(|&v| (v as f64 - mu).abs()).sum::<f64>() / n;
    (mu as f32, (beta as f32).max(f32::MIN_POSITIVE))
}

/// XNOR-Net's α = mean|W| per column and the sign codes, or TWN's ternary codes.
pub fn binary_weights(w: &[f32], k: usize, n: usize, ternary: bool) -> QuantizedWeights {
    let mut grids = Vec::with_capacity(n);
    let mut codes = vec![0i32; k * n];
    for j in 0..n {
        let col = column(w, k, n, j);
        let mean_abs = col.iter().map(|x| x.abs()).sum::<f32>() / k as f32;
        let (alpha, thr) = if ternary {
            let delta = 0.7 * mean_abs;
            let kept: Vec<f32> = col.iter().map(|x| x.abs()).filter(|&a| a > delta).collect();
            (
                if kept.is_empty() {
                    0.0
                } else {
                    kept.iter().sum::<f32>() / kept.len() as f32
                },
                Some(delta),
            )
        } else {
            (mean_abs, None)
        };
        for (r, &x) in col.iter().enumerate() {
            codes[r * n + j] = match thr {
                Some(d) if x.abs() <= d => 0,
                _ if x >= 0.0 => 1,
                _ => -1,
            };
        }
        grids.push(QParams {
            scale: if alpha > 0.0 { alpha } else { 1.0 },
            zero_point: 0,
            qmin: -1,
            qmax: 1,
        });
    }
    QuantizedWeights {
        k,
        n,
        codes,
        grids,
        bits: if ternary { 2 } else { 1 },
    }
}

/// The GEMM layers to quantize under `keep_float`.
fn quantized_layers(net: &Network, keep: &str) -> Vec<GemmLayerInfo> {
    net.gemm_layers()
        .into_iter()
        .filter(|l| match keep {
            "first_last" => !l.first && !l.last,
            "first" => !l.first,
            "last" => !l.last,
            _ => true,
        })
        .collect()
}

/// Exact inputs of every quantized layer on the calibration subset (float model).
fn capture(
    ctx: &MethodCtx,
    params: &Params,
    layers: &[GemmLayerInfo],
) -> BTreeMap<String, Captured> {
    let mut n = params.int("calib_images") as usize;
    if ctx.quick {
        n = n.div_ceil(2);
    }
    let subset = calibration_subset(&ctx.data.train, n, derive(ctx.seed, &["calibration"]));
    let names: Vec<&str> = layers.iter().map(|l| l.name.as_str()).collect();
    let deployed = ctx.baseline.to_deployed();
    let mut out: BTreeMap<String, Captured> = BTreeMap::new();
    // Chunks bound the memory of im2col'd captures.
    let p = subset.pixels_per_image();
    for chunk in subset.images.chunks(64 * p) {
        for (name, c) in deployed.capture_gemm_inputs(chunk, chunk.len() / p, &names) {
            let e = out.entry(name).or_insert(Captured {
                data: Vec::new(),
                rows: 0,
                k: c.k,
            });
            e.data.extend_from_slice(&c.data);
            e.rows += c.rows;
        }
    }
    out
}

/// Fine-tuning images per epoch under --quick.
pub const QUICK_FINETUNE_IMAGES: usize = 6400;

fn finetune_config(ctx: &MethodCtx, params: &Params) -> TrainConfig {
    let epochs = params.int("epochs") as usize;
    let mut cfg = ctx.train.clone();
    cfg.lr = params.float("lr");
    cfg.warmup_epochs = 0.05;
    cfg.label_smoothing = 0.0;
    cfg.epochs = if ctx.quick { epochs.min(1) } else { epochs };
    if ctx.quick {
        // --quick: at most QUICK_FINETUNE_IMAGES images (≈ 50 steps at batch 128), so a whole
        // quick suite stays in minutes; from a good start (MSE grids) this recovers most of it.
        cfg.train_subset = Some(
            cfg.train_subset
                .unwrap_or(usize::MAX)
                .min(QUICK_FINETUNE_IMAGES),
        );
    }
    cfg
}

fn steps(cfg: &TrainConfig, ctx: &MethodCtx) -> usize {
    let n = cfg
        .train_subset
        .map_or(ctx.data.train.len(), |s| s.min(ctx.data.train.len()));
    n.div_ceil(cfg.batch_size.max(1)) * cfg.epochs
}

/// Build the deployed model: quantized layers get integer kernels, the rest stay dense f32.
fn deploy(
    ctx: &MethodCtx,
    net: &Network,
    specs: &BTreeMap<String, LayerSpec>,
    label: &str,
) -> Compressed {
    let factory =
        |info: &GemmLayerInfo, w: &[f32], b: Option<&[f32]>| -> Option<Box<dyn GemmKernel>> {
            let spec = specs.get(&info.name)?;
            let bias = b.map(|b| b.to_vec());
            let (k, n) = (info.k(), info.n());
            let out_fmt = |g: QuantGemm| {
                if info.last {
                    g.with_out_format(NumFormat::FP32)
                } else {
                    g
                }
            };
            Some(match spec {
                LayerSpec::Uniform { grids, bits, act } => {
                    let qw = QuantizedWeights::new(w, k, n, grids.clone(), *bits);
                    match act {
                        Some(a) => Box::new(out_fmt(QuantGemm::new(&qw, bias, *a))),
                        None => Box::new(WeightOnlyGemm::new(&qw, bias)),
                    }
                }
                LayerSpec::Binary { ternary, act, w } => {
                    let qw = binary_weights(w, k, n, *ternary);
                    match act {
                        ActSpec::Sign { mu, beta } if !*ternary => {
                            let alpha = qw.grids.iter().map(|g| g.scale).collect();
                            Box::new(XnorGemm::new(w, k, n, alpha, bias, *mu, *beta))
                        }
                        _ => Box::new(out_fmt(QuantGemm::new(&qw, bias, *act))),
                    }
                }
            })
        };
    let mut deployed = net.to_deployed_with(&factory);
    deployed.name = format!("{}/{label}", ctx.model.label());
    let total_w: usize = net.gemm_layers().iter().map(|l| l.k() * l.n()).sum();
    let mut metrics = BTreeMap::new();
    metrics.insert(
        "bits_per_weight".into(),
        deployed.weight_bits() / total_w.max(1) as f64,
    );
    metrics.insert("quantized_layers".into(), specs.len() as f64);
    Compressed {
        deployed,
        metrics,
        notes: Vec::new(),
    }
}
