//! Knowledge distillation: the loss, and the teacher any fine-tuning can train against.
//!
//! * [`hinton_kd_loss`] — Hinton et al. (arXiv 1503.02531):
//!   `(1−λ)·CE(s, y) + λ·T²·KL(softmax(t/T) ‖ softmax(s/T))`, a per-example mean, so batch
//!   shards sum to the whole batch's loss. The T² factor keeps the soft term's gradient
//!   magnitude comparable across temperatures (its gradient scales as 1/T²).
//! * [`hard_kd_loss`] — DeiT's hard distillation (Touvron et al., arXiv 2012.12877):
//!   `(1−λ)·CE(cls, y) + λ·CE(dist, argmax teacher)`, the teacher's decision taken as a label;
//!   DeiT's setting is λ = ½. `dist` is the distillation head of a ViT with a distillation
//!   token, or the same logits as `cls` for a one-head model (DeiT's "hard distillation"
//!   without the token).
//! * [`kd_loss`] — the one entry point `fit` calls: [`KdMode`] (the `kd_mode` parameter)
//!   chooses soft (Hinton, the default) or hard, and the model's [`Heads`] say where the teacher
//!   term goes: the distillation head when there is one (DeiT, in both modes), else the only
//!   head. Soft with one head is exactly [`hinton_kd_loss`].
//! * [`Teacher`] — a trained float model (deployed, our own kernels) with its T, λ and mode. Put
//!   one in [`TrainConfig::teacher`](crate::train::TrainConfig) and [`crate::train::fit`]
//!   minimizes the KD loss instead of cross-entropy: every method that fine-tunes through `fit`
//!   (QAT/LSQ, binary, LUTBoost's joint fine-tune, magnitude-prune, the `distill` method) accepts
//!   a teacher with no code of its own.
//!
//! Invariants:
//! * **The teacher is never updated.** It is a deployed model (plain buffers, no burn
//!   parameters), outside the module being trained; its logits enter the loss as constants.
//! * **No teacher backward, one teacher forward per example per training.** Training applies no
//!   augmentation, so an example's teacher logits depend on the example only: they are computed
//!   once for the training subset ([`Teacher::logits_for`]) and cached in the teacher, keyed by a
//!   hash of the exact images (as baselines are keyed by their data), then gathered per batch.

use std::sync::{Arc, Mutex};

use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};
use compbench_core::{ImageSplit, ParamSpec};

use crate::deployed::DeployedModel;
use crate::models::Heads;
use crate::train::cross_entropy;

/// The teacher parameter group: every method entry of a suite that names a `teacher:` takes
/// these too (`p_method_kd_temperature`, `p_method_kd_lambda`, `p_method_kd_mode` columns).
pub const TEACHER_PARAMS: &[ParamSpec] = &[
    ParamSpec::float(
        "kd_temperature",
        4.0,
        0.1,
        100.0,
        "distillation temperature T (Hinton: 2-20); the soft term is scaled by T²",
    ),
    ParamSpec::float(
        "kd_lambda",
        0.9,
        0.0,
        1.0,
        "weight λ of the teacher term (soft or hard); 1−λ weighs cross-entropy with the labels",
    ),
    ParamSpec::choice(
        "kd_mode",
        "soft",
        KdMode::NAMES,
        "soft: Hinton's KL at temperature T; hard: DeiT's cross-entropy with the teacher's \
         argmax (T unused). With a ViT's distillation token the teacher term trains its head",
    ),
];

/// What the student learns from the teacher (the `kd_mode` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KdMode {
    /// Hinton: the teacher's softened distribution, `T²·KL`.
    #[default]
    Soft,
    /// DeiT: the teacher's decision as a label, cross-entropy with its argmax.
    Hard,
}

impl KdMode {
    pub const NAMES: &'static [&'static str] = &["soft", "hard"];

    pub fn name(self) -> &'static str {
        match self {
            KdMode::Soft => "soft",
            KdMode::Hard => "hard",
        }
    }

    /// `None` for a name outside [`KdMode::NAMES`] (suite validation refuses those first).
    pub fn parse(s: &str) -> Option<KdMode> {
        match s {
            "soft" => Some(KdMode::Soft),
            "hard" => Some(KdMode::Hard),
            _ => None,
        }
    }
}

