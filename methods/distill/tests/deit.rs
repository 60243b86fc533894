//! DeiT's distillation token through the shared `fit` and the `distill` method: hard teacher
//! targets train the token's head, the teacher is never updated and is run once (its cached
//! logits serve both modes), the teacher term alone reaches the distillation head, and the
//! deployed student carries the token.

use std::collections::BTreeMap;
use std::sync::Arc;

use burn::module::Module;
use compbench_core::{Params, Value};
use compbench_distill::DISTILL;
use compbench_nn::data::Synthetic;
use compbench_nn::deployed::argmax_rows;
use compbench_nn::distill::{KdMode, Teacher};
use compbench_nn::hooks::DenseHooks;
use compbench_nn::models::{ModelConfig, Network};
use compbench_nn::train::{self, TrainConfig, fit, fit_dense};
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

fn synthetic() -> compbench_core::Splits {
    Synthetic::new(640, 320, 0).generate()
}

/// A small ViT (16 patch tokens, d = 32, 2 blocks) with the distillation token, so the tests
/// train in seconds.
fn token_vit() -> ModelConfig {
    ModelConfig {
        d_model: 32,
        depth: 2,
        heads: 2,
        patch: 7,
        distill_token: true,
        ..ModelConfig::vit()
    }
}

fn all_weights(net: &Network) -> BTreeMap<String, (Vec<f32>, Option<Vec<f32>>)> {
    net.gemm_layers()
        .into_iter()
        .map(|l| {
            let w = net.gemm_weights(&l.name).unwrap();
            (l.name, w)
        })
        .collect()
}

/// A briefly trained MLP teacher (deployed), with its weights for the never-updated check.
fn teacher(data: &compbench_core::Splits) -> (Network, Teacher) {
    let device = compbench_nn::device();
    let net = Network::new(&ModelConfig::mlp(), &device, 1);
    let (net, _) = fit_dense(net, &recipe(3), &data.train, &device, 1, &|_| {});
    let net = net.valid();
    let t = Teacher::new("mlp", "key", net.to_deployed(), 4.0, 0.5);
    (net, t)
}

/// Hard targets through `fit` with both heads: the teacher's weights and outputs are
/// bit-identical afterwards and its logits table is the one computed before training (shared
/// with the soft mode: no extra teacher pass); the distillation head learns the teacher's
/// decisions and the class head the labels; with λ = 0 the distillation head gets no gradient
/// at all. The teacher is an untrained MLP, so its decisions are not the labels and the two
/// heads have different things to learn.
#[test]
fn hard_targets_train_the_token_head_and_never_update_the_teacher() {
    let data = synthetic();
    let device = compbench_nn::device();
    let teacher_net = Network::new(&ModelConfig::mlp(), &device, 1);
    let soft = Teacher::new("mlp", "key", teacher_net.to_deployed(), 4.0, 0.5);
    let before = all_weights(&teacher_net);
    let test_logits = soft.model.forward(&data.test.images, data.test.len());
    let table = soft.logits_for(&data.train, data.train.len()).unwrap();
    let hard = soft.with_mode(KdMode::Hard);
    assert!(hard != soft, "the mode is part of a teacher's identity");

    let student = Network::new(&token_vit(), &device, 2);
    let init = all_weights(&student);
    let run = |teacher: Teacher, epochs| {
        let cfg = TrainConfig {
            teacher: Some(teacher),
            ..recipe(epochs)
        };
        let student = Network::new(&token_vit(), &device, 2);
        let forward = |m: &Network, x| m.forward_heads(x, &DenseHooks);
        let (net, log) = fit(student, &cfg, &data.train, &device, 3, forward, &|_| {});
        (net.valid(), log)
    };
    let (student, log) = run(hard.clone(), 4);

    assert_eq!(all_weights(&teacher_net), before, "teacher weights changed");
    assert_eq!(
        hard.model.forward(&data.test.images, data.test.len()),
        test_logits,
        "teacher outputs changed"
    );
    let again = hard.logits_for(&data.train, data.train.len()).unwrap();
    assert!(Arc::ptr_eq(&table, &again), "teacher logits recomputed");

    let trained = all_weights(&student);
    assert_ne!(
        trained["dist_head"], init["dist_head"],
        "the token's head did not train"
    );
    assert!(log.epochs.last().unwrap().loss < log.epochs[0].loss);
    // On the images it trained on, the distillation head predicts what the teacher decides and
    // the class head the labels, each more often than the other's target.
    let teacher_says = argmax_rows(&table, 10);
    let labels: Vec<usize> = data.train.labels.iter().map(|&l| l as usize).collect();
    let agreement = |a: &[usize], b: &[usize]| {
        a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
    };
    let head = |dist: bool| {
        let logits = train::logits(
            |x| {
                let h = student.forward_heads(x, &DenseHooks);
                if dist { h.dist.unwrap() } else { h.cls }
            },
            &data.train,
            &device,
        );
        argmax_rows(&logits, 10)
    };
    let (dist, cls) = (head(true), head(false));
    let base = agreement(&teacher_says, &labels);
    assert!(
        base < 0.5,
        "the untrained teacher agrees with the labels on {base:.3}"
    );
    let (d_t, d_y) = (agreement(&dist, &teacher_says), agreement(&dist, &labels));
    let (c_t, c_y) = (agreement(&cls, &teacher_says), agreement(&cls, &labels));
    assert!(
        d_t > 0.5 && d_t > d_y,
        "distillation head: teacher {d_t:.3}, labels {d_y:.3}"
    );
    assert!(
        c_y > 0.5 && c_y > c_t,
        "class head: teacher {c_t:.3}, labels {c_y:.3}"
    );

    // λ = 0: cross-entropy on the class head only; the distillation head keeps its
    // initialization bit for bit (the teacher term is its only signal), the class head trains.
    let (alone, _) = run(hard.with_kd(4.0, 0.0), 1);
    let alone = all_weights(&alone);
    assert_eq!(alone["dist_head"], init["dist_head"]);
    assert_ne!(alone["head"], init["head"]);
}

