//! The two earlier LUT methods as baselines (`lut-nn`, `maddness`): validation, LUT-NN's
//! soft-PQ training with quantized tables, and end to end on a synthetic CNN, on the same
//! kernel, IR and measured bit counts as LUTBoost.

mod common;

use std::collections::BTreeMap;

use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Tensor, TensorData};
use common::randn;
use compbench_core::seed::Rng;
use compbench_core::{Op, Params, Value};
use compbench_lutboost::layer::{LayerSpec, LutLayerParams, Mode, lut_linear};
use compbench_lutboost::metric::VqMetric;
use compbench_lutboost::table::{TableBits, TableScale};
use compbench_lutboost::{LUT_NN, LUTBOOST, MADDNESS};
use compbench_nn::data::synthetic::Synthetic;
use compbench_nn::method::{Compressed, Method, MethodCtx};
use compbench_nn::models::{ModelConfig, Network};
use compbench_nn::train::{TrainConfig, fit_dense};

fn params(m: &dyn Method, pairs: &[(&str, Value)]) -> Params {
    let given: BTreeMap<String, Value> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    Params::resolve(m.params(), &given).unwrap()
}

#[test]
fn baselines_check_their_parameters() {
    use Value::Int;
    let cnn = ModelConfig::cnn();
    assert!(MADDNESS.check(&params(&MADDNESS, &[]), &cnn).is_ok());
    let e = MADDNESS
        .check(&params(&MADDNESS, &[("c", Int(12))]), &cnn)
        .unwrap_err()
        .to_string();
    assert!(e.contains("parameter `c`: 12 is not a power of two"), "{e}");
    let e = MADDNESS
        .check(&params(&MADDNESS, &[("v", Int(9))]), &cnn)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("9 does not divide K = 1568 of layer `fc1`"),
        "{e}"
    );
    assert!(LUT_NN.check(&params(&LUT_NN, &[]), &cnn).is_ok());
    let e = LUT_NN
        .check(&params(&LUT_NN, &[("v_conv", Int(5))]), &cnn)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("5 does not divide K = 144 of layer `conv2`"),
        "{e}"
    );
}

/// A LUT layer and its weight, trained together (LUT-NN trains both).
#[derive(Module, Debug)]
struct Toy {
    lut: LutLayerParams,
    w: Param<Tensor<2>>,
}

#[test]
fn lut_nn_soft_pq_lowers_the_loss_and_learns_the_temperature() {
    // One LUT layer, int8 tables in the hard forward (LUT-NN's), fitting y = x·W* with Adam at
    // LUT-NN's learning rate (1e-3; the temperature's gain makes its effective rate 0.1).
    let (rows, k, n, v, c) = (512, 16, 8, 4, 16);
    let nc = k / v;
    let device = compbench_nn::device();
    let ad = device.clone().autodiff();
    let mut rng = Rng::new(1);
    // Clustered inputs: each sub-vector near one of c centres; the centroids start off the
    // centres, so the soft-PQ gradient has to move them (and the weights) to cut the error.
    let centres = randn(&mut rng, nc * c * v, 1.0);
    let mut x = Vec::with_capacity(rows * k);
    for _ in 0..rows {
        for s in 0..nc {
            let j = rng.below(c);
            for d in 0..v {
                x.push(centres[(s * c + j) * v + d] + 0.1 * rng.normal());
            }
        }
    }
    let w_true = randn(&mut rng, k * n, 0.5);
    let y: Vec<f32> = (0..rows)
        .flat_map(|r| {
            let (x, w) = (&x, &w_true);
            (0..n).map(move |j| (0..k).map(|i| x[r * k + i] * w[i * n + j]).sum::<f32>())
        })
        .collect();
    let cent: Vec<f32> = centres.iter().map(|&m| m + 0.4 * rng.normal()).collect();
    let spec = LayerSpec {
        name: "l".into(),
        k,
        n,
        v,
        c,
        metric: VqMetric::L2,
    };
    let table = Some((TableBits::I8, TableScale::PerColumn));
    let xt = Tensor::<2>::from_data(TensorData::new(x, [rows, k]), &ad);
    let yt = Tensor::<2>::from_data(TensorData::new(y, [rows, n]), &ad);
    let mut m = Toy {
        lut: LutLayerParams::new(&cent, nc, c, v, 1.0, &ad),
        w: Param::from_data(TensorData::new(w_true.clone(), [k, n]), &ad),
    }
    .train();
    let hard_loss = |m: &Toy| -> f32 {
        let out = lut_linear(
            &spec,
            &m.lut,
            table,
            Mode::Hard,
            xt.clone(),
            m.w.val(),
            None,
        );
        (out - yt.clone()).square().mean().into_scalar::<f32>()
    };
    let (loss0, tau0) = (hard_loss(&m), m.lut.tau());
    let mut optim = AdamConfig::new().init();
    for _ in 0..300 {
        let out = lut_linear(&spec, &m.lut, table, Mode::Ste, xt.clone(), m.w.val(), None);
        let loss = (out - yt.clone()).square().mean();
        let grads = GradientsParams::from_grads(loss.backward(), &m);
        m = optim.step(1e-3, m, grads);
    }
    let (loss1, tau1) = (hard_loss(&m), m.lut.tau());
    assert!(loss1 < 0.9 * loss0, "hard-forward loss {loss0} -> {loss1}");
    assert!(
        (tau1 - tau0).abs() > 0.05 * tau0,
        "temperature did not move: {tau0} -> {tau1}"
    );
}

