//! The model zoo (trainable form): MLP, CNN, tiny ViT as burn modules whose every GEMM and
//! non-linear op goes through [`TrainHooks`].
//!
//! Weight exchange with methods and the deployed model uses one layout: a GEMM's weights are
//! `K×N` row-major (`x[M×K] · W[K×N]`); a convolution's K is im2col's `(cin, kh, kw)` order
//! (see [`crate::kernels::im2col`]), i.e. PyTorch's `weight.reshape(Cout, -1)ᵀ`.

pub mod cnn;
pub mod config;
mod deploy;
pub mod layers;
pub mod mlp;
pub mod vit;

use std::ops::ControlFlow;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use compbench_core::NonlinearKind;
use compbench_core::seed::{Rng, derive};

pub use cnn::Cnn;
pub use config::{
    CNN_PARAMS, GemmLayerInfo, GemmShape, IMAGE_SIDE, MLP_PARAMS, ModelConfig, ModelKind,
    VIT_PARAMS,
};
pub use deploy::GemmFactory;
pub use layers::{Conv, Dense, LayerNorm};
pub use mlp::Mlp;
pub use vit::{DistillToken, Vit};

use crate::hooks::{NonlinearSite, TrainHooks};

/// A network's classifier outputs: the logits of its head, and of its distillation head when it
/// has one (a ViT with DeiT's distillation token). Losses that train the heads differently
/// (DeiT: labels for one, the teacher for the other) take this; everything else takes
/// [`Heads::average`], what the network predicts.
#[derive(Debug, Clone)]
pub struct Heads {
    /// `[b, classes]` from the (class) head.
    pub cls: Tensor<2>,
    /// `[b, classes]` from the distillation head.
    pub dist: Option<Tensor<2>>,
}

impl Heads {
    pub fn single(logits: Tensor<2>) -> Heads {
        Heads {
            cls: logits,
            dist: None,
        }
    }

    /// The prediction: the head's logits, or the mean of both heads' (DeiT's inference). With
    /// one head this is the logits themselves, untouched.
    pub fn average(self) -> Tensor<2> {
        match self.dist {
            None => self.cls,
            Some(dist) => (self.cls + dist).mul_scalar(0.5),
        }
    }
}

/// Logits of a one-head model (or of a forward that already averaged its heads).
impl From<Tensor<2>> for Heads {
    fn from(logits: Tensor<2>) -> Heads {
        Heads::single(logits)
    }
}

/// A trainable network of any kind.
// The ViT variant is the largest (its optional distillation token adds four parameters'
// handles). Networks are few and never stored in bulk, and burn has no `Module` for `Box`, so
// the variant stays inline.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Network {
    Mlp(Mlp),
    Cnn(Cnn),
    Vit(Vit),
}

/// An intermediate output of a trainable network ([`Network::forward_to`]), in burn's
/// layouts. Its name and shape are those of the deployed graph's output of the same name
/// ([`DeployedModel::outputs`](crate::deployed::DeployedModel::outputs)).
#[derive(Debug, Clone)]
pub enum Feature {
    /// `[batch, channels, height, width]`: a deployed `Layout::Nhwc { h, w, c }`, in NCHW.
    Spatial(Tensor<4>),
    /// `[batch, rows, cols]`: a deployed `Layout::Rows { rows, cols }` (features have one row,
    /// a ViT's tokens one row per token).
    Rows(Tensor<3>),
}

impl Feature {
    /// `[batch, values per image]`, in the layout's own order (NCHW for spatial features).
    pub fn flatten(self) -> Tensor<2> {
        match self {
            Feature::Spatial(x) => {
                let [b, c, h, w] = x.dims();
                x.reshape([b, c * h * w])
            }
            Feature::Rows(x) => {
                let [b, r, c] = x.dims();
                x.reshape([b, r * c])
            }
        }
    }
}

/// A forward pass that may stop early: `Break` carries the output of the layer asked for,
/// `Continue` the value flowing on (the logits at the end).
pub(crate) type Tap<T> = ControlFlow<Feature, T>;

/// Stop with `x` if `name` is the layer asked for.
pub(crate) fn tap_spatial(stop: Option<&str>, name: &str, x: Tensor<4>) -> Tap<Tensor<4>> {
    if stop == Some(name) {
        ControlFlow::Break(Feature::Spatial(x))
    } else {
        ControlFlow::Continue(x)
    }
}

