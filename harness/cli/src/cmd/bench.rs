//! `compbench bench kernels [--json] [--quick]`, `bench models` (cmd/bench_models.rs),
//! `bench hwmodels [--json]` (from cmd/hw.rs) and `bench he [--json] [--quick] [--point ...]`.

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
    /// Seconds of one of each BFV operation (fhe.rs, single thread) at the he suite's
    /// parameters. `--json` prints a calibration document the `he-cpu` hardware model reads
    /// (hwmodels/data/he-cpu-<date>.json).
    He {
        /// The calibration document (command, date, machine, rows) instead of a table.
        #[arg(long)]
        json: bool,
        /// Shorter time budget per operation and a shorter dot product.
        #[arg(long)]
        quick: bool,
        /// A BFV point `N,log_q,plain_bits` (repeatable); default: the he suite's points.
        #[arg(long = "point", value_parser = parse_point)]
        points: Vec<(usize, u32, u32)>,
    },
}

fn parse_point(s: &str) -> Result<(usize, u32, u32), String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let bad = || format!("`{s}`: expected N,log_q,plain_bits (e.g. 8192,218,47)");
    if parts.len() != 3 {
        return Err(bad());
    }
    Ok((
        parts[0].parse().map_err(|_| bad())?,
        parts[1].parse().map_err(|_| bad())?,
        parts[2].parse().map_err(|_| bad())?,
    ))
}

fn bench_he(json: bool, quick: bool, given: &[(usize, u32, u32)]) -> anyhow::Result<()> {
    let points = if given.is_empty() {
        compbench_registry::he_op_bench_points()
    } else {
        given.to_vec()
    };
    let log = |m: &str| eprintln!("{m}");
    let rows =
        compbench_registry::he_op_bench(&points, quick, &log).map_err(|e| anyhow::anyhow!(e))?;
    if json {
        let mut command = String::from("compbench bench he --json");
        if quick {
            command.push_str(" --quick");
        }
        for (n, q, t) in given {
            command.push_str(&format!(" --point {n},{q},{t}"));
        }
        let doc = compbench_hwmodels::he_cpu::Calibration {
            command,
            date: compbench_runner::env::now_rfc3339(),
            machine: serde_json::to_value(compbench_runner::Environment::collect(1))?,
            rows,
        };
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        let ms = |s: f64| format!("{:.3} ms", s * 1e3);
        let mut t = vec![
            [
                "N",
                "log q",
                "t bits",
                "ct×pt",
                "ct×scalar (term)",
                "ct+ct",
                "ct×ct",
                "relin",
                "rotation",
                "encrypt",
                "decrypt",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for r in &rows {
            t.push(vec![
                r.poly_degree.to_string(),
                r.log_q.to_string(),
                r.plain_bits.to_string(),
                ms(r.ct_pt_mul),
                ms(r.ct_scalar_mul),
                ms(r.addition),
                ms(r.ct_ct_mul),
                ms(r.relinearization),
                ms(r.rotation),
                ms(r.encrypt),
                ms(r.decrypt),
            ]);
        }
        print!("{}", ui::table(&t));
    }
    Ok(())
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
        BenchCommand::He {
            json,
            quick,
            points,
        } => bench_he(*json, *quick, points).map(|()| ExitCode::SUCCESS),
    }
}
