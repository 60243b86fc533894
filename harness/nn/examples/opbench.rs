//! Time forward+backward of the zoo's slow ops in burn-flex against the alternatives tried
//! (diagnostics for training speed): the CNN's convs and max-pools, the ViT's GELU and softmax,
//! burn's own ops vs `compbench_nn::fused`.
//! `cargo run --release --example opbench`

use std::time::Instant;

use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor, TensorData};
use compbench_core::seed::Rng;
use compbench_nn::fused;
use compbench_nn::hooks::{ConvGeom, dense_conv2d, native_conv2d};
use compbench_nn::train::with_threads;

fn rand<const D: usize>(shape: [usize; D], dev: &Device, grad: bool) -> Tensor<D> {
    let n = shape.iter().product();
    let mut r = Rng::new(1);
    let t = Tensor::<D>::from_data(
        TensorData::new((0..n).map(|_| r.normal()).collect::<Vec<f32>>(), shape),
        dev,
    );
    if grad { t.require_grad() } else { t }
}

/// Mean and minimum over 10 runs after a warm-up (the minimum is the robust figure on a
/// loaded machine).
fn time(name: &str, f: impl Fn()) {
    f();
    let reps = 10;
    let (mut total, mut best) = (0.0f64, f64::MAX);
    for _ in 0..reps {
        let t = Instant::now();
        f();
        let s = t.elapsed().as_secs_f64();
        total += s;
        best = best.min(s);
    }
    println!(
        "{name:42} {:8.2} ms (min {:7.2})",
        total * 1e3 / reps as f64,
        best * 1e3
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
            time(&format!("{name} maxpool fused fwd+bwd"), || {
                let _ = fused::max_pool2x2(y.clone()).sum().backward();
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
            time(
                &format!("{name} maxpool-as-strided-max_pair fwd+bwd"),
                || {
                    use burn::tensor::s;
                    let q = |i: usize, j: usize| y.clone().slice(s![.., .., i..;2, j..;2]);
                    let _ = q(0, 0)
                        .max_pair(q(0, 1))
                        .max_pair(q(1, 0).max_pair(q(1, 1)))
                        .sum()
                        .backward();
                },
            );
            time(&format!("{name} relu-reshape fwd+bwd"), || {
                let [b, c, h, w] = y.dims();
                let _ = burn::tensor::activation::relu(y.clone().reshape([b, c * h * w]))
                    .reshape([b, c, h, w])
                    .sum()
                    .backward();
            });
        }
        // ViT (tiny, batch 128): MLP hidden [128·49, 256], attention scores [128·4·49, 49].
        // A random weighting makes the upstream gradient dense, as in training.
        let h = rand([128 * 49, 256], &dev, true);
        let wh = rand([128 * 49, 256], &dev, false);
        time("vit gelu burn fwd+bwd", || {
            let _ = (burn::tensor::activation::gelu(h.clone()) * wh.clone())
                .sum()
                .backward();
        });
        time("vit gelu fused fwd+bwd", || {
            let _ = (fused::gelu(h.clone()) * wh.clone()).sum().backward();
        });
        let sc = rand([128 * 4 * 49, 49], &dev, true);
        let ws = rand([128 * 4 * 49, 49], &dev, false);
        time("vit softmax burn fwd+bwd", || {
            let _ = (burn::tensor::activation::softmax(sc.clone(), 1) * ws.clone())
                .sum()
                .backward();
        });
        time("vit softmax fused fwd+bwd", || {
            let _ = (fused::softmax_last(sc.clone()) * ws.clone())
                .sum()
                .backward();
        });
        time("vit weighting alone fwd+bwd", || {
            let _ = (sc.clone() * ws.clone()).sum().backward();
        });
    });
}