/// The `distill` method on a ViT with the token and a hard-target teacher: the deployed student
/// has both heads, its reported MACs are its IR's, the token's cost over the same student
/// without it, and a one-head ViT accepts hard targets too (DeiT's hard distillation without
/// the token).
#[test]
fn distill_method_deploys_the_token_student() {
    let data = synthetic();
    let device = compbench_nn::device();
    let (_, soft) = teacher(&data);
    let hard = soft.with_mode(KdMode::Hard);
    // Eight epochs: this small ViT is near 0.5 after two on the synthetic set, ~0.96 after eight.
    let train_cfg = TrainConfig {
        teacher: Some(hard),
        ..recipe(8)
    };
    let mut params = Params::defaults(DISTILL.params());
    params.set("init", Value::Str("scratch".into()));
    let apply = |cfg: &ModelConfig| {
        let baseline = Network::new(cfg, &device, 0);
        let ctx = MethodCtx {
            baseline: &baseline,
            model: cfg,
            data: &data,
            train: &train_cfg,
            device: &device,
            seed: 4,
            quick: false,
            log: &|_| {},
        };
        DISTILL.apply(&ctx, &params).unwrap()
    };
    let with = apply(&token_vit());
    let without = apply(&ModelConfig {
        distill_token: false,
        ..token_vit()
    });
    let names: Vec<&str> = with
        .deployed
        .gemm_layers()
        .iter()
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(&names[names.len() - 2..], ["head", "dist_head"]);
    let macs = with.deployed.workload(1).macs() as f64;
    assert_eq!(with.metrics["macs"], macs);
    // d = 32, 16 patch tokens, 2 blocks, hidden 64: one more row per block GEMM, attention
    // from 16² to 17² (Q·Kᵀ and P·V), and the 32×10 head.
    let extra = 2 * (4 * 32 * 32 + 2 * 32 * 64 + 2 * 32 * (2 * 16 + 1)) + 32 * 10;
    assert_eq!(macs - without.metrics["macs"], extra as f64);
    assert_eq!(
        with.metrics["params"] - without.metrics["params"],
        (2 * 32 + 32 * 10 + 10) as f64
    );
    for (what, out) in [("with the token", &with), ("without", &without)] {
        let acc = out.deployed.accuracy(&data.test);
        assert!(acc > 0.8, "{what}: accuracy {acc}");
        assert!(out.metrics.contains_key("teacher_accuracy"), "{what}");
    }
}
