//! The calibration gradient g of every pruned layer's weights (K×N, the stored layout).
//!
//! LPViT's g is label-free: the gradient of mean(f(x)²) — the mean squared logit — averaged
//! over the calibration images (its code keeps a label-based variant commented out; here it
//! is the `cross-entropy` option). The gradient is read through zero-valued probes: the hooks
//! compute each pruned layer with `weight + probe`, so ∂loss/∂probe = ∂loss/∂weight, without
//! reaching into the network's parameter structure.

use std::collections::BTreeMap;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use compbench_core::ImageSplit;
use compbench_nn::hooks::{dense_conv2d, dense_linear};
use compbench_nn::train::{batch_tensors, cross_entropy};
use compbench_nn::{ConvGeom, GemmLayerInfo, GemmShape, GemmSite, Network, TrainHooks};

/// Which objective g is the gradient of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GradientObjective {
    /// mean(f(x)²) over logits (LPViT's code).
    LabelFree,
    /// Mean cross-entropy against the labels.
    CrossEntropy,
}

/// Images per calibration forward/backward pass (LPViT's loader uses 64).
pub const CALIB_BATCH: usize = 64;

enum Probe {
    Linear(Tensor<2>),
    Conv(Tensor<4>),
}

struct ProbeHooks {
    probes: BTreeMap<String, Probe>,
}

impl TrainHooks for ProbeHooks {
    fn linear(
        &self,
        site: &GemmSite,
        x: Tensor<2>,
        weight: Tensor<2>,
        bias: Option<Tensor<1>>,
    ) -> Tensor<2> {
        match self.probes.get(site.name) {
            Some(Probe::Linear(p)) => dense_linear(x, weight + p.clone(), bias),
            _ => dense_linear(x, weight, bias),
        }
    }

    fn conv2d(
        &self,
        site: &GemmSite,
        geom: &ConvGeom,
        x: Tensor<4>,
        weight: Tensor<4>,
        bias: Option<Tensor<1>>,
    ) -> Tensor<4> {
        match self.probes.get(site.name) {
            Some(Probe::Conv(p)) => dense_conv2d(geom, x, weight + p.clone(), bias),
            _ => dense_conv2d(geom, x, weight, bias),
        }
    }
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 tensor")
}

/// Mean gradient of `objective` w.r.t. each layer's weights over `calib`, K×N per layer.
/// Batches are weighted by their size, so the result is the gradient of the objective's mean
/// over all calibration images.
pub fn calibration_gradients(
    baseline: &Network,
    layers: &[&GemmLayerInfo],
    calib: &ImageSplit,
    objective: GradientObjective,
    device: &Device,
) -> BTreeMap<String, Vec<f32>> {
    let ad = device.clone().autodiff();
    let net = baseline.clone().fork(&ad);
    let mut sums: BTreeMap<String, Vec<f64>> = layers
        .iter()
        .map(|l| (l.name.clone(), vec![0.0; l.k() * l.n()]))
        .collect();
    let all: Vec<usize> = (0..calib.len()).collect();
    for idx in all.chunks(CALIB_BATCH) {
        let probes: BTreeMap<String, Probe> = layers
            .iter()
            .map(|l| {
                let p = match l.shape {
                    GemmShape::Linear { .. } => {
                        Probe::Linear(Tensor::zeros([l.k(), l.n()], &ad).require_grad())
                    }
                    GemmShape::Conv(g) => Probe::Conv(
                        Tensor::zeros([g.out_channels, g.in_channels, g.kernel, g.kernel], &ad)
                            .require_grad(),
                    ),
                };
                (l.name.clone(), p)
            })
            .collect();
        let hooks = ProbeHooks { probes };
        let (x, y) = batch_tensors(calib, idx, &ad);
        let logits = net.forward(x, &hooks);
        let loss = match objective {
            GradientObjective::LabelFree => logits.clone().powf_scalar(2.0).mean(),
            GradientObjective::CrossEntropy => cross_entropy(logits, y, 0.0),
        };
        let grads = loss.backward();
        let weight = idx.len() as f64 / calib.len() as f64;
        for l in layers {
            let g_kxn = match &hooks.probes[&l.name] {
                Probe::Linear(p) => p.grad(&grads).map(values),
                // [Cout, Cin, k, k] = N × K → K×N.
                Probe::Conv(p) => p.grad(&grads).map(|t| {
                    let v = values(t);
                    transpose(&v, l.n(), l.k())
                }),
            };
            // A layer the loss does not reach has a zero gradient.
            if let Some(g) = g_kxn {
                for (s, &gi) in sums.get_mut(&l.name).expect("listed").iter_mut().zip(&g) {
                    *s += weight * gi as f64;
                }
            }
        }
    }
    sums.into_iter()
        .map(|(k, v)| (k, v.into_iter().map(|x| x as f32).collect()))
        .collect()
}

/// Row-major `rows × cols` → `cols × rows`.
fn transpose(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; v.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = v[r * cols + c];
        }
    }
    out
}
