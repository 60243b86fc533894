//! The LUTBoost stages (LUT-DLA §V, reconstructed in shared/references/lut-dla.md §1.3):
//! 1. k-means centroid initialization on calibration activations ([`init_kmeans`]);
//! 2. centroid-only training against a layer-wise reconstruction loss, weights frozen
//!    ([`centroid_reconstruction`]);
//! 3. joint fine-tuning of centroids and weights on the task loss, hard argmin forward and
//!    soft-assignment backward ([`joint_finetune`]);
//! 4. table quantization to int8 / int16 (applied when the deployed tables are built, and
//!    optionally fine-tuned with the quantized tables in the hard path).

use std::collections::BTreeMap;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use compbench_core::ImageSplit;
use compbench_core::seed::{Rng, derive};
use compbench_nn::deployed::Captured;
use compbench_nn::models::Network;
use compbench_nn::train::{TrainConfig, fit};
use rayon::prelude::*;

use crate::kmeans::{KMeansOptions, kmeans};
use crate::layer::{LayerSpec, LutConfig, LutHooks, LutLayerParams, LutParams, Mode, lut_linear};

/// Input rows of each converted layer, captured from the deployed float baseline (exactly the
/// rows the deployed kernels see, im2col'd for convs), at most `max_rows` per layer (a seeded
/// random subset when there are more).
pub fn calibration_rows(
    baseline: &Network,
    split: &ImageSplit,
    images: usize,
    names: &[String],
    max_rows: usize,
    seed: u64,
) -> BTreeMap<String, Captured> {
    let calib = compbench_nn::data::calibration_subset(
        split,
        images.min(split.len()),
        derive(seed, &["calib-images"]),
    );
    let deployed = baseline.to_deployed();
    let refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
    let mut out = deployed.capture_gemm_inputs(&calib.images, calib.len(), &refs);
    for (name, cap) in out.iter_mut() {
        if cap.rows > max_rows {
            let mut idx: Vec<usize> = (0..cap.rows).collect();
            Rng::new(derive(seed, &["calib", name])).shuffle(&mut idx);
            idx.truncate(max_rows);
            idx.sort_unstable();
            let mut data = Vec::with_capacity(max_rows * cap.k);
            for &r in &idx {
                data.extend_from_slice(&cap.data[r * cap.k..(r + 1) * cap.k]);
            }
            *cap = Captured {
                data,
                rows: max_rows,
                k: cap.k,
            };
        }
    }
    out
}

/// Stage 1: one k-means codebook per subspace of every converted layer. Returns centroids
/// `[s][j][d]` per layer.
pub fn init_kmeans(
    specs: &[LayerSpec],
    calib: &BTreeMap<String, Captured>,
    iters: usize,
    seed: u64,
) -> Vec<Vec<f32>> {
    specs
        .iter()
        .map(|spec| {
            let cap = &calib[&spec.name];
            let (nc, v, c) = (spec.nc(), spec.v, spec.c);
            let per: Vec<Vec<f32>> = (0..nc)
                .into_par_iter()
                .map(|s| {
                    let mut pts = Vec::with_capacity(cap.rows * v);
                    for r in 0..cap.rows {
                        pts.extend_from_slice(
                            &cap.data[r * cap.k + s * v..r * cap.k + (s + 1) * v],
                        );
                    }
                    let seed = derive(seed, &["kmeans", &spec.name, &s.to_string()]);
                    kmeans(
                        &pts,
                        v,
                        KMeansOptions {
                            c,
                            iters,
                            metric: spec.metric,
                            seed,
                        },
                    )
                })
                .collect();
            per.concat()
        })
        .collect()
}

/// Options of stage 2.
#[derive(Debug, Clone, Copy)]
pub struct ReconOptions {
    pub steps: usize,
    pub lr: f64,
    pub batch: usize,
}

/// Stage 2: per layer, train centroids and temperature only (weights frozen) to minimize the
/// MSE between the LUT layer's output (hard forward, soft backward) and the float layer's output
/// on the calibration rows. Returns (mean MSE before, mean MSE after) over the layers, each
/// normalized by the variance of the float output so layers are comparable.
pub fn centroid_reconstruction(
    cfg: &LutConfig,
    params: LutParams,
    net: &Network,
    calib: &BTreeMap<String, Captured>,
    opts: ReconOptions,
    device: &Device,
    seed: u64,
) -> (LutParams, f64, f64) {
    let ad = device.clone().autodiff();
    let mut before = 0.0;
    let mut after = 0.0;
    let mut layers = Vec::new();
    for (spec, p) in cfg.layers.iter().zip(params.layers) {
        let cap = &calib[&spec.name];
        let (w, b) = net
            .gemm_weights(&spec.name)
            .expect("converted layer exists");
        let wt = Tensor::<2>::from_data(TensorData::new(w, [spec.k, spec.n]), &ad);
        let bt = b.map(|b| Tensor::<1>::from_data(TensorData::new(b, [spec.n]), &ad));
        let x_all =
            Tensor::<2>::from_data(TensorData::new(cap.data.clone(), [cap.rows, cap.k]), &ad);
        let y_all = match &bt {
            Some(b) => x_all.clone().matmul(wt.clone()) + b.clone().unsqueeze::<2>(),
            None => x_all.clone().matmul(wt.clone()),
        };
        let var = y_all.clone().var(0).mean().into_scalar::<f32>().max(1e-12) as f64;
        let mse = |p: &LutLayerParams| -> f64 {
            let y = lut_linear(
                spec,
                p,
                cfg.table,
                Mode::Hard,
                x_all.clone(),
                wt.clone(),
                bt.clone(),
            );
            (y - y_all.clone()).square().mean().into_scalar::<f32>() as f64 / var
        };
        let mut m = p.fork(&ad).train();
        before += mse(&m);
        let mut optim = AdamConfig::new().init();
        let mut rng = Rng::new(derive(seed, &["recon", &spec.name]));
        let bs = opts.batch.min(cap.rows).max(1);
        for _ in 0..opts.steps {
            let idx: Vec<i64> = (0..bs).map(|_| rng.below(cap.rows) as i64).collect();
            let it = Tensor::<1, burn::tensor::Int>::from_data(TensorData::new(idx, [bs]), &ad);
            let x = x_all.clone().select(0, it.clone());
            let y = y_all.clone().select(0, it);
            let out = lut_linear(spec, &m, cfg.table, Mode::Ste, x, wt.clone(), bt.clone());
            let loss = (out - y).square().mean();
            let grads = GradientsParams::from_grads(loss.backward(), &m);
            m = optim.step(opts.lr, m, grads);
        }
        after += mse(&m);
        layers.push(m.valid());
    }
    let nl = cfg.layers.len().max(1) as f64;
    (LutParams { layers }, before / nl, after / nl)
}

/// Stage 3 (and stage 4's optional quantized-table fine-tune): train the network's weights and
/// the centroids/temperatures jointly on the task loss through [`LutHooks`].
pub fn joint_finetune(
    net: Network,
    params: LutParams,
    cfg: &LutConfig,
    tcfg: &TrainConfig,
    data: &ImageSplit,
    device: &Device,
    seed: u64,
    log: &(dyn Fn(&str) + Sync),
) -> (Network, LutParams) {
    let forward = |m: &(Network, LutParams), x: Tensor<4>| {
        m.0.forward(
            x,
            &LutHooks {
                cfg,
                params: &m.1,
                mode: Mode::Ste,
            },
        )
    };
    let ((net, params), _) = fit((net, params), tcfg, data, device, seed, forward, log);
    (net.valid(), params.valid())
}
