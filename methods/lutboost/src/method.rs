//! The `lutboost` method: parameters, validation against the model, and the stage pipeline;
//! and what the three LUT methods of this crate share (settings, calibration, fine-tuning
//! recipe, deployment, measured metrics).

use std::collections::BTreeMap;

use compbench_core::seed::derive;
use compbench_core::{ParamError, ParamSpec, Params};
use compbench_nn::deployed::{Captured, DeployedModel, GemmKernel};
use compbench_nn::method::{Compressed, Method, MethodCtx, MethodError};
use compbench_nn::models::{GemmLayerInfo, GemmShape, ModelConfig, Network};
use compbench_nn::train::TrainConfig;

use crate::kernel::LutGemm;
use crate::layer::{LayerSpec, LutConfig, LutLayerParams, LutParams};
use crate::metric::VqMetric;
use crate::stages::{
    ReconOptions, calibration_rows, centroid_reconstruction, init_kmeans, joint_finetune,
};
use crate::table::{TableBits, TableScale};

/// The registry's handle.
pub static LUTBOOST: LutBoost = LutBoost;

/// LUT-DLA's LUTBoost.
#[derive(Debug, Clone, Copy, Default)]
pub struct LutBoost;

/// Which layers convert.
pub const LAYER_SETS: &[&str] = &["inner", "all"];

/// Parameters the three LUT methods of this crate share (same names, ranges and defaults).
pub(crate) const P_V: ParamSpec = ParamSpec::int(
    "v",
    4,
    1,
    64,
    "sub-vector length (K/v subspaces per layer); must divide each converted layer's K",
);
pub(crate) const P_V_CONV: ParamSpec = ParamSpec::int(
    "v_conv",
    0,
    0,
    64,
    "sub-vector length for convolutions (0 = v); 9 makes a subspace one input channel's 3×3 patch",
);
pub(crate) const P_C: ParamSpec = ParamSpec::int(
    "c",
    16,
    2,
    256,
    "centroids per subspace (the AVX2 shuffle kernel covers c ≤ 32)",
);
pub(crate) const P_METRIC: ParamSpec = ParamSpec::choice(
    "metric",
    "l2",
    VqMetric::NAMES,
    "similarity metric of the centroid search",
);
pub(crate) const P_LAYERS: ParamSpec = ParamSpec::choice(
    "layers",
    "inner",
    LAYER_SETS,
    "converted layers: inner = all but the first and the classifier; all = every GEMM layer",
);
pub(crate) const P_STAGES: ParamSpec = ParamSpec::int(
    "stages",
    4,
    1,
    4,
    "LUTBoost stages run, cumulative: 1 k-means init, 2 + centroid reconstruction, 3 + joint fine-tune, 4 + table quantization",
);
/// The baselines' wording of LUTBoost's stage-specific parameters (same names, ranges and
/// defaults; the docs do not mention stages they do not have).
pub(crate) const P_TABLE_BITS_PLAIN: ParamSpec = ParamSpec::int(
    "table_bits",
    8,
    8,
    16,
    "table width: 8 or 16 (int8 / int16 tables)",
);
pub(crate) const P_TABLE_SCALE_PLAIN: ParamSpec = ParamSpec::choice(
    "table_scale",
    "per_column",
    TableScale::NAMES,
    "table scale granularity",
);
pub(crate) const P_CALIB_IMAGES_PLAIN: ParamSpec = ParamSpec::int(
    "calib_images",
    512,
    8,
    60_000,
    "training images used for calibration",
);
pub(crate) const P_KMEANS_ITERS_PLAIN: ParamSpec =
    ParamSpec::int("kmeans_iters", 20, 1, 1000, "k-means Lloyd iterations");
pub(crate) const P_FT_IMAGES_PLAIN: ParamSpec = ParamSpec::int(
    "ft_images",
    0,
    0,
    10_000_000,
    "training images per fine-tuning epoch (0 = the run's recipe; quick suites shorten it)",
);
pub(crate) const P_TEMP_INIT_PLAIN: ParamSpec = ParamSpec::float(
    "temp_init",
    1.0,
    1e-6,
    1e6,
    "initial inverse temperature of the soft assignment (learned)",
);
pub(crate) const P_TABLE_BITS: ParamSpec =
    ParamSpec::int("table_bits", 8, 8, 16, "stage-4 table width: 8 or 16");
