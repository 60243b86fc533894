//! Print the LUT-GEMM bench rows (what `compbench bench kernels` shows), one JSON per line.
//! `cargo run --release -p compbench-lutboost --example bench_rows [-- --quick]`
fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    for r in compbench_lutboost::bench::bench_rows(quick) {
        println!(
            "{:>5}x{:<4}x{:<4} {}  lut {:.3} ms  dense {:.3} ms  speedup {:.2}x",
            r.m,
            r.k,
            r.n,
            r.params,
            r.seconds * 1e3,
            r.dense_f32_seconds * 1e3,
            r.speedup
        );
    }
}
