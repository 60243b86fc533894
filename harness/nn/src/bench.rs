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
    /// Median seconds per call of our dense f32 GEMM at the same shape, measured in this run.
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