pub(crate) const P_TABLE_SCALE: ParamSpec = ParamSpec::choice(
    "table_scale",
    "per_column",
    TableScale::NAMES,
    "stage-4 table scale granularity",
);
pub(crate) const P_CALIB_IMAGES: ParamSpec = ParamSpec::int(
    "calib_images",
    512,
    8,
    60_000,
    "training images used for calibration (stages 1-2)",
);
pub(crate) const P_CALIB_ROWS: ParamSpec = ParamSpec::int(
    "calib_rows",
    16_384,
    64,
    1_000_000,
    "at most this many calibration rows per layer",
);
pub(crate) const P_KMEANS_ITERS: ParamSpec =
    ParamSpec::int("kmeans_iters", 20, 1, 1000, "stage 1: Lloyd iterations");
pub(crate) const P_S2_STEPS: ParamSpec =
    ParamSpec::int("s2_steps", 300, 0, 100_000, "stage 2: Adam steps per layer");
pub(crate) const P_S2_LR: ParamSpec =
    ParamSpec::float("s2_lr", 2e-3, 0.0, 1.0, "stage 2: learning rate");
pub(crate) const P_S2_BATCH: ParamSpec =
    ParamSpec::int("s2_batch", 512, 1, 65_536, "stage 2: rows per step");
pub(crate) const P_S3_EPOCHS: ParamSpec = ParamSpec::int(
    "s3_epochs",
    3,
    0,
    1000,
    "stage 3: fine-tuning epochs (capped by the run's recipe under --quick)",
);
pub(crate) const P_FT_IMAGES: ParamSpec = ParamSpec::int(
    "ft_images",
    0,
    0,
    10_000_000,
    "stages 3-4: training images per fine-tuning epoch (0 = the run's recipe; quick suites shorten it)",
);
pub(crate) const P_S3_LR: ParamSpec = ParamSpec::float(
    "s3_lr",
    5e-4,
    0.0,
    1.0,
    "stage 3: peak learning rate (cosine schedule)",
);
pub(crate) const P_S4_EPOCHS: ParamSpec = ParamSpec::int(
    "s4_epochs",
    0,
    0,
    1000,
    "stage 4: fine-tuning epochs with quantized tables in the hard path",
);
pub(crate) const P_TEMP_INIT: ParamSpec = ParamSpec::float(
    "temp_init",
    1.0,
    1e-6,
    1e6,
    "initial inverse temperature of the soft assignment (learned in stages 2-4)",
);

pub const PARAMS: &[ParamSpec] = &[
    P_V,
    P_V_CONV,
    P_C,
    P_METRIC,
    P_LAYERS,
    P_STAGES,
    P_TABLE_BITS,
    P_TABLE_SCALE,
    P_CALIB_IMAGES,
    P_CALIB_ROWS,
    P_KMEANS_ITERS,
    P_S2_STEPS,
    P_S2_LR,
    P_S2_BATCH,
    P_S3_EPOCHS,
    P_FT_IMAGES,
    P_S3_LR,
    P_S4_EPOCHS,
    P_TEMP_INIT,
];

/// Parsed parameters.
#[derive(Debug, Clone)]
pub struct Settings {
    pub v: usize,
    pub v_conv: usize,
    pub c: usize,
    pub metric: VqMetric,
    pub all_layers: bool,
    pub stages: usize,
    pub bits: TableBits,
    pub scale: TableScale,
}

impl Settings {
    pub fn from_params(p: &Params) -> Result<Settings, ParamError> {
        let bits = match p.int("table_bits") {
            8 => TableBits::I8,
            16 => TableBits::I16,
            b => {
                return Err(ParamError::Constraint {
                    param: "table_bits".into(),
                    message: format!("{b} is not a supported table width (allowed: 8 or 16)"),
                });
            }
        };
        let v = p.int("v") as usize;
        let v_conv = match p.int("v_conv") as usize {
            0 => v,
            x => x,
        };
        // `metric` and `stages` are LUTBoost's (and LUT-NN's metric); the MADDNESS baseline has
        // neither: its tree encoder is priced as L2, and it has no stages.
        let metric = match p.get("metric") {
            Some(_) => VqMetric::parse(p.str("metric")).expect("checked by ParamSpec"),
            None => VqMetric::L2,
        };
        Ok(Settings {
            v,
            v_conv,
            c: p.int("c") as usize,
            metric,
            all_layers: p.str("layers") == "all",
            stages: p.get("stages").map_or(4, |_| p.int("stages") as usize),
            bits,
            scale: TableScale::parse(p.str("table_scale")).expect("checked by ParamSpec"),
        })
    }

