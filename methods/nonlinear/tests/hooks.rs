//! The training forward pass: its value is the deployed kernel's, and its gradients are checked
//! by finite differences (polynomials, x², PWL, Softermax) or equal the exact op's
//! (straight-through forms).

use burn::tensor::{Device, Tensor, TensorData};
use compbench_core::NonlinearKind as K;
use compbench_core::seed::Rng;
use compbench_nn::device;
use compbench_nn::hooks::exact_nonlinear;
use compbench_nonlinear::fit::GRID_CELLS;
use compbench_nonlinear::hooks::train_forward;
use compbench_nonlinear::kernel::{Approx, ApproxKernel, Body, InputStats, build};

fn vals(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

fn t2(v: Vec<f32>, rows: usize, cols: usize, d: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, [rows, cols]), d)
}

fn randn(rng: &mut Rng, n: usize, sd: f32) -> Vec<f32> {
    (0..n).map(|_| sd * rng.normal()).collect()
}

/// Σ kernel(x) ⊙ r through the deployed kernel (f64 accumulation).
fn deployed_loss(k: &ApproxKernel, x: &[f32], r: &[f32], rows: usize, cols: usize) -> f64 {
    let mut y = x.to_vec();
    k.run(&mut y, rows, cols, false);
    y.iter().zip(r).map(|(a, b)| *a as f64 * *b as f64).sum()
}

/// Autodiff gradient of Σ train_forward(x) ⊙ r, and the forward value.
fn autodiff(
    k: &ApproxKernel,
    x: &[f32],
    r: &[f32],
    rows: usize,
    cols: usize,
) -> (Vec<f32>, Vec<f32>) {
    let ad = device().autodiff();
    let xt = t2(x.to_vec(), rows, cols, &ad).require_grad();
    let y = train_forward(k, xt.clone());
    let value = vals(y.clone().detach());
    let loss = (y * t2(r.to_vec(), rows, cols, &ad)).sum();
    let grads = loss.backward();
    let g = xt.grad(&grads).unwrap();
    (value, vals(g))
}

fn kernel(kind: K, approx: Approx, x: &[f32], cols: usize) -> ApproxKernel {
    build(kind, approx, &InputStats::of(x, cols), 1.0).unwrap()
}

#[test]
fn training_forward_value_is_the_deployed_output() {
    let mut rng = Rng::new(1);
    let (rows, cols) = (6, 16);
    let x = randn(&mut rng, rows * cols, 2.0);
    for (kind, approx) in [
        (K::Gelu, Approx::Pwl { segments: 16 }),
        (K::Gelu, Approx::Poly { degree: 3 }),
        (K::Gelu, Approx::Ibert { bits: 16 }),
        (K::Softmax, Approx::Softermax),
        (K::Softmax, Approx::Pwl { segments: 8 }),
        (K::LayerNorm, Approx::Ibert { bits: 16 }),
        (K::Relu, Approx::Square),
    ] {
        let k = kernel(kind, approx, &x, cols);
        let (value, _) = autodiff(&k, &x, &x, rows, cols);
        let mut want = x.clone();
        k.run(&mut want, rows, cols, true);
        assert_eq!(value, want, "{kind:?} {approx:?}");
    }
}

#[test]
fn gradients_match_finite_differences() {
    let mut rng = Rng::new(2);
    let (rows, cols) = (4, 12);
    let eps = 1e-2f32;
    for (kind, approx, tol) in [
        (K::Gelu, Approx::Poly { degree: 2 }, 1e-2),
        (K::Gelu, Approx::Poly { degree: 4 }, 1e-2),
        (K::Relu, Approx::Poly { degree: 3 }, 1e-2),
        (K::Relu, Approx::Square, 1e-2),
        (K::Gelu, Approx::Square, 1e-2),
        (K::Gelu, Approx::Pwl { segments: 8 }, 1e-2),
        (K::Gelu, Approx::Pwl { segments: 32 }, 1e-2),
        // The deployed 2^frac is a quadratic: its slope differs from ln2·2^x by ≤ 5 %.
        (K::Softmax, Approx::Softermax, 0.1),
    ] {
        let x = randn(&mut rng, rows * cols, 2.0);
        let r = randn(&mut rng, rows * cols, 1.0);
        let k = kernel(kind, approx, &x, cols);
        let (_, g) = autodiff(&k, &x, &r, rows, cols);
        let mut checked = 0;
        for i in 0..x.len() {
            let (mut a, mut b) = (x.clone(), x.clone());
            a[i] += eps;
            b[i] -= eps;
            // PWL: a finite difference across a cell boundary measures a jump, not a slope.
            if let Body::Elementwise(compbench_nonlinear::curve::Curve::Pwl(t)) = &k.body {
                let cell =
                    |v: f32| ((v - t.lo) * t.scale).max(0.0).min((GRID_CELLS - 1) as f32) as usize;
                if cell(a[i]) != cell(b[i]) {
                    continue;
                }
            }
            let fd = (deployed_loss(&k, &a, &r, rows, cols)
                - deployed_loss(&k, &b, &r, rows, cols))
                / (2.0 * eps as f64);
            let auto = g[i] as f64;
            assert!(
                (fd - auto).abs() <= tol * (1.0 + fd.abs()),
                "{kind:?} {approx:?} [{i}]: finite difference {fd} vs autodiff {auto}"
            );
            checked += 1;
        }
        // Points within eps of a PWL cut have no derivative and are skipped; with 32 segments
        // about half the grid lies near a cut, so a third must remain.
        assert!(
            checked >= x.len() / 3,
            "{kind:?} {approx:?}: only {checked} checked"
        );
    }
}

/// Integer and composed row-wise approximations train straight-through: the exact op's
/// gradient.
#[test]
fn straight_through_forms_use_the_exact_gradient() {
    let mut rng = Rng::new(4);
    let (rows, cols) = (5, 16);
    let ad = device().autodiff();
    for (kind, approx) in [
        (K::Gelu, Approx::Ibert { bits: 16 }),
        (K::Softmax, Approx::Ibert { bits: 16 }),
        (K::LayerNorm, Approx::Ibert { bits: 16 }),
        (K::Softmax, Approx::Pwl { segments: 16 }),
        (K::LayerNorm, Approx::Poly { degree: 3 }),
    ] {
        let x = randn(&mut rng, rows * cols, 2.0);
        let r = randn(&mut rng, rows * cols, 1.0);
        let k = kernel(kind, approx, &x, cols);
        let (_, g) = autodiff(&k, &x, &r, rows, cols);
        let xt = t2(x.clone(), rows, cols, &ad).require_grad();
        let loss = (exact_nonlinear(kind, xt.clone()) * t2(r.clone(), rows, cols, &ad)).sum();
        let ge = vals(xt.grad(&loss.backward()).unwrap());
        for (a, b) in g.iter().zip(&ge) {
            assert!(
                (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                "{kind:?} {approx:?}: {a} vs {b}"
            );
        }
    }
}
