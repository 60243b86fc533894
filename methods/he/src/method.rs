//! The registered method `he`: train the HE-ready MLP, derive its integer twin, and (in the
//! encrypted layouts) run the test images through BFV, checking every decrypted logit
//! against the plaintext integer circuit.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use compbench_core::seed::derive;
use compbench_core::{ImageSplit, ParamError, ParamSpec, Params};
use compbench_nn::models::IMAGE_SIDE;
use compbench_nn::train::{cross_entropy, fit_with_loss};
use compbench_nn::{Compressed, Method, MethodCtx, MethodError, ModelConfig};

use crate::batch::{self, BatchModel};
use crate::bfv::{HeParams, MIN_MARGIN_BITS, NoiseModel, max_log_q_128, moduli_sizes};
use crate::circuit::{InputQuant, IntMlp, Widths};
use crate::deploy::{float_model, he_cost, integer_model};
use crate::encrypted::FheSlots;
use crate::model::{Forward, HeMlp, dequantized, input_range};
use crate::per_image::{PerImageLayout, PerImageModel};
use crate::slots::{OpStats, Slots};

pub static HE: He = He;

#[derive(Debug, Clone, Copy, Default)]
pub struct He;

pub const LAYOUTS: &[&str] = &["plain-float", "plain-int", "per-image", "batch"];

/// Images the per-image layout encrypts when `images` is 0.
pub const PER_IMAGE_DEFAULT_IMAGES: usize = 200;

const PARAMS: &[ParamSpec] = &[
    ParamSpec::choice(
        "layout",
        "batch",
        LAYOUTS,
        "plain-float: the float x² MLP; plain-int: its integer twin; per-image: BFV, one \
         image per ciphertext (diagonal mat-vec, BSGS rotations); batch: BFV, one image per \
         slot (CryptoNets)",
    ),
    ParamSpec::int("hidden", 128, 8, 1024, "hidden width (a power of two)"),
    ParamSpec::int(
        "weight_bits",
        4,
        2,
        8,
        "signed weight bits (symmetric grid)",
    ),
    ParamSpec::int("input_bits", 4, 1, 8, "unsigned input bits"),
    ParamSpec::int(
        "float_epochs",
        10,
        1,
        100,
        "float training epochs (1 with --quick)",
    ),
    ParamSpec::int(
        "qat_epochs",
        4,
        0,
        50,
        "quantization-aware epochs after float training (1 with --quick; 0 = PTQ)",
    ),
    ParamSpec::int(
        "poly_degree",
        8192,
        1024,
        32768,
        "BFV ring degree N (a power of two); the per-image layout needs 16384 (with log_q 438) \
         at a 47-bit t: its dense plaintext products cost about 2·log2(t) bits each",
    ),
    ParamSpec::int(
        "log_q",
        218,
        20,
        1000,
        "bits of the ciphertext modulus q (≤ the HE standard's 128-bit bound for N)",
    ),
    ParamSpec::int(
        "plain_bits",
        47,
        10,
        61,
        "bits of the plaintext modulus t (the largest prime below 2^bits with t ≡ 1 mod 2N)",
    ),
    ParamSpec::int(
        "images",
        0,
        0,
        1_000_000,
        "test images to encrypt (0: 200 in the per-image layout, the whole test split in batch)",
    ),
];

fn constraint(param: &str, message: String) -> ParamError {
    ParamError::Constraint {
        param: param.into(),
        message,
    }
}

/// Everything `check` derives from the parameters.
struct Plan {
    layout: String,
    widths: Widths,
    he: HeParams,
}

fn plan(params: &Params, classes: usize) -> Plan {
    Plan {
        layout: params.str("layout").to_string(),
        widths: Widths {
            inputs: IMAGE_SIDE * IMAGE_SIDE,
            hidden: params.int("hidden") as usize,
            classes,
            input_bits: params.int("input_bits") as u32,
            weight_bits: params.int("weight_bits") as u32,
        },
        he: HeParams {
            degree: params.int("poly_degree") as usize,
            log_q: params.int("log_q") as u32,
            plain_bits: params.int("plain_bits") as u32,
        },
    }
}