/// Hinton's distillation loss, a one-element tensor:
/// `(1−λ)·CE(student, labels) + λ·T²·KL(softmax(teacher/T) ‖ softmax(student/T))`,
/// both terms averaged over the batch. `teacher_logits` are treated as constants (detached).
///
/// `temperature` must be > 0 and `lambda` in [0, 1] (checked by the parameter specs that set
/// them; here a programming error).
pub fn hinton_kd_loss(
    student_logits: Tensor<2>,
    teacher_logits: Tensor<2>,
    labels: Tensor<1, Int>,
    temperature: f32,
    lambda: f32,
) -> Tensor<1> {
    assert!(temperature > 0.0, "temperature must be positive");
    assert!((0.0..=1.0).contains(&lambda), "lambda must be in [0, 1]");
    let [b, c] = student_logits.dims();
    assert_eq!(
        teacher_logits.dims(),
        [b, c],
        "teacher and student logits must have the same shape"
    );
    let ce = cross_entropy(student_logits.clone(), labels, 0.0);
    if lambda == 0.0 {
        return ce;
    }
    let kl = soft_kl(student_logits, teacher_logits, temperature);
    ce.mul_scalar(1.0 - lambda) + kl.mul_scalar(lambda * temperature * temperature)
}

/// `KL(softmax(teacher/T) ‖ softmax(student/T))` averaged over the batch (not scaled by T²),
/// the teacher detached.
fn soft_kl(student_logits: Tensor<2>, teacher_logits: Tensor<2>, temperature: f32) -> Tensor<1> {
    let [b, _] = student_logits.dims();
    let teacher = teacher_logits.detach().div_scalar(temperature);
    let p_teacher = softmax(teacher.clone(), 1);
    let log_p_teacher = log_softmax(teacher, 1);
    let log_p_student = log_softmax(student_logits.div_scalar(temperature), 1);
    (p_teacher * (log_p_teacher - log_p_student))
        .sum()
        .div_scalar(b as f32)
}

/// DeiT's hard distillation, a one-element tensor:
/// `(1−λ)·CE(cls, labels) + λ·CE(dist, argmax(teacher))`, both terms averaged over the batch.
/// DeiT trains with λ = ½. The teacher's argmax is a constant (no gradient reaches the
/// teacher). For a model with one head pass its logits as both `cls` and `dist`.
///
/// `lambda` must be in [0, 1] (checked by the parameter spec; here a programming error).
pub fn hard_kd_loss(
    cls_logits: Tensor<2>,
    dist_logits: Tensor<2>,
    teacher_logits: Tensor<2>,
    labels: Tensor<1, Int>,
    lambda: f32,
) -> Tensor<1> {
    assert!((0.0..=1.0).contains(&lambda), "lambda must be in [0, 1]");
    let [b, c] = cls_logits.dims();
    assert_eq!(
        dist_logits.dims(),
        [b, c],
        "both heads must have the same shape"
    );
    assert_eq!(
        teacher_logits.dims(),
        [b, c],
        "teacher and student logits must have the same shape"
    );
    let ce = cross_entropy(cls_logits, labels, 0.0);
    if lambda == 0.0 {
        return ce;
    }
    let teacher_labels = teacher_logits.detach().argmax(1).reshape([b]);
    let hard = cross_entropy(dist_logits, teacher_labels, 0.0);
    ce.mul_scalar(1.0 - lambda) + hard.mul_scalar(lambda)
}

/// The distillation loss [`crate::train::fit`] minimizes: `mode` chooses the teacher term, the
/// heads where it goes.
///
/// * one head, soft: [`hinton_kd_loss`] (bit for bit: the default path of every method);
/// * one head, hard: [`hard_kd_loss`] with the head's logits in both places;
/// * two heads (a ViT with a distillation token): cross-entropy with the labels on the class
///   head and the teacher term on the distillation head, `(1−λ)·CE(cls, y) + λ·term(dist)`,
///   as DeiT trains its token in either mode.
pub fn kd_loss(
    heads: Heads,
    teacher_logits: Tensor<2>,
    labels: Tensor<1, Int>,
    mode: KdMode,
    temperature: f32,
    lambda: f32,
) -> Tensor<1> {
    match (mode, heads.dist) {
        (KdMode::Soft, None) => {
            hinton_kd_loss(heads.cls, teacher_logits, labels, temperature, lambda)
        }
        (KdMode::Hard, dist) => {
            let dist = dist.unwrap_or_else(|| heads.cls.clone());
            hard_kd_loss(heads.cls, dist, teacher_logits, labels, lambda)
        }
        (KdMode::Soft, Some(dist)) => {
            assert!(temperature > 0.0, "temperature must be positive");
            assert!((0.0..=1.0).contains(&lambda), "lambda must be in [0, 1]");
            let [b, c] = heads.cls.dims();
            assert_eq!(dist.dims(), [b, c], "both heads must have the same shape");
            assert_eq!(
                teacher_logits.dims(),
                [b, c],
                "teacher and student logits must have the same shape"
            );
            let ce = cross_entropy(heads.cls, labels, 0.0);
            if lambda == 0.0 {
                return ce;
            }
            let kl = soft_kl(dist, teacher_logits, temperature);
            ce.mul_scalar(1.0 - lambda) + kl.mul_scalar(lambda * temperature * temperature)
        }
    }
}

