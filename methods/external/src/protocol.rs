//! The messages of protocol version 1 (docs/external-methods.md is the reference).
//!
//! One request as JSON on the method's stdin, one response as JSON on its stdout. Unknown
//! response fields are refused, so a misspelled field is an error, not a silent default.

use std::collections::BTreeMap;

use compbench_core::Value;
use serde::{Deserialize, Serialize};

/// What the harness sends.
#[derive(Debug, Clone, Serialize)]
pub struct Request {
    pub protocol: u32,
    /// The method's id (from its manifest).
    pub method: String,
    /// Resolved parameters (suite values over manifest defaults), `timeout_s` included.
    pub params: BTreeMap<String, Value>,
    /// Seed the method should use for any randomness.
    pub seed: u64,
    /// `--quick`: use a shorter schedule.
    pub quick: bool,
    pub model: ModelInfo,
    /// Every GEMM layer of the model, in execution order.
    pub layers: Vec<LayerInfo>,
    /// Data files (absent when the manifest did not ask for them).
    pub data: DataFiles,
    /// A scratch directory the method may write to; removed after the run.
    pub work_dir: String,
    /// Where the method must write its new weights (safetensors).
    pub output: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    /// Zoo model id (`mlp`, `cnn`, `vit`).
    pub kind: String,
    /// Safetensors with `<layer>.weight` (K×N, f32) and `<layer>.bias` (N, f32) per GEMM layer.
    pub weights: String,
    /// `[channels, height, width]` of one input image.
    pub input: [usize; 3],
    pub classes: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct LayerInfo {
    pub name: String,
    /// Reduction size K (for a conv, kh·kw·Cin in the deployed im2col order).
    pub k: usize,
    /// Outputs N (a conv's output channels).
    pub n: usize,
    /// GEMM rows per image (output pixels of a conv, tokens of a ViT layer, 1 for an MLP).
    pub rows_per_image: usize,
    pub first: bool,
    pub last: bool,
    pub has_bias: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DataFiles {
    pub calibration: Option<SplitFiles>,
    pub train: Option<SplitFiles>,
}

/// A split as two .npy files: images `[n, c, h, w]` little-endian f32 (normalized as the
/// model sees them) and labels `[n]` u8.
#[derive(Debug, Clone, Serialize)]
pub struct SplitFiles {
    pub images: String,
    pub labels: String,
    pub examples: usize,
}

/// What the method answers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    pub protocol: u32,
    /// Safetensors with `<layer>.weight` (K×N f32) for every layer, `<layer>.bias` optional.
    /// Relative paths are relative to the request's `work_dir`.
    pub weights: String,
    /// One entry per GEMM layer of the request, by name.
    pub layers: Vec<LayerOut>,
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    #[serde(default)]
    pub notes: Vec<String>,
}

/// Per-layer IR fields.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerOut {
    pub name: String,
    /// Precision the layer's MACs compute in: 32 = f32; fewer bits = integer weights (checked:
    /// each output column holds at most 2^bits distinct values).
    #[serde(default = "f32_bits")]
    pub weight_bits: u8,
    /// Activation precision; protocol 1 accepts 32 only (no activation-quantizing kernel).
    #[serde(default = "f32_bits")]
    pub act_bits: u8,
    /// How the weights are stored, when not as plain values of `weight_bits`.
    #[serde(default)]
    pub storage: Option<StorageOut>,
    /// Block structure to report zero blocks in (the harness measures the mask).
    #[serde(default)]
    pub sparsity: Option<SparsityOut>,
    /// Activation vector quantization; refused by protocol 1 (no LUT kernel).
    #[serde(default)]
    pub vq: Option<serde_json::Value>,
}

fn f32_bits() -> u8 {
    32
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageOut {
    /// Width of a stored index into the layer's codebook (weight sharing).
    pub index_bits: u8,
    /// Width of a codebook value (32 = f32, 16 = f16).
    #[serde(default = "f32_bits")]
    pub value_bits: u8,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparsityOut {
    pub block_k: u32,
    pub block_n: u32,
}
