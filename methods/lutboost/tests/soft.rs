//! The fused soft-path distance kernels against the plain metric, finite differences, and the
//! autodiff of the tensor formulation they replace.

mod common;

use burn::tensor::{Tensor, TensorData};
use common::randn;
use compbench_core::seed::Rng;
use compbench_lutboost::fused::vq_distances;
use compbench_lutboost::layer::distances;
use compbench_lutboost::metric::{VqMetric, distance};
use compbench_lutboost::soft::{SoftShape, backward, forward};

/// (rows, nc, c, v), including single rows, one subspace, odd sizes.
const SHAPES: &[(usize, usize, usize, usize)] =
    &[(7, 3, 5, 4), (1, 1, 16, 9), (33, 4, 8, 2), (12, 2, 3, 1)];

fn data(sh: SoftShape, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let x = randn(&mut rng, sh.rows * sh.k(), 1.0);
    let cent = randn(&mut rng, sh.nc * sh.c * sh.v, 1.0);
    let g = randn(&mut rng, sh.nc * sh.rows * sh.c, 1.0);
    (x, cent, g)
}

#[test]
fn forward_is_the_metric_distance() {
    for &(rows, nc, c, v) in SHAPES {
        let sh = SoftShape { rows, nc, c, v };
        let (x, cent, _) = data(sh, 1);
        for metric in VqMetric::ALL {
            let d = forward(metric, &x, &cent, sh);
            for s in 0..nc {
                for r in 0..rows {
                    for j in 0..c {
                        let want = distance(
                            metric,
                            &x[r * sh.k() + s * v..r * sh.k() + s * v + v],
                            &cent[(s * c + j) * v..(s * c + j + 1) * v],
                        );
                        let got = d[(r * nc + s) * c + j];
                        assert!(
                            (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                            "{metric:?} {sh:?} d[{s},{r},{j}] = {got}, want {want}"
                        );
                    }
                }
            }
        }
    }
}

/// Central differences of L = Σ g ⊙ d in f64 against the hand-written backward (away from the
/// kinks of |·| and max, which random data avoids almost surely at this step size).
#[test]
fn backward_matches_finite_differences() {
    let sh = SoftShape {
        rows: 5,
        nc: 2,
        c: 4,
        v: 3,
    };
    let (x, cent, g) = data(sh, 2);
    for metric in VqMetric::ALL {
        let loss = |x: &[f32], cent: &[f32]| -> f64 {
            forward(metric, x, cent, sh)
                .iter()
                .zip(&g)
                .map(|(a, b)| *a as f64 * *b as f64)
                .sum()
        };
        let (gx, gc) = backward(metric, &x, &cent, &g, sh);
        let eps = 1e-3f32;
        let check = |name: &str, i: usize, auto: f32, plus: f64, minus: f64| {
            let fd = (plus - minus) / (2.0 * eps as f64);
            assert!(
                (fd - auto as f64).abs() <= 1e-2 * (1.0 + fd.abs()),
                "{metric:?} d/d{name}[{i}]: finite difference {fd} vs backward {auto}"
            );
        };
        for i in 0..x.len() {
            let (mut a, mut b) = (x.clone(), x.clone());
            a[i] += eps;
            b[i] -= eps;
            check("x", i, gx[i], loss(&a, &cent), loss(&b, &cent));
        }
        for i in 0..cent.len() {
            let (mut a, mut b) = (cent.clone(), cent.clone());
            a[i] += eps;
            b[i] -= eps;
            check("centroid", i, gc[i], loss(&x, &a), loss(&x, &b));
        }
    }
}

/// The kernels compute what burn's autodiff of `layer::distances` computes.
#[test]
fn gradients_equal_the_tensor_formulation() {
    let dev = compbench_nn::device().autodiff();
    for &(rows, nc, c, v) in SHAPES {
        let sh = SoftShape { rows, nc, c, v };
        let (x, cent, g) = data(sh, 3);
        for metric in VqMetric::ALL {
            let xt = Tensor::<2>::from_data(TensorData::new(x.clone(), [rows, sh.k()]), &dev)
                .require_grad();
            let ct = Tensor::<3>::from_data(TensorData::new(cent.clone(), [nc, c, v]), &dev)
                .require_grad();
            let gt = Tensor::<3>::from_data(TensorData::new(g.clone(), [rows, nc, c]), &dev);
            let grads = (distances(metric, xt.clone(), ct.clone()) * gt)
                .sum()
                .backward();
            let host = |t: Tensor<2>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
            let want_x = host(xt.grad(&grads).unwrap());
            let want_c = ct
                .grad(&grads)
                .unwrap()
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap();
            let (gx, gc) = backward(metric, &x, &cent, &g, sh);
            for (name, got, want) in [("x", &gx, &want_x), ("centroid", &gc, &want_c)] {
                for (i, (a, b)) in got.iter().zip(want.iter()).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                        "{metric:?} {sh:?} ∂{name}[{i}]: fused {a}, tensor ops {b}"
                    );
                }
            }
        }
    }
}

/// The burn op (forward and autodiff backward through the extension) equals the tensor
/// formulation, including when only one input needs a gradient.
#[test]
fn fused_op_matches_tensor_ops_under_autodiff() {
    let dev = compbench_nn::device().autodiff();
    let sh = SoftShape {
        rows: 9,
        nc: 3,
        c: 4,
        v: 2,
    };
    let (x, cent, g) = data(sh, 4);
    let host = |t: Tensor<3>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    for metric in VqMetric::ALL {
        for x_grad in [true, false] {
            let run = |fused: bool| {
                let mut xt =
                    Tensor::<2>::from_data(TensorData::new(x.clone(), [sh.rows, sh.k()]), &dev);
                if x_grad {
                    xt = xt.require_grad();
                }
                let ct = Tensor::<3>::from_data(
                    TensorData::new(cent.clone(), [sh.nc, sh.c, sh.v]),
                    &dev,
                )
                .require_grad();
                let d = if fused {
                    vq_distances(metric, xt.clone(), ct.clone())
                } else {
                    distances(metric, xt.clone(), ct.clone())
                };
                let gt = Tensor::<3>::from_data(
                    TensorData::new(g.clone(), [sh.rows, sh.nc, sh.c]),
                    &dev,
                );
                let grads = (d.clone() * gt).sum().backward();
                let gx = xt
                    .grad(&grads)
                    .map(|t| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap());
                (host(d.detach()), gx, host(ct.grad(&grads).unwrap()))
            };
            let (a, b) = (run(true), run(false));
            let close = |name: &str, p: &[f32], q: &[f32]| {
                assert_eq!(p.len(), q.len());
                for (i, (u, w)) in p.iter().zip(q).enumerate() {
                    assert!(
                        (u - w).abs() <= 1e-4 * (1.0 + w.abs()),
                        "{metric:?} {name}[{i}]: fused {u}, tensor ops {w}"
                    );
                }
            };
            close("d", &a.0, &b.0);
            close("∂centroid", &a.2, &b.2);
            assert_eq!(a.1.is_some(), x_grad);
            if let (Some(p), Some(q)) = (&a.1, &b.1) {
                close("∂x", p, q);
            }
        }
    }
}
