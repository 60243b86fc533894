//! block-prune end to end on synthetic data: masks held through fine-tuning, what the IR and
//! the metrics report, the calibration gradient against finite differences, and validation.

use std::collections::BTreeMap;

use burn::module::Module;
use compbench_block_prune::blocks::BlockShape;
use compbench_block_prune::calib::{GradientObjective, calibration_gradients};
use compbench_block_prune::masks::{MaskHooks, Masks, apply_masks, mask_violations};
use compbench_block_prune::{BLOCK_PRUNE, Settings};
use compbench_core::{Params, Splits, Value};
use compbench_nn::data::Synthetic;
use compbench_nn::models::{ModelConfig, ModelKind, Network};
use compbench_nn::train::{self, TrainConfig, batch_tensors, fit_dense};
use compbench_nn::{DenseHooks, Method, MethodCtx};

fn small_vit() -> ModelConfig {
    ModelConfig {
        d_model: 32,
        depth: 1,
        heads: 2,
        mlp_ratio: 2,
        ..ModelConfig::new(ModelKind::Vit)
    }
}

fn recipe() -> TrainConfig {
    TrainConfig {
        epochs: 1,
        batch_size: 64,
        threads: 2,
        ..TrainConfig::for_model(ModelKind::Vit)
    }
}

fn trained(cfg: &ModelConfig, splits: &Splits) -> Network {
    let device = compbench_nn::device();
    let (net, _) = fit_dense(
        Network::new(cfg, &device, 3),
        &recipe(),
        &splits.train,
        &device,
        3,
        &|_| {},
    );
    net.valid()
}

fn params(given: &[(&str, Value)]) -> Params {
    let given: BTreeMap<String, Value> = given
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    Params::resolve(BLOCK_PRUNE.params(), &given).unwrap()
}

#[test]
fn pruned_weights_stay_exactly_zero_through_fine_tuning() {
    let splits = Synthetic::new(512, 64, 5).generate();
    let cfg = small_vit();
    let net = trained(&cfg, &splits);
    let device = compbench_nn::device();
    // Prune every other 8×8 block of block0.fc1 (K×N = 32×64).
    let layers = net.gemm_layers();
    let mut masks: Masks = BTreeMap::new();
    let grid =
        compbench_block_prune::blocks::BlockGrid::new(32, 64, BlockShape { rows: 8, cols: 8 })
            .unwrap();
    let keep: Vec<bool> = (0..grid.num_blocks()).map(|b| b % 2 == 0).collect();
    masks.insert("block0.fc1".into(), grid.element_mask(&keep));
    let before = apply_masks(net, &masks).unwrap();
    let (w0, _) = before.gemm_weights("block0.fc1").unwrap();
    let hooks = MaskHooks::new(&masks, &layers, &device);
    let (tuned, _) = train::fit(
        before,
        &TrainConfig {
            lr: 1e-2,
            ..recipe()
        },
        &splits.train,
        &device,
        9,
        |m: &Network, x| m.forward(x, &hooks),
        &|_| {},
    );
    assert_eq!(mask_violations(&tuned, &masks), 0);
    let (w1, _) = tuned.gemm_weights("block0.fc1").unwrap();
    let mask = &masks["block0.fc1"];
    let moved = w0
        .iter()
        .zip(&w1)
        .zip(mask)
        .filter(|((a, b), k)| **k && a != b)
        .count();
    assert!(moved > 0, "kept weights must train");
    assert!(w1.iter().zip(mask).all(|(x, k)| *k || *x == 0.0));
}

