//! The trainable LUT layer against the deployed kernel, and its gradients.

mod common;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use common::randn;
use compbench_core::seed::Rng;
use compbench_lutboost::LutGemm;
use compbench_lutboost::layer::{
    LayerSpec, LutLayerParams, Mode, conv_weight_kxn, im2col, lut_linear,
};
use compbench_lutboost::metric::VqMetric;
use compbench_lutboost::table::{TableBits, TableScale};
use compbench_nn::deployed::GemmKernel;
use compbench_nn::hooks::ConvGeom;

fn device() -> Device {
    compbench_nn::device()
}

fn t2(v: Vec<f32>, shape: [usize; 2], d: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, shape), d)
}

fn vals<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

/// (rows, k, n, v, c)
const SHAPES: &[(usize, usize, usize, usize, usize)] = &[
    (37, 16, 8, 4, 16),
    (64, 36, 10, 9, 8),
    (20, 24, 5, 2, 32),
    (5, 8, 3, 8, 16),
];

#[test]
fn hard_forward_equals_the_deployed_kernel() {
    let d = device();
    for &(rows, k, n, v, c) in SHAPES {
        for metric in VqMetric::ALL {
            for (table, bits) in [
                (None, TableBits::F32),
                (Some((TableBits::I8, TableScale::PerColumn)), TableBits::I8),
            ] {
                let mut rng = Rng::new((rows * k + n * c + v) as u64);
                let nc = k / v;
                let cent = randn(&mut rng, nc * c * v, 1.0);
                let w = randn(&mut rng, k * n, 0.3);
                let b = randn(&mut rng, n, 0.1);
                let x = randn(&mut rng, rows * k, 1.0);
                let spec = LayerSpec {
                    name: "l".into(),
                    k,
                    n,
                    v,
                    c,
                    metric,
                };
                let p = LutLayerParams::new(&cent, nc, c, v, 1.0, &d);
                let bt = Tensor::<1>::from_data(TensorData::new(b.clone(), [n]), &d);
                let hard = vals(lut_linear(
                    &spec,
                    &p,
                    table,
                    Mode::Hard,
                    t2(x.clone(), [rows, k], &d),
                    t2(w.clone(), [k, n], &d),
                    Some(bt.clone()),
                ));
                let ste = vals(lut_linear(
                    &spec,
                    &p,
                    table,
                    Mode::Ste,
                    t2(x.clone(), [rows, k], &d),
                    t2(w.clone(), [k, n], &d),
                    Some(bt),
                ));
                // The straight-through output's value is the hard output, bit for bit.
                assert_eq!(
                    hard, ste,
                    "{metric:?} {bits:?}: STE value differs from the hard forward"
                );
                let kernel = LutGemm::new(
                    metric,
                    v,
                    c,
                    &cent,
                    &w,
                    n,
                    Some(&b),
                    bits,
                    TableScale::PerColumn,
                );
                let mut out = vec![0.0; rows * n];
                kernel.forward(&x, rows, &mut out);
                // The hard path runs the deployed kernel: identical bits.
                assert_eq!(hard, out, "{metric:?} {bits:?} ({rows},{k},{n},{v},{c})");
            }
        }
    }
}

#[test]
fn conv_rows_follow_nn_im2col_order() {
    let d = device();
    let geom = ConvGeom {
        in_channels: 3,
        out_channels: 4,
        kernel: 3,
        stride: 1,
        padding: 1,
    };
    let (b, h, w) = (2, 5, 6);
    let mut rng = Rng::new(3);
    let x = randn(&mut rng, b * 3 * h * w, 1.0);
    let xt = Tensor::<4>::from_data(TensorData::new(x.clone(), [b, 3, h, w]), &d);
    let ours = vals(im2col(&geom, xt));
    let (ho, wo) = geom.output_hw(h, w);
    let mut want = vec![0.0; b * ho * wo * geom.k()];
    compbench_nn::kernels::im2col::im2col_nchw(&x, b, h, w, &geom, &mut want);
    assert_eq!(ours, want);
    // And the weight layout matches Network::gemm_weights' K×N.
    let wv = randn(&mut rng, 4 * 27, 1.0);
    let wt = Tensor::<4>::from_data(TensorData::new(wv.clone(), [4, 3, 3, 3]), &d);
    let kxn = vals(conv_weight_kxn(wt));
    for o in 0..4 {
        for kk in 0..27 {
            assert_eq!(kxn[kk * 4 + o], wv[o * 27 + kk]);
        }
    }
}

