//! Model configurations, their suite parameters, and the layer descriptions shared by the
//! trainable and deployed models.

use compbench_core::{ParamError, ParamSpec, Params};
use serde::{Deserialize, Serialize};

use crate::hooks::{ConvGeom, GemmSite};

/// Which architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Mlp,
    Cnn,
    Vit,
}

impl ModelKind {
    pub const ALL: [ModelKind; 3] = [ModelKind::Mlp, ModelKind::Cnn, ModelKind::Vit];
    pub const NAMES: &'static [&'static str] = &["mlp", "cnn", "vit"];

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Mlp => "mlp",
            ModelKind::Cnn => "cnn",
            ModelKind::Vit => "vit",
        }
    }

    pub fn parse(s: &str) -> Option<ModelKind> {
        ModelKind::ALL.into_iter().find(|k| k.name() == s)
    }

    pub fn describe(self) -> &'static str {
        match self {
            ModelKind::Mlp => "MLP 784-256-128-10, ReLU",
            ModelKind::Cnn => {
                "CNN: conv3×3 1→16 +ReLU+maxpool2, conv3×3 16→32 +ReLU+maxpool2, FC 1568→128→10 \
                 (widths are knobs)"
            }
            ModelKind::Vit => {
                "tiny ViT: 4×4 patches (49 tokens), d=64, 4 pre-LN blocks, 4 heads, MLP ratio 2, exact GELU, \
                 learned positions, mean-pool + LayerNorm + head; optional DeiT distillation token \
                 (a second token and head, averaged at inference)"
            }
        }
    }

    /// The parameters a suite may set for this kind (`p_model_<name>` columns).
    pub fn params(self) -> &'static [ParamSpec] {
        match self {
            ModelKind::Mlp => MLP_PARAMS,
            ModelKind::Cnn => CNN_PARAMS,
            ModelKind::Vit => VIT_PARAMS,
        }
    }
}

/// The MLP has no knobs (its shape is the papers' baseline).
pub const MLP_PARAMS: &[ParamSpec] = &[];
/// The CNN's width knobs (defaults: the baseline CNN), so a several-times smaller student is a
/// suite parameter.
pub const CNN_PARAMS: &[ParamSpec] = &[
    ParamSpec::int(
        "conv1_channels",
        16,
        1,
        256,
        "output channels of the first 3×3 convolution",
    ),
    ParamSpec::int(
        "conv2_channels",
        32,
        1,
        256,
        "output channels of the second 3×3 convolution",
    ),
    ParamSpec::int(
        "fc_hidden",
        128,
        1,
        4096,
        "hidden units of the first fully connected layer",
    ),
];
/// The tiny ViT's knobs.
pub const VIT_PARAMS: &[ParamSpec] = &[
    ParamSpec::int(
        "d_model",
        64,
        8,
        512,
        "embedding width (must be a multiple of heads)",
    ),
    ParamSpec::int("depth", 4, 1, 12, "number of pre-LN transformer blocks"),
    ParamSpec::int("heads", 4, 1, 16, "attention heads"),
    ParamSpec::int("mlp_ratio", 2, 1, 8, "MLP hidden width ÷ d_model"),
    ParamSpec::int("patch", 4, 1, 28, "patch side in pixels (must divide 28)"),
    ParamSpec::bool(
        "distill_token",
        false,
        "DeiT distillation token: a second learned token (with its own position) and a second \
         head, trained against the teacher; inference averages the two heads",
    ),
];

/// A model's architecture. Serialized into cache keys: changing a field changes the key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub kind: ModelKind,
    #[serde(default = "default_classes")]
    pub classes: usize,
    /// ViT only.
    #[serde(default = "default_d_model")]
    pub d_model: usize,
    /// ViT only.
    #[serde(default = "default_depth")]
    pub depth: usize,
    /// ViT only.
    #[serde(default = "default_heads")]
    pub heads: usize,
    /// ViT only.
    #[serde(default = "default_mlp_ratio")]
    pub mlp_ratio: usize,
    /// ViT only.
    #[serde(default = "default_patch")]
    pub patch: usize,
    /// ViT only: DeiT's distillation token (a learned token with its own position, its own
    /// head, the two heads averaged at inference). Serialized only when set, so the cache keys
    /// of ViTs that existed before the token are unchanged.
    #[serde(default, skip_serializing_if = "is_false")]
    pub distill_token: bool,
    /// CNN only. Widths are serialized only when they differ from the default CNN's, so the
    /// cache keys of configurations that existed before these knobs did are unchanged.
    #[serde(
        default = "default_conv1_channels",
        skip_serializing_if = "is_default_conv1_channels"
    )]
    pub conv1_channels: usize,
    /// CNN only.
    #[serde(
        default = "default_conv2_channels",
        skip_serializing_if = "is_default_conv2_channels"
    )]
    pub conv2_channels: usize,
    /// CNN only.
    #[serde(
        default = "default_fc_hidden",
        skip_serializing_if = "is_default_fc_hidden"
    )]
    pub fc_hidden: usize,
}

