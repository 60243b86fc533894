//! MADDNESS's hash-tree encoder and ridge refinement: the deployed encoder against its plain
//! definition, the learned partition against the encoder, the ridge solver against the normal
//! equations, and MADDNESS against random prototypes on a low-rank product.

mod common;

use common::{randn, random_tree};
use compbench_core::seed::Rng;
use compbench_lutboost::encode::Codes;
use compbench_lutboost::kernel::round_to_f16;
use compbench_lutboost::metric::VqMetric;
use compbench_lutboost::table::{TableBits, TableScale, build_f32};
use compbench_lutboost::tree::{
    TreeEncoder, encode_reference, learn_layer, learn_tree, ridge_tables, split_threshold,
};
use compbench_lutboost::{ActEncoder, Isa, LutGemm};
use compbench_nn::deployed::GemmKernel;

/// Inputs with exact ties (values from a small grid that includes the thresholds' values), a
/// few NaNs and infinities.
fn inputs(rng: &mut Rng, enc: &TreeEncoder, m: usize) -> Vec<f32> {
    let k = enc.k();
    (0..m * k)
        .map(|i| match rng.below(20) {
            0 => enc.thresholds[rng.below(enc.thresholds.len())],
            1 if i % 7 == 0 => f32::NAN,
            2 if i % 5 == 0 => f32::INFINITY * if rng.below(2) == 0 { 1.0 } else { -1.0 },
            _ => rng.normal(),
        })
        .collect()
}

fn blocked_to_row_major(codes: &Codes) -> Vec<u8> {
    let mut out = vec![0u8; codes.m * codes.nc];
    for r in 0..codes.m {
        for s in 0..codes.nc {
            out[r * codes.nc + s] = codes.get(r, s);
        }
    }
    out
}

#[test]
fn tree_encoder_is_bit_exact_against_the_reference() {
    // (m, nc, v, levels): m = 0 and 1, m around the 32-row block and the 8-row lane groups,
    // one codebook, deep trees (gathered thresholds), and a size that takes the parallel path.
    let cases: &[(usize, usize, usize, usize)] = &[
        (0, 3, 4, 4),
        (1, 1, 4, 4),
        (31, 5, 4, 4),
        (32, 2, 9, 4),
        (33, 7, 2, 3),
        (100, 4, 8, 1),
        (45, 6, 4, 5),
        (17, 2, 16, 2),
        (70, 3, 3, 8),
        (4096, 40, 4, 4),
    ];
    for &(m, nc, v, levels) in cases {
        let mut rng = Rng::new((m * 31 + nc * 7 + v * 3 + levels) as u64);
        let enc = random_tree(&mut rng, nc, v, levels);
        let x = inputs(&mut rng, &enc, m);
        let want = encode_reference(&enc, &x, m);
        for isa in Isa::available() {
            let mut codes = Codes::default();
            enc.encode_with(isa, &x, m, &mut codes);
            assert_eq!((codes.m, codes.nc), (m, nc));
            assert_eq!(
                blocked_to_row_major(&codes),
                want,
                "m={m} nc={nc} v={v} levels={levels} {isa:?}"
            );
        }
        // Every code is a leaf of the tree.
        assert!(want.iter().all(|&c| (c as usize) < (1 << levels)));
    }
}

#[test]
fn a_learned_tree_encodes_as_it_was_learned() {
    // ReLU-like data (many exact zeros) in 8 dimensions.
    let mut rng = Rng::new(5);
    let (n, v, levels) = (3000, 8, 4);
    let pts: Vec<f32> = (0..n * v).map(|_| rng.normal().max(0.0)).collect();
    let fit = learn_tree(&pts, v, levels);
    assert_eq!(fit.dims.len(), levels);
    assert_eq!(fit.thresholds.len(), 15);
    assert!(
        fit.thresholds.iter().all(|&t| round_to_f16(t) == t),
        "fp16 thresholds"
    );
    let enc = TreeEncoder::from_fits(v, levels, std::slice::from_ref(&fit));
    let codes = encode_reference(&enc, &pts, n);
    // The bucket means the fit reports are the means of the points the encoder puts there.
    let mut sums = vec![0.0f64; 16 * v];
    let mut counts = vec![0usize; 16];
    for (r, &c) in codes.iter().enumerate() {
        counts[c as usize] += 1;
        for d in 0..v {
            sums[c as usize * v + d] += pts[r * v + d] as f64;
        }
    }
    for j in 0..16 {
        assert!(
            counts[j] > 0,
            "bucket {j} is empty: the median splits failed on zeros"
        );
        for d in 0..v {
            let mean = (sums[j * v + d] / counts[j] as f64) as f32;
            assert!((mean - fit.means[j * v + d]).abs() <= 1e-5 * (1.0 + mean.abs()));
        }
    }
    // Balanced: median splits give every bucket roughly n / 16 points.
    assert!(counts.iter().all(|&c| c > n / 64), "{counts:?}");
}

