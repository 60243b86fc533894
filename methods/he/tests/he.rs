//! End-to-end tests of compbench-he: the trained model's integer twin, the encrypted layouts
//! against the plaintext circuit, the noise budget, and the parameter checker.

use std::collections::BTreeMap;

use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use compbench_core::seed::Rng;
use compbench_core::{Params, Value};
use compbench_he::HE;
use compbench_he::batch::{self, BatchModel};
use compbench_he::bfv::{HeParams, NoiseModel};
use compbench_he::circuit::{InputQuant, IntMlp, Widths, argmax};
use compbench_he::encrypted::FheSlots;
use compbench_he::model::{Forward, HeMlp, dequantized, input_range};
use compbench_he::per_image::{PerImageLayout, PerImageModel};
use compbench_he::slots::{PlainSlots, Slots};
use compbench_nn::Method;
use compbench_nn::data::Synthetic;
use compbench_nn::models::ModelConfig;
use compbench_nn::train::{TrainConfig, cross_entropy, fit_with_loss};

const REAL: HeParams = HeParams {
    degree: 8192,
    log_q: 218,
    plain_bits: 47,
};

/// The per-image layout's parameters (its dense plaintext products need the larger ring).
const PER_IMAGE: HeParams = HeParams {
    degree: 16384,
    log_q: 438,
    plain_bits: 47,
};

fn random_net(widths: Widths, seed: u64) -> IntMlp {
    let mut rng = Rng::new(seed);
    let qw = widths.weight_qmax();
    let mut w = |n: usize| -> Vec<i64> {
        (0..n)
            .map(|_| rng.below((2 * qw + 1) as usize) as i64 - qw)
            .collect()
    };
    IntMlp {
        widths,
        input: InputQuant {
            scale: 1.0,
            zero: 0,
            levels: widths.input_levels(),
        },
        w1: w(widths.inputs * widths.hidden),
        b1: w(widths.hidden).iter().map(|b| b * 1000).collect(),
        w2: w(widths.hidden * widths.classes),
        b2: w(widths.classes).iter().map(|b| b * 1_000_000).collect(),
        logit_scale: 1.0,
    }
}

fn real_widths() -> Widths {
    Widths {
        inputs: 784,
        hidden: 128,
        classes: 10,
        input_bits: 4,
        weight_bits: 4,
    }
}

/// The plaintext integer circuit exported from a QAT-trained network computes the trained
/// network's own (fake-quantized) forward pass: logits agree to float rounding and
/// predictions agree wherever the float margin is above that rounding.
#[test]
fn integer_circuit_equals_the_trained_models_integer_forward_pass() {
    let splits = Synthetic::new(1024, 256, 3).generate();
    let device = compbench_nn::device();
    let widths = Widths {
        inputs: 784,
        hidden: 32,
        classes: 10,
        input_bits: 4,
        weight_bits: 4,
    };
    let (lo, hi) = input_range(&splits.train);
    let input = InputQuant::from_range(lo, hi, 4);
    let cfg = TrainConfig {
        epochs: 1,
        batch_size: 64,
        threads: 2,
        ..TrainConfig::default()
    };
    let (float_net, _) = fit_with_loss(
        HeMlp::new(784, 32, 10, &device, 1),
        &cfg,
        &splits.train,
        &device,
        1,
        |m: &HeMlp, x, y| cross_entropy(m.forward(x, Forward::Float), y, 0.0),
        &|_| {},
    );
    let mode = Forward::Qat {
        widths,
        in_scale: input.scale,
    };
    let train = dequantized(&splits.train, &input);
    let (net, _) = fit_with_loss(
        float_net,
        &cfg,
        &train,
        &device,
        2,
        |m: &HeMlp, x, y| cross_entropy(m.forward(x, mode), y, 0.0),
        &|_| {},
    );
    let net = net.valid();
    let int = net.to_integer(widths, input);
    assert!(int.w1.iter().all(|w| w.abs() <= 7) && int.w2.iter().all(|w| w.abs() <= 7));
    assert!(
        int.w1.iter().any(|&w| w == 7 || w == -7),
        "the grid's end is used"
    );

    let test = dequantized(&splits.test, &input);
    let n = test.len();
    let x = Tensor::<4>::from_data(
        TensorData::new(test.images.clone(), [n, 1, 28, 28]),
        &device,
    );
    let float_logits: Vec<f32> = net
        .forward(x, mode)
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap();
    let (mut agree, mut decided) = (0, 0);
    for i in 0..n {
        let q = int.quantize(splits.test.image(i));
        let ints = int.logits(&q);
        let scaled: Vec<f64> = ints.iter().map(|&v| v as f64 * int.logit_scale).collect();
        let fl = &float_logits[i * 10..(i + 1) * 10];
        let mag = scaled.iter().fold(1e-6f64, |a, v| a.max(v.abs()));
        for (a, b) in scaled.iter().zip(fl) {
            assert!(
                (a - *b as f64).abs() <= 1e-3 * mag,
                "image {i}: {scaled:?} vs {fl:?}"
            );
        }
        let mut sorted = scaled.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        if sorted[0] - sorted[1] > 1e-3 * mag {
            decided += 1;
            agree += usize::from(argmax(&ints) == argmax(fl));
        }
    }
    assert!(decided > n / 2);
    assert_eq!(agree, decided);
}

