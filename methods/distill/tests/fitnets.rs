//! FitNets in the `distill` method: a hint stage then KD, end to end; the hint parameters off
//! (the default) leave the method's training exactly as before; and the parameter checks
//! (a hint without a teacher, a guided layer without a hint, unknown layers) are errors.

use std::collections::BTreeMap;

use burn::module::Module;
use compbench_core::seed::derive;
use compbench_core::{Params, Value};
use compbench_distill::DISTILL;
use compbench_nn::data::Synthetic;
use compbench_nn::distill::Teacher;
use compbench_nn::hooks::DenseHooks;
use compbench_nn::models::{ModelConfig, Network};
use compbench_nn::train::{TrainConfig, fit, fit_dense};
use compbench_nn::{Method, MethodCtx};

fn recipe(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 64,
        lr: 3e-3,
        warmup_epochs: 0.0,
        threads: 2,
        ..TrainConfig::default()
    }
}

fn student_cfg() -> ModelConfig {
    ModelConfig {
        conv1_channels: 4,
        conv2_channels: 8,
        fc_hidden: 16,
        ..ModelConfig::cnn()
    }
}

fn params(given: &[(&str, Value)]) -> Params {
    let given: BTreeMap<String, Value> = given
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    Params::resolve(DISTILL.params(), &given).unwrap()
}

#[test]
fn fitnets_runs_hints_then_kd_and_reports_the_stage() {
    let data = Synthetic::new(640, 320, 0).generate();
    let device = compbench_nn::device();
    let teacher_net = Network::new(&ModelConfig::cnn(), &device, 1);
    let (teacher_net, _) = fit_dense(teacher_net, &recipe(3), &data.train, &device, 1, &|_| {});
    let teacher = Teacher::new("cnn", "key", teacher_net.valid().to_deployed(), 4.0, 0.9);
    let cfg = student_cfg();
    let baseline = Network::new(&cfg, &device, 0);
    let train = TrainConfig {
        teacher: Some(teacher),
        ..recipe(4)
    };
    let logs = std::sync::Mutex::new(Vec::new());
    let log = |m: &str| logs.lock().unwrap().push(m.to_string());
    let ctx = MethodCtx {
        baseline: &baseline,
        model: &cfg,
        data: &data,
        train: &train,
        device: &device,
        seed: 4,
        quick: false,
        log: &log,
    };
    let p = params(&[
        ("hint_layer", Value::Str("conv2.relu".into())),
        ("hint_epochs", Value::Int(2)),
    ]);
    let out = DISTILL.apply(&ctx, &p).unwrap();
    let m = &out.metrics;
    assert_eq!(m["regressor_params"], (8 * 32 + 32) as f64);
    assert!(m["hint_s"] > 0.0 && m["hint_loss"].is_finite());
    assert!(m.contains_key("teacher_accuracy"));
    let acc = out.deployed.accuracy(&data.test);
    assert!(acc > 0.5, "FitNets student accuracy {acc}");
    let logs = logs.lock().unwrap().clone();
    assert!(
        logs.iter().any(|l| l.starts_with(
            "FitNets hints: student `conv2.relu` (14×14×8) → teacher `cnn`'s `conv2.relu` \
             (14×14×32) through a 1×1 conv 8→32 + ReLU"
        )),
        "{logs:?}"
    );
    assert!(logs.iter().any(|l| l.starts_with("hints: epoch 2/2")));
    // Stage 2 ran from the stage-1 weights: it logged its own epochs after the hint stage.
    let hint_end = logs
        .iter()
        .position(|l| l.starts_with("hints: epoch 2/2"))
        .unwrap();
    assert!(logs[hint_end..].iter().any(|l| l.starts_with("epoch 4/4")));

    // A hint without a teacher cannot run.
    let alone = recipe(1);
    let ctx = MethodCtx {
        train: &alone,
        log: &|_| {},
        ..ctx
    };
    let e = DISTILL.apply(&ctx, &p).err().unwrap().to_string();
    assert!(e.contains("names no teacher"), "{e}");
}

