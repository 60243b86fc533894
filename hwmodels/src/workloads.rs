//! Built-in workloads: the project's three models at batch 1, as plain Workload IR.
//!
//! They equal the IR the nn crate emits for the real models at batch 1: same layer names, kinds,
//! shapes and order (nn's tests/workload.rs checks it). GEMMs are `fc1`, `conv1`, `block0.qkv`,
//! `block0.qk`, `block0.pv`, ...; a non-linear op is named after the layer it follows
//! (`conv1.relu`, `conv1.pool`, `block0.gelu`) or its role (`block0.ln1`, `block0.softmax`,
//! `ln_f`). Convolutions are lowered by im2col (M = Ho·Wo, K = kh·kw·Cin,
//! N = Cout). GEMMs are int8 (what the accelerators run); non-linear ops are exact fp32.
//!
//! `*-lut` variants mark the layers LUT-DLA converts with a [`VqSpec`] (v = 4, c = 16, L2,
//! int8 tables and centroids): every static-weight GEMM except the first layer and the
//! classifier; attention score/context GEMMs stay dense (lut-dla.md §4.2).

use compbench_core::{
    Gemm, Layer, NonlinearImpl, NonlinearKind, NonlinearOp, NumFormat, VqMetric, VqSpec, Workload,
};

/// Names accepted by [`builtin`].
pub const BUILTIN_NAMES: &[&str] = &["mlp", "cnn", "vit", "mlp-lut", "cnn-lut", "vit-lut"];

fn gemm(name: &str, m: u64, k: u64, n: u64) -> Layer {
    Layer::gemm(name, Gemm::dense(m, k, n, NumFormat::INT8))
}

fn nonlinear(name: &str, kind: NonlinearKind, elements: u64, row: u64) -> Layer {
    Layer::nonlinear(
        name,
        NonlinearOp {
            kind,
            elements,
            row,
            implementation: NonlinearImpl::Exact,
            format: NumFormat::FP32,
        },
    )
}

/// MLP 784-256-128-10.
pub fn mlp() -> Workload {
    let mut w = Workload::new("mlp");
    w.layers = vec![
        gemm("fc1", 1, 784, 256),
        nonlinear("fc1.relu", NonlinearKind::Relu, 256, 1),
        gemm("fc2", 1, 256, 128),
        nonlinear("fc2.relu", NonlinearKind::Relu, 128, 1),
        gemm("fc3", 1, 128, 10),
    ];
    w
}

/// CNN: conv3×3 1→16 (28×28, pad 1) + ReLU + maxpool 2, conv3×3 16→32 (14×14) + ReLU +
/// maxpool 2, FC 1568→128 + ReLU, FC 128→10.
pub fn cnn() -> Workload {
    let mut w = Workload::new("cnn");
    w.layers = vec![
        gemm("conv1", 28 * 28, 9, 16),
        nonlinear("conv1.relu", NonlinearKind::Relu, 28 * 28 * 16, 1),
        nonlinear("conv1.pool", NonlinearKind::MaxPool, 28 * 28 * 16, 4),
        gemm("conv2", 14 * 14, 9 * 16, 32),
        nonlinear("conv2.relu", NonlinearKind::Relu, 14 * 14 * 32, 1),
        nonlinear("conv2.pool", NonlinearKind::MaxPool, 14 * 14 * 32, 4),
        gemm("fc1", 1, 1568, 128),
        nonlinear("fc1.relu", NonlinearKind::Relu, 128, 1),
        gemm("fc2", 1, 128, 10),
    ];
    w
}

/// Tiny ViT: 4×4 patches of a 28×28 image → 49 tokens, d = 64, 4 pre-LN blocks with 4 heads
/// and MLP 128, mean pooling, final LayerNorm, head 10.
pub fn vit() -> Workload {
    const T: u64 = 49;
    const D: u64 = 64;
    const HEADS: u64 = 4;
    const HEAD_DIM: u64 = D / HEADS;
    const MLP: u64 = 128;
    let mut w = Workload::new("vit");
    w.layers.push(gemm("patch_embed", T, 16, D));
    for b in 0..4 {
        let p = |s: &str| format!("block{b}.{s}");
        let mut scores = Gemm::dense(T, HEAD_DIM, T, NumFormat::INT8);
        scores.weights_static = false;
        let mut context = Gemm::dense(T, T, HEAD_DIM, NumFormat::INT8);
        context.weights_static = false;
        w.layers.extend([
            nonlinear(&p("ln1"), NonlinearKind::LayerNorm, T * D, D),
            gemm(&p("qkv"), T, D, 3 * D),
            Layer::gemm(p("qk"), scores).with_repeats(HEADS),
            nonlinear(&p("softmax"), NonlinearKind::Softmax, HEADS * T * T, T),
            Layer::gemm(p("pv"), context).with_repeats(HEADS),
            gemm(&p("proj"), T, D, D),
            nonlinear(&p("ln2"), NonlinearKind::LayerNorm, T * D, D),
            gemm(&p("fc1"), T, D, MLP),
            nonlinear(&p("gelu"), NonlinearKind::Gelu, T * MLP, 1),
            gemm(&p("fc2"), T, MLP, D),
        ]);
    }
    // Mean pooling over the tokens (no op of its own in the IR), then the final LayerNorm.
    w.layers
        .push(nonlinear("ln_f", NonlinearKind::LayerNorm, D, D));
    w.layers.push(gemm("head", 1, D, 10));
    w
}

/// The VQ spec the `*-lut` workloads carry.
pub fn default_vq() -> VqSpec {
    VqSpec {
        v: 4,
        c: 16,
        metric: VqMetric::L2,
        table_bits: 8,
        centroid_bits: 8,
    }
}

/// Attach `vq` to every static-weight GEMM except the first GEMM and the last (classifier).
pub fn with_vq(mut w: Workload, vq: &VqSpec) -> Workload {
    let gemm_idx: Vec<usize> = w
        .layers
        .iter()
        .enumerate()
        .filter(|(_, l)| l.as_gemm().is_some())
        .map(|(i, _)| i)
        .collect();
    let (first, last) = (gemm_idx.first().copied(), gemm_idx.last().copied());
    for (i, layer) in w.layers.iter_mut().enumerate() {
        if Some(i) == first || Some(i) == last {
            continue;
        }
        if let Some(g) = layer.as_gemm_mut()
            && g.weights_static
        {
            g.vq = Some(vq.clone());
        }
    }
    w.name = format!("{}-lut", w.name);
    w
}

/// Only the layers that carry a VqSpec (the LUT engine's share of a workload).
pub fn vq_layers_only(w: &Workload) -> Workload {
    let mut out = Workload::new(format!("{}/vq-layers", w.name));
    out.layers = w
        .layers
        .iter()
        .filter(|l| l.as_gemm().is_some_and(|g| g.vq.is_some()))
        .cloned()
        .collect();
    out.accuracy = w.accuracy;
    out
}

/// A built-in workload by name (see [`BUILTIN_NAMES`]).
pub fn builtin(name: &str) -> Option<Workload> {
    let vq = default_vq();
    Some(match name {
        "mlp" => mlp(),
        "cnn" => cnn(),
        "vit" => vit(),
        "mlp-lut" => with_vq(mlp(), &vq),
        "cnn-lut" => with_vq(cnn(), &vq),
        "vit-lut" => with_vq(vit(), &vq),
        _ => return None,
    })
}
