//! The block-sparse GEMM: bit-exact against the dense-with-zeros fused multiply-add reference on
//! both implementations, edge tiles, 0 % / 100 % sparsity, compaction, the deployed wrapper.

use compbench_core::seed::Rng;
use compbench_nn::deployed::{BsrGemm, DenseGemm, GemmKernel};
use compbench_nn::kernels::bsr::{
    BsrError, BsrMatrix, bsr_gemm_with, gemm_fma_reference, prune_blocks_l1,
};
use compbench_nn::kernels::sgemm::Isa;
use compbench_nn::models::{ModelConfig, ModelKind, Network};

fn random(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.normal()).collect()
}

/// `k×n` Gaussian weights with each `bk×bn` block zeroed with probability `sparsity`.
fn block_sparse(
    rng: &mut Rng,
    k: usize,
    n: usize,
    bk: usize,
    bn: usize,
    sparsity: f64,
) -> Vec<f32> {
    let mut w = random(rng, k * n);
    let nb = n.div_ceil(bn);
    let pruned: Vec<bool> = (0..k.div_ceil(bk) * nb)
        .map(|_| rng.next_f64() < sparsity)
        .collect();
    for p in 0..k {
        for j in 0..n {
            if pruned[(p / bk) * nb + j / bn] {
                w[p * n + j] = 0.0;
            }
        }
    }
    w
}

fn isas() -> Vec<Isa> {
    let mut v = vec![Isa::Portable];
    if Isa::Avx2Fma.available() {
        v.push(Isa::Avx2Fma);
    } else {
        eprintln!("AVX2+FMA not available: only the portable path is checked");
    }
    v
}

/// Every implementation and threading choice equals the reference bit for bit.
fn assert_exact(m: usize, k: usize, n: usize, a: &[f32], w: &[f32], bk: usize, bn: usize) {
    let want = gemm_fma_reference(m, k, n, a, w);
    let bsr = BsrMatrix::new(k, n, w, bk, bn).unwrap();
    for isa in isas() {
        for parallel in [false, true] {
            let mut got = vec![f32::NAN; m * n];
            bsr_gemm_with(isa, parallel, m, a, &bsr, &mut got);
            for (i, (g, r)) in got.iter().zip(&want).enumerate() {
                assert_eq!(
                    g.to_bits(),
                    r.to_bits(),
                    "{isa:?} par={parallel} m={m} k={k} n={n} block {bk}×{bn} at ({}, {}): {g} vs {r}",
                    i / n,
                    i % n
                );
            }
        }
    }
}

#[test]
fn random_shapes_and_blocks_are_bit_exact() {
    let mut rng = Rng::new(11);
    // (m, k, n, block_k, block_n, sparsity): aligned, edge tiles (K, N not multiples of the
    // block, M not a multiple of the tile), rectangular blocks, blocks wider than a panel.
    let cases: &[(usize, usize, usize, usize, usize, f64)] = &[
        (1, 1, 1, 1, 1, 0.0),
        (7, 32, 32, 16, 16, 0.5),
        (13, 37, 45, 16, 16, 0.5),
        (6, 100, 70, 8, 8, 0.7),
        (5, 64, 48, 4, 16, 0.6),
        (11, 48, 64, 16, 4, 0.6),
        (9, 80, 96, 32, 16, 0.3),
        (17, 64, 100, 8, 32, 0.4),
        (49, 128, 384, 16, 16, 0.5),
        (3, 200, 17, 7, 5, 0.5),
        (64, 512, 128, 32, 32, 0.7),
        (100, 130, 33, 1, 1, 0.9),
    ];
    for &(m, k, n, bk, bn, s) in cases {
        let a = random(&mut rng, m * k);
        let w = block_sparse(&mut rng, k, n, bk, bn, s);
        assert_exact(m, k, n, &a, &w, bk, bn);
    }
    // Large enough to take the multi-threaded path (and rows split across tasks).
    let (m, k, n) = (301, 256, 160);
    let a = random(&mut rng, m * k);
    let w = block_sparse(&mut rng, k, n, 16, 16, 0.5);
    assert_exact(m, k, n, &a, &w, 16, 16);
}

