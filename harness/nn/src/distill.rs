//! Knowledge distillation: the losses, and the teacher any fine-tuning can train against.
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
//! * FitNets' hints — Romero et al. (arXiv 1412.6550), stage 1: the student's layers up to a
//!   *guided* layer, plus a learned [`Regressor`], are trained to predict the output of the
//!   teacher's *hint* layer ([`hint_loss`], an L2 loss); the regressor is then dropped and
//!   stage 2 is Hinton KD of the whole student through `fit`. [`fit_hints`] is stage 1;
//!   [`HintPlan`] checks the two layers and picks the regressor. Layers are named as in the
//!   deployed graph and the Workload IR ([`DeployedModel::outputs`]): the teacher's hint is
//!   read by [`DeployedModel::forward_to`], the student's guided layer by
//!   [`Network::forward_to`].
//!
//! Invariants:
//! * **The teacher is never updated.** It is a deployed model (plain buffers, no burn
//!   parameters), outside the module being trained; its logits and hints enter the losses as
//!   constants.
//! * **No teacher backward, one teacher forward per example per training.** Training applies no
//!   augmentation, so an example's teacher logits depend on the example only: they are computed
//!   once for the training subset ([`Teacher::logits_for`]) and cached in the teacher, keyed by a
//!   hash of the exact images (as baselines are keyed by their data), then gathered per batch.
//!   Hints are cached the same way (keyed by layer and images) while all of one teacher's hint
//!   tables fit in [`HINT_CACHE_BYTES`]; a larger table (an early, wide layer on the whole
//!   training set) is computed per batch instead, a partial teacher forward per step.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use burn::module::Module;
use burn::tensor::activation::{log_softmax, relu, softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};
use compbench_core::seed::{Rng, derive};
use compbench_core::{ImageSplit, NonlinearKind, ParamSpec};

use crate::deployed::{Act, DeployedModel, Layout, Node};
use crate::hooks::{ConvGeom, TrainHooks, dense_conv2d, dense_linear};
use crate::models::{Conv, Dense, Feature, Heads, ModelConfig, Network};
use crate::train::{TrainConfig, TrainLog, cross_entropy};

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
    /// (layer and hash of the images, their hints), shared like the logits.
    hints: Arc<Mutex<Vec<(String, Arc<HintTable>)>>>,
    /// The process-wide bound on hint tables this teacher adds to ([`HINT_CACHE_BYTES`] unless
    /// set by [`Teacher::with_hint_cache_bytes`]).
    hint_cache_bytes: usize,
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
            hints: Arc::new(Mutex::new(Vec::new())),
            hint_cache_bytes: HINT_CACHE_BYTES,
        }
    }

    /// The same teacher with another bound on the process's cached hint tables when it adds
    /// one (0: compute every new hint per batch). Tables already cached stay shared.
    pub fn with_hint_cache_bytes(&self, bytes: usize) -> Teacher {
        Teacher {
            hint_cache_bytes: bytes,
            ..self.clone()
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
        let (images, n, p) = self.first_images(split, n)?;
        let key = images_key(images, n);
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

    /// The first `n` images of `split` (fewer if it is shorter), their count and the values per
    /// image, once the images are checked to be what the teacher takes.
    fn first_images<'a>(
        &self,
        split: &'a ImageSplit,
        n: usize,
    ) -> Result<(&'a [f32], usize, usize), String> {
        let n = n.min(split.len());
        let p = split.pixels_per_image();
        if p != self.model.input.iter().product::<usize>() {
            return Err(format!(
                "teacher `{}` takes {:?} images, the data has {}×{}×{}",
                self.label, self.model.input, split.channels, split.height, split.width
            ));
        }
        Ok((&split.images[..n * p], n, p))
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

/// The cache key of the first `n` images of a split: a hash of their exact values.
fn images_key(images: &[f32], n: usize) -> String {
    let mut h = blake3::Hasher::new();
    h.update(&(n as u64).to_le_bytes());
    for x in images {
        h.update(&x.to_le_bytes());
    }
    h.finalize().to_hex().to_string()
}

// ---------------------------------------------------------------------------------------------
// FitNets: hints (Romero et al., "FitNets: Hints for Thin Deep Nets", arXiv 1412.6550).

/// Bound on the memory of cached hint tables, all teachers, layers and image sets of the
/// process together (teachers live for a whole run, one per seed). The default CNN teacher's
/// `conv2.pool` (32×7×7 values per image) is 376 MB for the 60 000 training images and fits
/// once; its `conv2.relu` (32×14×14, 1.5 GB) never does and is computed per batch, which costs
/// a partial teacher forward (about 1 M MACs per image) per step: little next to the
/// student's own forward and backward.
pub const HINT_CACHE_BYTES: usize = 512 << 20;

/// Bytes of hint tables alive in this process: what [`HINT_CACHE_BYTES`] bounds.
static HINT_BYTES_HELD: AtomicUsize = AtomicUsize::new(0);

/// Bytes of the process-wide hint budget, held until dropped.
#[derive(Debug)]
struct Reservation(usize);

impl Reservation {
    /// `bytes` more of the budget if the total stays within `bound`.
    fn take(bytes: usize, bound: usize) -> Option<Reservation> {
        HINT_BYTES_HELD
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |held| {
                held.checked_add(bytes).filter(|&t| t <= bound)
            })
            .ok()
            .map(|_| Reservation(bytes))
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        HINT_BYTES_HELD.fetch_sub(self.0, Ordering::SeqCst);
    }
}

/// A teacher's hints for a set of images, `[n, values per image]` (see [`Teacher::hint_batch`]
/// for the order); its bytes count against [`HINT_CACHE_BYTES`] while it lives.
#[derive(Debug)]
pub struct HintTable {
    values: Vec<f32>,
    _held: Reservation,
}

impl std::ops::Deref for HintTable {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.values
    }
}

