//! Training recipes.

use serde::{Deserialize, Serialize};

use crate::models::ModelKind;

/// Which optimizer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    AdamW,
    /// SGD with (heavy-ball) momentum.
    Sgd {
        momentum: f64,
    },
}

/// A training recipe. Serialized into the baseline cache key (except `threads`, which does not
/// change the arithmetic of burn-flex's kernels enough to matter and would otherwise split the
/// cache between machines; results are bit-reproducible for a fixed thread count).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub optimizer: OptimizerKind,
    /// Peak learning rate.
    pub lr: f64,
    /// Decoupled (AdamW) or L2 (SGD) weight decay.
    pub weight_decay: f64,
    /// Linear warm-up length, in epochs (fractions allowed), from lr/steps to lr.
    pub warmup_epochs: f64,
    /// Cosine decay from the peak to `lr·min_lr_ratio` after warm-up (else constant).
    pub cosine: bool,
    pub min_lr_ratio: f64,
    pub label_smoothing: f32,
    /// Use only the first `n` training examples (quick recipes); `None` = all.
    pub train_subset: Option<usize>,
    /// Each mini-batch is split into this many equal shards whose forward and backward passes
    /// run concurrently, and whose gradients are averaged (weighted by shard size) in shard
    /// order. burn-flex runs element-wise ops (exp, erf, copies) on one thread, so shards are
    /// what keeps both cores busy. The gradient is that of the whole batch up to float
    /// summation order; a recipe field, not a runtime knob, so the arithmetic (and the cache
    /// key) does not depend on the machine's core count.
    pub batch_shards: usize,
    /// Worker threads for this training (0 = rayon's default). Not part of the cache key.
    #[serde(default, skip_serializing)]
    pub threads: usize,
    /// Set by [`TrainConfig::quick`]; reported so nobody mistakes a quick number for a real one.
    pub quick: bool,
    /// Distill from this teacher in [`crate::train::fit`] (set by the runner for a method entry
    /// that names a teacher). Not serialized: a baseline never has one, so cache keys are
    /// unchanged; an experiment's teacher is part of its own id.
    #[serde(skip)]
    pub teacher: Option<crate::distill::Teacher>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            batch_size: 128,
            optimizer: OptimizerKind::AdamW,
            lr: 1e-3,
            weight_decay: 1e-4,
            warmup_epochs: 0.5,
            cosine: true,
            min_lr_ratio: 0.01,
            label_smoothing: 0.0,
            train_subset: None,
            batch_shards: 2,
            threads: 0,
            quick: false,
            teacher: None,
        }
    }
}

impl TrainConfig {
    /// The default recipe of each model (each trains in ≤ 10 minutes on 2 cores).
    pub fn for_model(kind: ModelKind) -> TrainConfig {
        match kind {
            ModelKind::Mlp => TrainConfig {
                epochs: 15,
                lr: 1e-3,
                weight_decay: 1e-4,
                ..TrainConfig::default()
            },
            ModelKind::Cnn => TrainConfig {
                epochs: 10,
                lr: 2e-3,
                weight_decay: 1e-4,
                ..TrainConfig::default()
            },
            // burn-flex runs a ViT epoch in ~2-3 min on 2 cores, so 4 epochs is what fits the
            // 10-minute budget; no label smoothing at this length (it slows early convergence).
            ModelKind::Vit => TrainConfig {
                epochs: 4,
                lr: 2e-3,
                weight_decay: 0.05,
                warmup_epochs: 0.5,
                ..TrainConfig::default()
            },
        }
    }

    /// A much shorter recipe for CI and `--quick`: one epoch over the first 12 800 training
    /// examples (100 steps). Accuracies from it are far below the real recipe's.
    pub fn quick(&self) -> TrainConfig {
        TrainConfig {
            epochs: 1,
            train_subset: Some(12_800),
            warmup_epochs: self.warmup_epochs.min(0.1),
            quick: true,
            ..self.clone()
        }
    }

    pub fn with_epochs(mut self, epochs: usize) -> TrainConfig {
        self.epochs = epochs;
        self
    }

    pub fn with_threads(mut self, threads: usize) -> TrainConfig {
        self.threads = threads;
        self
    }

    /// Learning rate at optimizer step `step` of `total`, with `steps_per_epoch` steps per epoch.
    pub fn lr_at(&self, step: usize, total: usize, steps_per_epoch: usize) -> f64 {
        let warmup = (self.warmup_epochs * steps_per_epoch as f64).round() as usize;
        if step < warmup {
            return self.lr * (step + 1) as f64 / warmup as f64;
        }
        if !self.cosine {
            return self.lr;
        }
        let span = total.saturating_sub(warmup).max(1) as f64;
        let t = ((step - warmup) as f64 / span).min(1.0);
        let min = self.lr * self.min_lr_ratio;
        min + 0.5 * (self.lr - min) * (1.0 + (std::f64::consts::PI * t).cos())
    }
}