    /// Whether `layer` converts.
    pub fn converts(&self, layer: &GemmLayerInfo) -> bool {
        self.all_layers || !(layer.first || layer.last)
    }

    /// Sub-vector length used for `layer`.
    pub fn v_for(&self, layer: &GemmLayerInfo) -> usize {
        match layer.shape {
            GemmShape::Conv(_) => self.v_conv,
            GemmShape::Linear { .. } => self.v,
        }
    }

    /// Converted layers, or a constraint error naming the first layer whose K the sub-vector
    /// length does not divide (no padding rule: a padded subspace would change what the
    /// hardware model prices).
    pub fn specs(&self, layers: &[GemmLayerInfo]) -> Result<Vec<LayerSpec>, ParamError> {
        let mut out = Vec::new();
        for l in layers.iter().filter(|l| self.converts(l)) {
            let v = self.v_for(l);
            if !l.k().is_multiple_of(v) {
                let param = if matches!(l.shape, GemmShape::Conv(_)) && self.v_conv != self.v {
                    "v_conv"
                } else {
                    "v"
                };
                let divisors: Vec<String> = (1..=l.k().min(64))
                    .filter(|d| l.k() % d == 0)
                    .map(|d| d.to_string())
                    .collect();
                return Err(ParamError::Constraint {
                    param: param.into(),
                    message: format!(
                        "{v} does not divide K = {} of layer `{}` (sub-vectors are not padded); divisors of {} up to 64: {}",
                        l.k(),
                        l.name,
                        l.k(),
                        divisors.join(", ")
                    ),
                });
            }
            out.push(LayerSpec {
                name: l.name.clone(),
                k: l.k(),
                n: l.n(),
                v,
                c: self.c,
                metric: self.metric,
            });
        }
        if out.is_empty() {
            return Err(ParamError::Constraint {
                param: "layers".into(),
                message: "no layer would be converted (the model has only a first and a classifier layer; use layers: all)"
                    .into(),
            });
        }
        Ok(out)
    }
}

/// GEMM layers of a model configuration (a freshly initialized network's; the shapes do not
/// depend on the weights).
pub fn model_layers(model: &ModelConfig) -> Vec<GemmLayerInfo> {
    Network::new(model, &compbench_nn::device(), 0).gemm_layers()
}

/// Calibration rows of the converted layers (the deployed float baseline's GEMM inputs), with
/// `calib_images` / `calib_rows` capped under `--quick`. Shared by the three LUT methods.
pub(crate) fn calibrate(
    ctx: &MethodCtx,
    params: &Params,
    specs: &[LayerSpec],
    who: &str,
) -> Result<BTreeMap<String, Captured>, MethodError> {
    let names: Vec<String> = specs.iter().map(|l| l.name.clone()).collect();
    let calib_images = params.int("calib_images") as usize;
    let calib_rows = params.int("calib_rows") as usize;
    let (calib_images, calib_rows) = if ctx.quick {
        (calib_images.min(256), calib_rows.min(8192))
    } else {
        (calib_images, calib_rows)
    };
    (ctx.log)(&format!(
        "{who}: calibrating {} layers on {calib_images} images",
        specs.len()
    ));
    let calib = calibration_rows(
        ctx.baseline,
        &ctx.data.train,
        calib_images,
        &names,
        calib_rows,
        derive(ctx.seed, &["calib"]),
    );
    for n in &names {
        if !calib.contains_key(n) {
            return Err(MethodError::Failed(format!(
                "no calibration rows captured for layer `{n}`"
            )));
        }
    }
    Ok(calib)
}

/// A fine-tuning recipe of `epochs` epochs at peak `lr` (cosine, no warm-up), on
/// `ft_images` training images per epoch when set; epochs capped by the run's recipe under
/// `--quick`.
pub(crate) fn finetune_config(
    ctx: &MethodCtx,
    params: &Params,
    epochs: usize,
    lr: f64,
) -> TrainConfig {
    let epochs = if ctx.quick {
        epochs.min(ctx.train.epochs.max(1))
    } else {
        epochs
    };
    let train_subset = match params.int("ft_images") as usize {
        0 => ctx.train.train_subset,
        n => Some(ctx.train.train_subset.map_or(n, |s| s.min(n))),
    };
    TrainConfig {
        epochs,
        lr,
        warmup_epochs: 0.0,
        label_smoothing: 0.0,
        train_subset,
        ..ctx.train.clone()
    }
}

