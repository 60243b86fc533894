//! Training: a generic loop over any burn module, the cross-entropy objective, evaluation and
//! cached baselines.
//!
//! Determinism: shuffling and initialization use compbench-core's RNG only, batch shards are
//! fixed by the recipe and their gradients summed in shard order, and the loop runs on a rayon
//! pool of `threads` threads, so two trainings with the same seed, data, recipe and thread count
//! give bit-identical weights.

pub mod baseline;
pub mod checkpoint;
pub mod config;

use std::time::Instant;

use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamWConfig, GradientsParams, SgdConfig};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use compbench_core::ImageSplit;
use compbench_core::seed::{Rng, derive};

pub use baseline::{BaselineInfo, TrainError, baseline_cache_key, train_baseline};
pub use config::{OptimizerKind, TrainConfig};

/// What happened in one epoch.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochLog {
    pub epoch: usize,
    /// Mean training loss over the epoch's steps.
    pub loss: f64,
    pub seconds: f64,
    pub steps: usize,
    /// Learning rate at the epoch's last step.
    pub lr: f64,
}

/// What happened in a training run.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct TrainLog {
    pub epochs: Vec<EpochLog>,
    /// Wall time of the whole loop.
    pub train_s: f64,
}

impl TrainLog {
    /// Mean seconds per epoch (0 when no epoch ran).
    pub fn epoch_s(&self) -> f64 {
        if self.epochs.is_empty() {
            0.0
        } else {
            self.epochs.iter().map(|e| e.seconds).sum::<f64>() / self.epochs.len() as f64
        }
    }
}

/// Run `f` on a rayon pool of `threads` threads (0 = the current pool). Both burn-flex and our
/// kernels parallelize on the current pool, so this bounds all of them.
pub fn with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    if threads == 0 || threads == rayon::current_num_threads() {
        return f();
    }
    match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(pool) => pool.install(f),
        Err(_) => f(),
    }
}

/// A mini-batch as burn tensors: images `[b, c, h, w]` and labels `[b]`.
pub fn batch_tensors(
    split: &ImageSplit,
    idx: &[usize],
    device: &Device,
) -> (Tensor<4>, Tensor<1, Int>) {
    let p = split.pixels_per_image();
    let mut images = Vec::with_capacity(idx.len() * p);
    let mut labels = Vec::with_capacity(idx.len());
    for &i in idx {
        images.extend_from_slice(split.image(i));
        labels.push(split.labels[i] as i64);
    }
    let x = Tensor::<4>::from_data(
        TensorData::new(
            images,
            [idx.len(), split.channels, split.height, split.width],
        ),
        device,
    );
    let y = Tensor::<1, Int>::from_data(TensorData::new(labels, [idx.len()]), device);
    (x, y)
}

/// Mean cross-entropy of `logits` `[b, c]` against `targets` `[b]`, with label smoothing
/// `eps` (targets `(1−eps)·onehot + eps/c`). Returns a one-element tensor.
pub fn cross_entropy(logits: Tensor<2>, targets: Tensor<1, Int>, eps: f32) -> Tensor<1> {
    let [b, c] = logits.dims();
    let logp = log_softmax(logits, 1);
    let onehot = targets.one_hot::<2>(c).float();
    let target = if eps > 0.0 {
        onehot.mul_scalar(1.0 - eps).add_scalar(eps / c as f32)
    } else {
        onehot
    };
    (logp * target).sum().neg().div_scalar(b as f32)
}

/// Train `module` by minimizing `loss(module, images, labels)` with `cfg`'s optimizer and
/// schedule. `module` may hold any parameters (a method's own next to the model's); it is
/// moved to `device.autodiff()` and returned on the same autodiff device.
///
/// Batches are drawn without replacement from a per-epoch shuffle seeded by `seed`; the last
/// partial batch of an epoch is kept.
pub fn fit_with_loss<M>(
    module: M,
    cfg: &TrainConfig,
    data: &ImageSplit,
    device: &Device,
    seed: u64,
    loss: impl Fn(&M, Tensor<4>, Tensor<1, Int>) -> Tensor<1> + Send + Sync,
    log: &(dyn Fn(&str) + Sync),
) -> (M, TrainLog)
where
    M: Module + 'static,
{
    with_threads(cfg.threads, move || {
        fit_inner(
            module,
            cfg,
            data,
            device,
            seed,
            &|m: &M, x, y, _: &[usize]| loss(m, x, y),
            log,
        )
    })
}

/// A loss that also sees the batch's example indices (to gather per-example constants such as
/// cached teacher logits or hints).
pub(crate) type IndexedLoss<'a, M> =
    dyn Fn(&M, Tensor<4>, Tensor<1, Int>, &[usize]) -> Tensor<1> + Sync + 'a;

/// [`fit_with_loss`] with a loss that sees the batch's example indices (FitNets' hint stage
/// gathers the teacher's hints by them).
pub(crate) fn fit_indexed<M: Module + 'static>(
    module: M,
    cfg: &TrainConfig,
    data: &ImageSplit,
    device: &Device,
    seed: u64,
    loss: &IndexedLoss<'_, M>,
    log: &(dyn Fn(&str) + Sync),
) -> (M, TrainLog) {
    with_threads(cfg.threads, move || {
        fit_inner(module, cfg, data, device, seed, loss, log)
    })
}