#[test]
fn block_prune_meets_the_budget_and_reports_blocks_in_the_ir() {
    let splits = Synthetic::new(512, 128, 6).generate();
    let cfg = small_vit();
    let net = trained(&cfg, &splits);
    let device = compbench_nn::device();
    let tune = TrainConfig {
        train_subset: Some(256),
        ..recipe()
    };
    let ctx = MethodCtx {
        baseline: &net,
        model: &cfg,
        data: &splits,
        train: &tune,
        device: &device,
        seed: 2,
        quick: true,
        log: &|_| {},
    };
    for (power, alloc) in [(false, "rd"), (true, "rd"), (false, "uniform")] {
        let p = params(&[
            ("block_rows", Value::Int(8)),
            ("block_cols", Value::Int(8)),
            ("flops_kept", Value::Float(0.5)),
            ("calib_images", Value::Int(64)),
            ("power_term", Value::Bool(power)),
            ("allocation", Value::Str(alloc.into())),
            ("finetune_epochs", Value::Int(1)),
            ("measure_distortion", Value::Bool(!power)),
            ("measure_images", Value::Int(16)),
        ]);
        let out = BLOCK_PRUNE.apply(&ctx, &p).unwrap();
        let m = &out.metrics;
        let kept = m["flops_kept"];
        assert!(kept <= 0.5 + 1e-12, "{alloc}: over budget {kept}");
        assert!(kept >= 0.5 - 0.03, "{alloc}: far under budget {kept}");
        if alloc == "rd" {
            assert!(m["objective_dp"] <= m["objective_bisection"] + 1e-15);
        }
        if !power {
            for k in [
                "distortion_spearman",
                "distortion_pearson",
                "joint_distortion",
            ] {
                assert!(m[k].is_finite(), "{k}");
            }
        } else {
            assert!(m["power_beta"] > 0.0);
        }
        // Every pruned layer's zeros are whole 8×8 blocks, and the IR says so.
        let wl = out.deployed.workload(1);
        let mut kept_blocks = 0usize;
        let mut blocks = 0usize;
        for (i, name) in ["block0.qkv", "block0.proj", "block0.fc1", "block0.fc2"]
            .iter()
            .enumerate()
        {
            let g = wl.layer(name).unwrap().as_gemm().unwrap();
            let sp = g
                .sparsity
                .as_ref()
                .expect("pruned layers report block sparsity");
            assert_eq!((sp.block_k, sp.block_n), (8, 8));
            let mask = sp.mask.as_ref().unwrap();
            let k_here = mask.iter().filter(|&&b| b).count();
            kept_blocks += k_here;
            blocks += mask.len();
            let layer_sparsity = m[&format!("layer{}_sparsity", i + 1)];
            assert!((layer_sparsity - (1.0 - k_here as f64 / mask.len() as f64)).abs() < 1e-12);
            let (_, kernel) = out
                .deployed
                .gemm_layers()
                .into_iter()
                .find(|(n, _)| n == name)
                .unwrap();
            let (w, _) = kernel.dense_weights().unwrap();
            let grid = compbench_block_prune::blocks::BlockGrid::new(
                kernel.k(),
                kernel.n(),
                BlockShape { rows: 8, cols: 8 },
            )
            .unwrap();
            for (e, x) in w.iter().enumerate() {
                let b = grid.block_of(e / grid.n, e % grid.n);
                if !mask[b] {
                    assert_eq!(*x, 0.0, "{name}: pruned block {b} holds a weight");
                }
            }
        }
        assert!((m["block_density"] - kept_blocks as f64 / blocks as f64).abs() < 1e-12);
        assert!(
            wl.layer("patch_embed")
                .unwrap()
                .as_gemm()
                .unwrap()
                .sparsity
                .is_none()
        );
        assert!(
            wl.layer("head")
                .unwrap()
                .as_gemm()
                .unwrap()
                .sparsity
                .is_none()
        );
    }
}

#[test]
fn calibration_gradient_matches_finite_differences() {
    let splits = Synthetic::new(64, 8, 4).generate();
    let cfg = ModelConfig::new(ModelKind::Mlp);
    let device = compbench_nn::device();
    let net = Network::new(&cfg, &device, 1);
    let layers = net.gemm_layers();
    let fc2 = &layers[1];
    let calib = compbench_nn::data::gather(&splits.train, &(0..32).collect::<Vec<_>>());
    let g = calibration_gradients(&net, &[fc2], &calib, GradientObjective::LabelFree, &device);
    let g = &g["fc2"];
    let objective = |n: &Network| -> f64 {
        let idx: Vec<usize> = (0..calib.len()).collect();
        let (x, _) = batch_tensors(&calib, &idx, &device);
        let y: Vec<f32> = n
            .forward(x, &DenseHooks)
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap();
        y.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / y.len() as f64
    };
    let (w, b) = net.gemm_weights("fc2").unwrap();
    // The largest-gradient entries (well above f32 noise).
    let mut idx: Vec<usize> = (0..w.len()).collect();
    idx.sort_by(|&a, &c| g[c].abs().total_cmp(&g[a].abs()));
    for &i in &idx[..5] {
        let h = 1e-2f32;
        let mut wp = w.clone();
        wp[i] += h;
        let mut wm = w.clone();
        wm[i] -= h;
        let fp = objective(&net.clone().set_gemm_weights("fc2", &wp, b.as_deref()));
        let fm = objective(&net.clone().set_gemm_weights("fc2", &wm, b.as_deref()));
        let fd = (fp - fm) / (2.0 * h as f64);
        let rel = (fd - g[i] as f64).abs() / fd.abs().max(1e-6);
        assert!(
            rel < 2e-2,
            "weight {i}: autodiff {} vs finite difference {fd}",
            g[i]
        );
    }
}