/// Column rotations and the row swap of the BFV backend move slots as the plain backend does.
#[test]
fn encrypted_rotations_match_plain_rotations() {
    let par = REAL.build().unwrap();
    let t = par.plaintext();
    let fhe = FheSlots::new(&par, &[1, 5, 128, 2048], true, 9).unwrap();
    let plain = PlainSlots::new(8192, t);
    let mut rng = Rng::new(4);
    let v: Vec<i64> = (0..8192).map(|_| rng.below(1000) as i64 - 500).collect();
    let c = fhe.encrypt(&v).unwrap();
    let p = plain.encrypt(&v).unwrap();
    for steps in [1, 5, 128, 2048] {
        assert_eq!(
            fhe.decrypt(&fhe.rotate(&c, steps).unwrap()).unwrap(),
            plain.decrypt(&plain.rotate(&p, steps).unwrap()).unwrap(),
            "rotation by {steps}"
        );
    }
    assert_eq!(
        fhe.decrypt(&fhe.swap_rows(&c).unwrap()).unwrap(),
        plain.decrypt(&plain.swap_rows(&p).unwrap()).unwrap()
    );
}

/// Per-image layout at its parameters (N = 16384): decrypted logits equal the plaintext
/// circuit on random inputs and random full-range weights, the noise budget keeps a margin and
/// is no lower than the validation model predicts.
#[test]
fn per_image_encrypted_equals_plaintext_circuit_with_noise_margin() {
    let par = PER_IMAGE.build().unwrap();
    let net = random_net(real_widths(), 5);
    assert!(2 * net.logit_bound() < par.plaintext() as u128);
    let layout = PerImageLayout::new(16384, 784, 128, 10).unwrap();
    let fhe = FheSlots::new(&par, &layout.rotation_steps(), true, 11).unwrap();
    let model = PerImageModel::new(&fhe, layout, &net).unwrap();
    let mut rng = Rng::new(6);
    let predicted = NoiseModel {
        degree: 16384,
        log_q: 438,
        t: par.plaintext(),
    }
    .per_image_budget(layout.diagonals);
    for _ in 0..2 {
        let q: Vec<i64> = (0..784).map(|_| rng.below(16) as i64).collect();
        let x = fhe.encrypt(&layout.pack(&q)).unwrap();
        let out = model.eval(&fhe, &x).unwrap();
        let got = model.read_logits(&fhe.decrypt(&out).unwrap());
        let want: Vec<i64> = net.logits(&q).iter().map(|&v| v as i64).collect();
        assert_eq!(got, want);
        let budget = fhe.noise_budget(&out).unwrap();
        assert!(budget >= 10.0, "noise budget {budget} bits");
        assert!(
            budget >= predicted,
            "measured {budget} < predicted {predicted}"
        );
    }
    let [f1, sq, f2] = layout.op_counts();
    let used = fhe.stats();
    assert_eq!(used.rotations, 2 * (f1.rotations + f2.rotations));
    assert_eq!(used.ct_ct_mul, 2 * sq.ct_ct_mul);
}

/// What the depth check refuses is real: at N = 8192 (log q = 218) the per-image circuit
/// exhausts the noise budget and decrypts to wrong logits.
#[test]
fn per_image_at_n_8192_runs_out_of_noise_budget_as_predicted() {
    let par = REAL.build().unwrap();
    let net = random_net(real_widths(), 5);
    let layout = PerImageLayout::new(8192, 784, 128, 10).unwrap();
    let predicted = NoiseModel {
        degree: 8192,
        log_q: 218,
        t: par.plaintext(),
    }
    .per_image_budget(layout.diagonals);
    assert!(predicted < 0.0, "predicted {predicted}");
    let fhe = FheSlots::new(&par, &layout.rotation_steps(), true, 11).unwrap();
    let model = PerImageModel::new(&fhe, layout, &net).unwrap();
    let q: Vec<i64> = (0..784).map(|i| (i % 16) as i64).collect();
    let x = fhe.encrypt(&layout.pack(&q)).unwrap();
    let out = model.eval(&fhe, &x).unwrap();
    let got = model.read_logits(&fhe.decrypt(&out).unwrap());
    let want: Vec<i64> = net.logits(&q).iter().map(|&v| v as i64).collect();
    assert_ne!(got, want);
}