#[test]
fn zero_and_full_sparsity() {
    let mut rng = Rng::new(12);
    let (m, k, n) = (13, 70, 50);
    let a = random(&mut rng, m * k);
    // 0 %: every block kept, the kernel is a dense FMA GEMM.
    let w = random(&mut rng, k * n);
    assert_exact(m, k, n, &a, &w, 16, 16);
    let dense = BsrMatrix::new(k, n, &w, 16, 16).unwrap();
    assert_eq!(dense.block_density(), 1.0);
    assert_eq!((dense.live_rows(), dense.live_cols()), (k, n));
    // 100 %: nothing stored, the output is exactly 0, then the bias.
    let zeros = vec![0.0; k * n];
    assert_exact(m, k, n, &a, &zeros, 16, 16);
    let empty = BsrMatrix::new(k, n, &zeros, 16, 16).unwrap();
    assert_eq!(empty.block_density(), 0.0);
    assert_eq!((empty.live_rows(), empty.live_cols()), (0, 0));
    assert_eq!(empty.macs_per_row(), 0);
    let bias: Vec<f32> = (0..n).map(|j| j as f32 - 7.5).collect();
    let g = BsrGemm::new(k, n, &zeros, Some(&bias), 16, 16).unwrap();
    let mut out = vec![f32::NAN; m * n];
    g.forward(&a, m, &mut out);
    for row in out.chunks_exact(n) {
        assert_eq!(row, &bias[..]);
    }
}

#[test]
fn dead_columns_and_rows_are_compacted() {
    let mut rng = Rng::new(13);
    let (m, k, n) = (10, 40, 50);
    let mut w = random(&mut rng, k * n);
    // Dead output columns 3, 17..=20 and 49; dead input rows 0, 8..12 and 39.
    for p in 0..k {
        for j in [3, 17, 18, 19, 20, 49] {
            w[p * n + j] = 0.0;
        }
    }
    for p in [0, 8, 9, 10, 11, 39] {
        w[p * n..(p + 1) * n].fill(0.0);
    }
    let bsr = BsrMatrix::new(k, n, &w, 1, 1).unwrap();
    assert_eq!(bsr.live_cols(), n - 6);
    assert_eq!(bsr.live_rows(), k - 6);
    // 44 live columns = 3 panels, each listing the 34 live rows.
    assert_eq!(bsr.macs_per_row(), 3 * 34 * 16);
    let a = random(&mut rng, m * k);
    // Columns that are not consecutive (after a dead one) take the scattered store.
    assert_exact(m, k, n, &a, &w, 1, 1);
    assert_exact(m, k, n, &a, &w, 8, 8);
    // Dead-row inputs do not matter, even when they are huge.
    let mut a2 = a.clone();
    for i in 0..m {
        a2[i * k + 8] = 1e30;
    }
    let mut out1 = vec![0.0; m * n];
    let mut out2 = vec![0.0; m * n];
    bsr_gemm_with(Isa::Portable, false, m, &a, &bsr, &mut out1);
    bsr_gemm_with(Isa::Portable, false, m, &a2, &bsr, &mut out2);
    assert_eq!(out1, out2);
}

#[test]
fn rows_are_independent_of_the_batch() {
    let mut rng = Rng::new(14);
    let (m, k, n) = (97, 96, 80);
    let a = random(&mut rng, m * k);
    let w = block_sparse(&mut rng, k, n, 16, 16, 0.5);
    let g = BsrGemm::new(k, n, &w, Some(&random(&mut rng, n)), 16, 16).unwrap();
    let mut all = vec![0.0; m * n];
    g.forward(&a, m, &mut all);
    for i in [0, 5, 6, 47, 48, 96] {
        let mut one = vec![0.0; n];
        g.forward(&a[i * k..(i + 1) * k], 1, &mut one);
        assert_eq!(&all[i * n..(i + 1) * n], &one[..], "row {i}");
    }
}

#[test]
fn block_mask_density_and_ir_follow_the_ir_convention() {
    // K = 40, N = 20 with 16×8 blocks: 3 K-blocks (16, 16, 8 rows) × 3 N-blocks (8, 8, 4).
    let (k, n) = (40, 20);
    let mut w = vec![0.0f32; k * n];
    w[3 * n + 2] = 1.0; // block (0, 0)
    w[20 * n + 19] = -2.0; // block (1, 2), an edge block
    w[39 * n + 9] = 0.5; // block (2, 1), an edge block
    let g = BsrGemm::new(k, n, &w, None, 16, 8).unwrap();
    let ir = g.gemm_ir(256);
    let sp = ir.sparsity.expect("block-sparse IR");
    assert_eq!((sp.block_k, sp.block_n), (16, 8));
    let mut want = [false; 9];
    want[0] = true;
    want[3 + 2] = true;
    want[2 * 3 + 1] = true;
    assert_eq!(sp.mask.as_deref(), Some(&want[..]));
    assert!((sp.density - 3.0 / 9.0).abs() < 1e-12);
    assert_eq!((ir.m, ir.k, ir.n), (256, 40, 20));
    assert_eq!(g.kind(), "block-sparse-f32");
    // Three live columns → one panel listing the three rows that hold them.
    assert_eq!(g.matrix().live_cols(), 3);
    assert_eq!(g.matrix().macs_per_row(), 3 * 16);
    assert!(g.weight_bits() < (k * n * 32) as f64);
    assert_eq!(g.dense_weights().unwrap().0, &w[..]);
}