/// Deploy trained centroids (`[s][j][d]` per converted layer, in `specs` order) as LUT-GEMM
/// layers of `net` (fp16 centroids, tables at `bits`); every other layer stays dense.
pub(crate) fn deploy_centroids(
    net: &Network,
    specs: &[LayerSpec],
    centroids: &[Vec<f32>],
    bits: TableBits,
    scale: TableScale,
) -> DeployedModel {
    let by_name: BTreeMap<&str, (&LayerSpec, &Vec<f32>)> = specs
        .iter()
        .zip(centroids)
        .map(|(l, c)| (l.name.as_str(), (l, c)))
        .collect();
    let factory =
        |info: &GemmLayerInfo, w: &[f32], b: Option<&[f32]>| -> Option<Box<dyn GemmKernel>> {
            let (spec, cent) = by_name.get(info.name.as_str())?;
            Some(Box::new(LutGemm::new_f16_centroids(
                spec.metric,
                spec.v,
                spec.c,
                cent,
                w,
                spec.n,
                b,
                bits,
                scale,
            )))
        };
    net.to_deployed_with(&factory)
}

/// The metrics every LUT method reports, measured on what was deployed: converted layers and
/// their share of the MACs; the index bits the LUT layers' encoders emit per activation element
/// (conv layers at their own v_conv), and the bits the kernels store (tables, centroids or
/// trees, dense weights) per float weight.
pub(crate) fn deployed_metrics(
    s: &Settings,
    layers: &[GemmLayerInfo],
    specs: &[LayerSpec],
    deployed: &DeployedModel,
    metrics: &mut BTreeMap<String, f64>,
) {
    let macs = |l: &&GemmLayerInfo| (l.rows_per_image * l.k() * l.n()) as f64;
    let macs_all: f64 = layers.iter().map(|l| macs(&l)).sum();
    let macs_conv: f64 = layers
        .iter()
        .filter(|l| s.converts(l))
        .map(|l| macs(&l))
        .sum();
    metrics.insert("converted_layers".into(), specs.len() as f64);
    metrics.insert(
        "converted_mac_fraction".into(),
        macs_conv / macs_all.max(1.0),
    );
    let workload = deployed.workload(1);
    if let Some(b) = crate::measured::bits_per_activation(&workload) {
        metrics.insert("bits_per_activation".into(), b);
    }
    if let Some(b) = crate::measured::bits_per_weight(deployed) {
        metrics.insert("bits_per_weight".into(), b);
    }
}

/// The checks every LUT method (LUTBoost and its baselines) runs at validation: the shared
/// settings parse and give each of `model`'s converted layers a valid VQ spec.
pub(crate) fn check_settings(params: &Params, model: &ModelConfig) -> Result<Settings, ParamError> {
    let s = Settings::from_params(params)?;
    s.specs(&model_layers(model))?;
    Ok(s)
}