fn fit_inner<M: Module + 'static>(
    module: M,
    cfg: &TrainConfig,
    data: &ImageSplit,
    device: &Device,
    seed: u64,
    loss: &IndexedLoss<'_, M>,
    log: &(dyn Fn(&str) + Sync),
) -> (M, TrainLog) {
    let ad = device.clone().autodiff();
    let mut module = module.fork(&ad).train();
    let n = cfg.train_subset.map_or(data.len(), |s| s.min(data.len()));
    let bs = cfg.batch_size.max(1);
    let steps_per_epoch = n.div_ceil(bs);
    let total = steps_per_epoch * cfg.epochs;
    let mut optim = match cfg.optimizer {
        OptimizerKind::AdamW => AdamWConfig::new()
            .with_weight_decay(cfg.weight_decay as f32)
            .init(),
        OptimizerKind::Sgd { momentum } => SgdConfig::new()
            .with_momentum(Some(
                MomentumConfig::new()
                    .with_momentum(momentum)
                    .with_dampening(0.0),
            ))
            .with_weight_decay(
                (cfg.weight_decay > 0.0).then(|| WeightDecayConfig::new(cfg.weight_decay as f32)),
            )
            .init(),
    };
    let mut tlog = TrainLog::default();
    let start = Instant::now();
    let mut step = 0;
    for epoch in 0..cfg.epochs {
        let t0 = Instant::now();
        let mut order: Vec<usize> = (0..n).collect();
        Rng::new(derive(seed, &["shuffle", &epoch.to_string()])).shuffle(&mut order);
        let (mut sum, mut lr) = (0.0f64, 0.0);
        for idx in order.chunks(bs) {
            let (grads, l) = sharded_gradients(&module, idx, cfg.batch_shards, data, &ad, loss);
            lr = cfg.lr_at(step, total, steps_per_epoch);
            module = optim.step(lr, module, grads);
            sum += l;
            step += 1;
        }
        let e = EpochLog {
            epoch,
            loss: sum / steps_per_epoch.max(1) as f64,
            seconds: t0.elapsed().as_secs_f64(),
            steps: steps_per_epoch,
            lr,
        };
        log(&format!(
            "epoch {}/{}: loss {:.4}, {:.1} s, lr {:.2e}",
            epoch + 1,
            cfg.epochs,
            e.loss,
            e.seconds,
            e.lr
        ));
        tlog.epochs.push(e);
    }
    tlog.train_s = start.elapsed().as_secs_f64();
    (module, tlog)
}

/// Gradient and value of the mean loss over the batch `idx`, computed as `shards` concurrent
/// forward/backward passes over near-equal slices. Shard `s` of `n_s` examples contributes
/// `(n_s / n) · ∇loss_s`, so a per-example mean plus any batch-independent regulariser gives
/// exactly the whole batch's gradient (up to summation order). Each shard's backward walks its
/// own autodiff graph; the sum runs in shard order, so the result does not depend on which
/// thread finished first.
fn sharded_gradients<M: Module + 'static>(
    module: &M,
    idx: &[usize],
    shards: usize,
    data: &ImageSplit,
    device: &Device,
    loss: &IndexedLoss<'_, M>,
) -> (GradientsParams, f64) {
    use rayon::prelude::*;
    let shards = shards.clamp(1, idx.len().max(1));
    let n = idx.len();
    let bounds: Vec<(usize, usize)> = (0..shards)
        .map(|s| (s * n / shards, (s + 1) * n / shards))
        .collect();
    // Modules are `Send` but not `Sync`, so each shard gets its own clone. `fork` makes every
    // parameter a fresh autodiff leaf (same ParamId, same data, no copy): shards sharing leaf
    // nodes would have their graphs merged by burn-autodiff, and one shard's backward would
    // consume the other's tape.
    let jobs: Vec<(M, usize, usize)> = bounds
        .into_iter()
        .map(|(a, b)| (module.clone().fork(device), a, b))
        .collect();
    let per_shard: Vec<(GradientsParams, f64)> = jobs
        .into_par_iter()
        .map(|(module, a, b)| {
            let (x, y) = batch_tensors(data, &idx[a..b], device);
            let l = loss(&module, x, y, &idx[a..b]).mul_scalar((b - a) as f32 / n as f32);
            let grads = GradientsParams::from_grads(l.backward(), &module);
            (grads, l.into_scalar::<f32>() as f64)
        })
        .collect();
    let mut acc = burn::optim::GradientsAccumulator::<M>::new();
    let mut total = 0.0;
    for (g, l) in per_shard {
        acc.accumulate(module, g);
        total += l;
    }
    (acc.grads(), total)
}

