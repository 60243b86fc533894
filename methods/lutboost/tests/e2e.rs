//! End to end on synthetic data: baseline → LUTBoost (all four stages) → deployed LUT model.

use burn::module::Module;
use compbench_core::{Op, Params, Value};
use compbench_lutboost::LUTBOOST;
use compbench_nn::data::synthetic::Synthetic;
use compbench_nn::method::{Method, MethodCtx};
use compbench_nn::models::{ModelConfig, Network};
use compbench_nn::train::{TrainConfig, fit_dense};

#[test]
fn cnn_lutboost_runs_and_keeps_accuracy() {
    let data = Synthetic::new(1024, 256, 0).generate();
    let device = compbench_nn::device();
    let model = ModelConfig::cnn();
    let tcfg = TrainConfig {
        epochs: 2,
        batch_size: 64,
        lr: 2e-3,
        ..TrainConfig::default()
    };
    let net = Network::new(&model, &device, 0);
    let (net, _) = fit_dense(net, &tcfg, &data.train, &device, 0, &|_| {});
    let net = net.valid();
    let base = net.to_deployed().accuracy(&data.test);
    assert!(base > 0.5, "baseline did not learn: {base}");

    let given = [
        ("v", Value::Int(4)),
        ("v_conv", Value::Int(9)),
        ("c", Value::Int(16)),
        ("calib_images", Value::Int(64)),
        ("kmeans_iters", Value::Int(8)),
        ("s2_steps", Value::Int(30)),
        ("s3_epochs", Value::Int(1)),
    ];
    let params = Params::resolve(
        LUTBOOST.params(),
        &given
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
    .unwrap();
    LUTBOOST.check(&params, &model).unwrap();
    let ftcfg = TrainConfig {
        epochs: 1,
        batch_size: 64,
        ..TrainConfig::default()
    };
    let logs = std::sync::Mutex::new(Vec::new());
    let log = |m: &str| logs.lock().unwrap().push(m.to_string());
    let ctx = MethodCtx {
        baseline: &net,
        model: &model,
        data: &data,
        train: &ftcfg,
        device: &device,
        seed: 1,
        quick: false,
        log: &log,
    };
    let out = LUTBOOST.apply(&ctx, &params).unwrap();
    let acc = out.deployed.accuracy(&data.test);
    assert!(
        acc > base - 0.15,
        "LUT model lost too much: {acc} vs {base}"
    );

    // conv2 and fc1 are LUT layers with the VQ spec in the IR; conv1 and fc2 stay dense.
    let w = out.deployed.workload(1);
    let vq: Vec<(&str, u32)> = w
        .layers
        .iter()
        .filter_map(|l| match &l.op {
            Op::Gemm(g) => g.vq.as_ref().map(|s| (l.name.as_str(), s.v)),
            _ => None,
        })
        .collect();
    assert_eq!(vq, vec![("conv2", 9), ("fc1", 4)]);
    let spec = w
        .layer("fc1")
        .unwrap()
        .as_gemm()
        .unwrap()
        .vq
        .clone()
        .unwrap();
    assert_eq!((spec.c, spec.table_bits, spec.centroid_bits), (16, 8, 16));
    // Measured from the stored codes, weighted by elements: conv2 stores log2(16)/9 bits per
    // element (v_conv = 9), fc1 log2(16)/4 = 1, so the mean lies strictly between.
    let bpa = out.metrics["bits_per_activation"];
    assert!(bpa > 4.0 / 9.0 && bpa < 1.0, "bits_per_activation {bpa}");
    assert!(
        out.metrics["recon_nmse_stage2"] <= out.metrics["recon_nmse_stage1"] * 1.05,
        "{:?}",
        out.metrics
    );
    let _ = Params::default();
}
