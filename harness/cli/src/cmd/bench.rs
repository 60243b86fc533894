//! `compbench bench kernels [--json] [--quick]`, `bench models` (cmd/bench_models.rs) and
//! `bench hwmodels [--json]` (from cmd/hw.rs).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use compbench_core::seed::Rng;
use compbench_nn::bench::{KernelBenchRow, median_seconds};

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
    /// Whole deployed models: every compressed variant a suite produces against the dense
    /// model of the same network, batch 1 and 256, same threads, timed in one run.
    Models(super::bench_models::ModelsArgs),
    /// Hardware-model evaluation rate: (layer, design) evaluations per second per core.
    Hwmodels {
        /// One JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
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
    KernelBenchRow::new("dense_f32", (m, k, n), serde_json::json!({}), s, s)
}

fn rows(quick: bool) -> anyhow::Result<Vec<KernelBenchRow>> {
    let mut rows = vec![dense_row(quick)];
    // Every registered method times the kernels it deploys.
    for method in compbench_registry::methods() {
        rows.extend(method.kernel_benches(quick));
    }
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
        BenchCommand::Models(a) => super::bench_models::run(a),
        BenchCommand::Hwmodels { json } => {
            super::hw::bench_hwmodels(*json).map(|()| ExitCode::SUCCESS)
        }
    }
}
