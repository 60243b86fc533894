//! Finite-difference checks of every op the zoo differentiates through the hooks: linear,
//! conv2d, the non-linear ops (LayerNorm normalization, softmax, GELU, ReLU away from its kink)
//! and a whole attention block. Dense ops run in f64 (tight tolerance); the block check runs
//! the f32 model with a looser one.

use burn::tensor::{Device, Tensor, TensorData};
use compbench_core::NonlinearKind;
use compbench_core::seed::Rng;
use compbench_nn::hooks::{ConvGeom, DenseHooks, dense_conv2d, dense_linear, exact_nonlinear};
use compbench_nn::models::{ModelConfig, ModelKind, Network};

/// Dtype of the dense checks, step and tolerance.
const F64: bool = false;
const H: f64 = 1e-2;
const TOL: f64 = 5e-3;

fn random(seed: u64, n: usize) -> Vec<f64> {
    let mut r = Rng::new(seed);
    (0..n).map(|_| r.normal() as f64).collect()
}

/// Compare autodiff's gradient of `f` at `theta` with central differences, on up to 60
/// coordinates. `f64` selects the tensor dtype.
fn check(
    name: &str,
    theta: Vec<f64>,
    f64_mode: bool,
    h: f64,
    tol: f64,
    f: impl Fn(Tensor<1>) -> Tensor<1>,
) {
    let n = theta.len();
    let make = |v: &[f64], device: &Device| {
        let data = if f64_mode {
            TensorData::new(v.to_vec(), [n])
        } else {
            TensorData::new(v.iter().map(|x| *x as f32).collect::<Vec<f32>>(), [n])
        };
        Tensor::<1>::from_data(data, device)
    };
    let scalar = |t: Tensor<1>| -> f64 {
        t.into_data()
            .convert::<f64>()
            .try_into_vec::<f64>()
            .unwrap()[0]
    };
    let ad = Device::flex().autodiff();
    let x = make(&theta, &ad).require_grad();
    let loss = f(x.clone());
    let grads = loss.backward();
    let g: Vec<f64> = x
        .grad(&grads)
        .expect("gradient")
        .into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .unwrap();
    let plain = Device::flex();
    let step = (n / 60).max(1);
    let mut worst = 0.0f64;
    for i in (0..n).step_by(step) {
        let mut p = theta.clone();
        p[i] += h;
        let lp = scalar(f(make(&p, &plain)));
        p[i] -= 2.0 * h;
        let lm = scalar(f(make(&p, &plain)));
        let fd = (lp - lm) / (2.0 * h);
        let err = (g[i] - fd).abs() / (1.0 + fd.abs());
        worst = worst.max(err);
        assert!(
            err <= tol,
            "{name}: coordinate {i}: autodiff {} vs finite difference {fd} (rel err {err:e})",
            g[i]
        );
    }
    eprintln!("{name}: worst relative error {worst:e}");
}

/// `sum(y ⊙ R)` for a fixed random R, so every output's gradient matters.
fn weighted_sum<const D: usize>(y: Tensor<D>, seed: u64) -> Tensor<1> {
    let dims = y.dims();
    let n: usize = dims.iter().product();
    let r = TensorData::new(random(seed, n), dims).convert_dtype(y.dtype());
    let r = Tensor::<D>::from_data(r, &y.device());
    (y * r).sum()
}

#[test]
fn linear_gradients_wrt_input_weight_and_bias() {
    let (m, k, n) = (3, 5, 4);
    let theta = random(1, m * k + k * n + n);
    check("linear", theta, F64, H, TOL, |t| {
        let x = t.clone().narrow(0, 0, m * k).reshape([m, k]);
        let w = t.clone().narrow(0, m * k, k * n).reshape([k, n]);
        let b = t.narrow(0, m * k + k * n, n);
        weighted_sum(dense_linear(x, w, Some(b)), 7)
    });
}

#[test]
fn conv2d_gradients_wrt_input_weight_and_bias() {
    let g = ConvGeom {
        in_channels: 2,
        out_channels: 3,
        kernel: 3,
        stride: 1,
        padding: 1,
    };
    let (b, h, w) = (2, 5, 4);
    let (nx, nw) = (b * 2 * h * w, 3 * 2 * 9);
    let theta = random(2, nx + nw + 3);
    check("conv2d", theta, F64, H, TOL, |t| {
        let x = t.clone().narrow(0, 0, nx).reshape([b, 2, h, w]);
        let wt = t.clone().narrow(0, nx, nw).reshape([3, 2, 3, 3]);
        let bias = t.narrow(0, nx + nw, 3);
        weighted_sum(dense_conv2d(&g, x, wt, Some(bias)), 8)
    });
}

#[test]
fn nonlinear_gradients() {
    for (kind, seed) in [
        (NonlinearKind::LayerNorm, 3),
        (NonlinearKind::Softmax, 4),
        (NonlinearKind::Gelu, 5),
        (NonlinearKind::Silu, 6),
    ] {
        check(
            &format!("{kind:?}"),
            random(seed, 4 * 9),
            F64,
            H,
            TOL,
            |t| weighted_sum(exact_nonlinear(kind, t.reshape([4, 9])), 9),
        );
    }
    // ReLU: inputs kept away from the kink.
    let theta: Vec<f64> = random(7, 30)
        .into_iter()
        .map(|v| if v.abs() < 0.1 { v + 0.5 } else { v })
        .collect();
    check("Relu", theta, F64, H, TOL, |t| {
        weighted_sum(exact_nonlinear(NonlinearKind::Relu, t.reshape([5, 6])), 10)
    });
}

#[test]
fn attention_block_gradient_wrt_input() {
    // One pre-LN block (LN, qkv, softmax attention, proj, LN, MLP with GELU) plus patching,
    // pooling, final LN and head: the gradient w.r.t. the pixels passes through all of it.
    let cfg = ModelConfig {
        kind: ModelKind::Vit,
        d_model: 8,
        depth: 1,
        heads: 2,
        mlp_ratio: 2,
        patch: 7,
        ..ModelConfig::vit()
    };
    let theta = random(11, 2 * 784);
    check("vit block", theta, false, 1e-2, 2e-2, |t| {
        let device = t.device();
        let net = Network::new(&cfg, &device, 5);
        weighted_sum(net.forward(t.reshape([2, 1, 28, 28]), &DenseHooks), 12)
    });
}
