//! `compbench bench kernels [--json] [--quick]` and `bench hwmodels [--json]` (from cmd/hw.rs).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use compbench_core::seed::Rng;
use compbench_runner::execute::median_seconds;
use serde::{Deserialize, Serialize};

use crate::ui;

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Measured kernel speeds as ratios to our dense f32 GEMM, measured in the same run.
    Kernels {
        /// A JSON array of rows instead of a table.
        #[arg(long)]
        json: bool,
        /// Fewer shapes and a shorter time budget.
        #[arg(long)]
        quick: bool,
    },
    /// Hardware-model evaluation rate: (layer, design) evaluations per second per core.
    Hwmodels {
        /// One JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// One row of `bench kernels --json`: the fields of compbench-nn's `KernelBenchRow`. The method
/// crates' `bench_rows` return their own copies of that type, so rows meet here as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KernelBenchRow {
    pub kernel: String,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub params: serde_json::Value,
    pub seconds: f64,
    pub dense_f32_seconds: f64,
    pub speedup: f64,
}

/// The reference row: our dense f32 GEMM at the MLP's first layer (batch 64).
fn dense_row(quick: bool) -> KernelBenchRow {
    let (m, k, n) = (64, 784, 256);
    let mut rng = Rng::new(1);
    let a: Vec<f32> = (0..m * k).map(|_| rng.normal()).collect();
    let b: Vec<f32> = (0..k * n).map(|_| rng.normal()).collect();
    let mut c = vec![0.0f32; m * n];
    let s = median_seconds(if quick { 0.05 } else { 0.3 }, || {
        compbench_nn::kernels::sgemm::sgemm(m, k, n, &a, &b, &mut c);
        std::hint::black_box(&c);
    });
    KernelBenchRow {
        kernel: "dense_f32".into(),
        m,
        k,
        n,
        params: serde_json::json!({}),
        seconds: s,
        dense_f32_seconds: s,
        speedup: 1.0,
    }
}

/// The rows of one crate, through JSON (see [`KernelBenchRow`]).
fn as_rows<T: Serialize>(rows: Vec<T>) -> anyhow::Result<Vec<KernelBenchRow>> {
    Ok(serde_json::from_value(serde_json::to_value(rows)?)?)
}

fn rows(quick: bool) -> anyhow::Result<Vec<KernelBenchRow>> {
    let mut rows = vec![dense_row(quick)];
    // One line per method crate with kernels:
    rows.extend(as_rows(compbench_scalar_quant::bench_rows(quick))?);
    rows.extend(as_rows(compbench_lutboost::bench::bench_rows(quick))?);
    Ok(rows)
}

pub fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        BenchCommand::Kernels { json, quick } => {
            let rows = rows(*quick)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                let mut t = vec![
                    ["kernel", "M×K×N", "params", "time", "dense f32", "speedup"]
                        .map(String::from)
                        .to_vec(),
                ];
                for r in &rows {
                    t.push(vec![
                        r.kernel.clone(),
                        format!("{}×{}×{}", r.m, r.k, r.n),
                        if r.params.as_object().is_some_and(|o| o.is_empty()) {
                            "—".into()
                        } else {
                            r.params.to_string()
                        },
                        format!("{:.1} µs", r.seconds * 1e6),
                        format!("{:.1} µs", r.dense_f32_seconds * 1e6),
                        format!("{:.2}×", r.speedup),
                    ]);
                }
                print!("{}", ui::table(&t));
            }
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Hwmodels { json } => {
            super::hw::bench_hwmodels(*json).map(|()| ExitCode::SUCCESS)
        }
    }
}
