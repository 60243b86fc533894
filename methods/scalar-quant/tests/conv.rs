//! `QuantGemm`'s convolution without an f32 im2col buffer (`GemmKernel::conv_nhwc`) equals
//! im2col + `forward`, bit for bit: over geometries (strides, paddings, kernel sizes, channel
//! counts, batches that leave a partial chunk), weight and activation widths, symmetric and
//! affine weight grids, signed and unsigned activation grids, sign activations, and every ISA.

use compbench_core::seed::Rng;
use compbench_nn::ConvGeom;
use compbench_nn::deployed::GemmKernel;
use compbench_nn::kernels::im2col_nhwc;
use compbench_scalar_quant::calibrate::{Calibration, weight_grids};
use compbench_scalar_quant::deployed::{ActSpec, QuantGemm};
use compbench_scalar_quant::kernels::Isa;
use compbench_scalar_quant::method::binary_weights;
use compbench_scalar_quant::quantizer::{QParams, QuantizedWeights, Scheme};

/// (batch, h, w, cin, cout, kernel, stride, padding).
const CASES: &[(usize, usize, usize, usize, usize, usize, usize, usize)] = &[
    (37, 14, 14, 16, 32, 3, 1, 1),
    (3, 7, 9, 3, 5, 3, 1, 1),
    (5, 8, 8, 4, 7, 3, 2, 1),
    (2, 9, 6, 1, 4, 5, 1, 2),
    (4, 6, 6, 20, 9, 1, 1, 0),
    (1, 5, 5, 2, 3, 3, 1, 0),
    (6, 4, 4, 8, 16, 3, 2, 0),
    (0, 4, 4, 4, 4, 3, 1, 1),
];

fn randn(rng: &mut Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| rng.normal() * scale).collect()
}

fn activation_grid(bits: u32, signed: bool) -> QParams {
    let q = (1 << (bits - 1)) - 1;
    QParams {
        scale: 0.07,
        zero_point: 0,
        qmin: if signed { -q } else { 0 },
        qmax: if signed { q } else { (1 << bits) - 1 },
    }
}

#[test]
fn conv_without_im2col_equals_im2col_then_forward() {
    for (ci, &(batch, h, w, cin, cout, kk, stride, pad)) in CASES.iter().enumerate() {
        let g = ConvGeom {
            in_channels: cin,
            out_channels: cout,
            kernel: kk,
            stride,
            padding: pad,
        };
        let (ho, wo) = g.output_hw(h, w);
        let (k, m) = (g.k(), batch * ho * wo);
        let mut rng = Rng::new(500 + ci as u64);
        let wt = randn(&mut rng, k * cout, 0.2);
        let bias = randn(&mut rng, cout, 0.1);
        // Signed inputs with exact zeros (post-ReLU-like values too), a NaN and values
        // beyond the grid.
        let mut x: Vec<f32> = randn(&mut rng, batch * h * w * cin, 0.5)
            .into_iter()
            .enumerate()
            .map(|(i, v)| if i % 3 == 0 { v.max(0.0) } else { v })
            .collect();
        if let Some(v) = x.get_mut(7) {
            *v = f32::NAN;
        }
        if let Some(v) = x.get_mut(11) {
            *v = 1e3;
        }
        let mut cols = vec![0.0; m * k];
        im2col_nhwc(&x, batch, h, w, &g, &mut cols);
        let mut kernels: Vec<(String, QuantGemm)> = Vec::new();
        for isa in Isa::available() {
            // Affine weight grids make the row code sums matter (zero-point correction).
            for (bits, signed, scheme) in [
                (8, false, Scheme::Symmetric),
                (8, true, Scheme::Affine),
                (4, false, Scheme::Affine),
                (4, true, Scheme::Symmetric),
                (2, true, Scheme::Affine),
            ] {
                let grids = weight_grids(&wt, k, cout, bits, scheme, Calibration::MinMax, true);
                let qw = QuantizedWeights::new(&wt, k, cout, grids, bits);
                let act = ActSpec::Uniform {
                    grid: activation_grid(bits, signed),
                    bits,
                };
                kernels.push((
                    format!("W{bits}A{bits} signed={signed} {scheme:?} {isa:?}"),
                    QuantGemm::with_isa(&qw, Some(bias.clone()), act, isa),
                ));
            }
            let act = ActSpec::Sign { mu: 0.1, beta: 0.6 };
            let qw = binary_weights(&wt, k, cout, true);
            kernels.push((
                format!("ternary, sign activations {isa:?}"),
                QuantGemm::with_isa(&qw, Some(bias.clone()), act, isa),
            ));
        }
        for (what, q) in &kernels {
            let mut want = vec![0.0; m * cout];
            q.forward(&cols, m, &mut want);
            let mut got = vec![f32::NAN; m * cout];
            assert!(
                q.conv_nhwc(&x, batch, h, w, &g, &mut got),
                "case {ci} {what}"
            );
            let same = got
                .iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "case {ci} {what}");
        }
    }
}

