//! Where a deployed model's time goes: builds one suite experiment's deployed model the way
//! `compbench bench models` does (quick mode, first seed, cached quick baseline), then prints
//! each graph node's fastest time at the given batch next to the dense model's, and finally runs
//! the whole model in a loop for `seconds` (a steady target for `perf record`).
//!
//! `cargo run --release --example model_profile -- MODEL METHOD [VARIANT] [BATCH] [SECONDS] [THREADS]`
//! e.g. `... -- cnn lut-metric 0 256 10 2` (VARIANT: index among the method label's grid points;
//! `dense` as METHOD profiles the dense model alone). Also prints an FNV-1a hash of the logits,
//! so a kernel change can be checked to leave a model's output bit-identical.

use std::time::Instant;

use compbench_nn::deployed::{Act, DeployedModel, Layout};
use compbench_runner::execute;
use compbench_runner::progress::Silent;
use compbench_suite::Mode;

const SUITE_FILE: &str = "suites/lut-dla.yaml";

/// Fastest of `reps` runs: on a shared machine the minimum is the least disturbed timing.
fn fastest(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(|a, b| a.total_cmp(b));
    t[0]
}

fn node_label(n: &compbench_nn::deployed::Node) -> String {
    use compbench_nn::deployed::Node::*;
    match n {
        Gemm(g) => format!("{} ({})", g.name, g.kernel.kind()),
        Conv(c) => format!("{} conv ({})", c.gemm.name, c.gemm.kernel.kind()),
        Nonlinear(n) => n.name.clone(),
        MaxPool2 { name } => name.clone(),
        Flatten => "flatten".into(),
        PatchEmbed(p) => format!("{} ({})", p.gemm.name, p.gemm.kernel.kind()),
        Affine(a) => a.name.clone(),
        TransformerBlock(b) => format!(
            "{} ({}, {}, {}, {})",
            b.prefix,
            b.qkv.kernel.kind(),
            b.proj.kernel.kind(),
            b.fc1.kernel.kind(),
            b.fc2.kernel.kind()
        ),
        MeanPool => "mean-pool".into(),
        PrependToken(t) => t.name.clone(),
        DistillHeads(h) => format!(
            "{} + {} ({}, {})",
            h.head.name,
            h.dist_head.name,
            h.head.kernel.kind(),
            h.dist_head.kernel.kind()
        ),
    }
}

/// Median seconds of each node on its real input.
fn per_node(model: &DeployedModel, x: &[f32], batch: usize, reps: usize) -> Vec<(String, f64)> {
    let [c, h, w] = model.input;
    assert_eq!(c, 1, "the profiler feeds single-channel images");
    let mut act = Act {
        data: x.to_vec(),
        batch,
        layout: Layout::Nhwc { h, w, c },
    };
    let mut out = Vec::new();
    for node in &model.nodes {
        // The input copy is made outside the timed region.
        let mut t: Vec<f64> = (0..reps)
            .map(|_| {
                let input = act.clone();
                let s = Instant::now();
                std::hint::black_box(node.run(input, &mut None));
                s.elapsed().as_secs_f64()
            })
            .collect();
        t.sort_by(|a, b| a.total_cmp(b));
        let t = t[0];
        out.push((node_label(node), t));
        act = node.run(act, &mut None);
    }
    out
}

fn fnv(v: &[f32]) -> u64 {
    let mut h = 0xcbf29ce484222325u64;
    for x in v {
        for b in x.to_bits().to_le_bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    h
}

fn main() -> anyhow::Result<()> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let model_label = a.first().cloned().unwrap_or_else(|| "cnn".into());
    let method_label = a.get(1).cloned().unwrap_or_else(|| "lut-metric".into());
    let variant: usize = a.get(2).map_or(Ok(0), |s| s.parse())?;
    let batch: usize = a.get(3).map_or(Ok(256), |s| s.parse())?;
    let seconds: f64 = a.get(4).map_or(Ok(0.0), |s| s.parse())?;
    let threads: usize = a.get(5).map_or(Ok(2), |s| s.parse())?;

    let text = std::fs::read_to_string(SUITE_FILE)?;
    let suite = compbench_suite::parse(SUITE_FILE, &text, &compbench_registry::catalog())
        .map_err(|e| anyhow::anyhow!("{SUITE_FILE}: {} errors", e.len()))?;
    let seed = suite.seeds(Mode::Quick).first().copied().unwrap_or(0);
    let exps: Vec<_> = suite
        .experiments(Mode::Quick, Some(seed))
        .into_iter()
        .filter(|e| e.model.label == model_label)
        .collect();
    let first = exps
        .first()
        .ok_or_else(|| anyhow::anyhow!("no model `{model_label}`"))?;
    let ds = compbench_registry::dataset(&first.dataset)?;
    let mut splits = ds.load(&compbench_nn::data::locator(&[]))?;
    if let Some(n) = suite.quick.test_subset {
        splits.test = splits.test.head(n);
    }
    let cache = compbench_runner::default_cache_dir(std::path::Path::new("results"));
    let base = execute::train_baseline(
        first,
        &splits,
        true,
        suite.quick.train_subset,
        &cache,
        &Silent,
    )
    .map_err(anyhow::Error::msg)?;
    let dense = base.net.to_deployed();
    let model = if method_label == "dense" {
        None
    } else {
        let e = exps
            .iter()
            .filter(|e| e.method.label == method_label)
            .nth(variant)
            .ok_or_else(|| anyhow::anyhow!("no variant {variant} of `{method_label}`"))?;
        eprintln!("compressing {}", execute::experiment_name(e));
        let c = execute::compress(e, &base, None, &splits, true, &Silent)
            .map_err(anyhow::Error::msg)?;
        Some(c.deployed)
    };
    let x = splits.test.head(batch).images;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    pool.install(|| {
        let reps = if batch == 1 { 200 } else { 15 };
        let d = per_node(&dense, &x, batch, reps);
        let m = model.as_ref().map(|m| per_node(m, &x, batch, reps));
        let dt = fastest(reps, || {
            std::hint::black_box(dense.forward(&x, batch));
        });
        println!(
            "dense total {:.3} ms (nodes: {:.3} ms)",
            dt * 1e3,
            d.iter().map(|r| r.1).sum::<f64>() * 1e3
        );
        for (l, t) in &d {
            println!("  {:40} {:9.3} ms", l, t * 1e3);
        }
        if let Some((model, m)) = model.as_ref().zip(m) {
            let mt = fastest(reps, || {
                std::hint::black_box(model.forward(&x, batch));
            });
            println!(
                "{} total {:.3} ms (nodes: {:.3} ms), speedup {:.2}x, logits hash {:016x}",
                model.name,
                mt * 1e3,
                m.iter().map(|r| r.1).sum::<f64>() * 1e3,
                dt / mt,
                fnv(&model.forward(&x, batch))
            );
            for (l, t) in &m {
                println!("  {:40} {:9.3} ms", l, t * 1e3);
            }
            if seconds > 0.0 {
                let s = Instant::now();
                while s.elapsed().as_secs_f64() < seconds {
                    std::hint::black_box(model.forward(&x, batch));
                }
            }
        }
    });
    Ok(())
}