/// Why a hint stage cannot be set up: the parameter at fault and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HintError {
    /// `hint_layer` (the teacher's layer) or `guided_layer` (the student's, or the pair's
    /// shapes).
    pub param: &'static str,
    pub message: String,
}

impl std::fmt::Display for HintError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.param, self.message)
    }
}

impl std::error::Error for HintError {}

/// How the regressor maps the guided layer's output onto the hint's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegressorKind {
    /// FitNets' convolutional regressor: a `kernel × kernel` convolution, stride 1, no padding,
    /// from the guided layer's channels to the hint's, with `kernel` chosen so the output is
    /// the hint's size (`N_guided − kernel + 1 = N_hint`; a 1×1 convolution when the sizes
    /// agree). Far fewer parameters than a fully connected map of the whole feature map.
    Conv { kernel: usize },
    /// A linear map of each row's features, shared by the rows: as many rows on both sides
    /// (one row of features, or a ViT's tokens).
    PerRow,
    /// A linear map of the whole flattened guided output onto a one-row hint (a fully
    /// connected hint layer).
    Flat,
}

/// The two layers of a hint stage and the regressor between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HintPlan {
    /// The student's guided layer, per image.
    pub guided: Layout,
    /// The teacher's hint layer, per image.
    pub hint: Layout,
    pub kind: RegressorKind,
    /// The regressor ends in a ReLU: the hint is a ReLU's output (perhaps max-pooled or
    /// flattened since). FitNets require the teacher up to its hint and the regressor to end
    /// in the same non-linearity, so that their outputs are comparable.
    pub relu: bool,
}

/// A layout as a shape for messages: `14×14×16` (h×w×c) or `49×64` (rows×cols).
fn shape(l: Layout) -> String {
    match l {
        Layout::Nhwc { h, w, c } => format!("{h}×{w}×{c}"),
        Layout::Rows { rows, cols } => format!("{rows}×{cols}"),
    }
}