/// (the method's output, accuracy) for `method` on the synthetic CNN `net`.
fn run(
    method: &dyn Method,
    given: &[(&str, Value)],
    net: &Network,
    data: &compbench_core::Splits,
) -> (Compressed, f64) {
    let model = ModelConfig::cnn();
    let p = params(method, given);
    method.check(&p, &model).unwrap();
    let device = compbench_nn::device();
    let ftcfg = TrainConfig {
        epochs: 1,
        batch_size: 64,
        ..TrainConfig::default()
    };
    let ctx = MethodCtx {
        baseline: net,
        model: &model,
        data,
        train: &ftcfg,
        device: &device,
        seed: 1,
        quick: false,
        log: &|_| {},
    };
    let out = method.apply(&ctx, &p).unwrap();
    let acc = out.deployed.accuracy(&data.test);
    (out, acc)
}

/// (layer, v, c, table bits, centroid bits) of every vector-quantized GEMM.
fn vq_layers(out: &Compressed) -> Vec<(String, u32, u32, u8, u8)> {
    out.deployed
        .workload(1)
        .layers
        .iter()
        .filter_map(|l| match &l.op {
            Op::Gemm(g) => {
                g.vq.as_ref()
                    .map(|s| (l.name.clone(), s.v, s.c, s.table_bits, s.centroid_bits))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn cnn_baselines_deploy_on_the_lut_kernel_with_lutboosts_bit_counts() {
    use Value::Int;
    let data = Synthetic::new(1024, 256, 0).generate();
    let device = compbench_nn::device();
    let model = ModelConfig::cnn();
    let tcfg = TrainConfig {
        epochs: 2,
        batch_size: 64,
        lr: 2e-3,
        ..TrainConfig::default()
    };
    let (net, _) = fit_dense(
        Network::new(&model, &device, 0),
        &tcfg,
        &data.train,
        &device,
        0,
        &|_| {},
    );
    let net = net.valid();
    let base = net.to_deployed().accuracy(&data.test);
    assert!(base > 0.5, "baseline did not learn: {base}");

    let shape = [
        ("v", Int(4)),
        ("v_conv", Int(9)),
        ("c", Int(16)),
        ("calib_images", Int(64)),
    ];
    let with = |extra: &[(&'static str, Value)]| -> Vec<(&'static str, Value)> {
        shape.iter().cloned().chain(extra.iter().cloned()).collect()
    };
    let (boost, acc_boost) = run(
        &LUTBOOST,
        &with(&[
            ("kmeans_iters", Int(8)),
            ("s2_steps", Int(20)),
            ("s3_epochs", Int(1)),
        ]),
        &net,
        &data,
    );
    let (lutnn, acc_lutnn) = run(
        &LUT_NN,
        &with(&[("kmeans_iters", Int(8)), ("epochs", Int(1))]),
        &net,
        &data,
    );
    let (mad, acc_mad) = run(&MADDNESS, &with(&[]), &net, &data);

    // Same layers, same (v, c, table bits, 16-bit codebook entries) in the IR: the `lut`
    // hardware model prices the three alike.
    let want = vec![
        ("conv2".to_string(), 9, 16, 8, 16),
        ("fc1".to_string(), 4, 16, 8, 16),
    ];
    assert_eq!(vq_layers(&boost), want);
    assert_eq!(vq_layers(&lutnn), want);
    assert_eq!(vq_layers(&mad), want);

    // The same measured bits per activation; LUT-NN stores exactly what LUTBoost stores, the
    // tree encoder a little less (15 thresholds per codebook instead of 16 centroids of v).
    let bpa = boost.metrics["bits_per_activation"];
    assert_eq!(lutnn.metrics["bits_per_activation"], bpa);
    assert_eq!(mad.metrics["bits_per_activation"], bpa);
    let bpw = boost.metrics["bits_per_weight"];
    assert_eq!(lutnn.metrics["bits_per_weight"], bpw);
    let bpw_mad = mad.metrics["bits_per_weight"];
    assert!(bpw_mad < bpw && bpw_mad > 0.8 * bpw, "{bpw_mad} vs {bpw}");

    // They work: LUT-NN trains, its temperature is learned; MADDNESS's ridge helps.
    assert!(acc_boost > base - 0.15, "lutboost {acc_boost} vs {base}");
    assert!(acc_lutnn > base - 0.15, "lut-nn {acc_lutnn} vs {base}");
    assert!(acc_mad > 0.5 * base, "maddness {acc_mad} vs {base}");
    assert!(
        (lutnn.metrics["tau_mean"] - 1.0).abs() > 1e-3,
        "{:?}",
        lutnn.metrics
    );
    assert!(
        mad.metrics["recon_nmse_ridge"] <= mad.metrics["recon_nmse_means"],
        "{:?}",
        mad.metrics
    );
}
