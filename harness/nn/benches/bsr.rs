//! The block-sparse GEMM against our packed dense GEMM at 256×512×512 (the target
//! shape: ≥ 2.3× at 70 % sparsity, block 16) and at the wide ViT's fc1 (batch 256, 49 tokens).
//! `cargo bench -p compbench-nn --bench bsr -- --warm-up-time 1 --measurement-time 2`

use std::hint::black_box;

use compbench_core::seed::Rng;
use compbench_nn::kernels::bsr::{BsrMatrix, bsr_gemm_with, prune_blocks_l1};
use compbench_nn::kernels::sgemm::{Isa, PackedB, sgemm_packed_with};
use criterion::{Criterion, criterion_group, criterion_main};

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    (0..n).map(|_| r.normal()).collect()
}

/// (name, M, K, N, [(block, sparsity)]).
type Case = (&'static str, usize, usize, usize, &'static [(usize, f64)]);
const CASES: &[Case] = &[
    (
        "256x512x512",
        256,
        512,
        512,
        &[(16, 0.5), (16, 0.7), (16, 0.9), (8, 0.7), (32, 0.7)],
    ),
    ("vit128.fc1", 256 * 49, 128, 512, &[(16, 0.5)]),
];

fn bsr(c: &mut Criterion) {
    let mut g = c.benchmark_group("bsr");
    g.sample_size(20);
    let isa = Isa::detect();
    for &(name, m, k, n, points) in CASES {
        let a = random(m * k, 1);
        let w = random(k * n, 2);
        let mut out = vec![0.0; m * n];
        let packed = PackedB::new(k, n, &w);
        g.bench_function(format!("{name}/dense"), |b| {
            b.iter(|| sgemm_packed_with(isa, true, m, black_box(&a), &packed, &mut out))
        });
        for &(block, sparsity) in points {
            // L1 pruning of Gaussian weights zeroes blocks spread over the whole matrix.
            let mut ws = w.clone();
            prune_blocks_l1(k, n, &mut ws, block, block, sparsity);
            let m_bsr = BsrMatrix::new(k, n, &ws, block, block).unwrap();
            g.bench_function(format!("{name}/bsr-{block}x{block}-s{sparsity}"), |b| {
                b.iter(|| bsr_gemm_with(isa, true, m, black_box(&a), &m_bsr, &mut out))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bsr);
criterion_main!(benches);
