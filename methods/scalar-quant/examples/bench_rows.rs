//! Prints `bench_rows` as JSON (what `compbench bench kernels --json` will include):
//! `cargo run --release -p compbench-scalar-quant --example bench_rows [-- --quick]`.

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rows = compbench_scalar_quant::bench_rows(quick);
    println!(
        "{}",
        serde_json::to_string_pretty(&rows).expect("rows serialize")
    );
}
