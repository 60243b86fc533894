//! The `maddness` baseline: MADDNESS (Blalock & Guttag, ICML 2021), approximate matrix
//! multiplication with a learned hash, applied to every converted GEMM of a trained network
//! with **no training of the network**.
//!
//! Per converted layer, from the float baseline's calibration rows A (`rows × K`):
//! 1. one hash tree per codebook of v inputs ([`crate::tree::learn_layer`]: `log2 c` levels,
//!    split dimension by largest SSE reduction, thresholds at the bucket medians);
//! 2. prototypes = bucket means, giving tables T = P·W;
//! 3. MADDNESS's ridge refinement of the prototypes over all K inputs, solved for the tables
//!    against the layer's float output A·W ([`crate::tree::ridge_tables`], `ridge` = λ,
//!    `ridge_sweeps` = 0 keeps the bucket means).
//!
//! Deployed as this crate's [`LutGemm`] with a [`TreeEncoder`]: the look-up-accumulate and the
//! table quantization (int8 per column by default) are LUTBoost's; the encoder is the tree.
//! The Workload IR says (v, c, L2, table bits, 16-bit codebook entries), so the `lut` model
//! prices the encoder as an L2 centroid search: an upper bound on a tree's cost (it has no
//! tree-encoder unit). MADDNESS's 8-bit averaging accumulation (`vpavgb`) is not reproduced:
//! the sums stay exact, as LUTBoost's do.

use std::collections::BTreeMap;

use compbench_core::{ParamError, ParamSpec, Params};
use compbench_nn::deployed::GemmKernel;
use compbench_nn::kernels::{PackedB, sgemm_packed};
use compbench_nn::method::{Compressed, Method, MethodCtx, MethodError};
use compbench_nn::models::{GemmLayerInfo, ModelConfig};
use rayon::prelude::*;

use crate::kernel::{ActEncoder, LutGemm};
use crate::method::{
    P_CALIB_IMAGES_PLAIN, P_CALIB_ROWS, P_LAYERS, P_TABLE_BITS_PLAIN, P_TABLE_SCALE_PLAIN, P_V,
    P_V_CONV, Settings, calibrate, check_settings, deployed_metrics,
};
use crate::table::build_f32;
use crate::tree::{TreeEncoder, learn_layer, ridge_tables};

/// The registry's handle.
pub static MADDNESS: Maddness = Maddness;

/// MADDNESS as a baseline.
#[derive(Debug, Clone, Copy, Default)]
pub struct Maddness;

pub const PARAMS: &[ParamSpec] = &[
    P_V,
    P_V_CONV,
    ParamSpec::int(
        "c",
        16,
        2,
        256,
        "buckets per codebook, a power of two: a tree of log2 c levels (MADDNESS: 16, 4 levels)",
    ),
    P_LAYERS,
    P_TABLE_BITS_PLAIN,
    P_TABLE_SCALE_PLAIN,
    P_CALIB_IMAGES_PLAIN,
    P_CALIB_ROWS,
    ParamSpec::float(
        "ridge",
        1.0,
        0.0,
        1e12,
        "λ of MADDNESS's ridge refinement of the prototypes (over all K inputs)",
    ),
    ParamSpec::int(
        "ridge_sweeps",
        4,
        0,
        1000,
        "block Gauss-Seidel sweeps of the ridge solve (0 = bucket means, no refinement)",
    ),
];

/// `c` as a tree depth, or a constraint error.
fn levels(c: usize) -> Result<usize, ParamError> {
    if c.is_power_of_two() && (2..=256).contains(&c) {
        Ok(c.trailing_zeros() as usize)
    } else {
        Err(ParamError::Constraint {
            param: "c".into(),
            message: format!(
                "{c} is not a power of two: a balanced tree has 2^levels buckets (allowed: 2, 4, 8, 16, 32, 64, 128, 256)"
            ),
        })
    }
}

/// Per-column variance of `y` (`rows × n`), averaged over the columns.
fn mean_column_variance(y: &[f32], rows: usize, n: usize) -> f64 {
    if rows == 0 || n == 0 {
        return 1.0;
    }
    let mut s = vec![0.0f64; n];
    let mut q = vec![0.0f64; n];
    for r in y.chunks_exact(n) {
        for j in 0..n {
            s[j] += r[j] as f64;
            q[j] += (r[j] as f64) * (r[j] as f64);
        }
    }
    let rn = rows as f64;
    (0..n)
        .map(|j| (q[j] / rn - (s[j] / rn).powi(2)).max(0.0))
        .sum::<f64>()
        / n as f64
}