/// The validation-time checks (also run by `apply`).
fn check_plan(p: &Plan) -> Result<(), ParamError> {
    let w = &p.widths;
    if !w.hidden.is_power_of_two() {
        return Err(constraint(
            "hidden",
            format!("{} is not a power of two", w.hidden),
        ));
    }
    if w.worst_hidden() >= 1 << 24 {
        return Err(constraint(
            "weight_bits",
            format!(
                "layer-1 accumulators reach {} (> 2^24) at {} weight and {} input bits; the \
                 plaintext twin passes them through f32, exact only below 2^24",
                w.worst_hidden(),
                w.weight_bits,
                w.input_bits
            ),
        ));
    }
    if !p.layout.starts_with("plain") {
        check_he(p)?;
    }
    Ok(())
}

fn check_he(p: &Plan) -> Result<(), ParamError> {
    let (w, he) = (&p.widths, &p.he);
    let n = he.degree;
    let Some(max_q) = max_log_q_128(n) else {
        return Err(constraint(
            "poly_degree",
            format!(
                "{n} is not a ring degree of the HE standard's table (1024 … 32768, powers of two)"
            ),
        ));
    };
    if he.log_q > max_q {
        return Err(constraint(
            "log_q",
            format!(
                "N = {n} with log q = {} is below 128-bit security (the HE standard allows at \
                 most {max_q} bits at N = {n})",
                he.log_q
            ),
        ));
    }
    let min_modulus = (2 * n as u64).ilog2() as usize + 2;
    if moduli_sizes(he.log_q).iter().any(|&b| b < min_modulus) {
        return Err(constraint(
            "log_q",
            format!(
                "{} bits cannot hold one NTT-friendly modulus (≥ {min_modulus} bits) at N = {n}",
                he.log_q
            ),
        ));
    }
    let Some(t) = he.t() else {
        return Err(constraint(
            "plain_bits",
            format!("no {}-bit prime t ≡ 1 mod 2N = {}", he.plain_bits, 2 * n),
        ));
    };
    let need = 2 * w.worst_logit() + 1;
    if (t as u128) < need {
        return Err(constraint(
            "plain_bits",
            format!(
                "t = {t} ({} bits) < 2·max|logit| + 1 = {need} ({:.1} bits) at {} weight and {} \
                 input bits: a classifier accumulator could wrap modulo t",
                he.plain_bits,
                (need as f64).log2(),
                w.weight_bits,
                w.input_bits
            ),
        ));
    }
    let noise = NoiseModel {
        degree: n,
        log_q: he.log_q,
        t,
    };
    let budget = if p.layout == "batch" {
        noise.batch_budget(w.weight_qmax(), w.inputs, w.hidden)
    } else {
        let layout = PerImageLayout::new(n, w.inputs, w.hidden, w.classes)
            .map_err(|e| constraint("hidden", e))?;
        noise.per_image_budget(layout.diagonals)
    };
    if budget < MIN_MARGIN_BITS {
        return Err(constraint(
            "log_q",
            format!(
                "the depth-3 circuit (ct×pt, ct×ct, ct×pt) needs more noise budget than \
                 log q = {} leaves at t = {} bits: {budget:.0} bits predicted after the last \
                 layer, {MIN_MARGIN_BITS} required",
                he.log_q, he.plain_bits
            ),
        ));
    }
    Ok(())
}

