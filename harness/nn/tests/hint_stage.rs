//! FitNets' hint stage (`fit_hints`): it trains exactly the student's layers up to the guided
//! one, never updates the teacher, lowers the hint loss, is deterministic, and reads the same
//! hints whether the teacher's hint table is cached or computed per batch.

use std::sync::Arc;

use burn::module::Module;
use compbench_nn::data::Synthetic;
use compbench_nn::distill::{HintSource, HintStage, Teacher, fit_hints};
use compbench_nn::hooks::DenseHooks;
use compbench_nn::models::{ModelConfig, Network};
use compbench_nn::train::{TrainConfig, fit_dense};

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

fn small_cnn() -> ModelConfig {
    ModelConfig {
        conv1_channels: 4,
        conv2_channels: 8,
        fc_hidden: 16,
        ..ModelConfig::cnn()
    }
}

fn weights(net: &Network) -> Vec<(String, Vec<f32>, Option<Vec<f32>>)> {
    net.gemm_layers()
        .into_iter()
        .map(|l| {
            let (w, b) = net.gemm_weights(&l.name).unwrap();
            (l.name, w, b)
        })
        .collect()
}

/// A CNN teacher trained briefly on the synthetic data, as a deployed model.
fn trained_teacher(data: &compbench_core::Splits) -> (Network, Teacher) {
    let device = compbench_nn::device();
    let net = Network::new(&ModelConfig::cnn(), &device, 1);
    let (net, _) = fit_dense(net, &recipe(2), &data.train, &device, 1, &|_| {});
    let net = net.valid();
    let t = Teacher::new("cnn", "key", net.to_deployed(), 4.0, 0.9);
    (net, t)
}

#[test]
fn hint_stage_trains_up_to_the_guided_layer_and_never_the_teacher() {
    let data = Synthetic::new(512, 128, 2).generate();
    let device = compbench_nn::device();
    let (teacher_net, teacher) = trained_teacher(&data);
    let teacher_before = weights(&teacher_net);
    let probe = data.test.head(8);
    let hints_before = teacher
        .model
        .forward_to(&probe.images, 8, "conv2.relu")
        .unwrap()
        .data;
    let logits_before = teacher.model.forward(&probe.images, 8);

    let student = Network::new(&small_cnn(), &device, 3);
    let before = weights(&student);
    let stage = HintStage {
        teacher: &teacher,
        hint_layer: "conv2.relu",
        guided_layer: "conv2.relu",
        hooks: &DenseHooks,
    };
    let run = |seed: u64| {
        fit_hints(
            Network::new(&small_cnn(), &device, 3),
            &stage,
            &recipe(3),
            &data.train,
            &device,
            seed,
            &|_| {},
        )
        .unwrap()
    };
    let out = run(5);
    let after = weights(&out.student);

    // conv1 and conv2 (up to the guided layer) trained; fc1 and fc2 untouched, bit for bit.
    for (b, a) in before.iter().zip(&after) {
        if b.0.starts_with("conv") {
            assert_ne!(b.1, a.1, "`{}` did not train", b.0);
        } else {
            assert_eq!(b, a, "`{}` changed in the hint stage", b.0);
        }
    }
    let losses: Vec<f64> = out.log.epochs.iter().map(|e| e.loss).collect();
    assert_eq!(losses.len(), 3);
    // Epoch means: the first already includes most of the fast early descent, so the later
    // ones fall by less; each must still fall.
    assert!(
        losses[1] < losses[0] && losses[2] < losses[1] && losses[2] < 0.95 * losses[0],
        "the hint loss did not fall: {losses:?}"
    );
    // The teacher: same weights, same hints, same logits.
    assert_eq!(
        weights(&teacher_net),
        teacher_before,
        "teacher weights changed"
    );
    assert_eq!(
        teacher
            .model
            .forward_to(&probe.images, 8, "conv2.relu")
            .unwrap()
            .data,
        hints_before
    );
    assert_eq!(teacher.model.forward(&probe.images, 8), logits_before);
    // Same seed, same student; another seed, another regressor and batch order.
    assert_eq!(weights(&run(5).student), after);
    assert_ne!(weights(&run(6).student), after);
}

/// The hint table is cached once per layer and images (shared by clones of the teacher); a
/// teacher whose bound is too small for it computes hints per batch, and trains the same
/// student bit for bit (a deployed layer's rows do not depend on the batch they run in).
#[test]
fn cached_and_per_batch_hints_train_the_same_student() {
    let data = Synthetic::new(256, 64, 4).generate();
    let device = compbench_nn::device();
    let (_, teacher) = trained_teacher(&data);
    let n = data.train.len();
    let HintSource::Table { values, per_image } =
        teacher.hints_for(&data.train, n, "conv2.pool").unwrap()
    else {
        panic!("a 256-image table is far below the bound")
    };
    assert_eq!(per_image, 32 * 7 * 7);
    assert_eq!(values.len(), n * per_image);
    let again = teacher
        .with_kd(2.0, 0.5)
        .hints_for(&data.train, n, "conv2.pool")
        .unwrap();
    let HintSource::Table { values: v2, .. } = again else {
        panic!("cached")
    };
    assert!(Arc::ptr_eq(&values, &v2), "hint table recomputed");
    // Row 3 is image 3's hint, in NCHW order: channel c, pixel p at c·49 + p.
    let act = teacher
        .model
        .forward_to(data.train.image(3), 1, "conv2.pool")
        .unwrap();
    for p in 0..49 {
        for c in 0..32 {
            assert_eq!(values[3 * per_image + c * 49 + p], act.data[p * 32 + c]);
        }
    }

    // The same teacher trained again (same seed: the same weights) has an empty hint cache.
    let (_, fresh) = trained_teacher(&data);
    let per_batch = fresh.with_hint_cache_bytes(0);
    assert!(matches!(
        per_batch.hints_for(&data.train, n, "conv2.pool").unwrap(),
        HintSource::PerBatch
    ));
    let train = |t: &Teacher| {
        let stage = HintStage {
            teacher: t,
            hint_layer: "conv2.pool",
            guided_layer: "conv2.pool",
            hooks: &DenseHooks,
        };
        let out = fit_hints(
            Network::new(&small_cnn(), &device, 8),
            &stage,
            &recipe(1),
            &data.train,
            &device,
            9,
            &|_| {},
        )
        .unwrap();
        weights(&out.student)
    };
    assert_eq!(train(&teacher), train(&per_batch));
}