impl Method for Maddness {
    fn id(&self) -> &'static str {
        "maddness"
    }

    fn describe(&self) -> &'static str {
        "MADDNESS (Blalock & Guttag 2021) baseline: hash-tree encoder (log2 c levels), bucket-mean prototypes ridge-refined, no training; LUTBoost's look-up kernel"
    }

    fn family(&self) -> Option<compbench_core::Family> {
        Some(compbench_core::Family::VectorQuantization)
    }

    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }

    fn check(&self, params: &Params, model: &ModelConfig) -> Result<(), ParamError> {
        let s = check_settings(params, model)?;
        levels(s.c).map(|_| ())
    }

    fn apply(&self, ctx: &MethodCtx, params: &Params) -> Result<Compressed, MethodError> {
        let s = Settings::from_params(params)?;
        let levels = levels(s.c)?;
        let net = ctx.baseline;
        let layers = net.gemm_layers();
        let specs = s.specs(&layers)?;
        let lambda = params.float("ridge");
        let sweeps = params.int("ridge_sweeps") as usize;
        let calib = calibrate(ctx, params, &specs, "maddness")?;
        let t0 = std::time::Instant::now();

        let mut kernels: BTreeMap<String, LutGemm> = BTreeMap::new();
        let (mut nmse_means, mut nmse_ridge) = (0.0, 0.0);
        for spec in &specs {
            let cap = &calib[&spec.name];
            let (rows, k, n, v, c) = (cap.rows, spec.k, spec.n, spec.v, spec.c);
            let nc = k / v;
            let (w, _) = net.gemm_weights(&spec.name).ok_or_else(|| {
                MethodError::Failed(format!("no weights for layer `{}`", spec.name))
            })?;
            let fits = learn_layer(&cap.data, rows, k, v, levels);
            let tree = TreeEncoder::from_fits(v, levels, &fits);
            let means: Vec<f32> = fits.iter().flat_map(|f| f.means.iter().copied()).collect();
            let mut tables = build_f32(&means, &w, nc, c, v, n);
            // Codes of the calibration rows, `[row][s]`, and the float output A·W.
            let mut codes = vec![0u8; rows * nc];
            codes
                .par_chunks_mut(nc.max(1))
                .enumerate()
                .for_each(|(r, cr)| {
                    let xr = &cap.data[r * k..(r + 1) * k];
                    for (s_, code) in cr.iter_mut().enumerate() {
                        *code = tree.code(s_, &xr[s_ * v..(s_ + 1) * v]);
                    }
                });
            let mut y = vec![0.0f32; rows * n];
            sgemm_packed(rows, &cap.data, &PackedB::new(k, n, &w), &mut y);
            let history = ridge_tables(&codes, rows, nc, c, &y, n, lambda, sweeps, &mut tables);
            let scale = (rows * n).max(1) as f64 * mean_column_variance(&y, rows, n).max(1e-12);
            nmse_means += history[0].0 / scale;
            nmse_ridge += history.last().expect("the starting point").0 / scale;
            kernels.insert(
                spec.name.clone(),
                LutGemm::from_tables(ActEncoder::Tree(tree), tables, n, None, s.bits, s.scale),
            );
        }
        drop(calib);
        let nl = specs.len().max(1) as f64;
        (ctx.log)(&format!(
            "maddness: trees + ridge ({sweeps} sweeps) on {} layers in {:.1} s, normalized reconstruction MSE {:.4} -> {:.4}",
            specs.len(),
            t0.elapsed().as_secs_f64(),
            nmse_means / nl,
            nmse_ridge / nl
        ));

        let factory =
            |info: &GemmLayerInfo, _w: &[f32], b: Option<&[f32]>| -> Option<Box<dyn GemmKernel>> {
                let mut k = kernels.get(info.name.as_str())?.clone();
                k.bias = b.map(<[f32]>::to_vec);
                Some(Box::new(k))
            };
        let mut deployed = net.to_deployed_with(&factory);
        deployed.name = format!("{}/maddness", ctx.model.label());
        let mut metrics = BTreeMap::new();
        metrics.insert("recon_nmse_means".into(), nmse_means / nl);
        metrics.insert("recon_nmse_ridge".into(), nmse_ridge / nl);
        deployed_metrics(&s, &layers, &specs, &deployed, &mut metrics);
        Ok(Compressed {
            deployed,
            metrics,
            notes: vec![
                "MADDNESS-style baseline: hash-tree encoder, ridge-refined prototypes, no training; priced as an L2 centroid search (the IR has no tree encoder)".into(),
            ],
        })
    }
}