#[test]
fn split_thresholds_skip_ties_and_are_fp16() {
    let mut zeros = vec![0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0];
    let t = split_threshold(&mut zeros);
    assert!(t > 0.0 && t <= 1.0, "{t}");
    assert_eq!(round_to_f16(t), t);
    let mut even = vec![4.0, 1.0, 3.0, 2.0];
    assert_eq!(split_threshold(&mut even), 2.5);
    let mut same = vec![0.3; 5];
    let t = split_threshold(&mut same);
    // No gap: one side gets everything.
    let left = same.iter().filter(|&&x| x < t).count();
    assert!(left == 0 || left == 5);
    assert_eq!(split_threshold(&mut []), 0.0);
}

/// Solve (GᵀG + λI) T = GᵀY by Gaussian elimination (small problems only).
fn ridge_exact(
    codes: &[u8],
    rows: usize,
    nc: usize,
    c: usize,
    y: &[f32],
    n: usize,
    lambda: f64,
) -> Vec<f64> {
    let p = nc * c;
    let mut a = vec![0.0f64; p * p];
    let mut b = vec![0.0f64; p * n];
    for r in 0..rows {
        let idx: Vec<usize> = (0..nc)
            .map(|s| s * c + codes[r * nc + s] as usize)
            .collect();
        for &i in &idx {
            for &j in &idx {
                a[i * p + j] += 1.0;
            }
            for q in 0..n {
                b[i * n + q] += y[r * n + q] as f64;
            }
        }
    }
    for i in 0..p {
        a[i * p + i] += lambda;
    }
    // Gauss-Jordan with partial pivoting.
    for col in 0..p {
        let piv = (col..p)
            .max_by(|&i, &j| a[i * p + col].abs().total_cmp(&a[j * p + col].abs()))
            .unwrap();
        for j in 0..p {
            a.swap(col * p + j, piv * p + j);
        }
        for q in 0..n {
            b.swap(col * n + q, piv * n + q);
        }
        let d = a[col * p + col];
        for i in 0..p {
            if i == col {
                continue;
            }
            let f = a[i * p + col] / d;
            if f == 0.0 {
                continue;
            }
            for j in 0..p {
                a[i * p + j] -= f * a[col * p + j];
            }
            for q in 0..n {
                b[i * n + q] -= f * b[col * n + q];
            }
        }
    }
    (0..p * n).map(|i| b[i] / a[(i / n) * p + i / n]).collect()
}

#[test]
fn ridge_sweeps_descend_to_the_exact_ridge_solution() {
    let (rows, nc, c, n, lambda) = (300, 3, 4, 5, 1.0);
    let mut rng = Rng::new(11);
    let codes: Vec<u8> = (0..rows * nc).map(|_| rng.below(c) as u8).collect();
    let y = randn(&mut rng, rows * n, 1.0);
    let mut t = vec![0.0f32; nc * c * n];
    let hist = ridge_tables(&codes, rows, nc, c, &y, n, lambda, 300, &mut t);
    let obj: Vec<f64> = hist.iter().map(|(e, p)| e + lambda * p).collect();
    // Non-increasing up to the f32 residual's rounding.
    assert!(
        obj.windows(2).all(|w| w[1] <= w[0] * (1.0 + 1e-6)),
        "{obj:?}"
    );
    let exact = ridge_exact(&codes, rows, nc, c, &y, n, lambda);
    for (i, (&got, &want)) in t.iter().zip(&exact).enumerate() {
        assert!(
            (got as f64 - want).abs() < 1e-3,
            "entry {i}: {got} vs {want}"
        );
    }
}

/// ‖out − y‖² / Σ (y − column mean)².
fn nmse(out: &[f32], y: &[f32], n: usize) -> f64 {
    let rows = y.len() / n;
    let mut mean = vec![0.0f64; n];
    for r in y.chunks_exact(n) {
        for j in 0..n {
            mean[j] += r[j] as f64 / rows as f64;
        }
    }
    let err: f64 = out
        .iter()
        .zip(y)
        .map(|(a, b)| ((a - b) as f64).powi(2))
        .sum();
    let var: f64 = y
        .chunks_exact(n)
        .flat_map(|r| r.iter().zip(&mean).map(|(a, m)| (*a as f64 - m).powi(2)))
        .sum();
    err / var
}

fn matmul(a: &[f32], w: &[f32], rows: usize, k: usize, n: usize) -> Vec<f32> {
    let mut y = vec![0.0f32; rows * n];
    for r in 0..rows {
        for i in 0..k {
            let x = a[r * k + i];
            for j in 0..n {
                y[r * n + j] += x * w[i * n + j];
            }
        }
    }
    y
}

