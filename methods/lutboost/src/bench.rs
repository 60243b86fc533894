//! LUT-GEMM rows for `compbench bench kernels` (the lead wires the CLI to [`bench_rows`]).
//!
//! Each row times the whole deployed layer (encode + look-up + dequantize) against our dense
//! f32 GEMM on the same shape, in the same run, on the current rayon pool. The dense side uses
//! B pre-packed once, as the deployed dense model does, so the ratio is not flattered by
//! per-call packing. `params.encode_seconds` is the encode step alone, to show where time goes.

use compbench_core::seed::Rng;
pub use compbench_nn::bench::{KernelBenchRow, median_seconds, paired_seconds};
use compbench_nn::deployed::GemmKernel;
use compbench_nn::kernels::{PackedB, sgemm_packed};
use serde_json::json;

use crate::encode::Codes;
use crate::kernel::{Isa, LutGemm};
use crate::metric::VqMetric;
use crate::table::{TableBits, TableScale};

/// One LUT-GEMM configuration to time.
#[derive(Debug, Clone, Copy)]
pub struct BenchCase {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub v: usize,
    pub c: usize,
    pub metric: VqMetric,
    pub bits: TableBits,
}

const fn case(
    m: usize,
    k: usize,
    n: usize,
    v: usize,
    c: usize,
    metric: VqMetric,
    bits: TableBits,
) -> BenchCase {
    BenchCase {
        m,
        k,
        n,
        v,
        c,
        metric,
        bits,
    }
}

/// The configurations of `bench kernels`: the headline shape (M=256, K=512, N=512) across
/// v, c, metric and table width, plus shapes of the CNN's and tiny ViT's converted layers.
pub fn cases(quick: bool) -> Vec<BenchCase> {
    use TableBits::*;
    use VqMetric::*;
    let mut v = vec![
        case(256, 512, 512, 8, 16, L2, I8),
        case(256, 512, 512, 4, 16, L2, I8),
        case(256, 512, 512, 8, 16, L1, I8),
        case(256, 512, 512, 8, 16, Chebyshev, I8),
    ];
    if !quick {
        v.extend([
            case(256, 512, 512, 4, 16, L1, I8),
            case(256, 512, 512, 4, 16, Chebyshev, I8),
            case(256, 512, 512, 2, 16, L2, I8),
            case(256, 512, 512, 8, 8, L2, I8),
            case(256, 512, 512, 8, 32, L2, I8),
            case(256, 512, 512, 8, 16, L2, I16),
            case(256, 512, 512, 8, 16, L2, F32),
            // CNN conv2 (Cin 32, 3×3, 14×14 output, batch 8) and a tiny-ViT MLP layer.
            case(1568, 288, 64, 9, 16, L2, I8),
            case(1024, 128, 256, 4, 16, L2, I8),
        ]);
    }
    v
}

/// Time every case; `quick` runs fewer cases with a shorter budget.
pub fn bench_rows(quick: bool) -> Vec<KernelBenchRow> {
    // Shared by each kernel and its dense baseline (paired rounds).
    let budget = if quick { 0.1 } else { 0.6 };
    cases(quick)
        .into_iter()
        .map(|bc| {
            let (layer, x) = random_layer(bc, 42);
            let (m, k, n) = (bc.m, bc.k, bc.n);
            let mut rng = Rng::new(7);
            let w: Vec<f32> = (0..k * n).map(|_| rng.normal() * 0.05).collect();
            let packed = PackedB::new(k, n, &w);
            let (mut out, mut dense_out) = (vec![0.0f32; m * n], vec![0.0f32; m * n]);
            let (secs, dense) = paired_seconds(
                budget,
                || sgemm_packed(m, &x, &packed, &mut dense_out),
                || layer.forward(&x, m, &mut out),
            );
            let mut codes = Codes::default();
            let enc_secs = median_seconds(budget / 4.0, || {
                layer.enc.encode_with(Isa::detect(), &x, m, &mut codes)
            });
            KernelBenchRow::new(
                "lut-gemm",
                (m, k, n),
                json!({
                    "v": bc.v,
                    "c": bc.c,
                    "metric": bc.metric.name(),
                    "table_bits": bc.bits.bits(),
                    "encode_seconds": enc_secs,
                    "threads": rayon::current_num_threads(),
                }),
                secs,
                dense,
            )
        })
        .collect()
}

/// A layer with centroids drawn from the input distribution (so codes spread over all
/// centroids, as after k-means) and random weights, plus an input batch.
pub fn random_layer(bc: BenchCase, seed: u64) -> (LutGemm, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let nc = bc.k / bc.v;
    let cent: Vec<f32> = (0..nc * bc.c * bc.v).map(|_| rng.normal()).collect();
    let w: Vec<f32> = (0..bc.k * bc.n).map(|_| rng.normal() * 0.05).collect();
    let b: Vec<f32> = (0..bc.n).map(|_| rng.normal() * 0.01).collect();
    let x: Vec<f32> = (0..bc.m * bc.k).map(|_| rng.normal()).collect();
    let layer = LutGemm::new(
        bc.metric,
        bc.v,
        bc.c,
        &cent,
        &w,
        bc.n,
        Some(&b),
        bc.bits,
        TableScale::PerColumn,
    );
    (layer, x)
}