impl Method for He {
    fn id(&self) -> &'static str {
        "he"
    }

    fn describe(&self) -> &'static str {
        "BFV homomorphic inference (fhe.rs) of a QAT x² MLP: per-image (diagonal/BSGS) or \
         CryptoNets batch, checked against its plaintext integer twin"
    }

    fn family(&self) -> Option<compbench_core::Family> {
        Some(compbench_core::Family::HomomorphicEncryption)
    }

    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }

    fn check(&self, params: &Params, model: &ModelConfig) -> Result<(), ParamError> {
        check_plan(&plan(params, model.classes))
    }

    fn apply(&self, ctx: &MethodCtx, params: &Params) -> Result<Compressed, MethodError> {
        let p = plan(params, ctx.data.classes.max(ctx.model.classes));
        check_plan(&p)?;
        let w = p.widths;
        let mut metrics = BTreeMap::new();
        let mut notes = Vec::new();

        // 1. Float x² network.
        let epochs = |name: &str| {
            if ctx.quick {
                1
            } else {
                params.int(name) as usize
            }
        };
        let device = ctx.device;
        let init = HeMlp::new(
            w.inputs,
            w.hidden,
            w.classes,
            device,
            derive(ctx.seed, &["init"]),
        );
        let cfg = ctx.train.clone().with_epochs(epochs("float_epochs"));
        let (float_net, log) = fit_with_loss(
            init,
            &cfg,
            &ctx.data.train,
            device,
            derive(ctx.seed, &["float"]),
            |m: &HeMlp, x, y| cross_entropy(m.forward(x, Forward::Float), y, 0.0),
            ctx.log,
        );
        (ctx.log)(&format!("float x² MLP: {:.1} s", log.train_s));
        let dims = [w.inputs, w.hidden, w.classes];
        let float_deployed = float_model(
            format!("mlp-{}-x2/he-float", w.hidden),
            float_net.weights(),
            dims,
        );
        let float_acc = float_deployed.accuracy(&ctx.data.test);
        metrics.insert("float_accuracy".into(), float_acc);
        if p.layout == "plain-float" {
            return Ok(Compressed {
                deployed: float_deployed,
                metrics,
                notes,
            });
        }

        // 2. Quantization-aware training on the client's input grid, then the integer twin.
        let (lo, hi) = input_range(&ctx.data.train);
        let input = InputQuant::from_range(lo, hi, w.input_bits);
        let qat_epochs = if params.int("qat_epochs") == 0 {
            0
        } else {
            epochs("qat_epochs")
        };
        let qat_net = if qat_epochs > 0 {
            let train = dequantized(&ctx.data.train, &input);
            let mut cfg = ctx.train.clone().with_epochs(qat_epochs);
            cfg.lr *= 0.3;
            cfg.warmup_epochs = 0.0;
            let mode = Forward::Qat {
                widths: w,
                in_scale: input.scale,
            };
            let (net, log) = fit_with_loss(
                float_net,
                &cfg,
                &train,
                device,
                derive(ctx.seed, &["qat"]),
                |m: &HeMlp, x, y| cross_entropy(m.forward(x, mode), y, 0.0),
                ctx.log,
            );
            (ctx.log)(&format!("QAT: {:.1} s", log.train_s));
            net
        } else {
            notes.push("qat_epochs = 0: post-training quantization only".into());
            float_net
        };
        let net = Arc::new(qat_net.to_integer(w, input));
        let bound = net.logit_bound();
        metrics.insert("logit_bound_bits".into(), (bound.max(1) as f64).log2());
        metrics.insert("worst_logit_bits".into(), (w.worst_logit() as f64).log2());
        metrics.insert("logit_scale".into(), net.logit_scale);

        let int_name = format!(
            "mlp-{}-x2-w{}a{}/he-{}",
            w.hidden, w.weight_bits, w.input_bits, p.layout
        );
        let int_plain = integer_model(int_name.clone(), net.clone(), [None, None]);
        let int_acc = int_plain.accuracy(&ctx.data.test);
        metrics.insert("int_accuracy".into(), int_acc);
        metrics.insert("accuracy_gap_to_float".into(), float_acc - int_acc);
        if p.layout == "plain-int" {
            return Ok(Compressed {
                deployed: int_plain,
                metrics,
                notes,
            });
        }

        // 3. Encrypted inference.
        let t =
            p.he.t()
                .ok_or_else(|| MethodError::Failed("no plaintext prime".into()))?;
        if 2 * bound + 1 > t as u128 {
            return Err(MethodError::Failed(format!(
                "trained logits reach {bound}; t = {t} would wrap"
            )));
        }
        let par = p.he.build().map_err(MethodError::Failed)?;
        let requested = params.int("images") as usize;
        let test = &ctx.data.test;
        let noise = NoiseModel {
            degree: p.he.degree,
            log_q: p.he.log_q,
            t,
        };
        metrics.insert("poly_degree".into(), p.he.degree as f64);
        metrics.insert(
            "log_q".into(),
            par.moduli()
                .iter()
                .map(|&q| (q as f64).log2())
                .sum::<f64>()
                .round(),
        );
        metrics.insert("plain_modulus_bits".into(), (t as f64).log2());
        metrics.insert(
            "security_bits".into(),
            p.he.security_bits().map_or(0.0, |b| b as f64),
        );
        let seed = derive(ctx.seed, &["keys"]);
        let (run, he) = if p.layout == "per-image" {
            let n = if requested == 0 {
                PER_IMAGE_DEFAULT_IMAGES
            } else {
                requested
            };
            let images = test.head(if ctx.quick { n.min(20) } else { n });
            let layout = PerImageLayout::new(p.he.degree, w.inputs, w.hidden, w.classes)
                .map_err(MethodError::Failed)?;
            metrics.insert(
                "predicted_noise_budget_bits".into(),
                noise.per_image_budget(layout.diagonals),
            );
            run_per_image(&par, &net, &images, seed, ctx.log)?
        } else {
            let images = if requested == 0 {
                test.clone()
            } else {
                test.head(requested)
            };
            let images = if ctx.quick {
                images.head(p.he.degree)
            } else {
                images
            };
            metrics.insert(
                "predicted_noise_budget_bits".into(),
                noise.batch_budget(w.weight_qmax(), w.inputs, w.hidden),
            );
            run_batch(&par, &net, &images, seed, ctx.log)?
        };
        if run.mismatches > 0 || run.logit_mismatches > 0 {
            return Err(MethodError::Failed(format!(
                "{} of {} decrypted predictions ({} logit vectors) differ from the plaintext \
                 integer model",
                run.mismatches, run.images, run.logit_mismatches
            )));
        }
        metrics.extend(run.metrics);
        notes.push(format!(
            "encrypted {} test images (BFV N = {}, log q = {}, t = {t}); `accuracy` and \
             `measured_latency_s` are the plaintext integer twin's on the whole test split, \
             method_he_* columns the encrypted run's",
            run.images, p.he.degree, p.he.log_q
        ));
        notes.push(
            "fhe.rs draws the public `a` of each encryption from the OS, so the measured noise \
             budget varies slightly between runs; decrypted values do not"
                .into(),
        );
        Ok(Compressed {
            deployed: integer_model(int_name, net, he),
            metrics,
            notes,
        })
    }
}

