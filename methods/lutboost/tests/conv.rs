//! The LUT convolution without an im2col buffer (`LutGemm::conv_nhwc_with`) equals im2col +
//! the portable forward, bit for bit, for every implementation and both encoders.

mod common;

use common::{randn, random_tree};
use compbench_core::seed::Rng;
use compbench_lutboost::metric::VqMetric;
use compbench_lutboost::table::{TableBits, TableScale};
use compbench_lutboost::{ActEncoder, Isa, LutGemm};
use compbench_nn::ConvGeom;
use compbench_nn::kernels::im2col_nhwc;

/// (batch, h, w, cin, cout, kernel, padding, v, c): the CNN's conv2 (14×14×32, 3×3, pad 1) and
/// edge cases: widths below, at and just above one 8-lane group, no padding, a 1×1 kernel,
/// sub-vectors straddling channels (v = 4 of 9 taps) or one channel's patch (v = 9), c not a
/// multiple of 8, batches that leave a partial chunk of images.
const CASES: &[(
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
)] = &[
    (19, 14, 14, 32, 64, 3, 1, 4, 16),
    (3, 14, 14, 32, 64, 3, 1, 9, 16),
    (5, 7, 9, 4, 5, 3, 1, 2, 32),
    (2, 5, 8, 3, 17, 3, 0, 3, 5),
    (40, 6, 6, 2, 7, 3, 1, 6, 8),
    (1, 9, 17, 8, 16, 1, 0, 8, 4),
    (4, 10, 10, 1, 3, 5, 2, 5, 16),
    (33, 3, 3, 4, 4, 3, 1, 4, 16),
    (0, 4, 4, 4, 4, 3, 1, 4, 16),
];

#[test]
fn conv_without_im2col_equals_im2col_then_forward() {
    for (ci, &(batch, h, w, cin, cout, kk, pad, v, c)) in CASES.iter().enumerate() {
        let g = ConvGeom {
            in_channels: cin,
            out_channels: cout,
            kernel: kk,
            stride: 1,
            padding: pad,
        };
        let (ho, wo) = g.output_hw(h, w);
        let k = g.k();
        for metric in VqMetric::ALL {
            for bits in [TableBits::I8, TableBits::I16, TableBits::F32] {
                let mut rng = Rng::new(1000 + ci as u64);
                let nc = k / v;
                let cent = randn(&mut rng, nc * c * v, 1.0);
                let wt = randn(&mut rng, k * cout, 0.3);
                let b = randn(&mut rng, cout, 0.1);
                let l = LutGemm::new(
                    metric,
                    v,
                    c,
                    &cent,
                    &wt,
                    cout,
                    Some(&b),
                    bits,
                    TableScale::PerColumn,
                );
                // Post-ReLU-like inputs with exact zeros, so padding ties are exercised too.
                let x: Vec<f32> = randn(&mut rng, batch * h * w * cin, 1.0)
                    .into_iter()
                    .map(|v| v.max(0.0))
                    .collect();
                let m = batch * ho * wo;
                let mut cols = vec![0.0; m * k];
                im2col_nhwc(&x, batch, h, w, &g, &mut cols);
                let mut want = vec![0.0; m * cout];
                l.forward_with(Isa::Portable, &cols, m, &mut want);
                for isa in Isa::available() {
                    let mut got = vec![f32::NAN; m * cout];
                    assert!(l.conv_nhwc_with(isa, &x, batch, h, w, &g, &mut got));
                    let same = got
                        .iter()
                        .zip(&want)
                        .all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "case {ci} {metric:?} {bits:?} {isa:?}");
                }
            }
        }
    }
}

/// MADDNESS's tree encoder on the same cases, trees of 2-5 levels (c = 4-32: whole-level
/// threshold loads, and gathers where a level does not fit one load). Inputs hit thresholds
/// exactly, and padding zeros meet trees with a zero threshold.
#[test]
fn tree_conv_without_im2col_equals_im2col_then_forward() {
    for (ci, &(batch, h, w, cin, cout, kk, pad, v, _)) in CASES.iter().enumerate() {
        let g = ConvGeom {
            in_channels: cin,
            out_channels: cout,
            kernel: kk,
            stride: 1,
            padding: pad,
        };
        let (ho, wo) = g.output_hw(h, w);
        let k = g.k();
        for levels in 2..=5 {
            let mut rng = Rng::new(2000 + 10 * ci as u64 + levels as u64);
            let nc = k / v;
            let mut tree = random_tree(&mut rng, nc, v, levels);
            if let Some(t) = tree.thresholds.first_mut() {
                *t = 0.0;
            }
            let tables = randn(&mut rng, nc * (1 << levels) * cout, 1.0);
            let b = randn(&mut rng, cout, 0.1);
            let mut x: Vec<f32> = randn(&mut rng, batch * h * w * cin, 1.0)
                .into_iter()
                .map(|v| v.max(0.0))
                .collect();
            for (i, xi) in x.iter_mut().enumerate().step_by(5) {
                *xi = tree.thresholds[i % tree.thresholds.len()];
            }
            let m = batch * ho * wo;
            let mut cols = vec![0.0; m * k];
            im2col_nhwc(&x, batch, h, w, &g, &mut cols);
            for bits in [TableBits::I8, TableBits::F32] {
                let l = LutGemm::from_tables(
                    ActEncoder::Tree(tree.clone()),
                    tables.clone(),
                    cout,
                    Some(&b),
                    bits,
                    TableScale::PerColumn,
                );
                let mut want = vec![0.0; m * cout];
                l.forward_with(Isa::Portable, &cols, m, &mut want);
                for isa in Isa::available() {
                    let mut got = vec![f32::NAN; m * cout];
                    assert!(l.conv_nhwc_with(isa, &x, batch, h, w, &g, &mut got));
                    let same = got
                        .iter()
                        .zip(&want)
                        .all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "case {ci} levels {levels} {bits:?} {isa:?}");
                }
            }
        }
    }
}

#[test]
fn strided_convs_have_no_fused_path() {
    let g = ConvGeom {
        in_channels: 2,
        out_channels: 3,
        kernel: 3,
        stride: 2,
        padding: 1,
    };
    let mut rng = Rng::new(7);
    let l = LutGemm::new(
        VqMetric::L2,
        2,
        4,
        &randn(&mut rng, 9 * 4 * 2, 1.0),
        &randn(&mut rng, 18 * 3, 1.0),
        3,
        None,
        TableBits::I8,
        TableScale::PerColumn,
    );
    let x = randn(&mut rng, 6 * 6 * 2, 1.0);
    let mut out = vec![0.0; 9 * 3];
    assert!(!l.conv_nhwc_with(Isa::detect(), &x, 1, 6, 6, &g, &mut out));
}
