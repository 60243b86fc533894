//! `compbench hw eval|dse` and the hardware-model speed benchmark.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use compbench_core::hw::HwReportJson;
use compbench_core::{Gemm, HwDesign, Layer, NumFormat, Params, Value, Workload};
use compbench_hwmodels::dse::{DseSpec, run_dse};
use compbench_hwmodels::workloads;

#[derive(Debug, clap::Args)]
pub struct HwArgs {
    #[command(subcommand)]
    pub command: HwCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum HwCommand {
    /// Price GEMMs (or a built-in workload) on one design.
    Eval {
        /// Hardware model id (see `compbench list hwmodels`).
        #[arg(long)]
        model: String,
        /// A parameter, `name=value`; repeatable.
        #[arg(long = "param", value_name = "K=V")]
        params: Vec<String>,
        /// A GEMM `M,K,N`; repeatable (layers run one after another).
        #[arg(long, value_name = "M,K,N")]
        gemm: Vec<String>,
        /// A built-in workload instead of GEMMs (mlp, cnn, vit, and their -lut variants).
        #[arg(long)]
        workload: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Sweep a design space from a YAML spec and print the Pareto front.
    Dse {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: &HwArgs) -> Result<()> {
    match &args.command {
        HwCommand::Eval {
            model,
            params,
            gemm,
            workload,
            json,
        } => eval(model, params, gemm, workload.as_deref(), *json),
        HwCommand::Dse { file, json } => dse(file, *json),
    }
}

/// `k=v` → a typed value: bool, integer, number, else string (Params::resolve checks the kind).
fn parse_param(kv: &str) -> Result<(String, Value)> {
    let (k, v) = kv
        .split_once('=')
        .ok_or_else(|| anyhow!("--param `{kv}`: expected name=value"))?;
    let value = match v {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => {
            if let Ok(i) = v.parse::<i64>() {
                Value::Int(i)
            } else if let Ok(x) = v.parse::<f64>() {
                Value::Float(x)
            } else {
                Value::Str(v.to_string())
            }
        }
    };
    Ok((k.trim().to_string(), value))
}

fn parse_gemm(s: &str) -> Result<Gemm> {
    let dims: Vec<u64> = s
        .split(',')
        .map(|d| d.trim().parse::<u64>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("--gemm `{s}`: expected three positive integers M,K,N"))?;
    match dims[..] {
        [m, k, n] if m > 0 && k > 0 && n > 0 => {
            let g = Gemm::dense(m, k, n, NumFormat::INT8);
            g.check()
                .with_context(|| format!("--gemm `{s}`: too large"))?;
            Ok(g)
        }
        _ => bail!("--gemm `{s}`: expected three positive integers M,K,N"),
    }
}

fn eval(
    model: &str,
    params: &[String],
    gemms: &[String],
    workload: Option<&str>,
    json: bool,
) -> Result<()> {
    let model = compbench_registry::hwmodel(model)?;
    let given: BTreeMap<String, Value> = params
        .iter()
        .map(|p| parse_param(p))
        .collect::<Result<_>>()?;
    let resolved = Params::resolve(model.params(), &given)
        .with_context(|| format!("model `{}`", model.id()))?;
    let design = model
        .build(&resolved)
        .with_context(|| format!("model `{}`", model.id()))?;
    let w = match (workload, gemms.is_empty()) {
        (Some(_), false) => bail!("give --gemm or --workload, not both"),
        (Some(name), true) => workloads::builtin(name).ok_or_else(|| {
            anyhow!(
                "unknown workload `{name}` (allowed: {})",
                workloads::BUILTIN_NAMES.join(", ")
            )
        })?,
        (None, true) => {
            bail!("nothing to price: give --gemm M,K,N (repeatable) or --workload NAME")
        }
        (None, false) => {
            let mut w = Workload::new("cli");
            for (i, g) in gemms.iter().enumerate() {
                w.layers
                    .push(Layer::gemm(format!("gemm{i}"), parse_gemm(g)?));
            }
            w
        }
    };
    let report = design.eval(&w);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&HwReportJson::from(&report))?
        );
    } else {
        println!("{} ({}) on {}", model.id(), resolved.label(), w.name);
        println!("  cycles       {:.0}", report.cycles);
        println!("  latency      {:.3} µs", report.latency_s * 1e6);
        println!("  energy       {:.3} µJ", report.energy_pj * 1e-6);
        println!("  power        {:.3} mW", report.power_w * 1e3);
        println!("  area         {:.4} mm²", report.area_um2 * 1e-6);
        println!("  utilization  {:.2} %", report.utilization * 100.0);
        println!("  energy breakdown (µJ):");
        for (name, pj) in report.energy_breakdown.iter() {
            println!("    {name:<14} {:.4}", pj * 1e-6);
        }
        println!("  area breakdown (mm²):");
        for (name, um2) in report.area_breakdown.iter() {
            println!("    {name:<14} {:.4}", um2 * 1e-6);
        }
        if report.counts.len > 0 {
            println!("  access counts (SCALE-Sim's names; `--json` adds mapping_efficiency):");
            for (name, n) in report.counts.iter() {
                println!("    {name:<18} {n:.0}");
            }
        }
    }
    Ok(())
}