#[test]
fn maddness_beats_random_prototypes_on_a_low_rank_product() {
    // A = Z·B + noise, rank 4 in K = 32; W random. Fit on 4096 rows, test on 2048 others.
    let (k, n, v, c, rank) = (32, 16, 4, 16, 4);
    let mut rng = Rng::new(3);
    let basis = randn(&mut rng, rank * k, 1.0);
    let w = randn(&mut rng, k * n, 0.5);
    let mut draw = |rows: usize| -> Vec<f32> {
        let z = randn(&mut rng, rows * rank, 1.0);
        let mut a = matmul(&z, &basis, rows, rank, k);
        for x in &mut a {
            *x += rng.normal() * 0.05;
        }
        a
    };
    let (train, test) = (draw(4096), draw(2048));
    let (y_train, y_test) = (
        matmul(&train, &w, 4096, k, n),
        matmul(&test, &w, 2048, k, n),
    );
    let nc = k / v;

    // MADDNESS: trees, bucket means, ridge.
    let fits = learn_layer(&train, 4096, k, v, 4);
    let tree = TreeEncoder::from_fits(v, 4, &fits);
    let means: Vec<f32> = fits.iter().flat_map(|f| f.means.iter().copied()).collect();
    let mut tables = build_f32(&means, &w, nc, c, v, n);
    let codes: Vec<u8> = encode_reference(&tree, &train, 4096);
    let hist = ridge_tables(&codes, 4096, nc, c, &y_train, n, 1.0, 8, &mut tables);
    assert!(
        hist.last().unwrap().0 < hist[0].0,
        "ridge did not reduce the error: {hist:?}"
    );
    let mad = LutGemm::from_tables(
        ActEncoder::Tree(tree),
        tables,
        n,
        None,
        TableBits::F32,
        TableScale::PerColumn,
    );
    let mut out = vec![0.0f32; 2048 * n];
    mad.forward(&test, 2048, &mut out);
    let e_mad = nmse(&out, &y_test, n);

    // Random prototypes: c random training sub-vectors per codebook, nearest-centroid codes.
    let mut cent = Vec::with_capacity(nc * c * v);
    for s in 0..nc {
        for _ in 0..c {
            let r = rng.below(4096);
            cent.extend_from_slice(&train[r * k + s * v..r * k + (s + 1) * v]);
        }
    }
    let rnd = LutGemm::new(
        VqMetric::L2,
        v,
        c,
        &cent,
        &w,
        n,
        None,
        TableBits::F32,
        TableScale::PerColumn,
    );
    rnd.forward(&test, 2048, &mut out);
    let e_rnd = nmse(&out, &y_test, n);
    assert!(
        e_mad < 0.7 * e_rnd,
        "MADDNESS nmse {e_mad:.4} is not clearly below random prototypes' {e_rnd:.4}"
    );
    assert!(e_mad < 0.2, "MADDNESS nmse {e_mad:.4}");
}

#[test]
fn tree_lut_gemm_is_the_same_on_every_isa_and_sums_the_reference_codes() {
    let (m, k, n, v, levels) = (77, 24, 9, 4, 4);
    let mut rng = Rng::new(9);
    let tree = random_tree(&mut rng, k / v, v, levels);
    let x = inputs(&mut rng, &tree, m)
        .into_iter()
        .map(|x| if x.is_finite() { x } else { 0.5 })
        .collect::<Vec<_>>();
    let tables = randn(&mut rng, (k / v) * 16 * n, 1.0);
    let bias = randn(&mut rng, n, 0.1);
    let codes = encode_reference(&tree, &x, m);
    for bits in [TableBits::F32, TableBits::I8, TableBits::I16] {
        let l = LutGemm::from_tables(
            ActEncoder::Tree(tree.clone()),
            tables.clone(),
            n,
            Some(&bias),
            bits,
            TableScale::PerColumn,
        );
        let outs: Vec<Vec<f32>> = Isa::available()
            .into_iter()
            .map(|isa| {
                let mut out = vec![0.0f32; m * n];
                l.forward_with(isa, &x, m, &mut out);
                out
            })
            .collect();
        for o in &outs[1..] {
            assert_eq!(
                o.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                outs[0].iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            );
        }
        // The definition: Σ_s T[s][code] (dequantized) + bias, up to float summation order.
        let t = l.table.dequantized();
        for r in 0..m {
            for j in 0..n {
                let want: f32 = (0..k / v)
                    .map(|s| t[(s * 16 + codes[r * (k / v) + s] as usize) * n + j])
                    .sum::<f32>()
                    + bias[j];
                let got = outs[0][r * n + j];
                assert!(
                    (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                    "{bits:?} {got} vs {want}"
                );
            }
        }
        // The IR prices it as an L2 centroid search with 16-bit codebook entries.
        let g = l.gemm_ir(1);
        let vq = g.vq.unwrap();
        assert_eq!(
            (vq.v, vq.c, vq.metric, vq.centroid_bits),
            (4, 16, VqMetric::L2, 16)
        );
        // Stored: tables plus 15 fp16 thresholds and 4 two-bit dimensions per codebook.
        let tb = bits.bits() as f64;
        let want_bits = (k / v * 16 * n) as f64 * tb + (k / v) as f64 * (15.0 * 16.0 + 4.0 * 2.0);
        assert_eq!(l.weight_bits(), want_bits);
    }
}