#[test]
fn bad_input_is_an_error() {
    let w = vec![1.0f32; 12];
    assert_eq!(
        BsrMatrix::new(3, 5, &w, 1, 1).unwrap_err(),
        BsrError::Shape {
            k: 3,
            n: 5,
            got: 12
        }
    );
    assert!(matches!(
        BsrMatrix::new(3, 4, &w, 0, 4),
        Err(BsrError::EmptyBlock { .. })
    ));
    assert!(matches!(
        BsrGemm::new(3, 4, &w, Some(&[0.0; 3]), 1, 1),
        Err(BsrError::Bias { n: 4, got: 3 })
    ));
    let mut bad = w.clone();
    bad[7] = f32::NAN;
    assert!(matches!(
        BsrMatrix::new(3, 4, &bad, 1, 1),
        Err(BsrError::NonFinite { index: 7, .. })
    ));
    let msg = BsrMatrix::new(3, 4, &w, 2, 0).unwrap_err().to_string();
    assert!(msg.contains("2×0"), "{msg}");
}

#[test]
fn l1_block_pruning_helper_zeroes_the_weakest_blocks() {
    // 4×4 with 2×2 blocks; L1 norms: block (0,0) = 4, (0,1) = 40, (1,0) = 0.4, (1,1) = 400.
    let mut w = vec![
        1.0, 1.0, 10.0, 10.0, //
        1.0, 1.0, 10.0, 10.0, //
        0.1, 0.1, 100.0, 100.0, //
        0.1, -0.1, 100.0, 100.0,
    ];
    prune_blocks_l1(4, 4, &mut w, 2, 2, 0.5);
    let bsr = BsrMatrix::new(4, 4, &w, 2, 2).unwrap();
    assert_eq!(bsr.block_mask(), &[false, true, false, true]);
    assert_eq!(w[2], 10.0);
    assert_eq!(w[15], 100.0);
}

/// The deployed ViT with block-sparse kernels computes what the dense deployed ViT computes
/// with the same zeroed weights (up to the dense GEMM's different summation order).
#[test]
fn deployed_vit_with_bsr_layers_matches_dense_with_zeros() {
    let device = compbench_nn::device();
    let net = Network::new(&ModelConfig::new(ModelKind::Vit), &device, 3);
    let mut dense = net.to_deployed();
    let mut sparse = net.to_deployed();
    let names: Vec<String> = dense
        .gemm_layers()
        .iter()
        .filter(|(name, _)| name.starts_with("block"))
        .map(|(name, _)| name.to_string())
        .collect();
    assert_eq!(names.len(), 16);
    for name in &names {
        let (k, n, mut w, b) = {
            let (_, kern) = dense
                .gemm_layers()
                .into_iter()
                .find(|(l, _)| l == name)
                .unwrap();
            let (w, b) = kern.dense_weights().unwrap();
            (kern.k(), kern.n(), w.to_vec(), b.map(<[f32]>::to_vec))
        };
        prune_blocks_l1(k, n, &mut w, 16, 16, 0.5);
        let (w2, b2) = (w.clone(), b.clone());
        dense
            .replace_gemm(name, |_| Box::new(DenseGemm::new(k, n, w2, b2)))
            .unwrap();
        sparse
            .replace_gemm(name, |_| {
                Box::new(BsrGemm::new(k, n, &w, b.as_deref(), 16, 16).unwrap())
            })
            .unwrap();
    }
    let mut rng = Rng::new(4);
    let batch = 5;
    let x: Vec<f32> = (0..batch * 784).map(|_| rng.next_f32()).collect();
    let (yd, ys) = (dense.forward(&x, batch), sparse.forward(&x, batch));
    for (d, s) in yd.iter().zip(&ys) {
        assert!((d - s).abs() <= 1e-4 * (1.0 + d.abs()), "{d} vs {s}");
    }
    let ir = sparse.workload(batch as u64);
    let sparse_layers = ir
        .layers
        .iter()
        .filter(|l| matches!(&l.op, compbench_core::Op::Gemm(g) if g.sparsity.is_some()))
        .count();
    assert_eq!(sparse_layers, 16);
}

/// The `bench kernels` rows: the shape and params, timed against dense in the same run
/// (the ratio itself is reported, not asserted: timings belong to benchmarks).
#[test]
fn bench_rows_have_the_block_params() {
    let rows = compbench_nn::bench::bsr_bench_rows(true);
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r.kernel, "block-sparse-f32");
    assert_eq!((r.m, r.k, r.n), (256, 512, 512));
    assert_eq!(
        r.params,
        serde_json::json!({"block_r": 16, "block_c": 16, "sparsity": 0.7})
    );
    assert!(r.seconds > 0.0 && r.dense_f32_seconds > 0.0);
    assert!((r.speedup - r.dense_f32_seconds / r.seconds).abs() < 1e-12);
}