impl Method for LutBoost {
    fn id(&self) -> &'static str {
        "lutboost"
    }

    fn kernel_benches(&self, quick: bool) -> Vec<compbench_nn::bench::KernelBenchRow> {
        crate::bench::bench_rows(quick)
    }

    fn describe(&self) -> &'static str {
        "LUT-DLA's LUTBoost: activations vector-quantized (v, c, L2/L1/Chebyshev), GEMMs as table look-ups, 4 training stages"
    }

    fn family(&self) -> Option<compbench_core::Family> {
        Some(compbench_core::Family::VectorQuantization)
    }

    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }

    fn check(&self, params: &Params, model: &ModelConfig) -> Result<(), ParamError> {
        check_settings(params, model).map(|_| ())
    }

    fn apply(&self, ctx: &MethodCtx, params: &Params) -> Result<Compressed, MethodError> {
        let s = Settings::from_params(params)?;
        let net = ctx.baseline.clone();
        let layers = net.gemm_layers();
        let specs = s.specs(&layers)?;
        let log = ctx.log;
        let mut metrics = BTreeMap::new();
        let mut notes = Vec::new();

        // Stage 1: k-means on calibration activations.
        let calib = calibrate(ctx, params, &specs, "lutboost")?;
        let t0 = std::time::Instant::now();
        let cents = init_kmeans(
            &specs,
            &calib,
            params.int("kmeans_iters") as usize,
            derive(ctx.seed, &["kmeans"]),
        );
        let temp_init = params.float("temp_init") as f32;
        let lut = LutParams {
            layers: specs
                .iter()
                .zip(&cents)
                .map(|(l, c)| LutLayerParams::new(c, l.nc(), l.c, l.v, temp_init, ctx.device))
                .collect(),
        };
        let mut cfg = LutConfig {
            layers: specs.clone(),
            table: None,
        };
        log(&format!(
            "lutboost stage 1: k-means in {:.1} s",
            t0.elapsed().as_secs_f64()
        ));
        let t0 = std::time::Instant::now();

        // Stage 2: centroid-only reconstruction (always measured, trained when stages ≥ 2).
        let steps = if s.stages >= 2 {
            params.int("s2_steps") as usize
        } else {
            0
        };
        let ropts = ReconOptions {
            steps,
            lr: params.float("s2_lr"),
            batch: params.int("s2_batch") as usize,
        };
        let (mut lut, mse0, mse1) = centroid_reconstruction(
            &cfg,
            lut,
            &net,
            &calib,
            ropts,
            ctx.device,
            derive(ctx.seed, &["stage2"]),
        );
        metrics.insert("recon_nmse_stage1".into(), mse0);
        if s.stages >= 2 {
            metrics.insert("recon_nmse_stage2".into(), mse1);
            log(&format!(
                "lutboost stage 2: normalized reconstruction MSE {mse0:.4} -> {mse1:.4} in {:.1} s",
                t0.elapsed().as_secs_f64()
            ));
        }
        drop(calib);

        // Stage 3: joint fine-tune on the task loss.
        let mut net = net;
        let finetune = |epochs: usize, lr: f64| finetune_config(ctx, params, epochs, lr);
        if s.stages >= 3 {
            let tcfg = finetune(params.int("s3_epochs") as usize, params.float("s3_lr"));
            if tcfg.epochs > 0 {
                log(&format!(
                    "lutboost stage 3: joint fine-tune, {} epochs",
                    tcfg.epochs
                ));
                (net, lut) = joint_finetune(
                    net,
                    lut,
                    &cfg,
                    &tcfg,
                    &ctx.data.train,
                    ctx.device,
                    derive(ctx.seed, &["stage3"]),
                    log,
                );
            }
        }

        // Stage 4: quantized tables (optionally fine-tuned with them in the hard path).
        let bits = if s.stages >= 4 {
            s.bits
        } else {
            TableBits::F32
        };
        if s.stages >= 4 {
            cfg.table = Some((s.bits, s.scale));
            let tcfg = finetune(
                params.int("s4_epochs") as usize,
                params.float("s3_lr") * 0.2,
            );
            if tcfg.epochs > 0 {
                log(&format!(
                    "lutboost stage 4: fine-tune with int{} tables, {} epochs",
                    s.bits.bits(),
                    tcfg.epochs
                ));
                (net, lut) = joint_finetune(
                    net,
                    lut,
                    &cfg,
                    &tcfg,
                    &ctx.data.train,
                    ctx.device,
                    derive(ctx.seed, &["stage4"]),
                    log,
                );
            }
        } else {
            notes.push(format!(
                "stages = {}: tables stay f32 (table quantization is stage 4)",
                s.stages
            ));
        }

        // Deploy: LUT kernels for converted layers, dense for the rest.
        let cents: Vec<Vec<f32>> = lut.layers.iter().map(|p| p.centroid_values()).collect();
        let mut deployed = deploy_centroids(&net, &specs, &cents, bits, s.scale);
        deployed.name = format!("{}/lutboost", ctx.model.label());
        deployed_metrics(&s, &layers, &specs, &deployed, &mut metrics);
        let taus: Vec<f64> = lut.layers.iter().map(|p| p.tau() as f64).collect();
        metrics.insert(
            "tau_mean".into(),
            taus.iter().sum::<f64>() / taus.len().max(1) as f64,
        );
        notes.push("training backward is LUT-NN's soft assignment (straight-through); the forward is the exact hard argmin".into());
        Ok(Compressed {
            deployed,
            metrics,
            notes,
        })
    }
}

/// Every method this crate provides (the registry lists them): LUTBoost and the two earlier
/// LUT methods it is compared with, on the same kernel and Workload IR.
pub fn all() -> &'static [&'static dyn Method] {
    static ALL: [&dyn Method; 3] = [&LUTBOOST, &crate::lutnn::LUT_NN, &crate::maddness::MADDNESS];
    &ALL
}
