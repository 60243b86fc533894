//! Kernel benchmarks: our sgemm against `matrixmultiply` (threaded: one thread per physical
//! core, `MATMUL_NUM_THREADS` overrides) and the `gemm` crate (burn-flex's GEMM, on rayon's
//! pool) at the models' GEMM shapes (batch 256), the deployed conv (im2col + GEMM), attention,
//! and whole-model inference deployed vs burn. `cargo bench -p compbench-nn --bench kernels`.

use std::hint::black_box;

use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use compbench_core::seed::Rng;
use compbench_nn::hooks::DenseHooks;
use compbench_nn::kernels::sgemm::{Isa, PackedB, sgemm_packed_with};
use compbench_nn::kernels::{multi_head_attention, sgemm};
use compbench_nn::models::{ModelConfig, ModelKind, Network};
use criterion::{Criterion, criterion_group, criterion_main};

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    (0..n).map(|_| r.normal()).collect()
}

/// (name, M, K, N) at batch 256.
const SHAPES: &[(&str, usize, usize, usize)] = &[
    ("mlp.fc1", 256, 784, 256),
    ("cnn.conv1", 256 * 784, 9, 16),
    ("cnn.conv2", 256 * 196, 144, 32),
    ("cnn.fc1", 256, 1568, 128),
    ("vit.qkv", 256 * 49, 64, 192),
    ("vit.fc1", 256 * 49, 64, 128),
    ("vit.fc2", 256 * 49, 128, 64),
];

fn sgemm_shapes(c: &mut Criterion) {
    let mut g = c.benchmark_group("sgemm");
    g.sample_size(20);
    for &(name, m, k, n) in SHAPES {
        let (a, b) = (random(m * k, 1), random(k * n, 2));
        let mut out = vec![0.0; m * n];
        g.bench_function(format!("{name}/ours"), |bch| {
            bch.iter(|| sgemm(m, k, n, black_box(&a), black_box(&b), &mut out))
        });
        let packed = PackedB::new(k, n, &b);
        g.bench_function(format!("{name}/ours-prepacked"), |bch| {
            bch.iter(|| sgemm_packed_with(Isa::detect(), true, m, black_box(&a), &packed, &mut out))
        });
        g.bench_function(format!("{name}/ours-portable"), |bch| {
            bch.iter(|| sgemm_packed_with(Isa::Portable, true, m, black_box(&a), &packed, &mut out))
        });
        g.bench_function(format!("{name}/matrixmultiply"), |bch| {
            bch.iter(|| unsafe {
                // SAFETY: all three buffers have the row-major sizes given.
                matrixmultiply::sgemm(
                    m,
                    k,
                    n,
                    1.0,
                    a.as_ptr(),
                    k as isize,
                    1,
                    b.as_ptr(),
                    n as isize,
                    1,
                    0.0,
                    out.as_mut_ptr(),
                    n as isize,
                    1,
                )
            })
        });
        g.bench_function(format!("{name}/gemm-crate"), |bch| {
            bch.iter(|| gemm_crate(m, k, n, black_box(&a), black_box(&b), &mut out))
        });
        // The comparison is only meaningful if the crates compute the same product (checked
        // on fresh buffers: a name filter may have skipped the benches above).
        let (mut ours, mut theirs) = (vec![0.0; m * n], vec![0.0; m * n]);
        sgemm(m, k, n, &a, &b, &mut ours);
        gemm_crate(m, k, n, &a, &b, &mut theirs);
        let worst = ours
            .iter()
            .zip(&theirs)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(
            worst < 1e-3 * k as f32,
            "{name}: gemm crate differs by {worst}"
        );
    }
    g.finish();
}

/// `out = a·b` through the `gemm` crate, row-major, on rayon's pool.
fn gemm_crate(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], out: &mut [f32]) {
    assert!(a.len() == m * k && b.len() == k * n && out.len() == m * n);
    // SAFETY: the lengths are checked above; column stride 1 and row stride the row length
    // address exactly those buffers. read_dst = false, so out = 1·(a·b).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::Rayon(0),
        )
    }
}

fn attention(c: &mut Criterion) {
    let (b, t, h, dh) = (256, 49, 4, 16);
    let qkv = random(b * t * 3 * h * dh, 3);
    let mut out = vec![0.0; b * t * h * dh];
    let softmax = |s: &mut [f32], _r: usize, cols: usize| {
        s.chunks_exact_mut(cols)
            .for_each(compbench_nn::deployed::kernels::softmax_row)
    };
    c.bench_function("attention/vit-block-batch256", |bch| {
        bch.iter(|| multi_head_attention(black_box(&qkv), b, t, h, dh, &softmax, &mut out))
    });
}

fn models(c: &mut Criterion) {
    let mut g = c.benchmark_group("inference-batch256");
    g.sample_size(10);
    let device = compbench_nn::device();
    let batch = 256;
    let x = random(batch * 784, 4);
    for kind in ModelKind::ALL {
        let net = Network::new(&ModelConfig::new(kind), &device, 0).valid();
        let dep = net.to_deployed();
        g.bench_function(format!("{}/deployed", kind.name()), |bch| {
            bch.iter(|| dep.forward(black_box(&x), batch))
        });
        g.bench_function(format!("{}/burn", kind.name()), |bch| {
            bch.iter(|| {
                let t =
                    Tensor::<4>::from_data(TensorData::new(x.clone(), [batch, 1, 28, 28]), &device);
                net.forward(t, &DenseHooks).into_data()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, sgemm_shapes, attention, models);
criterion_main!(benches);