fn is_false(v: &bool) -> bool {
    !*v
}
fn default_conv1_channels() -> usize {
    16
}
fn default_conv2_channels() -> usize {
    32
}
fn default_fc_hidden() -> usize {
    128
}
fn is_default_conv1_channels(v: &usize) -> bool {
    *v == default_conv1_channels()
}
fn is_default_conv2_channels(v: &usize) -> bool {
    *v == default_conv2_channels()
}
fn is_default_fc_hidden(v: &usize) -> bool {
    *v == default_fc_hidden()
}

fn default_classes() -> usize {
    10
}
fn default_d_model() -> usize {
    64
}
fn default_depth() -> usize {
    4
}
fn default_heads() -> usize {
    4
}
fn default_mlp_ratio() -> usize {
    2
}
fn default_patch() -> usize {
    4
}

/// Input image side (Fashion-MNIST and the synthetic set are 1×28×28).
pub const IMAGE_SIDE: usize = 28;

impl ModelConfig {
    /// DESIGN.md's default architecture of `kind`.
    pub fn new(kind: ModelKind) -> ModelConfig {
        ModelConfig {
            kind,
            classes: default_classes(),
            d_model: default_d_model(),
            depth: default_depth(),
            heads: default_heads(),
            mlp_ratio: default_mlp_ratio(),
            patch: default_patch(),
            distill_token: false,
            conv1_channels: default_conv1_channels(),
            conv2_channels: default_conv2_channels(),
            fc_hidden: default_fc_hidden(),
        }
    }

    pub fn mlp() -> ModelConfig {
        ModelConfig::new(ModelKind::Mlp)
    }

    pub fn cnn() -> ModelConfig {
        ModelConfig::new(ModelKind::Cnn)
    }

    pub fn vit() -> ModelConfig {
        ModelConfig::new(ModelKind::Vit)
    }

    /// Build from resolved suite parameters (see [`ModelKind::params`]), checking constraints.
    pub fn from_params(kind: ModelKind, params: &Params) -> Result<ModelConfig, ParamError> {
        let mut c = ModelConfig::new(kind);
        if kind == ModelKind::Vit {
            let get = |n: &str| params.get(n).map(|_| params.int(n) as usize);
            c.d_model = get("d_model").unwrap_or(c.d_model);
            c.depth = get("depth").unwrap_or(c.depth);
            c.heads = get("heads").unwrap_or(c.heads);
            c.mlp_ratio = get("mlp_ratio").unwrap_or(c.mlp_ratio);
            c.patch = get("patch").unwrap_or(c.patch);
            if params.get("distill_token").is_some() {
                c.distill_token = params.bool("distill_token");
            }
        }
        if kind == ModelKind::Cnn {
            let get = |n: &str| params.get(n).map(|_| params.int(n) as usize);
            c.conv1_channels = get("conv1_channels").unwrap_or(c.conv1_channels);
            c.conv2_channels = get("conv2_channels").unwrap_or(c.conv2_channels);
            c.fc_hidden = get("fc_hidden").unwrap_or(c.fc_hidden);
        }
        c.validate()?;
        Ok(c)
    }