/// What an encrypted run measured.
pub struct EncryptedRun {
    pub images: usize,
    pub mismatches: usize,
    pub logit_mismatches: usize,
    pub metrics: BTreeMap<String, f64>,
}

fn failed(e: String) -> MethodError {
    MethodError::Failed(e)
}

fn stats_metrics(m: &mut BTreeMap<String, f64>, prefix: &str, s: &OpStats, per: f64) {
    for (k, v) in [
        ("ct_pt_mul", s.ct_pt_mul as f64),
        ("ct_scalar_mul", s.ct_scalar_mul as f64),
        ("ct_ct_mul", s.ct_ct_mul as f64),
        ("rotations", s.rotations as f64),
        ("key_switches", s.key_switches() as f64),
        ("additions", s.additions as f64),
        ("rotation_s", s.rotation_s),
        ("ct_pt_mul_s", s.ct_pt_mul_s),
        ("ct_scalar_mul_s", s.ct_scalar_mul_s),
        ("square_s", s.square_s),
        ("addition_s", s.addition_s),
        ("encrypt_s", s.encrypt_s),
        ("decrypt_s", s.decrypt_s),
    ] {
        m.insert(format!("{prefix}{k}"), v / per);
    }
}

fn sub_stats(a: &OpStats, b: &OpStats) -> OpStats {
    OpStats {
        ct_pt_mul: a.ct_pt_mul - b.ct_pt_mul,
        ct_scalar_mul: a.ct_scalar_mul - b.ct_scalar_mul,
        ct_ct_mul: a.ct_ct_mul - b.ct_ct_mul,
        relinearizations: a.relinearizations - b.relinearizations,
        rotations: a.rotations - b.rotations,
        additions: a.additions - b.additions,
        encryptions: a.encryptions - b.encryptions,
        decryptions: a.decryptions - b.decryptions,
        ct_pt_mul_s: a.ct_pt_mul_s - b.ct_pt_mul_s,
        ct_scalar_mul_s: a.ct_scalar_mul_s - b.ct_scalar_mul_s,
        square_s: a.square_s - b.square_s,
        rotation_s: a.rotation_s - b.rotation_s,
        addition_s: a.addition_s - b.addition_s,
        encrypt_s: a.encrypt_s - b.encrypt_s,
        decrypt_s: a.decrypt_s - b.decrypt_s,
    }
}