/// With the hint parameters at their defaults, `apply` trains the student exactly as the
/// shared `fit` does from the same initialization and seeds: results from before FitNets are
/// unchanged.
#[test]
fn without_hints_the_method_trains_exactly_as_before() {
    let data = Synthetic::new(256, 64, 1).generate();
    let device = compbench_nn::device();
    let cfg = student_cfg();
    let baseline = Network::new(&cfg, &device, 0);
    let train = recipe(1);
    let ctx = MethodCtx {
        baseline: &baseline,
        model: &cfg,
        data: &data,
        train: &train,
        device: &device,
        seed: 7,
        quick: false,
        log: &|_| {},
    };
    let out = DISTILL.apply(&ctx, &params(&[])).unwrap();
    assert!(!out.metrics.contains_key("hint_s"));
    let init = Network::new(
        &ModelConfig {
            classes: data.classes,
            ..cfg.clone()
        },
        &device,
        derive(7, &["distill", "init"]),
    );
    let (want, _) = fit(
        init,
        &train,
        &data.train,
        &device,
        derive(7, &["distill", "train"]),
        |m: &Network, x| m.forward(x, &DenseHooks),
        &|_| {},
    );
    let want = want.valid().to_deployed();
    assert_eq!(
        out.deployed.forward(&data.test.images, data.test.len()),
        want.forward(&data.test.images, data.test.len())
    );
    // And the deployed weights are the trained ones, bit for bit.
    let got: Vec<_> = out
        .deployed
        .gemm_layers()
        .iter()
        .map(|(n, k)| (n.to_string(), k.dense_weights().unwrap().0.to_vec()))
        .collect();
    let exp: Vec<_> = want
        .gemm_layers()
        .iter()
        .map(|(n, k)| (n.to_string(), k.dense_weights().unwrap().0.to_vec()))
        .collect();
    assert_eq!(got, exp);
}

#[test]
fn hint_parameters_are_checked_against_the_student_and_teacher() {
    let (s, t) = (student_cfg(), ModelConfig::cnn());
    let err = |p: &Params, teacher: Option<&ModelConfig>| {
        DISTILL
            .check(p, &s)
            .and_then(|_| DISTILL.check_teacher(p, &s, teacher))
            .map_err(|e| e.to_string())
    };
    assert_eq!(err(&params(&[]), None), Ok(()));
    let hint = |h: &str| params(&[("hint_layer", Value::Str(h.into()))]);
    assert_eq!(err(&hint("conv2.relu"), Some(&t)), Ok(()));
    assert_eq!(
        err(&hint("conv2.relu"), None).unwrap_err(),
        "parameter `hint_layer`: FitNets hints come from a teacher: name one with `teacher:` \
         on this entry"
    );
    assert_eq!(
        err(
            &params(&[("guided_layer", Value::Str("conv2".into()))]),
            Some(&t)
        )
        .unwrap_err(),
        "parameter `guided_layer`: a guided layer needs a hint layer: set hint_layer (the \
         teacher layer it learns to predict)"
    );
    let e = err(&hint("conv9"), Some(&t)).unwrap_err();
    assert!(
        e.starts_with("parameter `hint_layer`: the teacher (cnn) has no layer `conv9` (its layers: conv1, conv1.relu,"),
        "{e}"
    );
    // The guided layer defaults to the hint's name: a student without it is the hint's error.
    let mlp_student = ModelConfig::mlp();
    let e = DISTILL
        .check_teacher(&hint("conv2.relu"), &mlp_student, Some(&t))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("parameter `hint_layer`: the student (mlp) has no layer `conv2.relu`")
            && e.ends_with(
                "(guided_layer is empty, so the student layer named like the hint layer is guided)"
            ),
        "{e}"
    );
    // An explicit guided layer is its own parameter's error, shapes included.
    let p = params(&[
        ("hint_layer", Value::Str("conv1".into())),
        ("guided_layer", Value::Str("conv2.pool".into())),
    ]);
    let e = err(&p, Some(&t)).unwrap_err();
    assert!(
        e.starts_with("parameter `guided_layer`: the student's `conv2.pool` (7×7×8) cannot be regressed onto the teacher's `conv1` (28×28×16)"),
        "{e}"
    );
}
