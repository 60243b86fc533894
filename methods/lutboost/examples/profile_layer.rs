//! Time the trainable LUT layer at the CNN's conv2 training shape (development aid).
use std::time::Instant;

use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use compbench_lutboost::layer::{LayerSpec, LutLayerParams, Mode, lut_linear};
use compbench_lutboost::metric::VqMetric;

fn main() {
    let d = compbench_nn::device();
    let ad = d.clone().autodiff();
    let (rows, k, n, v, c) = (25088, 144, 32, 4, 16);
    let nc = k / v;
    let x: Vec<f32> = (0..rows * k)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let w: Vec<f32> = (0..k * n)
        .map(|i| ((i * 104_729) % 1000) as f32 / 5000.0 - 0.1)
        .collect();
    let cent: Vec<f32> = (0..nc * c * v)
        .map(|i| ((i * 31) % 100) as f32 / 50.0 - 1.0)
        .collect();
    for metric in [VqMetric::L2, VqMetric::L1] {
        let spec = LayerSpec {
            name: "conv2".into(),
            k,
            n,
            v,
            c,
            metric,
        };
        for mode in [Mode::Hard, Mode::Ste] {
            let p = LutLayerParams::new(&cent, nc, c, v, 1.0, &d)
                .fork(&ad)
                .train();
            let wt = Tensor::<2>::from_data(TensorData::new(w.clone(), [k, n]), &ad).require_grad();
            for _ in 0..2 {
                let t0 = Instant::now();
                let xt = Tensor::<2>::from_data(TensorData::new(x.clone(), [rows, k]), &ad);
                let out = lut_linear(&spec, &p, None, mode, xt, wt.clone(), None);
                let s = out.sum();
                let t1 = t0.elapsed().as_secs_f64();
                if mode == Mode::Ste {
                    let _g = s.backward();
                } else {
                    let _ = s.into_scalar::<f32>();
                }
                println!(
                    "{metric:?} {mode:?}: forward {:.3} s, total {:.3} s",
                    t1,
                    t0.elapsed().as_secs_f64()
                );
            }
        }
    }
}