#[test]
fn validation_refuses_untiled_blocks_and_unreachable_budgets() {
    let cfg = ModelConfig {
        d_model: 64,
        ..ModelConfig::new(ModelKind::Vit)
    };
    let err = BLOCK_PRUNE
        .check(
            &params(&[
                ("block_rows", Value::Int(24)),
                ("block_cols", Value::Int(16)),
            ]),
            &cfg,
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("block_rows"), "{err}");
    assert!(err.contains("does not tile layer `block0.proj`"), "{err}");
    let err = BLOCK_PRUNE
        .check(
            &params(&[
                ("block_rows", Value::Int(16)),
                ("block_cols", Value::Int(48)),
            ]),
            &cfg,
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("block_cols"), "{err}");

    let err = BLOCK_PRUNE
        .check(
            &params(&[
                ("flops_kept", Value::Float(0.04)),
                ("min_keep", Value::Float(0.05)),
            ]),
            &cfg,
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("flops_kept"), "{err}");
    assert!(err.contains("below what min_keep 0.05 allows"), "{err}");
    // The same budget with a lower floor is fine; so are rectangular blocks that tile.
    BLOCK_PRUNE
        .check(
            &params(&[
                ("flops_kept", Value::Float(0.04)),
                ("min_keep", Value::Float(0.02)),
            ]),
            &cfg,
        )
        .unwrap();
    BLOCK_PRUNE
        .check(
            &params(&[
                ("block_rows", Value::Int(8)),
                ("block_cols", Value::Int(32)),
            ]),
            &cfg,
        )
        .unwrap();
    // The CNN prunes conv2 (K = 16·9 = 144) and fc1: 32-wide blocks do not tile 144 inputs.
    let err = BLOCK_PRUNE
        .check(
            &params(&[
                ("block_rows", Value::Int(16)),
                ("block_cols", Value::Int(32)),
            ]),
            &ModelConfig::new(ModelKind::Cnn),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("`conv2`"), "{err}");
    let s = Settings::from_params(&params(&[])).unwrap();
    assert_eq!(s.shape, BlockShape { rows: 16, cols: 16 });
}

#[test]
fn calib_seed_fixes_the_calibration_images_across_method_seeds() {
    let splits = Synthetic::new(512, 64, 8).generate();
    let cfg = small_vit();
    let net = trained(&cfg, &splits);
    let device = compbench_nn::device();
    let tune = recipe();
    // Term 1 of the first pruned layer at s = 0.5: a function of g, hence of the images.
    let diag_at_half = |method_seed: u64, calib_seed: i64| {
        let ctx = MethodCtx {
            baseline: &net,
            model: &cfg,
            data: &splits,
            train: &tune,
            device: &device,
            seed: method_seed,
            quick: true,
            log: &|_| {},
        };
        let p = params(&[
            ("block_rows", Value::Int(8)),
            ("block_cols", Value::Int(8)),
            ("calib_images", Value::Int(32)),
            ("calib_seed", Value::Int(calib_seed)),
        ]);
        let out = BLOCK_PRUNE.apply(&ctx, &p).unwrap();
        let key = out
            .metrics
            .keys()
            .find(|k| k.ends_with("_diag_s50"))
            .expect("per-layer terms reported")
            .clone();
        out.metrics[&key]
    };
    assert_eq!(
        diag_at_half(1, 7),
        diag_at_half(2, 7),
        "same calib_seed, same g"
    );
    assert_ne!(
        diag_at_half(1, 0),
        diag_at_half(2, 0),
        "method seeds draw different images"
    );
}