/// Batch layout at the real ring: one image per slot, decrypted logits equal per slot.
#[test]
fn batch_encrypted_equals_plaintext_circuit_with_noise_margin() {
    let par = REAL.build().unwrap();
    let widths = Widths {
        inputs: 40,
        hidden: 16,
        classes: 4,
        input_bits: 4,
        weight_bits: 4,
    };
    let net = random_net(widths, 8);
    let fhe = FheSlots::new(&par, &[], false, 3).unwrap();
    let model = BatchModel::new(&fhe, &net).unwrap();
    let mut rng = Rng::new(2);
    let images: Vec<Vec<i64>> = (0..300)
        .map(|_| (0..40).map(|_| rng.below(16) as i64).collect())
        .collect();
    let xs: Vec<_> = batch::pack(&images, 40)
        .iter()
        .map(|v| fhe.encrypt(v).unwrap())
        .collect();
    let outs = model.eval(&fhe, &xs).unwrap();
    let dec: Vec<Vec<i64>> = outs.iter().map(|c| fhe.decrypt(c).unwrap()).collect();
    for (n, q) in images.iter().enumerate() {
        let want: Vec<i64> = net.logits(q).iter().map(|&v| v as i64).collect();
        let got: Vec<i64> = dec.iter().map(|d| d[n]).collect();
        assert_eq!(got, want, "image {n}");
    }
    let predicted = NoiseModel {
        degree: 8192,
        log_q: 218,
        t: par.plaintext(),
    }
    .batch_budget(7, 40, 16);
    for c in &outs {
        let b = fhe.noise_budget(c).unwrap();
        assert!(
            b >= 10.0 && b >= predicted,
            "budget {b}, predicted {predicted}"
        );
    }
}

fn params(kv: &[(&str, Value)]) -> Params {
    let given: BTreeMap<String, Value> =
        kv.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    Params::resolve(HE.params(), &given).unwrap()
}

fn refused(kv: &[(&str, Value)]) -> (String, String) {
    let e = HE
        .check(&params(kv), &ModelConfig::mlp())
        .expect_err("parameters should be refused");
    (e.param().to_string(), e.to_string())
}

#[test]
fn checker_accepts_defaults_and_refuses_insecure_wrapping_or_too_deep_parameters() {
    for layout in ["plain-float", "plain-int", "batch"] {
        HE.check(
            &params(&[("layout", Value::Str(layout.into()))]),
            &ModelConfig::mlp(),
        )
        .unwrap();
    }
    // N = 8192 allows at most 218 bits of q at 128-bit security.
    let (p, msg) = refused(&[("log_q", Value::Int(240))]);
    assert_eq!(p, "log_q");
    assert!(msg.contains("below 128-bit security"), "{msg}");
    let (p, _) = refused(&[("poly_degree", Value::Int(4096))]);
    assert_eq!(p, "log_q");
    // 4-bit weights and inputs need t above 2^46.5.
    let (p, msg) = refused(&[("plain_bits", Value::Int(46))]);
    assert_eq!(p, "plain_bits");
    assert!(msg.contains("could wrap"), "{msg}");
    let (p, _) = refused(&[("weight_bits", Value::Int(5))]);
    assert_eq!(p, "plain_bits");
    // The per-image layout's dense plaintext products need more than N = 8192 carries.
    let (p, msg) = refused(&[("layout", Value::Str("per-image".into()))]);
    assert_eq!(p, "log_q");
    assert!(msg.contains("noise budget"), "{msg}");
    HE.check(
        &params(&[
            ("layout", Value::Str("per-image".into())),
            ("poly_degree", Value::Int(16384)),
            ("log_q", Value::Int(438)),
        ]),
        &ModelConfig::mlp(),
    )
    .unwrap();
    // Secure but too shallow: N = 4096, log q = 109 cannot carry depth 3 at a 47-bit t.
    let (p, msg) = refused(&[
        ("poly_degree", Value::Int(4096)),
        ("log_q", Value::Int(109)),
        ("plain_bits", Value::Int(47)),
    ]);
    assert_eq!(p, "log_q");
    assert!(msg.contains("noise budget"), "{msg}");
    let (p, _) = refused(&[("poly_degree", Value::Int(5000))]);
    assert_eq!(p, "poly_degree");
    let (p, _) = refused(&[("hidden", Value::Int(100))]);
    assert_eq!(p, "hidden");
    // Wrapping t is not an issue without encryption.
    HE.check(
        &params(&[
            ("layout", Value::Str("plain-int".into())),
            ("plain_bits", Value::Int(20)),
        ]),
        &ModelConfig::mlp(),
    )
    .unwrap();
}