/// The output of layer `name` of `model` (its last node of that name), or an error listing the
/// layers.
fn layer_output(
    model: &DeployedModel,
    name: &str,
    whose: &str,
    param: &'static str,
) -> Result<Layout, HintError> {
    let outputs = model.outputs();
    match outputs.iter().find(|(n, _)| n == name) {
        Some((_, l)) => Ok(*l),
        None => Err(HintError {
            param,
            message: format!(
                "the {whose} ({}) has no layer `{name}` (its layers: {})",
                model.name,
                outputs
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

/// Whether layer `name` of `model` outputs a ReLU's result: walking back from its last node
/// over max-pools and flattens (which keep values and their signs), is the first other node a
/// ReLU?
fn after_relu(model: &DeployedModel, name: &str) -> bool {
    let Some(last) = model.nodes.iter().rposition(|n| n.name() == Some(name)) else {
        return false;
    };
    for node in model.nodes[..=last].iter().rev() {
        match node {
            Node::MaxPool2 { .. } | Node::Flatten => continue,
            Node::Nonlinear(n) => return n.kernel.kind() == NonlinearKind::Relu,
            // Anything else (a GEMM, an affine, a block, a node kind added later) may output
            // negatives: no ReLU on the regressor, which is always safe.
            _ => return false,
        }
    }
    false
}

impl HintPlan {
    /// Check that `guided` is a layer of the student and `hint` one of the teacher, and pick
    /// the regressor between them: spatial onto spatial by a convolution that shrinks the
    /// guided map to the hint's size (FitNets' convolutional regressor), rows onto as many rows
    /// by a per-row linear map, anything onto one row of features by a linear map of the whole
    /// flattened output. Any other pair (a guided map smaller than the hint, features onto a
    /// map, different token counts) is an error saying so.
    pub fn new(
        student: &DeployedModel,
        guided: &str,
        teacher: &DeployedModel,
        hint: &str,
    ) -> Result<HintPlan, HintError> {
        let h = layer_output(teacher, hint, "teacher", "hint_layer")?;
        let g = layer_output(student, guided, "student", "guided_layer")?;
        let kind = match (g, h) {
            (Layout::Nhwc { h: gh, w: gw, .. }, Layout::Nhwc { h: hh, w: hw, .. })
                if gh >= hh && gw >= hw && gh - hh == gw - hw =>
            {
                RegressorKind::Conv {
                    kernel: gh - hh + 1,
                }
            }
            (Layout::Nhwc { .. }, Layout::Nhwc { .. }) => {
                return Err(HintError {
                    param: "guided_layer",
                    message: format!(
                        "the student's `{guided}` ({}) cannot be regressed onto the teacher's `{hint}` ({}): \
                         FitNets' convolutional regressor (a k×k convolution without padding) only shrinks \
                         a guided map to the hint's size; pick a guided layer at least as large as the hint",
                        shape(g),
                        shape(h)
                    ),
                });
            }
            (Layout::Rows { rows: gr, .. }, Layout::Rows { rows: hr, .. }) if gr == hr => {
                RegressorKind::PerRow
            }
            (_, Layout::Rows { rows: 1, .. }) => RegressorKind::Flat,
            _ => {
                return Err(HintError {
                    param: "guided_layer",
                    message: format!(
                        "the student's `{guided}` ({}) cannot be regressed onto the teacher's `{hint}` ({}): \
                         a regressor maps a feature map onto a feature map (convolution), rows onto as \
                         many rows (linear per row), or anything onto one row of features (linear)",
                        shape(g),
                        shape(h)
                    ),
                });
            }
        };
        Ok(HintPlan {
            guided: g,
            hint: h,
            kind,
            relu: after_relu(teacher, hint),
        })
    }

    /// [`HintPlan::new`] from model configurations (suite validation: nothing is trained yet).
    /// Builds each network once, freshly initialized, to read its deployed graph's layers.
    pub fn for_configs(
        student: &ModelConfig,
        guided: &str,
        teacher: &ModelConfig,
        hint: &str,
    ) -> Result<HintPlan, HintError> {
        let device = crate::device();
        let graph = |cfg: &ModelConfig| Network::new(cfg, &device, 0).to_deployed();
        HintPlan::new(&graph(student), guided, &graph(teacher), hint)
    }

    /// (input, output) channels or features of the regressor.
    fn widths(&self) -> (usize, usize) {
        match (self.kind, self.guided, self.hint) {
            (
                RegressorKind::Conv { .. },
                Layout::Nhwc { c: gc, .. },
                Layout::Nhwc { c: hc, .. },
            ) => (gc, hc),
            (
                RegressorKind::PerRow,
                Layout::Rows { cols: gc, .. },
                Layout::Rows { cols: hc, .. },
            ) => (gc, hc),
            (_, g, h) => (g.per_image(), h.matrix().1),
        }
    }

    /// Trainable scalars of the regressor (weights and biases).
    pub fn regressor_params(&self) -> usize {
        let (i, o) = self.widths();
        match self.kind {
            RegressorKind::Conv { kernel } => i * kernel * kernel * o + o,
            RegressorKind::PerRow | RegressorKind::Flat => i * o + o,
        }
    }

    /// What the regressor is, for logs: `1×1 conv 16→32 + ReLU`.
    pub fn describe(&self) -> String {
        let (i, o) = self.widths();
        let what = match self.kind {
            RegressorKind::Conv { kernel } => format!("{kernel}×{kernel} conv {i}→{o}"),
            RegressorKind::PerRow => format!("linear {i}→{o} per row"),
            RegressorKind::Flat => format!("linear {i}→{o} of the flattened layer"),
        };
        if self.relu {
            format!("{what} + ReLU")
        } else {
            what
        }
    }
}

/// FitNets' learned regressor from the student's guided layer to the teacher's hint (stage 1
/// only: [`fit_hints`] drops it). Its output is flattened per image in the hint's order (see
/// [`Teacher::hint_batch`]).
#[derive(Module, Debug)]
pub struct Regressor {
    /// The convolution (`[out, in, k, k]`) or the linear map (`[in, out]`) as a conv or dense
    /// layer of the zoo: the same PyTorch-default initialization.
    pub conv: Option<Conv>,
    pub dense: Option<Dense>,
    pub kernel: usize,
    /// Linear only: map the whole flattened guided output (else each row).
    pub flat: bool,
    pub relu: bool,
}

impl Regressor {
    /// A freshly initialized regressor for `plan`; initialization depends only on `seed`.
    pub fn new(plan: &HintPlan, device: &Device, seed: u64) -> Regressor {
        let mut rng = Rng::new(derive(seed, &["fitnets", "regressor"]));
        let (i, o) = plan.widths();
        let (conv, dense, kernel) = match plan.kind {
            RegressorKind::Conv { kernel } => (
                Some(Conv::new(i, o, kernel, device, &mut rng)),
                None,
                kernel,
            ),
            RegressorKind::PerRow | RegressorKind::Flat => {
                (None, Some(Dense::new(i, o, device, &mut rng)), 0)
            }
        };
        Regressor {
            conv,
            dense,
            kernel,
            flat: plan.kind == RegressorKind::Flat,
            relu: plan.relu,
        }
    }

    /// The prediction of the hint, `[batch, values per image]`, from the guided layer's output.
    ///
    /// # Panics
    /// On a feature of the wrong kind for the regressor (a spatial regressor given rows): a
    /// programming error, since [`HintPlan`] built the regressor for the guided layer's shape.
    pub fn forward(&self, guided: Feature) -> Tensor<2> {
        let y = match (&self.conv, &self.dense, guided) {
            (Some(conv), _, Feature::Spatial(x)) => {
                let [out, inp, _, _] = conv.weight.val().dims();
                let geom = ConvGeom {
                    in_channels: inp,
                    out_channels: out,
                    kernel: self.kernel,
                    stride: 1,
                    padding: 0,
                };
                let y = dense_conv2d(&geom, x, conv.weight.val(), Some(conv.bias.val()));
                let [b, c, h, w] = y.dims();
                y.reshape([b, c * h * w])
            }
            (None, Some(dense), f) if self.flat => {
                dense_linear(f.flatten(), dense.weight.val(), Some(dense.bias.val()))
            }
            (None, Some(dense), Feature::Rows(x)) => {
                let [b, r, c] = x.dims();
                let y = dense_linear(
                    x.reshape([b * r, c]),
                    dense.weight.val(),
                    Some(dense.bias.val()),
                );
                let n = y.dims()[1];
                y.reshape([b, r * n])
            }
            _ => panic!("the regressor was built for another kind of guided layer"),
        };
        if self.relu { relu(y) } else { y }
    }
}

/// FitNets' hint loss: the squared L2 distance between the regressor's prediction and the
/// teacher's hint `[batch, D]`, as a mean over the batch *and* over the hint's D values,
/// `(1/(b·D)) Σ (r − u)²` (a one-element tensor). FitNets write `½‖u − r‖²` per example; the
/// constant factor 1/(2D) only scales the gradient (which AdamW's normalization undoes), and
/// the per-example mean lets batch shards sum to the whole batch's loss. `hint` is a constant
/// (detached).
pub fn hint_loss(prediction: Tensor<2>, hint: Tensor<2>) -> Tensor<1> {
    let [b, d] = prediction.dims();
    assert_eq!(
        hint.dims(),
        [b, d],
        "the prediction and the hint must have the same shape"
    );
    let diff = prediction - hint.detach();
    (diff.clone() * diff).sum().div_scalar((b * d) as f32)
}

/// Where a hint stage reads the teacher's hints: a cached table `[n, values per image]`, or a
/// partial teacher forward per batch when the table would exceed [`HINT_CACHE_BYTES`].
#[derive(Debug, Clone)]
pub enum HintSource {
    Table {
        values: Arc<HintTable>,
        per_image: usize,
    },
    PerBatch,
}

/// A teacher activation as rows of per-image values in the order the student's burn features
/// flatten to: NCHW for maps (the graph runs NHWC), rows × cols otherwise.
fn hint_order(act: Act) -> Vec<f32> {
    match act.layout {
        Layout::Nhwc { h, w, c } => {
            let per = h * w * c;
            let mut out = vec![0.0; act.data.len()];
            for (o, img) in out.chunks_exact_mut(per).zip(act.data.chunks_exact(per)) {
                for p in 0..h * w {
                    for ch in 0..c {
                        o[ch * h * w + p] = img[p * c + ch];
                    }
                }
            }
            out
        }
        Layout::Rows { .. } => act.data,
    }
}

impl Teacher {
    /// The hints of layer `layer` for the first `n` examples of `split`: a cached table when
    /// it fits in what is left of the process-wide bound ([`HINT_CACHE_BYTES`]; computed once
    /// per layer and set of images, rayon-parallel over chunks), else
    /// [`HintSource::PerBatch`].
    pub fn hints_for(
        &self,
        split: &ImageSplit,
        n: usize,
        layer: &str,
    ) -> Result<HintSource, String> {
        use rayon::prelude::*;
        let (images, n, p) = self.first_images(split, n)?;
        let per_image = layer_output(&self.model, layer, "teacher", "hint_layer")
            .map_err(|e| format!("teacher `{}`: {}", self.label, e.message))?
            .per_image();
        let key = format!("{layer}:{}", images_key(images, n));
        let bytes = n * per_image * std::mem::size_of::<f32>();
        if let Some((_, t)) = self
            .hints
            .lock()
            .map_err(|_| "teacher cache poisoned")?
            .iter()
            .find(|(k, _)| *k == key)
        {
            return Ok(HintSource::Table {
                values: t.clone(),
                per_image,
            });
        }
        let Some(held) = Reservation::take(bytes, self.hint_cache_bytes) else {
            return Ok(HintSource::PerBatch);
        };
        let chunks: Vec<Result<Vec<f32>, String>> = images
            .par_chunks(TEACHER_BATCH * p)
            .map(|x| self.model.forward_to(x, x.len() / p, layer).map(hint_order))
            .collect();
        let mut values = Vec::with_capacity(n * per_image);
        for c in chunks {
            values.extend(c?);
        }
        let table = Arc::new(HintTable {
            values,
            _held: held,
        });
        let mut cache = self.hints.lock().map_err(|_| "teacher cache poisoned")?;
        // Another experiment may have filled the same table meanwhile: keep one copy.
        if let Some((_, t)) = cache.iter().find(|(k, _)| *k == key) {
            return Ok(HintSource::Table {
                values: t.clone(),
                per_image,
            });
        }
        cache.push((key, table.clone()));
        Ok(HintSource::Table {
            values: table,
            per_image,
        })
    }

    /// The hints of examples `idx` of `split` as a `[idx.len(), values per image]` tensor on
    /// `device`: rows of the cached table, or the teacher run up to `layer` on those images.
    pub fn hint_batch(
        &self,
        source: &HintSource,
        layer: &str,
        split: &ImageSplit,
        idx: &[usize],
        device: &Device,
    ) -> Result<Tensor<2>, String> {
        let rows = match source {
            HintSource::Table { values, per_image } => {
                let per = *per_image;
                let mut rows = Vec::with_capacity(idx.len() * per);
                for &i in idx {
                    let row = values.get(i * per..(i + 1) * per).ok_or_else(|| {
                        format!("example {i} is outside the teacher's cached hints")
                    })?;
                    rows.extend_from_slice(row);
                }
                rows
            }
            HintSource::PerBatch => {
                let mut x = Vec::with_capacity(idx.len() * split.pixels_per_image());
                for &i in idx {
                    x.extend_from_slice(split.image(i));
                }
                hint_order(self.model.forward_to(&x, idx.len(), layer)?)
            }
        };
        let per = rows.len() / idx.len().max(1);
        Ok(Tensor::<2>::from_data(
            TensorData::new(rows, [idx.len(), per]),
            device,
        ))
    }
}

/// A FitNets hint stage: which teacher, which of its layers is the hint, which student layer
/// is guided, and the training hooks the student computes with.
#[derive(Clone, Copy)]
pub struct HintStage<'a> {
    pub teacher: &'a Teacher,
    pub hint_layer: &'a str,
    pub guided_layer: &'a str,
    pub hooks: &'a (dyn TrainHooks + Sync),
}

/// What [`fit_hints`] returns.
#[derive(Debug)]
pub struct HintOutcome {
    /// The student with its layers up to the guided one trained on the hints (the others
    /// untouched), off the autodiff device.
    pub student: Network,
    pub plan: HintPlan,
    pub log: TrainLog,
}

/// FitNets stage 1: train the student's layers up to `stage.guided_layer`, plus a fresh
/// [`Regressor`], to predict the teacher's `stage.hint_layer` output ([`hint_loss`]) for
/// `cfg.epochs` epochs of `cfg`'s recipe (optimizer, schedule, batches, training subset; its
/// teacher, if any, is not used). The student's forward stops at the guided layer, so later
/// layers get no gradient and keep their values. The regressor is dropped. Stage 2 (KD of the
/// whole student) is [`crate::train::fit`] with a teacher in the recipe.
pub fn fit_hints(
    student: Network,
    stage: &HintStage<'_>,
    cfg: &TrainConfig,
    data: &ImageSplit,
    device: &Device,
    seed: u64,
    log: &(dyn Fn(&str) + Sync),
) -> Result<HintOutcome, HintError> {
    let HintStage {
        teacher,
        hint_layer,
        guided_layer,
        hooks,
    } = *stage;
    let plan = HintPlan::new(
        &student.to_deployed(),
        guided_layer,
        &teacher.model,
        hint_layer,
    )?;
    let regressor = Regressor::new(&plan, device, seed);
    let n = cfg.train_subset.map_or(data.len(), |s| s.min(data.len()));
    let source = crate::train::with_threads(cfg.threads, || teacher.hints_for(data, n, hint_layer))
        .map_err(|message| HintError {
            param: "hint_layer",
            message,
        })?;
    log(&format!(
        "FitNets hints: student `{guided_layer}` ({}) → teacher `{}`'s `{hint_layer}` ({}) through a {} ({} parameters); hints {}",
        shape(plan.guided),
        teacher.label,
        shape(plan.hint),
        plan.describe(),
        plan.regressor_params(),
        match source {
            HintSource::Table { .. } => "cached",
            HintSource::PerBatch => "computed per batch (the table exceeds the cache bound)",
        }
    ));
    let ad = device.clone().autodiff();
    let loss = |m: &(Network, Regressor), x: Tensor<4>, _y: Tensor<1, Int>, idx: &[usize]| {
        // Both layers were checked by the plan; failing here is a programming error.
        let guided =
            m.0.forward_to(x, hooks, guided_layer)
                .unwrap_or_else(|e| panic!("{e}"));
        let hint = teacher
            .hint_batch(&source, hint_layer, data, idx, &ad)
            .unwrap_or_else(|e| panic!("{e}"));
        hint_loss(m.1.forward(guided), hint)
    };
    let prefixed = |m: &str| log(&format!("hints: {m}"));
    let (trained, tlog) = crate::train::fit_indexed(
        (student, regressor),
        cfg,
        data,
        device,
        seed,
        &loss,
        &prefixed,
    );
    Ok(HintOutcome {
        student: trained.0.valid(),
        plan,
        log: tlog,
    })
}
