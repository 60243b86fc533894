//! Knowledge distillation: the Hinton KD loss against a hand-computed example and by finite
//! differences, the teacher in `fit` (never updated, cached logits, trains a student), and the
//! CNN width knobs (smaller students; default cache keys unchanged).

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use compbench_core::seed::Rng;
use compbench_nn::data::Synthetic;
use compbench_nn::distill::{Teacher, hinton_kd_loss};
use compbench_nn::hooks::DenseHooks;
use compbench_nn::models::{ModelConfig, ModelKind, Network};
use compbench_nn::train::{self, TrainConfig, cross_entropy, fit, fit_dense};

fn logits(v: &[f32], rows: usize, device: &Device) -> Tensor<2> {
    Tensor::<2>::from_data(TensorData::new(v.to_vec(), [rows, v.len() / rows]), device)
}

fn labels(v: &[i64], device: &Device) -> Tensor<1, Int> {
    Tensor::<1, Int>::from_data(TensorData::new(v.to_vec(), [v.len()]), device)
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .unwrap()[0]
}

/// Two examples, three classes, T = 2, λ = 0.5, worked by hand:
/// * CE: example 1, softmax(1, 2, 0)[1] = e²/(e + e² + 1) = 0.665241 → −ln = 0.407606;
///   example 2, softmax(0.5, −1, 1.5)[2] = 0.689672 → 0.371539; mean 0.3895725.
/// * KL at T = 2: softmax(t/2) vs softmax(s/2) per row, Σ p_t (ln p_t − ln p_s), mean over
///   rows = 0.1484320.
/// * loss = (1 − 0.5)·0.3895725 + 0.5·2²·0.1484320 = 0.1947862 + 0.2968639 = 0.4916502.
///
/// The T² factor is what makes the second term 0.297 rather than 0.074.
#[test]
fn hinton_loss_matches_a_hand_computed_example_with_t_squared_scaling() {
    let device = Device::flex();
    let s = logits(&[1.0, 2.0, 0.0, 0.5, -1.0, 1.5], 2, &device);
    let t = logits(&[2.0, 0.0, 1.0, 0.0, 0.0, 3.0], 2, &device);
    let y = labels(&[1, 2], &device);
    let loss = scalar(hinton_kd_loss(s.clone(), t.clone(), y.clone(), 2.0, 0.5));
    assert!((loss - 0.491_650_2).abs() < 2e-6, "loss {loss}");
    // The pieces: λ = 0 is plain cross-entropy; λ = 1 is T²·KL alone.
    let ce = scalar(hinton_kd_loss(s.clone(), t.clone(), y.clone(), 2.0, 0.0));
    assert!((ce - 0.389_572_5).abs() < 2e-6, "ce {ce}");
    let soft = scalar(hinton_kd_loss(s.clone(), t.clone(), y.clone(), 2.0, 1.0));
    assert!((soft - 4.0 * 0.148_432_0).abs() < 2e-6, "T²·KL {soft}");
    // A student equal to its teacher has zero KL at any temperature.
    let same = scalar(hinton_kd_loss(s.clone(), s.clone(), y.clone(), 7.0, 1.0));
    assert!(same.abs() < 1e-6, "KL(p‖p) = {same}");
    assert_eq!(
        ce,
        scalar(cross_entropy(s, y, 0.0)),
        "λ = 0 must be exactly cross-entropy"
    );
}