/// Finite differences of the soft path against burn's autodiff of the STE output (whose
/// gradient is the soft path's by construction).
#[test]
fn soft_path_gradients_match_finite_differences() {
    let d = device();
    let ad = d.clone().autodiff();
    let (rows, k, n, v, c) = (6, 8, 3, 4, 4);
    let nc = k / v;
    for metric in VqMetric::ALL {
        let mut rng = Rng::new(11);
        let cent = randn(&mut rng, nc * c * v, 1.0);
        let w = randn(&mut rng, k * n, 0.5);
        let x = randn(&mut rng, rows * k, 1.0);
        let r = randn(&mut rng, rows * n, 1.0);
        let spec = LayerSpec {
            name: "l".into(),
            k,
            n,
            v,
            c,
            metric,
        };
        // Loss = Σ out ⊙ R.
        let loss = |cent: &[f32], w: &[f32], temp: f32, mode: Mode, dev: &Device| -> f64 {
            let p = LutLayerParams::new(cent, nc, c, v, temp, dev);
            let out = lut_linear(
                &spec,
                &p,
                None,
                mode,
                t2(x.clone(), [rows, k], dev),
                t2(w.to_vec(), [k, n], dev),
                None,
            );
            vals(out)
                .iter()
                .zip(&r)
                .map(|(a, b)| (*a as f64) * (*b as f64))
                .sum()
        };
        // Autodiff through the STE output: weight as a parameter-like tensor with grad.
        let p = LutLayerParams::new(&cent, nc, c, v, 0.7, &d)
            .fork(&ad)
            .train();
        let wt = t2(w.clone(), [k, n], &ad).require_grad();
        let out = lut_linear(
            &spec,
            &p,
            None,
            Mode::Ste,
            t2(x.clone(), [rows, k], &ad),
            wt.clone(),
            None,
        );
        let l = (out * t2(r.clone(), [rows, n], &ad)).sum();
        let grads = l.backward();
        let gc = vals(p.centroids.val().grad(&grads).unwrap());
        let gw = vals(wt.grad(&grads).unwrap());
        let gt = vals(p.temp.val().grad(&grads).unwrap())[0];
        let eps = 1e-3f32;
        let check = |name: &str, i: usize, auto: f32, plus: f64, minus: f64| {
            let fd = (plus - minus) / (2.0 * eps as f64);
            assert!(
                (fd - auto as f64).abs() <= 2e-2 * (1.0 + fd.abs()),
                "{metric:?} d/d{name}[{i}]: finite difference {fd} vs autodiff {auto}"
            );
        };
        for i in (0..cent.len()).step_by(3) {
            let (mut a, mut b) = (cent.clone(), cent.clone());
            a[i] += eps;
            b[i] -= eps;
            check(
                "centroid",
                i,
                gc[i],
                loss(&a, &w, 0.7, Mode::Soft, &d),
                loss(&b, &w, 0.7, Mode::Soft, &d),
            );
        }
        for i in (0..w.len()).step_by(2) {
            let (mut a, mut b) = (w.clone(), w.clone());
            a[i] += eps;
            b[i] -= eps;
            check(
                "w",
                i,
                gw[i],
                loss(&cent, &a, 0.7, Mode::Soft, &d),
                loss(&cent, &b, 0.7, Mode::Soft, &d),
            );
        }
        // The temperature parameter t (τ = exp(G·t)): perturb t, i.e. τ by a factor exp(±G·eps').
        let g = compbench_lutboost::layer::TEMP_GAIN;
        let e2 = 1e-5f32;
        let fd_t = (loss(&cent, &w, 0.7 * (g * e2).exp(), Mode::Soft, &d)
            - loss(&cent, &w, 0.7 * (-g * e2).exp(), Mode::Soft, &d))
            / (2.0 * e2 as f64);
        assert!(
            (fd_t - gt as f64).abs() <= 5e-2 * (1.0 + fd_t.abs()),
            "{metric:?} d/dtemp: {fd_t} vs {gt}"
        );
        assert!(
            gc.iter().any(|g| g.abs() > 1e-6) && gw.iter().any(|g| g.abs() > 1e-6),
            "{metric:?}: gradients vanish"
        );
    }
}
