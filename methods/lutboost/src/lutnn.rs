//! The `lut-nn` baseline: LUT-NN (Tang et al., MLSys 2023; lutnn/blink-mm), the LUT training
//! LUTBoost builds on, run on this crate's LUT-GEMM kernel and Workload IR so the `lut`
//! hardware model prices it exactly like LUTBoost.
//!
//! What it does (shared/references/lut-dla.md §2.2): k-means centroids per layer from
//! calibration activations, then **one** end-to-end fine-tune of centroids, weights and a
//! learned softmax temperature on the task loss: the forward is the hard argmin over the
//! *quantized* fused table (LUT-NN quantizes C·W in its hard path from the first step), the
//! backward is the soft assignment softmax(−d·τ) (the straight-through estimator). No
//! centroid-only reconstruction stage and no separate table-quantization stage: what LUTBoost's
//! multistage pipeline adds is exactly the difference between the two methods.
//!
//! Where this differs from LUT-NN's code, on purpose or by necessity:
//! * the table is int8 per output column (LUTBoost's default, `table_scale: per_layer` gives
//!   LUT-NN's per-tensor scale); LUT-NN rounds to a 5-bit grid [−16, 15] stored in int8;
//! * τ = exp(100·t) (this crate's parameterization, see `layer.rs`), not softplus(t) + 1, and
//!   L2 uses the squared distance in the softmax (LUT-NN's `cdist` is the distance itself);
//! * Adam at a cosine-scheduled peak `lr` (LUT-NN: Adam 1e-3, temperature lr 1e-1, which the
//!   ×100 gain reproduces), for `epochs` epochs of `ft_images` images: the suite gives it
//!   LUTBoost's stage-3 budget.

use std::collections::BTreeMap;

use compbench_core::seed::derive;
use compbench_core::{ParamError, ParamSpec, Params};
use compbench_nn::method::{Compressed, Method, MethodCtx, MethodError};
use compbench_nn::models::ModelConfig;

use crate::layer::{LutConfig, LutLayerParams, LutParams};
use crate::method::{
    P_C, P_CALIB_IMAGES_PLAIN, P_CALIB_ROWS, P_FT_IMAGES_PLAIN, P_KMEANS_ITERS_PLAIN, P_LAYERS,
    P_METRIC, P_TABLE_BITS_PLAIN, P_TABLE_SCALE_PLAIN, P_TEMP_INIT_PLAIN, P_V, P_V_CONV, Settings,
    calibrate, check_settings, deploy_centroids, deployed_metrics, finetune_config,
};
use crate::stages::{init_kmeans, joint_finetune};

/// The registry's handle.
pub static LUT_NN: LutNn = LutNn;

/// LUT-NN as a baseline.
#[derive(Debug, Clone, Copy, Default)]
pub struct LutNn;

pub const PARAMS: &[ParamSpec] = &[
    P_V,
    P_V_CONV,
    P_C,
    P_METRIC,
    P_LAYERS,
    P_TABLE_BITS_PLAIN,
    P_TABLE_SCALE_PLAIN,
    P_CALIB_IMAGES_PLAIN,
    P_CALIB_ROWS,
    P_KMEANS_ITERS_PLAIN,
    ParamSpec::int(
        "epochs",
        3,
        0,
        1000,
        "end-to-end fine-tuning epochs (capped by the run's recipe under --quick)",
    ),
    P_FT_IMAGES_PLAIN,
    ParamSpec::float(
        "lr",
        1e-3,
        0.0,
        1.0,
        "peak learning rate (cosine schedule); LUT-NN's recipe: Adam 1e-3",
    ),
    P_TEMP_INIT_PLAIN,
];

impl Method for LutNn {
    fn id(&self) -> &'static str {
        "lut-nn"
    }

    fn describe(&self) -> &'static str {
        "LUT-NN (Tang et al. 2023) baseline: k-means centroids, then one end-to-end soft-PQ fine-tune (centroids, weights, learned temperature, quantized tables in the forward); LUTBoost's kernel"
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
        let mut metrics = BTreeMap::new();

        let calib = calibrate(ctx, params, &specs, "lut-nn")?;
        let t0 = std::time::Instant::now();
        let cents = init_kmeans(
            &specs,
            &calib,
            params.int("kmeans_iters") as usize,
            derive(ctx.seed, &["kmeans"]),
        );
        drop(calib);
        (ctx.log)(&format!(
            "lut-nn: k-means in {:.1} s",
            t0.elapsed().as_secs_f64()
        ));
        let temp_init = params.float("temp_init") as f32;
        let mut lut = LutParams {
            layers: specs
                .iter()
                .zip(&cents)
                .map(|(l, c)| LutLayerParams::new(c, l.nc(), l.c, l.v, temp_init, ctx.device))
                .collect(),
        };
        // LUT-NN's hard forward uses the quantized fused table from the first step.
        let cfg = LutConfig {
            layers: specs.clone(),
            table: Some((s.bits, s.scale)),
        };
        let mut net = net;
        let tcfg = finetune_config(
            ctx,
            params,
            params.int("epochs") as usize,
            params.float("lr"),
        );
        if tcfg.epochs > 0 {
            (ctx.log)(&format!(
                "lut-nn: end-to-end soft-PQ fine-tune, {} epochs",
                tcfg.epochs
            ));
            (net, lut) = joint_finetune(
                net,
                lut,
                &cfg,
                &tcfg,
                &ctx.data.train,
                ctx.device,
                derive(ctx.seed, &["lut-nn"]),
                ctx.log,
            );
        }

        let cents: Vec<Vec<f32>> = lut.layers.iter().map(|p| p.centroid_values()).collect();
        let mut deployed = deploy_centroids(&net, &specs, &cents, s.bits, s.scale);
        deployed.name = format!("{}/lut-nn", ctx.model.label());
        deployed_metrics(&s, &layers, &specs, &deployed, &mut metrics);
        let taus: Vec<f64> = lut.layers.iter().map(|p| p.tau() as f64).collect();
        metrics.insert(
            "tau_mean".into(),
            taus.iter().sum::<f64>() / taus.len().max(1) as f64,
        );
        Ok(Compressed {
            deployed,
            metrics,
            notes: vec![
                "LUT-NN-style baseline: k-means then one end-to-end soft-PQ fine-tune with quantized tables in the forward; no centroid reconstruction stage".into(),
            ],
        })
    }
}