/// [`fit_with_loss`] with cross-entropy (and `cfg.label_smoothing`) over `forward`'s logits,
/// or, when `cfg.teacher` is set, the distillation loss against the teacher
/// ([`crate::distill::kd_loss`]: Hinton's soft targets or DeiT's hard ones, by the teacher's
/// mode; label smoothing then applies to neither term). This is the shared fine-tuning path: a
/// method that trains through `fit` accepts a teacher without code of its own.
///
/// `forward` returns logits (`Tensor<2>`) or [`Heads`]: a forward that returns both heads of a
/// ViT with a distillation token ([`Network::forward_heads`]) has the teacher term trained on
/// the distillation head and the labels on the class head, as DeiT does. Without a teacher the
/// loss is cross-entropy of the heads' average (the prediction); a one-head forward's loss is
/// exactly what it was before heads existed.
///
/// [`Heads`]: crate::models::Heads
/// [`Network::forward_heads`]: crate::models::Network::forward_heads
pub fn fit<M, O>(
    module: M,
    cfg: &TrainConfig,
    data: &ImageSplit,
    device: &Device,
    seed: u64,
    forward: impl Fn(&M, Tensor<4>) -> O + Send + Sync,
    log: &(dyn Fn(&str) + Sync),
) -> (M, TrainLog)
where
    M: Module + 'static,
    O: Into<crate::models::Heads>,
{
    let eps = cfg.label_smoothing;
    let Some(teacher) = cfg.teacher.clone() else {
        return fit_with_loss(
            module,
            cfg,
            data,
            device,
            seed,
            move |m, x, y| cross_entropy(forward(m, x).into().average(), y, eps),
            log,
        );
    };
    let n = cfg.train_subset.map_or(data.len(), |s| s.min(data.len()));
    let table = with_threads(cfg.threads, || teacher.logits_for(data, n));
    let table = match table {
        Ok(t) => t,
        // Only a teacher built for other images fails here; the runner checks shapes before
        // training, so this is a programming error.
        Err(e) => panic!("{e}"),
    };
    log(&format!(
        "distilling from teacher `{}` ({} targets, T = {}, λ = {})",
        teacher.label,
        teacher.mode.name(),
        teacher.temperature,
        teacher.lambda
    ));
    let (t, lambda, mode) = (
        teacher.temperature as f32,
        teacher.lambda as f32,
        teacher.mode,
    );
    let ad = device.clone().autodiff();
    with_threads(cfg.threads, move || {
        fit_inner(
            module,
            cfg,
            data,
            device,
            seed,
            &|m: &M, x, y, idx: &[usize]| {
                let student = forward(m, x).into();
                let teacher_logits = teacher.gather(&table, idx, &ad).detach();
                crate::distill::kd_loss(student, teacher_logits, y, mode, t, lambda)
            },
            log,
        )
    })
}

/// [`fit`] of a float [`Network`] through [`DenseHooks`]: how baselines (and tests' trained
/// networks) are trained.
///
/// [`Network`]: crate::models::Network
/// [`DenseHooks`]: crate::hooks::DenseHooks
pub fn fit_dense(
    net: crate::models::Network,
    cfg: &TrainConfig,
    data: &ImageSplit,
    device: &Device,
    seed: u64,
    log: &(dyn Fn(&str) + Sync),
) -> (crate::models::Network, TrainLog) {
    fit(
        net,
        cfg,
        data,
        device,
        seed,
        |m: &crate::models::Network, x| m.forward_heads(x, &crate::hooks::DenseHooks),
        log,
    )
}

/// Images per forward pass in [`evaluate`].
pub const EVAL_BATCH: usize = 500;

/// Top-1 accuracy of `forward` on `split`. Runs without autodiff on `device`'s plain form;
/// pass a forward over a `module.valid()` copy.
pub fn evaluate(
    forward: impl Fn(Tensor<4>) -> Tensor<2>,
    split: &ImageSplit,
    device: &Device,
) -> f64 {
    if split.is_empty() {
        return 0.0;
    }
    let device = device.clone().inner();
    let mut correct = 0usize;
    let all: Vec<usize> = (0..split.len()).collect();
    for idx in all.chunks(EVAL_BATCH) {
        let (x, _) = batch_tensors(split, idx, &device);
        let pred = forward(x)
            .argmax(1)
            .into_data()
            .convert::<i64>()
            .try_into_vec::<i64>()
            .expect("argmax is integer");
        correct += pred
            .iter()
            .zip(idx)
            .filter(|(p, i)| **p == split.labels[**i] as i64)
            .count();
    }
    correct as f64 / split.len() as f64
}

/// Logits of `forward` for the whole split as a flat `[n, classes]` vector (tests compare them
/// with the deployed model's).
pub fn logits(
    forward: impl Fn(Tensor<4>) -> Tensor<2>,
    split: &ImageSplit,
    device: &Device,
) -> Vec<f32> {
    let device = device.clone().inner();
    let all: Vec<usize> = (0..split.len()).collect();
    let mut out = Vec::new();
    for idx in all.chunks(EVAL_BATCH) {
        let (x, _) = batch_tensors(split, idx, &device);
        out.extend(
            forward(x)
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .expect("f32 logits"),
        );
    }
    out
}
