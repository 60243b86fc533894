//! The deployed LUT-GEMM: bit-exact across implementations, and equal to its definition.

mod common;

use common::randn;
use compbench_core::seed::Rng;
use compbench_lutboost::encode::{Codes, Encoder, encode_with};
use compbench_lutboost::metric::VqMetric;
use compbench_lutboost::table::{TableBits, TableScale};
use compbench_lutboost::{Isa, LutGemm};
use compbench_nn::deployed::GemmKernel;

const BITS: [TableBits; 3] = [TableBits::F32, TableBits::I8, TableBits::I16];

/// (m, k, n, v, c): random shapes plus edge sizes (m = 1, m not a multiple of 32, n not a
/// multiple of 4, one subspace, > 256 subspaces to exercise the i16 flush, c = 32 / 64, and
/// full 32-row × 4-column tiles over several row blocks).
const SHAPES: &[(usize, usize, usize, usize, usize)] = &[
    (1, 4, 1, 4, 16),
    (31, 16, 3, 4, 16),
    (33, 24, 5, 8, 8),
    (64, 36, 16, 9, 16),
    (100, 64, 19, 2, 32),
    (7, 12, 64, 4, 24),
    (40, 600, 6, 2, 16),
    (9, 8, 7, 4, 64),
    (32, 3, 2, 3, 2),
    (0, 8, 4, 4, 16),
    (96, 64, 12, 4, 16),
    (257, 128, 64, 4, 16),
];

fn layer(
    rng: &mut Rng,
    metric: VqMetric,
    (k, n, v, c): (usize, usize, usize, usize),
    bits: TableBits,
    bias: bool,
) -> LutGemm {
    let nc = k / v;
    let cent = randn(rng, nc * c * v, 1.0);
    let w = randn(rng, k * n, 0.3);
    let b = randn(rng, n, 0.1);
    LutGemm::new(
        metric,
        v,
        c,
        &cent,
        &w,
        n,
        bias.then_some(&b[..]),
        bits,
        TableScale::PerColumn,
    )
}

#[test]
fn implementations_are_bit_exact() {
    for &(m, k, n, v, c) in SHAPES {
        for metric in VqMetric::ALL {
            for (bits, bias) in BITS.into_iter().flat_map(|b| [(b, true), (b, false)]) {
                let mut rng = Rng::new((m * 7 + k * 13 + n * 17 + c) as u64);
                let l = layer(&mut rng, metric, (k, n, v, c), bits, bias);
                let x = randn(&mut rng, m * k, 1.0);
                let mut outs = Vec::new();
                for isa in Isa::available() {
                    let mut out = vec![f32::NAN; m * n];
                    l.forward_with(isa, &x, m, &mut out);
                    outs.push(out.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
                }
                for w in outs.windows(2) {
                    assert_eq!(
                        w[0], w[1],
                        "m={m} k={k} n={n} v={v} c={c} {metric:?} {bits:?} bias={bias}"
                    );
                }
            }
        }
    }
}

#[test]
fn output_is_the_sum_of_looked_up_partial_sums() {
    for &(m, k, n, v, c) in SHAPES {
        for bits in BITS {
            let metric = VqMetric::L1;
            let mut rng = Rng::new((m + k + n + v + c) as u64);
            let nc = k / v;
            let cent = randn(&mut rng, nc * c * v, 1.0);
            let w = randn(&mut rng, k * n, 0.3);
            let l = LutGemm::new(metric, v, c, &cent, &w, n, None, bits, TableScale::PerLayer);
            let x = randn(&mut rng, m * k, 1.0);
            let mut out = vec![0.0; m * n];
            l.forward(&x, m, &mut out);
            let enc = Encoder::new(metric, nc, c, v, &cent);
            let mut codes = Codes::default();
            encode_with(Isa::Portable, &enc, &x, m, &mut codes);
            let t = l.table.dequantized();
            let step = t.iter().fold(0.0f32, |a, x| a.max(x.abs())) / bits.qmax().min(1e30);
            for r in 0..m {
                for o in 0..n {
                    // The definition: the quantized centroid times W, then quantized tables.
                    let exact: f32 = (0..nc)
                        .map(|s| {
                            let j = codes.get(r, s) as usize;
                            (0..v)
                                .map(|d| cent[(s * c + j) * v + d] * w[(s * v + d) * n + o])
                                .sum::<f32>()
                        })
                        .sum();
                    let looked: f32 = (0..nc)
                        .map(|s| t[(s * c + codes.get(r, s) as usize) * n + o])
                        .sum();
                    let got = out[r * n + o];
                    assert!(
                        (got - looked).abs() <= 1e-4 * (1.0 + looked.abs()),
                        "lookup {got} vs {looked}"
                    );
                    let tol = 1e-4 * (1.0 + exact.abs()) + 0.5 * step * nc as f32;
                    assert!(
                        (got - exact).abs() <= tol,
                        "{bits:?}: {got} vs exact {exact}"
                    );
                }
            }
        }
    }
}

#[test]
fn inputs_on_centroids_reproduce_the_dense_gemm() {
    // If every sub-vector is exactly a centroid, VQ loses nothing: float tables give x·W.
    let (m, k, n, v, c) = (20, 16, 6, 4, 8);
    let nc = k / v;
    let mut rng = Rng::new(5);
    let cent = randn(&mut rng, nc * c * v, 1.0);
    let w = randn(&mut rng, k * n, 0.3);
    let mut x = vec![0.0; m * k];
    for r in 0..m {
        for s in 0..nc {
            let j = rng.below(c);
            x[r * k + s * v..r * k + (s + 1) * v]
                .copy_from_slice(&cent[(s * c + j) * v..(s * c + j + 1) * v]);
        }
    }
    for metric in VqMetric::ALL {
        let l = LutGemm::new(
            metric,
            v,
            c,
            &cent,
            &w,
            n,
            None,
            TableBits::F32,
            TableScale::PerColumn,
        );
        let mut out = vec![0.0; m * n];
        l.forward(&x, m, &mut out);
        for r in 0..m {
            for o in 0..n {
                let dense: f32 = (0..k).map(|i| x[r * k + i] * w[i * n + o]).sum();
                assert!((out[r * n + o] - dense).abs() < 1e-4, "{metric:?}");
            }
        }
    }
}

#[test]
fn ir_carries_the_vq_spec() {
    let mut rng = Rng::new(1);
    let l = layer(
        &mut rng,
        VqMetric::Chebyshev,
        (32, 8, 4, 16),
        TableBits::I8,
        true,
    );
    let g = l.gemm_ir(10);
    assert_eq!((g.m, g.k, g.n), (10, 32, 8));
    let vq = g.vq.unwrap();
    assert_eq!(
        (vq.v, vq.c, vq.metric, vq.table_bits),
        (4, 16, VqMetric::Chebyshev, 8)
    );
    assert_eq!(l.weight_bits(), (8 * 16 * 8 * 8 + 32 * 16 * 32) as f64);
}