/// The loss's gradient with respect to the student logits by central differences, at several
/// (T, λ), and its closed form (1−λ)(softmax(s) − onehot)/b + λ·T·(softmax(s/T) − softmax(t/T))/b.
#[test]
fn hinton_loss_gradient_matches_finite_differences_and_closed_form() {
    let (b, c) = (4usize, 10usize);
    let mut rng = Rng::new(11);
    let s0: Vec<f32> = (0..b * c).map(|_| 2.0 * rng.normal()).collect();
    let t0: Vec<f32> = (0..b * c).map(|_| 3.0 * rng.normal()).collect();
    let y0: Vec<i64> = (0..b).map(|i| (3 * i % c) as i64).collect();
    let plain = Device::flex();
    let ad = plain.clone().autodiff();
    for (temp, lambda) in [(1.0f32, 0.5f32), (4.0, 0.9), (8.0, 0.3)] {
        let s = logits(&s0, b, &ad).require_grad();
        let loss = hinton_kd_loss(
            s.clone(),
            logits(&t0, b, &ad),
            labels(&y0, &ad),
            temp,
            lambda,
        );
        let grads = loss.backward();
        let g: Vec<f32> = s
            .grad(&grads)
            .expect("student gradient")
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap();
        let f = |v: &[f32]| -> f64 {
            scalar(hinton_kd_loss(
                logits(v, b, &plain),
                logits(&t0, b, &plain),
                labels(&y0, &plain),
                temp,
                lambda,
            ))
        };
        let h = 1e-2f32;
        for i in 0..b * c {
            let mut p = s0.clone();
            p[i] += h;
            let lp = f(&p);
            p[i] -= 2.0 * h;
            let lm = f(&p);
            let fd = (lp - lm) / (2.0 * h as f64);
            let err = (g[i] as f64 - fd).abs();
            assert!(
                err < 2e-3,
                "T={temp} λ={lambda} coordinate {i}: autodiff {} vs finite difference {fd}",
                g[i]
            );
        }
        // Closed form, in f64.
        let softmax = |v: &[f32], scale: f64| -> Vec<f64> {
            let m = v.iter().map(|&x| x as f64 / scale).fold(f64::MIN, f64::max);
            let e: Vec<f64> = v.iter().map(|&x| (x as f64 / scale - m).exp()).collect();
            let z: f64 = e.iter().sum();
            e.into_iter().map(|x| x / z).collect()
        };
        for r in 0..b {
            let row = &s0[r * c..(r + 1) * c];
            let (p1, ps, pt) = (
                softmax(row, 1.0),
                softmax(row, temp as f64),
                softmax(&t0[r * c..(r + 1) * c], temp as f64),
            );
            for j in 0..c {
                let onehot = if j as i64 == y0[r] { 1.0 } else { 0.0 };
                let want = ((1.0 - lambda as f64) * (p1[j] - onehot)
                    + lambda as f64 * temp as f64 * (ps[j] - pt[j]))
                    / b as f64;
                let got = g[r * c + j] as f64;
                assert!(
                    (got - want).abs() < 1e-5,
                    "T={temp} λ={lambda} [{r},{j}]: autodiff {got} vs closed form {want}"
                );
            }
        }
    }
}

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

fn all_weights(net: &Network) -> Vec<(String, Vec<f32>, Option<Vec<f32>>)> {
    net.gemm_layers()
        .into_iter()
        .map(|l| {
            let (w, b) = net.gemm_weights(&l.name).unwrap();
            (l.name, w, b)
        })
        .collect()
}

/// A student trained through `fit` with a teacher in its recipe: the teacher's weights and
/// outputs are bit-identical afterwards, its logits were computed once (the cache is shared by
/// every T, λ of one teacher), and the student learns.
#[test]
fn fit_with_a_teacher_distills_and_never_updates_the_teacher() {
    let data = synthetic();
    let device = Device::flex();
    let teacher_net = Network::new(&ModelConfig::mlp(), &device, 1);
    let (teacher_net, _) = fit_dense(teacher_net, &recipe(3), &data.train, &device, 1, &|_| {});
    let teacher_net = teacher_net.valid();
    let before = all_weights(&teacher_net);
    let teacher = Teacher::new("mlp", "key", teacher_net.to_deployed(), 4.0, 0.9);
    let test_logits = teacher.model.forward(&data.test.images, data.test.len());
    let teacher_acc = teacher.model.accuracy(&data.test);
    assert!(teacher_acc > 0.5, "teacher accuracy {teacher_acc}");

    // A CNN student of the MLP teacher (any model can teach any other with the same classes).
    let student = Network::new(&ModelConfig::cnn(), &device, 2);
    let cfg = TrainConfig {
        teacher: Some(teacher.clone()),
        ..recipe(3)
    };
    let (student, log) = fit(
        student,
        &cfg,
        &data.train,
        &device,
        3,
        |m: &Network, x| m.forward(x, &DenseHooks),
        &|_| {},
    );
    assert_eq!(all_weights(&teacher_net), before, "teacher weights changed");
    assert_eq!(
        teacher.model.forward(&data.test.images, data.test.len()),
        test_logits,
        "teacher outputs changed"
    );
    let student = student.valid();
    let acc = train::evaluate(|x| student.forward(x, &DenseHooks), &data.test, &device);
    assert!(
        acc > 0.5,
        "distilled student accuracy {acc} (teacher {teacher_acc}, losses {:?})",
        log.epochs.iter().map(|e| e.loss).collect::<Vec<_>>()
    );
    assert!(log.epochs.last().unwrap().loss < log.epochs[0].loss);

    // The logits table is cached by the images: another T, λ of the same teacher reuses it.
    let a = teacher.logits_for(&data.train, data.train.len()).unwrap();
    let other = teacher.with_kd(2.0, 0.5);
    let b = other.logits_for(&data.train, data.train.len()).unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b), "logits recomputed");
    assert_eq!(
        &a[..10],
        &teacher.model.forward(data.train.image(0), 1)[..],
        "cached row 0 is the teacher's logits of image 0"
    );
}

