//! Training: determinism, learnability on synthetic data, the baseline cache, and (ignored)
//! the real-data recipes.

use burn::module::Module;
use compbench_core::Dataset;
use compbench_nn::data::{FashionMnist, Synthetic, locator};
use compbench_nn::hooks::DenseHooks;
use compbench_nn::models::{ModelConfig, ModelKind, Network};
use compbench_nn::train::checkpoint::named_tensors;
use compbench_nn::train::{TrainConfig, evaluate, fit_dense, train_baseline};

fn tiny_recipe(kind: ModelKind) -> TrainConfig {
    TrainConfig {
        epochs: 1,
        batch_size: 64,
        threads: 2,
        ..TrainConfig::for_model(kind)
    }
}

#[test]
fn same_seed_gives_bit_identical_weights() {
    let splits = Synthetic::new(384, 10, 2).generate();
    let device = compbench_nn::device();
    for kind in [ModelKind::Cnn, ModelKind::Vit] {
        let run = || {
            let net = Network::new(&ModelConfig::new(kind), &device, 4);
            let (net, log) = fit_dense(net, &tiny_recipe(kind), &splits.train, &device, 4, &|_| {});
            (named_tensors(&net.valid()), log.epochs[0].loss)
        };
        let (a, la) = run();
        let (b, lb) = run();
        assert_eq!(la, lb, "{kind:?}: losses differ");
        assert!(
            a == b,
            "{kind:?}: weights differ between two runs with the same seed"
        );
    }
}

/// Splitting a batch into shards must give the whole batch's gradient: one plain SGD step
/// (lr 1, no momentum or decay) from the same weights, unsharded vs 3 uneven shards, moves every
/// weight to the same place up to float summation order.
#[test]
fn batch_shards_give_the_whole_batch_gradient() {
    let splits = Synthetic::new(50, 10, 5).generate();
    let device = compbench_nn::device();
    for kind in ModelKind::ALL {
        let step = |shards: usize| {
            let net = Network::new(&ModelConfig::new(kind), &device, 6);
            let cfg = TrainConfig {
                epochs: 1,
                batch_size: 50,
                optimizer: compbench_nn::train::OptimizerKind::Sgd { momentum: 0.0 },
                lr: 1.0,
                weight_decay: 0.0,
                warmup_epochs: 0.0,
                cosine: false,
                batch_shards: shards,
                threads: 2,
                ..TrainConfig::for_model(kind)
            };
            let (net, log) = fit_dense(net, &cfg, &splits.train, &device, 6, &|_| {});
            assert_eq!(log.epochs[0].steps, 1);
            (named_tensors(&net.valid()), log.epochs[0].loss)
        };
        let before = named_tensors(&Network::new(&ModelConfig::new(kind), &device, 6));
        let (one, l1) = step(1);
        let (three, l3) = step(3);
        assert!(
            (l1 - l3).abs() < 1e-5 * l1.abs(),
            "{kind:?}: loss {l1} vs {l3}"
        );
        let mut moved = 0.0f32;
        for (((name, _, w0), (_, _, a)), (_, _, b)) in before.iter().zip(&one).zip(&three) {
            for ((x0, x1), x3) in w0.iter().zip(a).zip(b) {
                let tol = 1e-4 * (x1 - x0).abs().max(1e-3);
                assert!(
                    (x1 - x3).abs() <= tol,
                    "{kind:?} {name}: unsharded step to {x1}, sharded to {x3} (from {x0})"
                );
                moved = moved.max((x1 - x0).abs());
            }
        }
        assert!(moved > 1e-4, "{kind:?}: the step did not move any weight");
    }
}

#[test]
fn models_learn_synthetic_data() {
    let splits = Synthetic::new(2048, 512, 3).generate();
    let device = compbench_nn::device();
    for kind in ModelKind::ALL {
        let net = Network::new(&ModelConfig::new(kind), &device, 1);
        let cfg = TrainConfig {
            epochs: 2,
            batch_size: 64,
            ..TrainConfig::for_model(kind)
        };
        let (net, log) = fit_dense(net, &cfg, &splits.train, &device, 1, &|_| {});
        let net = net.valid();
        let acc = evaluate(|x| net.forward(x, &DenseHooks), &splits.test, &device);
        // Chance is 0.1; the ViT (warm-up epoch, attention from scratch) learns slowest.
        let want = if kind == ModelKind::Vit { 0.3 } else { 0.6 };
        assert!(
            acc > want,
            "{kind:?}: accuracy {acc} after 2 short epochs (losses {:?})",
            log.epochs
        );
    }
}

#[test]
fn baseline_is_cached_and_reloaded_exactly() {
    let splits = Synthetic::new(256, 128, 4).generate();
    let dir = tempfile::tempdir().unwrap();
    let cfg = ModelConfig::mlp();
    let tcfg = tiny_recipe(ModelKind::Mlp);
    let (a, ia) = train_baseline(&cfg, &splits, &tcfg, 9, Some(dir.path()), &|_| {}).unwrap();
    assert!(!ia.cached);
    let (b, ib) = train_baseline(&cfg, &splits, &tcfg, 9, Some(dir.path()), &|_| {}).unwrap();
    assert!(ib.cached);
    assert_eq!(ia.test_accuracy, ib.test_accuracy);
    assert_eq!(named_tensors(&a), named_tensors(&b));
    // A different seed is a different entry.
    let (_, ic) = train_baseline(&cfg, &splits, &tcfg, 10, Some(dir.path()), &|_| {}).unwrap();
    assert!(!ic.cached);
    assert_ne!(ia.key, ic.key);
    // A damaged entry is retrained, not fatal.
    let entry = std::fs::read_dir(dir.path().join("baselines"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&entry, b"garbage").unwrap();
    assert!(train_baseline(&cfg, &splits, &tcfg, 9, Some(dir.path()), &|_| {}).is_ok());
}

/// The default recipes on the real data (minutes each). Run with
/// `cargo test --release -p compbench-nn --test training -- --ignored --nocapture`.
#[test]
#[ignore]
fn real_data_default_recipes_reach_targets() {
    let splits = FashionMnist
        .load(&locator(&[]))
        .expect("Fashion-MNIST installed");
    for (kind, target) in [
        (ModelKind::Mlp, 0.88),
        (ModelKind::Cnn, 0.91),
        (ModelKind::Vit, 0.86),
    ] {
        let tcfg = TrainConfig::for_model(kind).with_threads(2);
        let log = |m: &str| eprintln!("{m}");
        let (net, info) =
            train_baseline(&ModelConfig::new(kind), &splits, &tcfg, 0, None, &log).unwrap();
        let dep = net.to_deployed();
        let dacc = dep.accuracy(&splits.test);
        eprintln!(
            "{kind:?}: {:.4} (deployed {dacc:.4}), {:.1} s/epoch, {:.0} s",
            info.test_accuracy, info.epoch_s, info.train_s
        );
        assert!(
            info.test_accuracy >= target,
            "{kind:?}: {} < {target}",
            info.test_accuracy
        );
        assert!(
            info.train_s <= 600.0,
            "{kind:?}: {} s > 10 min",
            info.train_s
        );
        assert!((dacc - info.test_accuracy).abs() <= 0.001);
    }
}