fn dse(file: &PathBuf, json: bool) -> Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let spec = DseSpec::from_yaml(&text).with_context(|| file.display().to_string())?;
    let workload = spec
        .workload()
        .with_context(|| file.display().to_string())?;
    let model = compbench_registry::hwmodel(&spec.hwmodel)
        .with_context(|| format!("{}: hwmodel", file.display()))?;
    let result = run_dse(model, &spec, &workload).with_context(|| file.display().to_string())?;
    if json {
        let front: Vec<_> = result.pareto.iter().map(|&i| &result.points[i]).collect();
        let out = serde_json::json!({
            "hwmodel": result.hwmodel,
            "workload": result.workload,
            "axes": result.axes,
            "designs": result.points.len(),
            "invalid": result.invalid,
            "elapsed_s": result.elapsed_s,
            "pareto": front,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", result.table());
    }
    Ok(())
}

/// (layer, design) evaluations per second on this thread, over every model at its defaults and
/// a few variants, on the CNN and ViT workloads (LUT-marked so every path runs).
pub fn bench_hwmodels(json: bool) -> Result<()> {
    let mut designs: Vec<Box<dyn HwDesign>> = Vec::new();
    for model in compbench_hwmodels::all() {
        let specs = model.params();
        designs.push(model.build(&Params::defaults(specs))?);
        if let Some(compbench_core::ParamKind::Choice(choices)) =
            specs.iter().find(|s| s.name == "dataflow").map(|s| s.kind)
        {
            for c in choices {
                let mut p = Params::defaults(specs);
                p.set("dataflow", Value::Str(c.to_string()));
                designs.push(model.build(&p)?);
            }
        }
    }
    let layers: Vec<Layer> = ["cnn-lut", "vit-lut"]
        .iter()
        .filter_map(|n| workloads::builtin(n))
        .flat_map(|w| w.layers)
        .collect();
    let per_round = designs.len() * layers.len();
    let start = Instant::now();
    let mut rounds = 0u64;
    let mut sink = 0.0;
    while start.elapsed().as_secs_f64() < 0.5 {
        for d in &designs {
            for l in &layers {
                sink += d.eval_layer(black_box(l)).cycles;
            }
        }
        rounds += 1;
    }
    black_box(sink);
    let evals_per_s = (rounds as f64 * per_round as f64) / start.elapsed().as_secs_f64();
    if json {
        println!(
            "{}",
            serde_json::json!({"evals_per_s": evals_per_s, "designs": designs.len(), "layers": layers.len()})
        );
    } else {
        println!(
            "hwmodels: {evals_per_s:.3e} (layer, design) evaluations/s on one thread ({} designs × {} layers)",
            designs.len(),
            layers.len()
        );
    }
    Ok(())
}
