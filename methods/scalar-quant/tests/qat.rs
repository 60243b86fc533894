//! STE / LSQ / PACT / binary gradients against burn autodiff: closed forms where the op has a
//! defined derivative almost everywhere, finite differences for PACT's clip.

use burn::tensor::{Device, Tensor, TensorData};
use compbench_core::seed::Rng;
use compbench_scalar_quant::qat::{fixed, lsq, pact, sign_act, values};
use compbench_scalar_quant::quantizer::{Operand, QParams, Scheme};

fn dev() -> Device {
    Device::flex().autodiff()
}

fn leaf<const D: usize>(v: Vec<f32>, shape: [usize; D]) -> Tensor<D> {
    Tensor::<D>::from_data(TensorData::new(v, shape), &dev()).require_grad()
}

fn data(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut r = Rng::new(seed);
    (0..n).map(|_| r.normal() * scale).collect()
}

fn round_even(x: f32) -> f32 {
    x.round_ties_even()
}

#[test]
fn lsq_gradients_match_the_paper() {
    // (bits signed?, qn, qp, step)
    let cases: &[(i32, i32, f32)] = &[(8, 7, 0.2), (0, 15, 0.1), (2, 1, 0.5), (128, 127, 0.01)];
    for &(qn, qp, s0) in cases {
        let v = data(257, qp as u64, 1.0);
        let n = v.len();
        let g = 1.0 / ((n as f32) * qp as f32).sqrt();
        let vt = leaf(v.clone(), [n]);
        let st = leaf(vec![s0], [1]);
        let y = lsq(vt.clone(), st.clone(), qn, qp, g);
        let forward = values(y.clone());
        let grads = y.sum().backward();
        let gs = values(st.grad(&grads).unwrap())[0];
        let gv = values(vt.grad(&grads).unwrap());
        let mut expected_s = 0.0f64;
        for (i, &x) in v.iter().enumerate() {
            let r = x / s0;
            let (dv, ds, q) = if r < -qn as f32 {
                (0.0, -qn as f32, -qn as f32)
            } else if r > qp as f32 {
                (0.0, qp as f32, qp as f32)
            } else {
                (1.0, -r + round_even(r), round_even(r))
            };
            assert_eq!(gv[i], dv, "∂v̂/∂v at {x} (qn {qn}, qp {qp})");
            assert_eq!(forward[i], q * s0, "forward is exactly the grid value");
            expected_s += ds as f64;
        }
        let expected_s = (expected_s * g as f64) as f32;
        assert!(
            (gs - expected_s).abs() <= 1e-4 * expected_s.abs().max(1.0),
            "∂/∂s {gs} vs {expected_s}"
        );
    }
}

#[test]
fn ste_passes_gradient_inside_the_range_only() {
    let grid = QParams::from_range(-1.0, 2.0, 4, Scheme::Affine, Operand::Activation);
    let v: Vec<f32> = (0..200).map(|i| -2.0 + i as f32 * 0.025).collect();
    let x = leaf(v.clone(), [200]);
    let y = fixed(x.clone(), &grid);
    let f = values(y.clone());
    let gx = values(x.grad(&y.sum().backward()).unwrap());
    let (lo, hi) = grid.range();
    for (i, &xv) in v.iter().enumerate() {
        assert!((f[i] - grid.fake(xv)).abs() <= 1e-6, "forward {xv}");
        let inside = xv / grid.scale >= (grid.qmin - grid.zero_point) as f32
            && xv / grid.scale <= (grid.qmax - grid.zero_point) as f32;
        assert_eq!(
            gx[i],
            if inside { 1.0 } else { 0.0 },
            "grad at {xv} (range {lo}..{hi})"
        );
    }
}

#[test]
fn pact_clip_gradient_matches_finite_differences() {
    let v = data(300, 5, 2.0);
    let alpha = 1.3f32;
    for signed in [false, true] {
        let x = leaf(v.clone(), [300]);
        let a = leaf(vec![alpha], [1]);
        let y = pact(x.clone(), a.clone(), 15, signed);
        let grads = y.sum().backward();
        let ga = values(a.grad(&grads).unwrap())[0] as f64;
        let gx = values(x.grad(&grads).unwrap());
        // The clip (before quantization, which PACT passes straight through) as a function of α.
        let clip = |al: f32| -> f64 {
            v.iter().map(|&t| if signed { t.clamp(-al, al) } else { t.clamp(0.0, al) } as f64).sum()
        };
        let h = 1e-4f32;
        let fd = (clip(alpha + h) - clip(alpha - h)) / (2.0 * h as f64);
        // A sample within h of ±α contributes a fraction to the difference quotient: allow one.
        assert!(
            ga > 0.0 && (ga - fd).abs() <= 1.0,
            "signed={signed}: autodiff {ga} vs finite difference {fd}"
        );
        for (i, &t) in v.iter().enumerate() {
            let inside = if signed {
                t.abs() < alpha
            } else {
                t > 0.0 && t < alpha
            };
            assert_eq!(gx[i], if inside { 1.0 } else { 0.0 }, "∂y/∂x at {t}");
        }
    }
}

#[test]
fn sign_activation_forward_and_ste() {
    let v = vec![-1.0f32, 0.0, 0.2999, 0.3, 2.0];
    let x = leaf(v.clone(), [5]);
    let y = sign_act(x.clone(), 0.3, 0.5);
    let f = values(y.clone());
    for (a, b) in f.iter().zip([-0.2f32, -0.2, -0.2, 0.8, 0.8]) {
        assert!((a - b).abs() < 1e-6, "{f:?}");
    }
    assert_eq!(values(x.grad(&y.sum().backward()).unwrap()), vec![1.0; 5]);
}