/// Stop with `x` (`[batch·rows, cols]`, `rows` per image) if `name` is the layer asked for.
pub(crate) fn tap_rows(
    stop: Option<&str>,
    name: &str,
    x: Tensor<2>,
    batch: usize,
) -> Tap<Tensor<2>> {
    if stop == Some(name) {
        let [m, c] = x.dims();
        ControlFlow::Break(Feature::Rows(x.reshape([batch, m / batch.max(1), c])))
    } else {
        ControlFlow::Continue(x)
    }
}

pub(crate) enum GemmRef<'a> {
    Dense(&'a Dense),
    Conv(&'a Conv),
}

pub(crate) enum GemmMut<'a> {
    Dense(&'a mut Dense),
    Conv(&'a mut Conv),
}

impl Network {
    /// A freshly initialized network; initialization depends only on `seed` (core's RNG).
    pub fn new(cfg: &ModelConfig, device: &Device, seed: u64) -> Network {
        let mut rng = Rng::new(derive(seed, &["init", cfg.kind.name()]));
        match cfg.kind {
            ModelKind::Mlp => Network::Mlp(Mlp::new(cfg, device, &mut rng)),
            ModelKind::Cnn => Network::Cnn(Cnn::new(cfg, device, &mut rng)),
            ModelKind::Vit => Network::Vit(Vit::new(cfg, device, &mut rng)),
        }
    }

    pub fn kind(&self) -> ModelKind {
        match self {
            Network::Mlp(_) => ModelKind::Mlp,
            Network::Cnn(_) => ModelKind::Cnn,
            Network::Vit(_) => ModelKind::Vit,
        }
    }

    pub fn classes(&self) -> usize {
        match self {
            Network::Mlp(m) => m.classes,
            Network::Cnn(m) => m.classes,
            Network::Vit(m) => m.classes,
        }
    }

    /// Logits `[batch, classes]` for images `[batch, 1, 28, 28]` (with two heads, their
    /// average: what the deployed model computes).
    pub fn forward(&self, x: Tensor<4>, hooks: &dyn TrainHooks) -> Tensor<2> {
        match self {
            Network::Mlp(m) => m.forward(x, hooks),
            Network::Cnn(m) => m.forward(x, hooks),
            Network::Vit(m) => m.forward(x, hooks),
        }
    }

    /// Each head's logits: for a training loss that treats a distillation head apart
    /// ([`crate::distill::kd_loss`]). One-head models return [`Heads::single`] of
    /// [`Network::forward`].
    pub fn forward_heads(&self, x: Tensor<4>, hooks: &dyn TrainHooks) -> Heads {
        match self {
            Network::Mlp(m) => Heads::single(m.forward(x, hooks)),
            Network::Cnn(m) => Heads::single(m.forward(x, hooks)),
            Network::Vit(m) => m.forward_heads(x, hooks),
        }
    }

    /// The output of layer `name` for images `[batch, 1, 28, 28]`: the forward pass runs up
    /// to that layer and stops, so only the layers before it are in the autodiff graph (a
    /// FitNets guided layer trains exactly those). Names and shapes are the deployed graph's
    /// ([`DeployedModel::outputs`](crate::deployed::DeployedModel::outputs)); an unknown name
    /// is an error listing them.
    pub fn forward_to(
        &self,
        x: Tensor<4>,
        hooks: &dyn TrainHooks,
        name: &str,
    ) -> Result<Feature, String> {
        let run = match self {
            Network::Mlp(m) => m.run(x, hooks, Some(name)),
            Network::Cnn(m) => m.run(x, hooks, Some(name)),
            Network::Vit(m) => m.run(x, hooks, Some(name)).map_continue(|h| h.cls),
        };
        match run {
            ControlFlow::Break(f) => Ok(f),
            ControlFlow::Continue(_) => {
                let names: Vec<String> = self
                    .to_deployed()
                    .outputs()
                    .into_iter()
                    .map(|(n, _)| n)
                    .collect();
                Err(format!(
                    "`{}` has no layer `{name}` (layers: {})",
                    self.kind().name(),
                    names.join(", ")
                ))
            }
        }
    }

    /// The GEMM layers in execution order.
    pub fn gemm_layers(&self) -> Vec<GemmLayerInfo> {
        match self {
            Network::Mlp(m) => m.gemm_layers(),
            Network::Cnn(m) => m.gemm_layers(),
            Network::Vit(m) => m.gemm_layers(),
        }
    }

    /// The hooked non-linear ops in execution order (names as in [`NonlinearSite::name`]).
    /// Max-pooling is not hooked (it is not a `[rows, cols]` op) and is not listed.
    pub fn nonlinear_layers(&self) -> Vec<(String, NonlinearKind)> {
        match self {
            Network::Mlp(m) => m.nonlinear_layers(),
            Network::Cnn(m) => m.nonlinear_layers(),
            Network::Vit(m) => m.nonlinear_layers(),
        }
    }

    pub(crate) fn gemm(&self, name: &str) -> Option<GemmRef<'_>> {
        match self {
            Network::Mlp(m) => m.gemm(name),
            Network::Cnn(m) => m.gemm(name),
            Network::Vit(m) => m.gemm(name),
        }
    }

    pub(crate) fn gemm_mut(&mut self, name: &str) -> Option<GemmMut<'_>> {
        match self {
            Network::Mlp(m) => m.gemm_mut(name),
            Network::Cnn(m) => m.gemm_mut(name),
            Network::Vit(m) => m.gemm_mut(name),
        }
    }

    /// A GEMM layer's weights as `K×N` row-major (convs in im2col `(cin, kh, kw)` order) and
    /// its bias `[N]`; `None` for an unknown name.
    pub fn gemm_weights(&self, name: &str) -> Option<(Vec<f32>, Option<Vec<f32>>)> {
        Some(match self.gemm(name)? {
            GemmRef::Dense(d) => (layers::values(&d.weight), Some(layers::values(&d.bias))),
            GemmRef::Conv(c) => {
                let [cout, cin, kh, kw] = c.weight.val().dims();
                (
                    transpose(&layers::values(&c.weight), cout, cin * kh * kw),
                    Some(layers::values(&c.bias)),
                )
            }
        })
    }

    /// Replace a GEMM layer's weights (`K×N`, same layout as [`Network::gemm_weights`]) and,
    /// when given, its bias. Parameter ids are kept.
    ///
    /// # Panics
    /// On an unknown name or a wrong size (a programming error: names and shapes come from
    /// [`Network::gemm_layers`]); [`Network::try_set_gemm_weights`] returns the error instead.
    pub fn set_gemm_weights(self, name: &str, w_kxn: &[f32], bias: Option<&[f32]>) -> Network {
        self.try_set_gemm_weights(name, w_kxn, bias)
            .unwrap_or_else(|e| panic!("set_gemm_weights: {e}"))
    }

    /// [`Network::set_gemm_weights`] that reports an unknown name or a wrong size.
    pub fn try_set_gemm_weights(
        mut self,
        name: &str,
        w_kxn: &[f32],
        bias: Option<&[f32]>,
    ) -> Result<Network, String> {
        let info = self
            .gemm_layers()
            .into_iter()
            .find(|l| l.name == name)
            .ok_or_else(|| format!("no GEMM layer `{name}`"))?;
        let (k, n) = (info.k(), info.n());
        if w_kxn.len() != k * n {
            return Err(format!(
                "`{name}`: weights have {} values, expected K×N = {k}×{n}",
                w_kxn.len()
            ));
        }
        if let Some(b) = bias
            && b.len() != n
        {
            return Err(format!(
                "`{name}`: bias has {} values, expected N = {n}",
                b.len()
            ));
        }
        match self.gemm_mut(name).expect("listed layer exists") {
            GemmMut::Dense(d) => {
                layers::replace(&mut d.weight, w_kxn.to_vec());
                if let Some(b) = bias {
                    layers::replace(&mut d.bias, b.to_vec());
                }
            }
            GemmMut::Conv(c) => {
                layers::replace(&mut c.weight, transpose(w_kxn, k, n));
                if let Some(b) = bias {
                    layers::replace(&mut c.bias, b.to_vec());
                }
            }
        }
        Ok(self)
    }

    /// Trainable scalars.
    pub fn num_params(&self) -> usize {
        Module::num_params(self)
    }
}

/// The logits of a forward pass run to the end (no layer asked for, so nothing stops it).
pub(crate) fn logits<T>(run: Tap<T>) -> T {
    match run {
        ControlFlow::Continue(l) => l,
        ControlFlow::Break(_) => unreachable!("a pass with no layer asked for never stops"),
    }
}

/// Apply a hooked ReLU to `[rows, cols]`.
pub(crate) fn relu(name: &str, x: Tensor<2>, hooks: &dyn TrainHooks) -> Tensor<2> {
    hooks.nonlinear(
        &NonlinearSite {
            name,
            kind: NonlinearKind::Relu,
        },
        x,
    )
}

/// Row-major `rows×cols` → `cols×rows`.
pub(crate) fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; x.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = x[r * cols + c];
        }
    }
    out
}
