//! Time forward+backward of the CNN's ops in burn-flex (diagnostics for training speed).
//! `cargo run --release -p compbench-nn --example opbench`

use std::time::Instant;

use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor, TensorData};
use compbench_core::seed::Rng;
use compbench_nn::hooks::{ConvGeom, dense_conv2d, native_conv2d};
use compbench_nn::train::with_threads;

fn rand(shape: [usize; 4], dev: &Device, grad: bool) -> Tensor<4> {
    let n = shape.iter().product();
    let mut r = Rng::new(1);
    let t = Tensor::<4>::from_data(
        TensorData::new((0..n).map(|_| r.normal()).collect::<Vec<f32>>(), shape),
        dev,
    );
    if grad { t.require_grad() } else { t }
}

fn time(name: &str, f: impl Fn()) {
    f();
    let reps = 10;
    let t = Instant::now();
    for _ in 0..reps {
        f();
    }
    println!(
        "{name:40} {:8.2} ms",
        t.elapsed().as_secs_f64() * 1e3 / reps as f64
    );
}

fn main() {
    with_threads(2, || {
        let dev = Device::flex().autodiff();
        for (name, g, hw, xgrad) in [
            (
                "conv1",
                ConvGeom {
                    in_channels: 1,
                    out_channels: 16,
                    kernel: 3,
                    stride: 1,
                    padding: 1,
                },
                28,
                false,
            ),
            (
                "conv2",
                ConvGeom {
                    in_channels: 16,
                    out_channels: 32,
                    kernel: 3,
                    stride: 1,
                    padding: 1,
                },
                14,
                true,
            ),
        ] {
            let x = rand([128, g.in_channels, hw, hw], &dev, xgrad);
            let w = rand([g.out_channels, g.in_channels, 3, 3], &dev, true);
            time(&format!("{name} native fwd"), || {
                let _ = native_conv2d(&g, x.clone(), w.clone(), None).into_data();
            });
            time(&format!("{name} native fwd+bwd"), || {
                let _ = native_conv2d(&g, x.clone(), w.clone(), None)
                    .sum()
                    .backward();
            });
            time(&format!("{name} hooks fwd+bwd"), || {
                let _ = dense_conv2d(&g, x.clone(), w.clone(), None)
                    .sum()
                    .backward();
            });
            let y = rand([128, g.out_channels, hw, hw], &dev, true);
            time(&format!("{name} maxpool fwd+bwd"), || {
                let _ = max_pool2d(y.clone(), MaxPoolOptions::new([2, 2]))
                    .sum()
                    .backward();
            });
            time(&format!("{name} maxpool-as-max_dim fwd+bwd"), || {
                let [b, c, h, w] = y.dims();
                let _ = y
                    .clone()
                    .reshape([b * c * h / 2, 2, w / 2, 2])
                    .max_dim(3)
                    .max_dim(1)
                    .sum()
                    .backward();
            });
            time(&format!("{name} relu-reshape fwd+bwd"), || {
                let [b, c, h, w] = y.dims();
                let _ = burn::tensor::activation::relu(y.clone().reshape([b, c * h * w]))
                    .reshape([b, c, h, w])
                    .sum()
                    .backward();
            });
        }
    });
}