fn merge(a: &OpStats, b: &OpStats) -> OpStats {
    OpStats {
        ct_pt_mul: a.ct_pt_mul + b.ct_pt_mul,
        ct_scalar_mul: a.ct_scalar_mul + b.ct_scalar_mul,
        ct_ct_mul: a.ct_ct_mul + b.ct_ct_mul,
        relinearizations: a.relinearizations + b.relinearizations,
        rotations: a.rotations + b.rotations,
        additions: a.additions + b.additions,
        ..OpStats::default()
    }
}

fn sizes_metrics(m: &mut BTreeMap<String, f64>, s: &crate::encrypted::KeySizes) {
    m.insert("secret_key_bytes".into(), s.secret_key as f64);
    m.insert("galois_key_bytes".into(), s.galois_keys as f64);
    m.insert("relin_key_bytes".into(), s.relinearization_key as f64);
    m.insert(
        "eval_key_bytes".into(),
        (s.galois_keys + s.relinearization_key) as f64,
    );
    m.insert("ciphertext_upload_bytes".into(), s.upload_ciphertext as f64);
    m.insert("ciphertext_result_bytes".into(), s.result_ciphertext as f64);
}

/// Layout B on `images`, one at a time, single-threaded.
pub fn run_per_image(
    par: &Arc<fhe::bfv::BfvParameters>,
    net: &IntMlp,
    images: &ImageSplit,
    seed: u64,
    log: &(dyn Fn(&str) + Sync),
) -> Result<(EncryptedRun, [Option<compbench_core::HeCost>; 2]), MethodError> {
    let w = net.widths;
    let layout =
        PerImageLayout::new(par.degree(), w.inputs, w.hidden, w.classes).map_err(failed)?;
    let fhe = FheSlots::new(par, &layout.rotation_steps(), true, seed).map_err(failed)?;
    let t0 = Instant::now();
    let model = PerImageModel::new(&fhe, layout, net).map_err(failed)?;
    let encode_s = t0.elapsed().as_secs_f64();
    let (mut mism, mut lmism, mut correct, mut int_correct) = (0, 0, 0, 0);
    let (mut fc1_s, mut sq_s, mut fc2_s, mut total_s) = (0.0, 0.0, 0.0, 0.0);
    let mut min_budget = f64::INFINITY;
    let mut fresh_budget = f64::INFINITY;
    let mut sizes = None;
    let start = fhe.stats();
    for i in 0..images.len() {
        let q = net.quantize(images.image(i));
        let t_img = Instant::now();
        let x = fhe.encrypt(&layout.pack(&q)).map_err(failed)?;
        let t = Instant::now();
        let a = model.fc1(&fhe, &x).map_err(failed)?;
        fc1_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let h = fhe.square(&a).map_err(failed)?;
        sq_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let out = model.fc2(&fhe, &h).map_err(failed)?;
        fc2_s += t.elapsed().as_secs_f64();
        let logits = model.read_logits(&fhe.decrypt(&out).map_err(failed)?);
        total_s += t_img.elapsed().as_secs_f64();

        let want = net.logits(&q);
        let got_pred = crate::circuit::argmax(&logits);
        let want_pred = crate::circuit::argmax(&want);
        lmism += usize::from(logits.iter().zip(&want).any(|(&g, &w)| g as i128 != w));
        mism += usize::from(got_pred != want_pred);
        correct += usize::from(got_pred == images.labels[i] as usize);
        int_correct += usize::from(want_pred == images.labels[i] as usize);
        min_budget = min_budget.min(fhe.noise_budget(&out).map_err(failed)?);
        if i == 0 {
            fresh_budget = fhe.noise_budget(&x).map_err(failed)?;
            sizes = Some(fhe.sizes(&x, &out));
        }
        if (i + 1) % 50 == 0 {
            log(&format!("per-image: {}/{} images", i + 1, images.len()));
        }
    }
    let n = images.len().max(1) as f64;
    let used = sub_stats(&fhe.stats(), &start);
    let mut m = BTreeMap::new();
    m.insert("he_images".into(), images.len() as f64);
    m.insert("he_accuracy".into(), correct as f64 / n);
    m.insert("he_int_accuracy_same_images".into(), int_correct as f64 / n);
    m.insert("he_mismatches".into(), mism as f64);
    m.insert("he_latency_s".into(), total_s / n);
    m.insert("he_eval_s".into(), (fc1_s + sq_s + fc2_s) / n);
    m.insert("he_fc1_s".into(), fc1_s / n);
    m.insert("he_square_s".into(), sq_s / n);
    m.insert("he_fc2_s".into(), fc2_s / n);
    m.insert("he_throughput_images_per_s".into(), n / total_s.max(1e-12));
    m.insert("he_keygen_s".into(), fhe.keygen_s);
    m.insert("he_encode_model_s".into(), encode_s);
    m.insert("noise_budget_bits".into(), min_budget);
    m.insert("noise_budget_fresh_bits".into(), fresh_budget);
    stats_metrics(&mut m, "he_per_image_", &used, n);
    if let Some(s) = &sizes {
        sizes_metrics(&mut m, s);
        m.insert("upload_bytes_per_image".into(), s.upload_ciphertext as f64);
    }
    let [f1, sq, f2] = layout.op_counts();
    let log_q = fhe.log_q().round() as u32;
    let he = [
        Some(he_cost(&f1, par.degree(), log_q, 1)),
        Some(he_cost(&merge(&sq, &f2), par.degree(), log_q, 1)),
    ];
    Ok((
        EncryptedRun {
            images: images.len(),
            mismatches: mism,
            logit_mismatches: lmism,
            metrics: m,
        },
        he,
    ))
}

