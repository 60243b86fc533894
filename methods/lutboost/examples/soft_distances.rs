//! Forward+backward time of the soft path's distances: the fused op vs burn tensor ops, at the
//! converted layers' shapes of one training shard (64 images).
//! `cargo run --release --example soft_distances`

use std::time::Instant;

use burn::tensor::{Tensor, TensorData};
use compbench_core::seed::Rng;
use compbench_lutboost::fused::vq_distances;
use compbench_lutboost::layer::distances;
use compbench_lutboost::metric::VqMetric;

fn main() {
    let dev = compbench_nn::device().autodiff();
    // (layer, rows, K, c, v): CNN conv2 im2col rows (64 · 14 · 14), ViT qkv rows (64 · 49).
    for (name, rows, k, c, v) in [
        ("cnn conv2", 12_544, 144, 16, 4),
        ("cnn conv2", 12_544, 144, 16, 9),
        ("vit qkv", 3_136, 64, 16, 4),
    ] {
        let nc = k / v;
        let mut rng = Rng::new(1);
        let mut randn = |n: usize| (0..n).map(|_| rng.normal()).collect::<Vec<f32>>();
        let x = randn(rows * k);
        let cent = randn(nc * c * v);
        let g = randn(nc * rows * c);
        for metric in VqMetric::ALL {
            let time = |fused: bool| {
                let run = || {
                    let xt = Tensor::<2>::from_data(TensorData::new(x.clone(), [rows, k]), &dev)
                        .require_grad();
                    let ct =
                        Tensor::<3>::from_data(TensorData::new(cent.clone(), [nc, c, v]), &dev)
                            .require_grad();
                    let gt =
                        Tensor::<3>::from_data(TensorData::new(g.clone(), [rows, nc, c]), &dev);
                    let d = if fused {
                        vq_distances(metric, xt, ct)
                    } else {
                        distances(metric, xt, ct)
                    };
                    let _ = (d * gt).sum().backward();
                };
                run();
                let reps = 5;
                let t = Instant::now();
                for _ in 0..reps {
                    run();
                }
                t.elapsed().as_secs_f64() * 1e3 / reps as f64
            };
            let (f, t) = (time(true), time(false));
            println!(
                "{name:10} rows {rows:6} K {k:4} c {c:3} v {v:2} {:10}: fused {f:8.2} ms, tensor ops {t:8.2} ms ({:.1}×)",
                metric.name(),
                t / f
            );
        }
    }
}
