//! Accuracy of the quick recipes on real Fashion-MNIST through the deployed integer kernels:
//! `cargo run --release -p compbench-scalar-quant --example cnn_quick [-- EPOCHS [MODEL]]`.

use std::collections::BTreeMap;
use std::time::Instant;

use burn::module::Module;
use compbench_core::{Dataset, Params, Value};
use compbench_nn::data::{FashionMnist, locator};
use compbench_nn::models::{ModelConfig, ModelKind, Network};
use compbench_nn::train::{TrainConfig, fit_dense};
use compbench_nn::{Method, MethodCtx};
use compbench_scalar_quant::{BINARY, PTQ, QAT};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let epochs: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(2);
    let kind = args
        .get(2)
        .and_then(|s| ModelKind::parse(s))
        .unwrap_or(ModelKind::Cnn);
    let splits = FashionMnist.load(&locator(&[])).expect("Fashion-MNIST");
    let device = compbench_nn::device();
    let cfg = ModelConfig::new(kind);
    let recipe = TrainConfig {
        epochs,
        ..TrainConfig::for_model(kind)
    };
    let t = Instant::now();
    let (net, _) = fit_dense(
        Network::new(&cfg, &device, 0),
        &recipe,
        &splits.train,
        &device,
        0,
        &|_| {},
    );
    let net = net.valid();
    let float = net.to_deployed().accuracy(&splits.test);
    println!(
        "{kind:?} baseline ({epochs} epochs, {:.0} s): {:.2} %",
        t.elapsed().as_secs_f64(),
        float * 100.0
    );
    let quick = recipe.quick();
    let ctx = MethodCtx {
        baseline: &net,
        model: &cfg,
        data: &splits,
        train: &quick,
        device: &device,
        seed: 0,
        quick: true,
        log: &|_| {},
    };
    let runs: Vec<(&str, &dyn Method, Vec<(&str, Value)>)> = vec![
        ("ptq W8A8 minmax", &PTQ, vec![]),
        (
            "ptq W8A8 percentile",
            &PTQ,
            vec![("calibration", Value::Str("percentile".into()))],
        ),
        (
            "ptq W8A8 mse",
            &PTQ,
            vec![("calibration", Value::Str("mse".into()))],
        ),
        (
            "ptq W4A8 mse",
            &PTQ,
            vec![
                ("w_bits", Value::Int(4)),
                ("calibration", Value::Str("mse".into())),
                ("w_calibration", Value::Str("mse".into())),
            ],
        ),
        (
            "ptq W4A4 mse",
            &PTQ,
            vec![
                ("w_bits", Value::Int(4)),
                ("a_bits", Value::Int(4)),
                ("calibration", Value::Str("mse".into())),
                ("w_calibration", Value::Str("mse".into())),
            ],
        ),
        (
            "ptq W2A2 mse",
            &PTQ,
            vec![
                ("w_bits", Value::Int(2)),
                ("a_bits", Value::Int(2)),
                ("calibration", Value::Str("mse".into())),
                ("w_calibration", Value::Str("mse".into())),
            ],
        ),
        (
            "qat-ste W4A4",
            &QAT,
            vec![("scheme", Value::Str("ste".into()))],
        ),
        ("qat-lsq W4A4", &QAT, vec![]),
        (
            "qat-pact W4A4",
            &QAT,
            vec![("scheme", Value::Str("pact".into()))],
        ),
        (
            "qat-lsq W2A2",
            &QAT,
            vec![("w_bits", Value::Int(2)), ("a_bits", Value::Int(2))],
        ),
        ("binary W1A8", &BINARY, vec![]),
        (
            "binary W1A1",
            &BINARY,
            vec![("binary_activations", Value::Bool(true))],
        ),
        (
            "ternary W2A8",
            &BINARY,
            vec![("weights", Value::Str("ternary".into()))],
        ),
    ];
    for (label, m, given) in runs {
        let t = Instant::now();
        let given: BTreeMap<String, Value> =
            given.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let p = Params::resolve(m.params(), &given).unwrap();
        let c = m.apply(&ctx, &p).unwrap();
        let acc = c.deployed.accuracy(&splits.test);
        println!(
            "{label:22} {:6.2} %  Δ {:+5.2}  bits/weight {:5.2}  ({:.1} s)",
            acc * 100.0,
            (acc - float) * 100.0,
            c.metrics["bits_per_weight"],
            t.elapsed().as_secs_f64()
        );
    }
}
