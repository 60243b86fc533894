//! FitNets' hint loss and regressor: the loss against a hand-computed example (its
//! normalization included), and the gradient of regressor + loss by finite differences, with
//! respect to the regressor's weights and to the guided layer's output, for each regressor kind.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use compbench_core::seed::Rng;
use compbench_nn::deployed::Layout;
use compbench_nn::distill::{HintPlan, Regressor, RegressorKind, hint_loss};
use compbench_nn::models::Feature;

fn t2(v: &[f32], rows: usize, device: &Device) -> Tensor<2> {
    Tensor::<2>::from_data(TensorData::new(v.to_vec(), [rows, v.len() / rows]), device)
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .unwrap()[0]
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

/// Two examples of three hint values each:
/// prediction (1, 2, 3 | 0, −1, 0.5), hint (1.5, 2, 1 | 0, 1, 0.5);
/// squared differences 0.25, 0, 4 | 0, 4, 0, sum 8.25; mean over b·D = 6 values: 1.375.
/// FitNets' per-example ½‖u − r‖² is 2.125 and 2, mean 2.0625 = loss · D/2: the same loss up
/// to the constant 2/D.
#[test]
fn hint_loss_is_the_mean_squared_error_over_batch_and_values() {
    let device = Device::flex();
    let pred = t2(&[1.0, 2.0, 3.0, 0.0, -1.0, 0.5], 2, &device);
    let hint = t2(&[1.5, 2.0, 1.0, 0.0, 1.0, 0.5], 2, &device);
    let loss = scalar(hint_loss(pred.clone(), hint.clone()));
    assert!((loss - 1.375).abs() < 1e-7, "loss {loss}");
    // The per-example ½‖u − r‖² of the paper, averaged: (2.125 + 2)/2 = 2.0625 = loss · D/2.
    assert!((loss * 3.0 / 2.0 - 2.0625).abs() < 1e-7);
    // Zero exactly when the prediction is the hint.
    assert_eq!(scalar(hint_loss(hint.clone(), hint)), 0.0);
}

/// A plan between two hand-written layouts (the regressor depends on nothing else).
fn plan(guided: Layout, hint: Layout, kind: RegressorKind, relu: bool) -> HintPlan {
    HintPlan {
        guided,
        hint,
        kind,
        relu,
    }
}

/// Loss of `regressor` on guided output `g` against `hint`, for finite differences (no autodiff).
fn loss_of(r: &Regressor, g: &[f32], dims: &[usize], hint: &[f32], device: &Device) -> f64 {
    let feature = feature(g, dims, device);
    let pred = r.forward(feature);
    let b = dims[0];
    scalar(hint_loss(pred, t2(hint, b, device)))
}

fn feature(g: &[f32], dims: &[usize], device: &Device) -> Feature {
    match dims {
        [b, c, h, w] => Feature::Spatial(Tensor::<4>::from_data(
            TensorData::new(g.to_vec(), [*b, *c, *h, *w]),
            device,
        )),
        [b, r, c] => Feature::Rows(Tensor::<3>::from_data(
            TensorData::new(g.to_vec(), [*b, *r, *c]),
            device,
        )),
        _ => unreachable!(),
    }
}

/// The regressor's weight and bias values, and a copy with one value moved by `h`.
fn params(r: &Regressor) -> (Vec<f32>, Vec<f32>) {
    match (&r.conv, &r.dense) {
        (Some(c), _) => (values(c.weight.val()), values(c.bias.val())),
        (_, Some(d)) => (values(d.weight.val()), values(d.bias.val())),
        _ => unreachable!(),
    }
}

fn with_params(r: &Regressor, w: &[f32], b: &[f32], device: &Device) -> Regressor {
    let mut r = r.clone();
    let set4 = |p: &mut burn::module::Param<Tensor<4>>, v: &[f32]| {
        let dims = p.val().dims();
        *p = burn::module::Param::from_data(TensorData::new(v.to_vec(), dims), device);
    };
    let set2 = |p: &mut burn::module::Param<Tensor<2>>, v: &[f32]| {
        let dims = p.val().dims();
        *p = burn::module::Param::from_data(TensorData::new(v.to_vec(), dims), device);
    };
    let set1 = |p: &mut burn::module::Param<Tensor<1>>, v: &[f32]| {
        let dims = p.val().dims();
        *p = burn::module::Param::from_data(TensorData::new(v.to_vec(), dims), device);
    };
    if let Some(c) = r.conv.as_mut() {
        set4(&mut c.weight, w);
        set1(&mut c.bias, b);
    }
    if let Some(d) = r.dense.as_mut() {
        set2(&mut d.weight, w);
        set1(&mut d.bias, b);
    }
    r
}

/// Autodiff gradients of regressor + hint loss against central differences (f32 forward,
/// step 1e-2; the loss is quadratic in the weights without the ReLU, so the difference is
/// exact up to rounding), for the three regressor kinds; the ReLU case uses a hint and inputs
/// that keep every pre-activation away from zero.
#[test]
fn regressor_and_hint_loss_gradients_match_finite_differences() {
    let plain = Device::flex();
    let ad = plain.clone().autodiff();
    let cases = [
        // FitNets' convolutional regressor: a 3×3 valid conv shrinks 6×6 to 4×4, 2 → 3 channels.
        (
            plan(
                Layout::Nhwc { h: 6, w: 6, c: 2 },
                Layout::Nhwc { h: 4, w: 4, c: 3 },
                RegressorKind::Conv { kernel: 3 },
                false,
            ),
            vec![2usize, 2, 6, 6],
        ),
        // 1×1 conv with the hint's ReLU.
        (
            plan(
                Layout::Nhwc { h: 3, w: 3, c: 2 },
                Layout::Nhwc { h: 3, w: 3, c: 4 },
                RegressorKind::Conv { kernel: 1 },
                true,
            ),
            vec![2, 2, 3, 3],
        ),
        // Tokens onto tokens, per row.
        (
            plan(
                Layout::Rows { rows: 3, cols: 4 },
                Layout::Rows { rows: 3, cols: 5 },
                RegressorKind::PerRow,
                false,
            ),
            vec![2, 3, 4],
        ),
        // A map flattened onto one row of features.
        (
            plan(
                Layout::Nhwc { h: 2, w: 2, c: 3 },
                Layout::Rows { rows: 1, cols: 4 },
                RegressorKind::Flat,
                false,
            ),
            vec![2, 3, 2, 2],
        ),
    ];
    for (k, (plan, dims)) in cases.iter().enumerate() {
        let mut rng = Rng::new(100 + k as u64);
        let n: usize = dims.iter().product();
        let b = dims[0];
        let d = plan.hint.per_image();
        let relu = plan.relu;
        // With a ReLU: positive inputs and a regressor made positive below, so no
        // pre-activation sits near the kink.
        let g: Vec<f32> = (0..n)
            .map(|_| {
                let v = rng.normal();
                if relu { 0.5 + v.abs() } else { v }
            })
            .collect();
        let hint: Vec<f32> = (0..b * d).map(|_| 2.0 * rng.normal()).collect();
        let r0 = Regressor::new(plan, &plain, 7 + k as u64);
        let (mut w0, mut b0) = params(&r0);
        if relu {
            w0.iter_mut().for_each(|v| *v = v.abs() + 0.05);
            b0.iter_mut().for_each(|v| *v = v.abs() + 0.05);
        }
        let r0 = with_params(&r0, &w0, &b0, &plain);
        assert_eq!(
            w0.len() + b0.len(),
            plan.regressor_params(),
            "case {k}: regressor_params"
        );

        // Autodiff.
        let r_ad = r0.clone().fork(&ad).train();
        let g_ad = match feature(&g, dims, &ad) {
            Feature::Spatial(x) => Feature::Spatial(x.require_grad()),
            Feature::Rows(x) => Feature::Rows(x.require_grad()),
        };
        let g_tensor = g_ad.clone();
        let loss = hint_loss(r_ad.forward(g_ad), t2(&hint, b, &ad));
        let grads = loss.backward();
        let (gw, gb) = match (&r_ad.conv, &r_ad.dense) {
            (Some(c), _) => (
                values(c.weight.grad(&grads).unwrap()),
                values(c.bias.grad(&grads).unwrap()),
            ),
            (_, Some(dd)) => (
                values(dd.weight.grad(&grads).unwrap()),
                values(dd.bias.grad(&grads).unwrap()),
            ),
            _ => unreachable!(),
        };
        let gx = match g_tensor {
            Feature::Spatial(x) => values(x.grad(&grads).unwrap()),
            Feature::Rows(x) => values(x.grad(&grads).unwrap()),
        };

        let h = 1e-2f32;
        let check = |what: &str, i: usize, autodiff: f32, plus: f64, minus: f64| {
            let fd = (plus - minus) / (2.0 * h as f64);
            let err = (autodiff as f64 - fd).abs();
            assert!(
                err < 2e-3 * (1.0 + fd.abs()),
                "case {k} {what}[{i}]: autodiff {autodiff} vs finite difference {fd}"
            );
        };
        for i in 0..w0.len() {
            let mut w = w0.clone();
            w[i] += h;
            let plus = loss_of(&with_params(&r0, &w, &b0, &plain), &g, dims, &hint, &plain);
            w[i] -= 2.0 * h;
            let minus = loss_of(&with_params(&r0, &w, &b0, &plain), &g, dims, &hint, &plain);
            check("weight", i, gw[i], plus, minus);
        }
        for i in 0..b0.len() {
            let mut bb = b0.clone();
            bb[i] += h;
            let plus = loss_of(&with_params(&r0, &w0, &bb, &plain), &g, dims, &hint, &plain);
            bb[i] -= 2.0 * h;
            let minus = loss_of(&with_params(&r0, &w0, &bb, &plain), &g, dims, &hint, &plain);
            check("bias", i, gb[i], plus, minus);
        }
        for i in 0..n {
            let mut x = g.clone();
            x[i] += h;
            let plus = loss_of(&r0, &x, dims, &hint, &plain);
            x[i] -= 2.0 * h;
            let minus = loss_of(&r0, &x, dims, &hint, &plain);
            check("guided", i, gx[i], plus, minus);
        }
    }
}
