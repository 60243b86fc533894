//! Kernel timing shared by `compbench bench kernels` and the method crates' bench rows.
//!
//! Speed claims are ratios to our dense f32 GEMM measured in the same run, never absolute
//! timings in tests.

use std::time::Instant;

use serde::Serialize;

/// One row of `compbench bench kernels --json`.
#[derive(Debug, Clone, Serialize)]
pub struct KernelBenchRow {
    pub kernel: String,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    /// Kernel parameters (e.g. `{"bits": 8}` or `{"v": 8, "c": 16, "metric": "l2", "table_bits": 8}`).
    pub params: serde_json::Value,
    /// Median seconds per call of the kernel.
    pub seconds: f64,
    /// Median seconds per call of our dense f32 GEMM at the same shape, measured in this run,
    /// in rounds alternating with the kernel's ([`paired_seconds`]).
    pub dense_f32_seconds: f64,
    /// dense_f32_seconds / seconds.
    pub speedup: f64,
}

impl KernelBenchRow {
    pub fn new(
        kernel: &str,
        (m, k, n): (usize, usize, usize),
        params: serde_json::Value,
        seconds: f64,
        dense_f32_seconds: f64,
    ) -> Self {
        KernelBenchRow {
            kernel: kernel.to_string(),
            m,
            k,
            n,
            params,
            seconds,
            dense_f32_seconds,
            speedup: dense_f32_seconds / seconds,
        }
    }
}

/// Timing rounds of [`paired_seconds`].
const PAIRED_ROUNDS: usize = 5;

/// Median seconds per call of `kernel` and of its `baseline` (in that order), timed in
/// [`PAIRED_ROUNDS`] alternating rounds that share `budget_s`. A baseline timed once before
/// its variants puts any change of machine speed during the run (another process, the clock)
/// into the ratio: on our 2-core VM the BSR row's speedup ranged 2.0-3.8x over seven runs that
/// way, with the dense time moving from 0.73 to 1.20 ms between runs. Alternating puts such
/// a change on both sides.
pub fn paired_seconds(
    budget_s: f64,
    mut baseline: impl FnMut(),
    mut kernel: impl FnMut(),
) -> (f64, f64) {
    let per = budget_s / (2 * PAIRED_ROUNDS) as f64;
    let (mut b, mut k) = (Vec::new(), Vec::new());
    for _ in 0..PAIRED_ROUNDS {
        b.push(median_seconds(per, &mut baseline));
        k.push(median_seconds(per, &mut kernel));
    }
    (median(k), median(b))
}

/// Seconds of `pairs` calls of `a` and of `b`, alternating call by call, with the order
/// swapped every pair (a then b, b then a, …) so that neither side always runs on the cache
/// the other left. A change of machine speed then falls on both sides of each pair, which a
/// ratio of back-to-back *rounds* does not guarantee (`compbench bench models` once read 1.20×
/// for the dense model against itself that way). Returns (a seconds, b seconds) per pair.
pub fn alternating_seconds(
    pairs: usize,
    mut a: impl FnMut(),
    mut b: impl FnMut(),
) -> Vec<(f64, f64)> {
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        t.elapsed().as_secs_f64()
    };
    (0..pairs)
        .map(|i| {
            if i % 2 == 0 {
                let ta = time(&mut a);
                (ta, time(&mut b))
            } else {
                let tb = time(&mut b);
                (time(&mut a), tb)
            }
        })
        .collect()
}

/// The middle value of `v` (the upper one of an even count); `v` must not be empty. The
/// median of timing rounds, here and in `compbench bench models`.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Median wall time of `f` over enough repetitions to fill about `budget_s` seconds
/// (at least 5 repetitions after 2 warm-up calls).
pub fn median_seconds(budget_s: f64, mut f: impl FnMut()) -> f64 {
    f();
    f();
    let t0 = Instant::now();
    f();
    let one = t0.elapsed().as_secs_f64().max(1e-9);
    let reps = ((budget_s / one) as usize).clamp(5, 1000);
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    times[times.len() / 2]
}

/// `compbench bench kernels` rows of the block-sparse GEMM ([`crate::kernels::bsr`]) against
/// our packed dense f32 GEMM at the same shape, measured in the same run. Weights are Gaussian
/// with exactly ⌊sparsity · blocks⌋ blocks zeroed at random (seeded). `params`: `block_r` ×
/// `block_c` is the block in the out×in view of W (`block_r` = outputs = the kernel's
/// `block_n`, `block_c` = inputs = `block_k`), `sparsity` the fraction of blocks zeroed.
/// `quick`: only 256×512×512, block 16×16, 70 %.
pub fn bsr_bench_rows(quick: bool) -> Vec<KernelBenchRow> {
    use crate::kernels::bsr::{BsrMatrix, bsr_gemm};
    use crate::kernels::sgemm::{PackedB, sgemm_packed};
    use compbench_core::seed::Rng;

    // Shared by the kernel and its dense baseline (paired rounds).
    let budget = if quick { 0.1 } else { 1.0 };
    // (m, k, n, [(block_r, block_c)], [sparsity]).
    type Case = (
        usize,
        usize,
        usize,
        &'static [(usize, usize)],
        &'static [f64],
    );
    let cases: &[Case] = if quick {
        &[(256, 512, 512, &[(16, 16)], &[0.7])]
    } else {
        &[
            (
                256,
                512,
                512,
                &[(8, 8), (16, 16), (32, 32), (16, 32), (32, 16)],
                &[0.5, 0.7, 0.9],
            ),
            // The wide ViT's fc1 at batch 256 (49 tokens per image).
            (256 * 49, 128, 512, &[(16, 16)], &[0.5]),
        ]
    };
    let mut rows = Vec::new();
    for &(m, k, n, blocks, sparsities) in cases {
        let mut rng = Rng::new(0xb5e ^ (m * 31 + k * 7 + n) as u64);
        let x: Vec<f32> = (0..m * k).map(|_| rng.normal()).collect();
        let w: Vec<f32> = (0..k * n).map(|_| rng.normal() * 0.05).collect();
        let packed = PackedB::new(k, n, &w);
        let (mut out, mut dense_out) = (vec![0f32; m * n], vec![0f32; m * n]);
        for &(block_r, block_c) in blocks {
            let (bk, bn) = (block_c, block_r);
            let nb = n.div_ceil(bn);
            let blocks_total = k.div_ceil(bk) * nb;
            for &sparsity in sparsities {
                let mut order: Vec<usize> = (0..blocks_total).collect();
                rng.shuffle(&mut order);
                let mut pruned = vec![false; blocks_total];
                for &b in &order[..(sparsity * blocks_total as f64).floor() as usize] {
                    pruned[b] = true;
                }
                let mut ws = w.clone();
                for p in 0..k {
                    for j in 0..n {
                        if pruned[(p / bk) * nb + j / bn] {
                            ws[p * n + j] = 0.0;
                        }
                    }
                }
                let bsr = BsrMatrix::new(k, n, &ws, bk, bn).expect("finite weights, 1×1+ blocks");
                let (t, dense) = paired_seconds(
                    budget,
                    || sgemm_packed(m, &x, &packed, &mut dense_out),
                    || bsr_gemm(m, &x, &bsr, &mut out),
                );
                rows.push(KernelBenchRow::new(
                    "block-sparse-f32",
                    (m, k, n),
                    serde_json::json!({"block_r": block_r, "block_c": block_c, "sparsity": sparsity}),
                    t,
                    dense,
                ));
            }
        }
    }
    rows
}