/// The tap-major weights are packed on the first call and kept: a second call gives the same
/// bits, and another geometry with the same K (3×3 over 2 channels, whose tap-major order is
/// a real permutation, then 1×1 over 18, whose order is the identity) packs its own order
/// instead of reusing the first one's.
#[test]
fn repeated_calls_and_a_second_geometry_give_im2col_results() {
    let mut rng = Rng::new(11);
    let (k, n) = (18, 6);
    let wt = randn(&mut rng, k * n, 0.2);
    let grids = weight_grids(&wt, k, n, 8, Scheme::Affine, Calibration::MinMax, true);
    let q = QuantGemm::new(
        &QuantizedWeights::new(&wt, k, n, grids, 8),
        None,
        ActSpec::Uniform {
            grid: activation_grid(8, true),
            bits: 8,
        },
    );
    let (h, w) = (5, 4);
    for (cin, kk, pad) in [(2, 3, 1), (2, 3, 1), (18, 1, 0), (2, 3, 1)] {
        let g = ConvGeom {
            in_channels: cin,
            out_channels: n,
            kernel: kk,
            stride: 1,
            padding: pad,
        };
        let (ho, wo) = g.output_hw(h, w);
        let m = 2 * ho * wo;
        let x = randn(&mut rng, 2 * h * w * cin, 0.5);
        let mut cols = vec![0.0; m * k];
        im2col_nhwc(&x, 2, h, w, &g, &mut cols);
        let mut want = vec![0.0; m * n];
        q.forward(&cols, m, &mut want);
        let mut got = vec![f32::NAN; m * n];
        assert!(q.conv_nhwc(&x, 2, h, w, &g, &mut got));
        assert!(
            got.iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "cin {cin} kernel {kk}"
        );
    }
}

#[test]
fn a_geometry_that_does_not_match_the_layer_has_no_fused_path() {
    let mut rng = Rng::new(3);
    let (k, n) = (18, 4);
    let wt = randn(&mut rng, k * n, 0.2);
    let grids = weight_grids(&wt, k, n, 8, Scheme::Symmetric, Calibration::MinMax, true);
    let q = QuantGemm::new(
        &QuantizedWeights::new(&wt, k, n, grids, 8),
        None,
        ActSpec::Uniform {
            grid: activation_grid(8, false),
            bits: 8,
        },
    );
    // K = 3·3·3 = 27 ≠ 18.
    let g = ConvGeom {
        in_channels: 3,
        out_channels: n,
        kernel: 3,
        stride: 1,
        padding: 1,
    };
    let x = randn(&mut rng, 5 * 5 * 3, 1.0);
    let mut out = vec![0.0; 25 * n];
    assert!(!q.conv_nhwc(&x, 1, 5, 5, &g, &mut out));
}
