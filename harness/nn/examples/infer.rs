//! Batch-256 inference: deployed graph vs burn forward, per model, on `threads` threads.
//! `cargo run --release -p compbench-nn --example infer -- [threads]`

use std::time::Instant;

use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use compbench_core::seed::Rng;
use compbench_nn::hooks::DenseHooks;
use compbench_nn::models::{ModelConfig, ModelKind, Network};
use compbench_nn::train::with_threads;

fn median(mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..15)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(|a, b| a.total_cmp(b));
    t[t.len() / 2]
}

fn main() {
    let threads = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    with_threads(threads, || {
        let device = compbench_nn::device();
        let batch = 256;
        let mut r = Rng::new(1);
        let x: Vec<f32> = (0..batch * 784).map(|_| r.normal()).collect();
        for kind in ModelKind::ALL {
            let net = Network::new(&ModelConfig::new(kind), &device, 0).valid();
            let dep = net.to_deployed();
            let d = median(|| {
                std::hint::black_box(dep.forward(&x, batch));
            });
            let b = median(|| {
                let t =
                    Tensor::<4>::from_data(TensorData::new(x.clone(), [batch, 1, 28, 28]), &device);
                std::hint::black_box(net.forward(t, &DenseHooks).into_data());
            });
            println!(
                "{}",
                serde_json::json!({"model": kind.name(), "batch": batch, "threads": threads,
                    "deployed_ms": d * 1e3, "burn_ms": b * 1e3, "deployed_speedup": b / d})
            );
        }
    });
}