    /// Constraints between knobs.
    pub fn validate(&self) -> Result<(), ParamError> {
        let bad = |param: &str, message: String| {
            Err(ParamError::Constraint {
                param: param.into(),
                message,
            })
        };
        if self.classes < 2 {
            return bad(
                "classes",
                format!("{} classes; need at least 2", self.classes),
            );
        }
        if self.distill_token && self.kind != ModelKind::Vit {
            return bad(
                "distill_token",
                format!(
                    "a distillation token needs a ViT (tokens and attention); this is a {}",
                    self.kind.name()
                ),
            );
        }
        if self.kind == ModelKind::Cnn {
            for (name, v) in [
                ("conv1_channels", self.conv1_channels),
                ("conv2_channels", self.conv2_channels),
                ("fc_hidden", self.fc_hidden),
            ] {
                if v == 0 {
                    return bad(name, format!("{name} is 0; need at least 1"));
                }
            }
        }
        if self.kind == ModelKind::Vit {
            if self.heads == 0 || !self.d_model.is_multiple_of(self.heads) {
                return bad(
                    "d_model",
                    format!(
                        "d_model {} is not a multiple of heads {}",
                        self.d_model, self.heads
                    ),
                );
            }
            if self.patch == 0 || !IMAGE_SIDE.is_multiple_of(self.patch) {
                return bad(
                    "patch",
                    format!(
                        "patch {} does not divide the image side {IMAGE_SIDE}",
                        self.patch
                    ),
                );
            }
        }
        Ok(())
    }

    /// ViT patch tokens per image (the distillation token, when there is one, comes on top).
    pub fn tokens(&self) -> usize {
        (IMAGE_SIDE / self.patch).pow(2)
    }

    /// `kind` plus the non-default knobs, e.g. `vit` or `vit(d_model=128)`.
    pub fn label(&self) -> String {
        let d = ModelConfig::new(self.kind);
        let mut parts = Vec::new();
        let mut knob = |n: &str, v: usize, dv: usize| {
            if v != dv {
                parts.push(format!("{n}={v}"));
            }
        };
        knob("classes", self.classes, d.classes);
        if self.kind == ModelKind::Vit {
            knob("d_model", self.d_model, d.d_model);
            knob("depth", self.depth, d.depth);
            knob("heads", self.heads, d.heads);
            knob("mlp_ratio", self.mlp_ratio, d.mlp_ratio);
            knob("patch", self.patch, d.patch);
        }
        if self.kind == ModelKind::Cnn {
            knob("conv1_channels", self.conv1_channels, d.conv1_channels);
            knob("conv2_channels", self.conv2_channels, d.conv2_channels);
            knob("fc_hidden", self.fc_hidden, d.fc_hidden);
        }
        if self.distill_token {
            parts.push("distill_token".to_string());
        }
        if parts.is_empty() {
            self.kind.name().to_string()
        } else {
            format!("{}({})", self.kind.name(), parts.join(","))
        }
    }
}

/// The shape of a GEMM layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GemmShape {
    /// `x[rows × in] · W[in × out]`.
    Linear {
        in_features: usize,
        out_features: usize,
    },
    /// A convolution lowered by im2col (K = Cin·k·k in `(cin, kh, kw)` order, N = Cout).
    Conv(ConvGeom),
}

impl GemmShape {
    /// Reduction length K.
    pub fn k(&self) -> usize {
        match self {
            GemmShape::Linear { in_features, .. } => *in_features,
            GemmShape::Conv(g) => g.k(),
        }
    }

    /// Output width N.
    pub fn n(&self) -> usize {
        match self {
            GemmShape::Linear { out_features, .. } => *out_features,
            GemmShape::Conv(g) => g.out_channels,
        }
    }
}

/// One GEMM layer of a model, as methods see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GemmLayerInfo {
    /// Stable name shared by trainable model, deployed model and Workload IR.
    pub name: String,
    /// Position among the model's GEMM layers, from 0.
    pub index: usize,
    pub first: bool,
    pub last: bool,
    pub shape: GemmShape,
    /// GEMM rows M per input image (output pixels for a conv, tokens for a ViT layer, 1 for an
    /// MLP layer).
    pub rows_per_image: usize,
    /// Input spatial size (h, w) for a conv, else (1, 1).
    pub input_hw: (usize, usize),
}

impl GemmLayerInfo {
    pub fn site(&self) -> GemmSite<'_> {
        GemmSite {
            name: &self.name,
            index: self.index,
            first: self.first,
            last: self.last,
        }
    }

    pub fn k(&self) -> usize {
        self.shape.k()
    }

    pub fn n(&self) -> usize {
        self.shape.n()
    }
}

/// Number the layers and mark first/last.
pub(crate) fn finish_layers(
    layers: Vec<(String, GemmShape, usize, (usize, usize))>,
) -> Vec<GemmLayerInfo> {
    let n = layers.len();
    layers
        .into_iter()
        .enumerate()
        .map(|(i, (name, shape, rows, hw))| GemmLayerInfo {
            name,
            index: i,
            first: i == 0,
            last: i + 1 == n,
            shape,
            rows_per_image: rows,
            input_hw: hw,
        })
        .collect()
}
