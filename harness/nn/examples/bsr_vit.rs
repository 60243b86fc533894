//! The block-pruned deployed ViT against the dense deployed ViT, end to end, in the same run.
//!
//! ViT with d_model = 128, MLP ratio 4 (the zoo's other knobs at their defaults); in every
//! transformer block, qkv, proj, fc1 and fc2 lose the 50 % of their 16×16 blocks with the
//! smallest L1 norm (patch embedding and head stay dense), and run on [`BsrGemm`]. Weights are
//! the zoo's seeded initialization: speed does not depend on training. Prints one JSON line
//! with batch-256 medians, the speedup (median of paired runs), the linear-layer FLOPs kept, and the same comparison
//! restricted to the pruned GEMMs (each timed on the input it sees in the model).
//!
//! `cargo run --release -p compbench-nn --example bsr_vit -- [threads] [reps]`

use std::time::Instant;

use compbench_core::seed::Rng;
use compbench_nn::bench::{self, alternating_seconds};
use compbench_nn::deployed::{BsrGemm, DeployedModel, GemmKernel};
use compbench_nn::kernels::bsr::prune_blocks_l1;
use compbench_nn::models::{ModelConfig, Network};
use compbench_nn::train::with_threads;

const BLOCK: usize = 16;
const SPARSITY: f64 = 0.5;

/// Median wall time of `f` over `reps` runs after one warm-up.
fn median(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(|a, b| a.total_cmp(b));
    t[t.len() / 2]
}

/// The pruned model: every transformer block's GEMMs become [`BsrGemm`]. Returns it and the
/// kept fraction of those layers' multiply-adds (blocks kept, per row).
fn prune(dense_net: &Network) -> (DeployedModel, f64) {
    let mut model = dense_net.to_deployed();
    let names: Vec<(String, usize, usize, Vec<f32>, Option<Vec<f32>>)> = model
        .gemm_layers()
        .into_iter()
        .filter(|(name, _)| name.starts_with("block"))
        .map(|(name, k)| {
            let (w, b) = k.dense_weights().expect("dense deployed layer");
            (
                name.to_string(),
                k.k(),
                k.n(),
                w.to_vec(),
                b.map(<[f32]>::to_vec),
            )
        })
        .collect();
    let (mut kept, mut total) = (0.0, 0.0);
    for (name, k, n, mut w, b) in names {
        prune_blocks_l1(k, n, &mut w, BLOCK, BLOCK, SPARSITY);
        let g = BsrGemm::new(k, n, &w, b.as_deref(), BLOCK, BLOCK).expect("finite weights");
        kept += g.matrix().block_density() * (k * n) as f64;
        total += (k * n) as f64;
        model
            .replace_gemm(&name, |_| Box::new(g))
            .expect("same shape");
    }
    (model, kept / total)
}

fn layer<'a>(model: &'a DeployedModel, name: &str) -> &'a dyn GemmKernel {
    model
        .gemm_layers()
        .into_iter()
        .find(|(l, _)| *l == name)
        .map(|(_, k)| k)
        .expect("layer of the model")
}

fn main() {
    let mut args = std::env::args().skip(1);
    let threads = args.next().and_then(|s| s.parse().ok()).unwrap_or(2);
    let reps = args.next().and_then(|s| s.parse().ok()).unwrap_or(11);
    with_threads(threads, || {
        let device = compbench_nn::device();
        let mut cfg = ModelConfig::vit();
        cfg.d_model = 128;
        cfg.mlp_ratio = 4;
        let net = Network::new(&cfg, &device, 0);
        let dense = net.to_deployed();
        let (sparse, flops_kept) = prune(&net);
        let batch = 256;
        let mut r = Rng::new(1);
        let x: Vec<f32> = (0..batch * 784).map(|_| r.next_f32()).collect();
        // Calls of the two models alternate, so a change of machine speed (the 2-core VM's
        // neighbours) falls on both sides of a pair; the speedup is the median of the pairs'
        // ratios.
        let forward = |m: &DeployedModel| {
            std::hint::black_box(m.forward(&x, batch));
        };
        let pairs = alternating_seconds(1 + 3 * reps, || forward(&dense), || forward(&sparse));
        let pairs = &pairs[1..]; // the first pair warms up
        let d = bench::median(pairs.iter().map(|p| p.0).collect());
        let s = bench::median(pairs.iter().map(|p| p.1).collect());
        let speedup = bench::median(pairs.iter().map(|p| p.0 / p.1).collect());
        // The pruned GEMMs alone, on the inputs they see in the model.
        let names: Vec<String> = sparse
            .gemm_layers()
            .iter()
            .filter(|(_, k)| k.kind() == "block-sparse-f32")
            .map(|(n, _)| n.to_string())
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let inputs = dense.capture_gemm_inputs(&x, batch, &refs);
        let (mut gd, mut gs) = (0.0, 0.0);
        for name in &names {
            let input = &inputs[name];
            let (kd, ks) = (layer(&dense, name), layer(&sparse, name));
            let mut out = vec![0.0; input.rows * kd.n()];
            gd += median(reps, || kd.forward(&input.data, input.rows, &mut out));
            gs += median(reps, || ks.forward(&input.data, input.rows, &mut out));
        }
        println!(
            "{}",
            serde_json::json!({
                "model": cfg.label(), "batch": batch, "threads": threads,
                "block": format!("{BLOCK}x{BLOCK}"), "blocks_zeroed": SPARSITY,
                "pruned_linear_flops_kept": flops_kept,
                "dense_ms": d * 1e3, "sparse_ms": s * 1e3, "speedup": speedup,
                "pruned_gemms_dense_ms": gd * 1e3, "pruned_gemms_sparse_ms": gs * 1e3,
                "pruned_gemms_speedup": gd / gs,
                "rest_ms": (d - gd) * 1e3,
            })
        );
    });
}
