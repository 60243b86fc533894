//! Prints LUT-vs-equal-throughput-systolic efficiency ratios over (metric, v, c) on the CNN and
//! ViT workloads: `cargo run --release --example lut_ratios [-- --on-chip] [--batch N]`
//! (`--batch` prices the network on N images at once, `Workload::at_batch`).

use compbench_core::{HwDesign, Params, Value, VqMetric, Workload};
use compbench_hwmodels::lut::{LUT_PARAMS, LutDesign, equal_throughput_systolic};
use compbench_hwmodels::systolic::SystolicDesign;
use compbench_hwmodels::workloads::{builtin, vq_layers_only};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let on_chip = args.iter().any(|a| a == "--on-chip");
    let batch: u64 = args
        .iter()
        .position(|a| a == "--batch")
        .and_then(|i| args.get(i + 1))
        .map_or(1, |b| b.parse().expect("--batch takes a positive integer"));
    println!("| workload | scope | metric | v | c | power-eff × | area-eff × | LUT µs | sys µs |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for wl in ["cnn-lut", "vit-lut"] {
        let full = builtin(wl).unwrap().at_batch(batch);
        for (scope, w) in [
            ("vq layers", vq_layers_only(&full)),
            ("network", full.clone()),
        ] {
            for metric in VqMetric::ALL {
                for v in [2i64, 4, 8] {
                    for c in [8i64, 16, 32] {
                        let (pe, ae, lut_t, sys_t) = ratios(&w, metric, v, c, on_chip);
                        println!(
                            "| {wl} | {scope} | {} | {v} | {c} | {pe:.2} | {ae:.2} | {:.2} | {:.2} |",
                            metric.name(),
                            lut_t * 1e6,
                            sys_t * 1e6
                        );
                    }
                }
            }
        }
    }
}

fn ratios(w: &Workload, metric: VqMetric, v: i64, c: i64, on_chip: bool) -> (f64, f64, f64, f64) {
    let mut p = Params::defaults(LUT_PARAMS);
    p.set("v", Value::Int(v));
    p.set("c", Value::Int(c));
    p.set("metric", Value::Str(metric.name().into()));
    if on_chip {
        p.set("dram_pj_bit", Value::Float(0.0));
    }
    let lut = LutDesign::from_params(&p).unwrap().eval(w);
    let sys = SystolicDesign::from_params(&equal_throughput_systolic(&p).unwrap())
        .unwrap()
        .eval(w);
    (
        lut.ops_per_joule() / sys.ops_per_joule(),
        lut.ops_per_s_per_mm2() / sys.ops_per_s_per_mm2(),
        lut.latency_s,
        sys.latency_s,
    )
}