/// Layout A on `images`, N per batch, single-threaded.
pub fn run_batch(
    par: &Arc<fhe::bfv::BfvParameters>,
    net: &IntMlp,
    images: &ImageSplit,
    seed: u64,
    log: &(dyn Fn(&str) + Sync),
) -> Result<(EncryptedRun, [Option<compbench_core::HeCost>; 2]), MethodError> {
    let w = net.widths;
    let slots = par.degree();
    let fhe = FheSlots::new(par, &[], false, seed).map_err(failed)?;
    let model = BatchModel::new(&fhe, net).map_err(failed)?;
    let (mut mism, mut lmism, mut correct, mut int_correct) = (0, 0, 0, 0);
    let (mut enc_s, mut eval_s, mut dec_s) = (0.0, 0.0, 0.0);
    let mut min_budget = f64::INFINITY;
    let mut fresh_budget = f64::INFINITY;
    let mut sizes = None;
    let mut batches = 0;
    let start = fhe.stats();
    let mut first = 0;
    while first < images.len() {
        let end = (first + slots).min(images.len());
        let qs: Vec<Vec<i64>> = (first..end)
            .map(|i| net.quantize(images.image(i)))
            .collect();
        let t = Instant::now();
        let xs: Vec<_> = batch::pack(&qs, w.inputs)
            .iter()
            .map(|v| fhe.encrypt(v))
            .collect::<Result<_, _>>()
            .map_err(failed)?;
        enc_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let outs = model.eval(&fhe, &xs).map_err(failed)?;
        eval_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let dec: Vec<Vec<i64>> = outs
            .iter()
            .map(|c| fhe.decrypt(c))
            .collect::<Result<_, _>>()
            .map_err(failed)?;
        dec_s += t.elapsed().as_secs_f64();
        for (n, q) in qs.iter().enumerate() {
            let logits: Vec<i64> = dec.iter().map(|d| d[n]).collect();
            let want = net.logits(q);
            let got_pred = crate::circuit::argmax(&logits);
            let want_pred = crate::circuit::argmax(&want);
            let label = images.labels[first + n] as usize;
            lmism += usize::from(logits.iter().zip(&want).any(|(&g, &w)| g as i128 != w));
            mism += usize::from(got_pred != want_pred);
            correct += usize::from(got_pred == label);
            int_correct += usize::from(want_pred == label);
        }
        for c in &outs {
            min_budget = min_budget.min(fhe.noise_budget(c).map_err(failed)?);
        }
        if batches == 0 {
            fresh_budget = fhe.noise_budget(&xs[0]).map_err(failed)?;
            sizes = Some(fhe.sizes(&xs[0], &outs[0]));
        }
        batches += 1;
        log(&format!(
            "batch {batches}: {} images, {:.1} s so far",
            end - first,
            enc_s + eval_s + dec_s
        ));
        first = end;
    }
    let n = images.len().max(1) as f64;
    let b = f64::from(batches.max(1));
    let used = sub_stats(&fhe.stats(), &start);
    let total = enc_s + eval_s + dec_s;
    let mut m = BTreeMap::new();
    m.insert("he_images".into(), images.len() as f64);
    m.insert("he_batches".into(), b);
    m.insert("he_accuracy".into(), correct as f64 / n);
    m.insert("he_int_accuracy_same_images".into(), int_correct as f64 / n);
    m.insert("he_mismatches".into(), mism as f64);
    // Every image of a batch waits for the whole batch: its latency is the batch's.
    m.insert("he_latency_s".into(), total / b);
    m.insert("he_batch_latency_s".into(), total / b);
    m.insert("he_eval_s".into(), eval_s / b);
    m.insert("he_encrypt_batch_s".into(), enc_s / b);
    m.insert("he_decrypt_batch_s".into(), dec_s / b);
    m.insert("he_amortized_s_per_image".into(), total / n);
    m.insert("he_throughput_images_per_s".into(), n / total.max(1e-12));
    m.insert("he_keygen_s".into(), fhe.keygen_s);
    m.insert("noise_budget_bits".into(), min_budget);
    m.insert("noise_budget_fresh_bits".into(), fresh_budget);
    stats_metrics(&mut m, "he_per_batch_", &used, b);
    if let Some(s) = &sizes {
        sizes_metrics(&mut m, s);
        m.insert(
            "upload_bytes_per_image".into(),
            (s.upload_ciphertext * w.inputs) as f64 / slots as f64,
        );
    }
    let [f1, sq, f2] = model.op_counts();
    let log_q = fhe.log_q().round() as u32;
    let he = [
        Some(he_cost(&f1, slots, log_q, slots as u64)),
        Some(he_cost(&merge(&sq, &f2), slots, log_q, slots as u64)),
    ];
    Ok((
        EncryptedRun {
            images: images.len(),
            mismatches: mism,
            logit_mismatches: lmism,
            metrics: m,
        },
        he,
    ))
}
