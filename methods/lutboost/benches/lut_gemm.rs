//! Criterion benches of the LUT-GEMM at the headline shape (M=256, K=512, N=512) against our
//! dense f32 GEMM. `cargo bench -p compbench-lutboost`. (`compbench bench kernels` reports the
//! same comparison as ratios through `compbench_lutboost::bench::bench_rows`.)

use compbench_lutboost::Isa;
use compbench_lutboost::bench::{BenchCase, random_layer};
use compbench_lutboost::encode::Codes;
use compbench_lutboost::metric::VqMetric;
use compbench_lutboost::table::TableBits;
use compbench_nn::kernels::{PackedB, sgemm_packed};
use criterion::{Criterion, criterion_group, criterion_main};

fn lut_gemm(cr: &mut Criterion) {
    let (m, k, n) = (256, 512, 512);
    let mut g = cr.benchmark_group("lut-gemm 256x512x512");
    g.sample_size(30);
    let x: Vec<f32> = (0..m * k)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let w: Vec<f32> = (0..k * n)
        .map(|i| ((i * 104_729) % 1000) as f32 / 5000.0 - 0.1)
        .collect();
    let packed = PackedB::new(k, n, &w);
    let mut out = vec![0.0f32; m * n];
    g.bench_function("dense-f32", |b| {
        b.iter(|| sgemm_packed(m, &x, &packed, &mut out))
    });
    for (v, c, metric, bits) in [
        (8, 16, VqMetric::L2, TableBits::I8),
        (4, 16, VqMetric::L2, TableBits::I8),
        (8, 16, VqMetric::L1, TableBits::I8),
        (8, 16, VqMetric::Chebyshev, TableBits::I8),
        (8, 32, VqMetric::L2, TableBits::I8),
        (8, 16, VqMetric::L2, TableBits::I16),
    ] {
        let (layer, x) = random_layer(
            BenchCase {
                m,
                k,
                n,
                v,
                c,
                metric,
                bits,
            },
            1,
        );
        let tag = format!("v{v}-c{c}-{}-int{}", metric.name(), bits.bits());
        for isa in Isa::available() {
            g.bench_function(format!("{tag}/{isa:?}/forward"), |b| {
                b.iter(|| layer.forward_with(isa, &x, m, &mut out))
            });
        }
        let mut codes = Codes::default();
        let isa = Isa::detect();
        g.bench_function(format!("{tag}/encode"), |b| {
            b.iter(|| layer.enc.encode_with(isa, &x, m, &mut codes))
        });
        g.bench_function(format!("{tag}/lookup"), |b| {
            b.iter(|| layer.accumulate_with(isa, &codes, &mut out))
        });
    }
    g.finish();
}

criterion_group!(benches, lut_gemm);
criterion_main!(benches);
