//! Rows for `compbench bench kernels`: each approximate kernel against the exact kernel of the
//! same op on the same values, at the tiny ViT's shapes, timed in the same run.
//!
//! [`KernelBenchRow`] is shaped for GEMMs; for a non-linear op, `m` is the rows, `k` the row
//! length, `n` is 1, and **`dense_f32_seconds` holds the exact non-linear kernel's time** (not a
//! GEMM's), so `speedup` is exact ÷ approximate. `params.baseline` says so in every row.

use compbench_core::NonlinearKind;
use compbench_core::seed::Rng;
use compbench_nn::NonlinearKernel;
use compbench_nn::bench::{KernelBenchRow, paired_seconds};
use compbench_nn::deployed::exact_kernel;

use crate::kernel::{Approx, InputStats, build};
use crate::method::kind_name;

/// ViT (d = 64, 4 heads, 49 tokens, MLP ×2) shapes for a batch of `images`:
/// (op, rows, cols, input standard deviation, input mean).
fn shapes(images: usize) -> [(NonlinearKind, usize, usize, f32, f32); 3] {
    [
        (NonlinearKind::Softmax, images * 4 * 49, 49, 3.0, 0.0),
        (NonlinearKind::Gelu, images * 49, 128, 2.0, -0.5),
        (NonlinearKind::LayerNorm, images * 49, 64, 2.0, 0.3),
    ]
}

/// The implementations benchmarked per op.
pub fn bench_approxes(kind: NonlinearKind) -> Vec<Approx> {
    let mut v = vec![
        Approx::Ibert { bits: 16 },
        Approx::Pwl { segments: 8 },
        Approx::Pwl { segments: 16 },
        Approx::Pwl { segments: 32 },
        Approx::Poly { degree: 2 },
        Approx::Poly { degree: 3 },
        Approx::Poly { degree: 4 },
        Approx::Softermax,
        Approx::Square,
    ];
    v.retain(|a| a.supports(kind));
    v
}

/// One row per (op, implementation); batch 1 (the latency view) under `quick`, else 8 images.
pub fn bench_rows(quick: bool) -> Vec<KernelBenchRow> {
    // The budget is shared by each approximation and the exact kernel (paired rounds).
    let (images, budget) = if quick { (1, 0.02) } else { (8, 0.1) };
    let mut rows = Vec::new();
    let mut rng = Rng::new(17);
    for (kind, r, c, sd, mean) in shapes(images) {
        let input: Vec<f32> = (0..r * c).map(|_| mean + sd * rng.normal()).collect();
        let stats = InputStats::of(&input, c);
        let (mut buf, mut exact_buf) = (input.clone(), input.clone());
        let exact = exact_kernel(kind);
        for approx in bench_approxes(kind) {
            let Ok(k) = build(kind, approx, &stats, 1.0) else {
                continue;
            };
            let (t, t_exact) = paired_seconds(
                budget,
                || {
                    exact_buf.copy_from_slice(&input);
                    exact.forward(std::hint::black_box(&mut exact_buf), r, c);
                },
                || {
                    buf.copy_from_slice(&input);
                    k.forward(std::hint::black_box(&mut buf), r, c);
                },
            );
            rows.push(KernelBenchRow::new(
                &format!("nonlinear-{}-{}", kind_name(kind), approx.name()),
                (r, c, 1),
                serde_json::json!({
                    "op": kind_name(kind),
                    "impl": approx.name(),
                    "baseline": "dense_f32_seconds is the exact non-linear kernel on the same values",
                }),
                t,
                t_exact,
            ));
        }
    }
    rows
}
