//! The worked example of docs/adding-a-method.md, tested end to end on synthetic data.

use std::collections::BTreeMap;

use burn::module::Module;
use compbench_core::{Params, Value};
use compbench_magnitude_prune::{MAGNITUDE_PRUNE, magnitude_mask};
use compbench_nn::data::Synthetic;
use compbench_nn::models::{ModelConfig, ModelKind, Network};
use compbench_nn::train::{TrainConfig, fit_dense};
use compbench_nn::{Method, MethodCtx};

#[test]
fn mask_removes_exactly_the_smallest_weights() {
    let cases: &[(&[f32], f64, &[bool])] = &[
        (&[0.1, -3.0, 0.5, 2.0], 0.5, &[false, true, false, true]),
        (&[1.0, 1.0, 1.0, 1.0], 0.25, &[false, true, true, true]),
        (&[5.0, -1.0, 0.0], 0.0, &[true, true, true]),
        (&[], 0.9, &[]),
    ];
    for (w, s, expected) in cases {
        assert_eq!(
            &magnitude_mask(w, *s)[..],
            *expected,
            "w={w:?} sparsity={s}"
        );
    }
}

#[test]
fn pruned_mlp_reports_sparsity_and_keeps_zeros_after_finetuning() {
    let splits = Synthetic::new(1024, 256, 11).generate();
    let device = compbench_nn::device();
    let cfg = ModelConfig::new(ModelKind::Mlp);
    let recipe = TrainConfig {
        epochs: 1,
        batch_size: 64,
        threads: 2,
        ..TrainConfig::for_model(ModelKind::Mlp)
    };
    let (net, _) = fit_dense(
        Network::new(&cfg, &device, 5),
        &recipe,
        &splits.train,
        &device,
        5,
        &|_| {},
    );
    let net = net.valid();
    let float_acc = net.to_deployed().accuracy(&splits.test);
    let tune = TrainConfig {
        train_subset: Some(256),
        ..recipe
    };
    let ctx = MethodCtx {
        baseline: &net,
        model: &cfg,
        data: &splits,
        train: &tune,
        device: &device,
        seed: 1,
        quick: true,
        log: &|_| {},
    };

    let given: BTreeMap<String, Value> = [
        ("sparsity", Value::Float(0.75)),
        ("finetune_epochs", Value::Int(1)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let params = Params::resolve(MAGNITUDE_PRUNE.params(), &given).unwrap();
    let out = MAGNITUDE_PRUNE.apply(&ctx, &params).unwrap();

    // fc1 (first) and fc3 (classifier) stay dense; fc2 loses 75 % of its weights, exactly.
    let layers = out.deployed.gemm_layers();
    let (name, fc2) = layers[1];
    assert_eq!(name, "fc2");
    let (w, _) = fc2.dense_weights().unwrap();
    let zeros = w.iter().filter(|x| **x == 0.0).count();
    assert_eq!(zeros, (w.len() as f64 * 0.75).floor() as usize);
    assert!(
        layers[0]
            .1
            .dense_weights()
            .unwrap()
            .0
            .iter()
            .all(|x| *x != 0.0)
    );

    let wl = out.deployed.workload(1);
    assert_eq!(wl.layer("fc2").unwrap().as_gemm().unwrap().density(), 0.25);
    assert_eq!(wl.layer("fc1").unwrap().as_gemm().unwrap().density(), 1.0);
    assert!((out.metrics["pruned_fraction"] - 0.75).abs() < 1e-9);

    let acc = out.deployed.accuracy(&splits.test);
    assert!(acc > float_acc - 0.15, "pruned {acc} vs float {float_acc}");
}

#[test]
fn out_of_range_sparsity_is_refused_with_the_allowed_range() {
    let given: BTreeMap<String, Value> = [("sparsity".to_string(), Value::Float(1.5))]
        .into_iter()
        .collect();
    let err = Params::resolve(MAGNITUDE_PRUNE.params(), &given).unwrap_err();
    assert_eq!(
        err.to_string(),
        "parameter `sparsity`: 1.5 is out of range (allowed: a number in [0, 0.99])"
    );
}