/// λ = 0 with a teacher is exactly the student trained alone (same seed, same batches).
#[test]
fn lambda_zero_teacher_trains_exactly_like_no_teacher() {
    let data = synthetic();
    let device = Device::flex();
    let teacher = Teacher::new(
        "t",
        "k",
        Network::new(&ModelConfig::mlp(), &device, 9).to_deployed(),
        4.0,
        0.0,
    );
    let run = |teacher: Option<Teacher>| {
        let cfg = TrainConfig {
            teacher,
            label_smoothing: 0.0,
            ..recipe(1)
        };
        let (net, _) = fit(
            Network::new(&ModelConfig::mlp(), &device, 5),
            &cfg,
            &data.train,
            &device,
            6,
            |m: &Network, x| m.forward(x, &DenseHooks),
            &|_| {},
        );
        all_weights(&net.valid())
    };
    assert_eq!(run(Some(teacher)), run(None));
}

#[test]
fn cnn_width_knobs_make_smaller_students_and_keep_default_cache_keys() {
    // The default CNN serializes exactly as before the width knobs existed (cache keys of
    // existing baselines are unchanged).
    assert_eq!(
        serde_json::to_string(&ModelConfig::cnn()).unwrap(),
        r#"{"kind":"cnn","classes":10,"d_model":64,"depth":4,"heads":4,"mlp_ratio":2,"patch":4}"#
    );
    let small = ModelConfig {
        conv1_channels: 4,
        conv2_channels: 8,
        fc_hidden: 32,
        ..ModelConfig::cnn()
    };
    let json = serde_json::to_string(&small).unwrap();
    assert!(json.contains(r#""conv1_channels":4"#), "{json}");
    let back: ModelConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, small);
    assert_eq!(
        small.label(),
        "cnn(conv1_channels=4,conv2_channels=8,fc_hidden=32)"
    );

    let device = Device::flex();
    let big = Network::new(&ModelConfig::cnn(), &device, 0);
    let net = Network::new(&small, &device, 0);
    let ratio = big.num_params() as f64 / net.num_params() as f64;
    assert!(ratio > 3.0, "student only {ratio:.1}× smaller");
    // Shapes flow through every representation: trainable, deployed, IR.
    let names: Vec<_> = net.gemm_layers().iter().map(|l| (l.k(), l.n())).collect();
    assert_eq!(names, vec![(9, 4), (36, 8), (8 * 49, 32), (32, 10)]);
    let data = synthetic();
    let x = data.test.head(3);
    let burn_logits = train::logits(|x| net.forward(x, &DenseHooks), &x, &device);
    let deployed = net.to_deployed().forward(&x.images, 3);
    for (a, b) in burn_logits.iter().zip(&deployed) {
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
    let ir = net.to_deployed().workload(1);
    assert_eq!(
        ir.macs(),
        (28 * 28 * 9 * 4 + 14 * 14 * 36 * 8 + 8 * 49 * 32 + 32 * 10) as u64
    );
    // A zero width is refused by the model config's own check.
    let bad = ModelConfig {
        fc_hidden: 0,
        ..ModelConfig::cnn()
    };
    assert!(bad.validate().is_err());
    assert_eq!(ModelKind::Cnn.params().len(), 3);
}