/// A trained teacher: its deployed float model, the KD temperature and weight, and its logits
/// on the data it has been asked about.
#[derive(Clone)]
pub struct Teacher {
    /// What the suite calls it (a `teachers:` label), for logs and errors.
    pub label: String,
    /// The teacher's baseline cache key: its identity.
    pub key: String,
    pub model: Arc<DeployedModel>,
    pub temperature: f64,
    pub lambda: f64,
    /// Soft (Hinton) or hard (DeiT) targets; [`KdMode::Soft`] unless set by [`Teacher::with_mode`].
    pub mode: KdMode,
    /// (hash of the images, their logits `[n, classes]`), shared by every T, λ of this teacher.
    cache: Arc<Mutex<Vec<(String, Arc<Vec<f32>>)>>>,
}

impl std::fmt::Debug for Teacher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Teacher")
            .field("label", &self.label)
            .field("key", &self.key)
            .field("temperature", &self.temperature)
            .field("lambda", &self.lambda)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// Two teachers are the same teacher when they are the same trained model with the same T, λ
/// and mode.
impl PartialEq for Teacher {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
            && self.temperature == other.temperature
            && self.lambda == other.lambda
            && self.mode == other.mode
    }
}

/// Images per teacher forward pass when filling the logits cache.
const TEACHER_BATCH: usize = 256;

impl Teacher {
    pub fn new(
        label: impl Into<String>,
        key: impl Into<String>,
        model: DeployedModel,
        temperature: f64,
        lambda: f64,
    ) -> Teacher {
        Teacher {
            label: label.into(),
            key: key.into(),
            model: Arc::new(model),
            temperature,
            lambda,
            mode: KdMode::Soft,
            cache: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The same trained teacher with another T and λ, sharing the logits cache.
    pub fn with_kd(&self, temperature: f64, lambda: f64) -> Teacher {
        Teacher {
            temperature,
            lambda,
            ..self.clone()
        }
    }

    /// The same trained teacher giving soft or hard targets, sharing the logits cache (hard
    /// targets are the argmax of the same cached logits: no extra teacher pass).
    pub fn with_mode(&self, mode: KdMode) -> Teacher {
        Teacher {
            mode,
            ..self.clone()
        }
    }

    /// Teacher logits `[n, classes]` (row-major) of the first `n` examples of `split`,
    /// computed once per distinct set of images (rayon-parallel over chunks) and cached.
    pub fn logits_for(&self, split: &ImageSplit, n: usize) -> Result<Arc<Vec<f32>>, String> {
        use rayon::prelude::*;
        let n = n.min(split.len());
        let p = split.pixels_per_image();
        if p != self.model.input.iter().product::<usize>() {
            return Err(format!(
                "teacher `{}` takes {:?} images, the data has {}×{}×{}",
                self.label, self.model.input, split.channels, split.height, split.width
            ));
        }
        let images = &split.images[..n * p];
        let mut h = blake3::Hasher::new();
        h.update(&(n as u64).to_le_bytes());
        for x in images {
            h.update(&x.to_le_bytes());
        }
        let key = h.finalize().to_hex().to_string();
        if let Some((_, l)) = self
            .cache
            .lock()
            .map_err(|_| "teacher cache poisoned")?
            .iter()
            .find(|(k, _)| *k == key)
        {
            return Ok(l.clone());
        }
        let logits: Vec<f32> = images
            .par_chunks(TEACHER_BATCH * p)
            .flat_map_iter(|x| self.model.forward(x, x.len() / p))
            .collect();
        let logits = Arc::new(logits);
        self.cache
            .lock()
            .map_err(|_| "teacher cache poisoned")?
            .push((key, logits.clone()));
        Ok(logits)
    }

    /// Rows `idx` of a `[n, classes]` logits table as a tensor on `device`.
    pub fn gather(&self, logits: &[f32], idx: &[usize], device: &Device) -> Tensor<2> {
        let c = self.model.classes;
        let mut rows = Vec::with_capacity(idx.len() * c);
        for &i in idx {
            rows.extend_from_slice(&logits[i * c..(i + 1) * c]);
        }
        Tensor::<2>::from_data(TensorData::new(rows, [idx.len(), c]), device)
    }
}
