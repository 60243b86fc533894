//! The trainable model's extension point: every GEMM and every non-linear op of the model zoo
//! goes through a [`TrainHooks`] implementation.
//!
//! The zoo's models call `hooks.linear(..)`, `hooks.conv2d(..)` and `hooks.nonlinear(..)` instead
//! of computing those ops themselves. The default methods compute the exact float op, so
//! [`DenseHooks`] trains the baseline. A method changes what a layer computes by implementing the
//! hooks (fake-quantizing weights and activations, masking pruned blocks, replacing a GEMM by a
//! LUT look-up, approximating GELU), keeping its own trainable parameters in its own burn module.
//! Models never learn which methods exist.

use burn::tensor::Tensor;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use compbench_core::NonlinearKind;

/// Geometry of a 2-D convolution (square kernel, symmetric padding, no groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

impl ConvGeom {
    /// Output height/width for an input of `h × w`.
    pub fn output_hw(&self, h: usize, w: usize) -> (usize, usize) {
        let o = |x: usize| (x + 2 * self.padding - self.kernel) / self.stride + 1;
        (o(h), o(w))
    }

    /// GEMM reduction length after im2col: kernel² · Cin.
    pub fn k(&self) -> usize {
        self.kernel * self.kernel * self.in_channels
    }
}

/// Where a GEMM sits in the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmSite<'a> {
    /// Stable layer name shared by the trainable model, the deployed model and the Workload IR.
    pub name: &'a str,
    /// Position among the model's GEMM layers, from 0.
    pub index: usize,
    /// True for the first GEMM layer (fed by raw pixels).
    pub first: bool,
    /// True for the classifier.
    pub last: bool,
}

/// Where a non-linear op sits in the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonlinearSite<'a> {
    pub name: &'a str,
    pub kind: NonlinearKind,
}

/// What the trainable models call for their GEMMs and non-linear ops.
///
/// Tensors are burn autodiff tensors on the training device. Shapes:
/// * `linear`: `x` is `[rows, in]`, `weight` is `[in, out]` (burn's Linear layout), `bias` `[out]`.
/// * `conv2d`: `x` is `[batch, Cin, H, W]`, `weight` is `[Cout, Cin, k, k]`.
/// * `nonlinear`: `x` is `[rows, cols]`; row-wise ops (softmax, LayerNorm's normalization)
///   work along `cols`. LayerNorm's affine part stays in the model.
pub trait TrainHooks {
    fn linear(
        &self,
        site: &GemmSite,
        x: Tensor<2>,
        weight: Tensor<2>,
        bias: Option<Tensor<1>>,
    ) -> Tensor<2> {
        let _ = site;
        dense_linear(x, weight, bias)
    }

    fn conv2d(
        &self,
        site: &GemmSite,
        geom: &ConvGeom,
        x: Tensor<4>,
        weight: Tensor<4>,
        bias: Option<Tensor<1>>,
    ) -> Tensor<4> {
        let _ = site;
        dense_conv2d(geom, x, weight, bias)
    }

    fn nonlinear(&self, site: &NonlinearSite, x: Tensor<2>) -> Tensor<2> {
        exact_nonlinear(site.kind, x)
    }
}

/// The exact float model: the baseline's hooks.
#[derive(Debug, Clone, Copy, Default)]
pub struct DenseHooks;

impl TrainHooks for DenseHooks {}

/// `x · weight + bias`.
pub fn dense_linear(x: Tensor<2>, weight: Tensor<2>, bias: Option<Tensor<1>>) -> Tensor<2> {
    let y = x.matmul(weight);
    match bias {
        Some(b) => y + b.unsqueeze::<2>(),
        None => y,
    }
}

/// burn's native convolution with the geometry's stride and padding.
///
/// Measured alternative (examples/opbench.rs): lowering to differentiable im2col (pad + 9
/// slices + stack + permute) and one matmul is 1.5-1.8× *slower* forward+backward on burn-flex
/// than the native conv, because flex's slice/stack/permute backward copies dominate; so the
/// native op stays.
pub fn dense_conv2d(
    geom: &ConvGeom,
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
) -> Tensor<4> {
    native_conv2d(geom, x, weight, bias)
}

/// burn's native convolution with the geometry's stride and padding.
pub fn native_conv2d(
    geom: &ConvGeom,
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
) -> Tensor<4> {
    let options = ConvOptions::new(
        [geom.stride, geom.stride],
        [geom.padding, geom.padding],
        [1, 1],
        1,
    );
    conv2d(x, weight, bias, options)
}

/// The exact float non-linear op on `[rows, cols]`.
///
/// GELU and softmax use the fused ops of [`crate::fused`] (same forward values as burn's,
/// faster backward on burn-flex; burn's own ops on any other backend or dtype).
pub fn exact_nonlinear(kind: NonlinearKind, x: Tensor<2>) -> Tensor<2> {
    use burn::tensor::activation;
    match kind {
        NonlinearKind::Relu => activation::relu(x),
        NonlinearKind::Gelu => crate::fused::gelu(x),
        NonlinearKind::Silu => activation::silu(x),
        NonlinearKind::Softmax => crate::fused::softmax_last(x),
        NonlinearKind::LayerNorm => {
            let (var, mean) = x.clone().var_mean_bias(1);
            (x - mean) / (var + 1e-5).sqrt()
        }
        NonlinearKind::MaxPool | NonlinearKind::Other => x,
    }
}

/// Training hooks that multiply each pruned layer's weights by its 0/1 mask.
pub struct MaskHooks {
    /// Masks in the trainable weight's own layout: [in, out] for linear, [Cout, Cin, k, k] for
    /// conv.
    linear: std::collections::BTreeMap<String, Tensor<2>>,
    conv: std::collections::BTreeMap<String, Tensor<4>>,
}

impl MaskHooks {
    /// `masks` holds one K×N keep-mask per GEMM layer (by name); layers without one stay dense.
    pub fn new(
        masks: &std::collections::BTreeMap<String, Vec<bool>>,
        layers: &[crate::GemmLayerInfo],
        device: &burn::tensor::Device,
    ) -> MaskHooks {
        let device = device.clone().autodiff();
        let mut linear = std::collections::BTreeMap::new();
        let mut conv = std::collections::BTreeMap::new();
        for info in layers {
            let Some(mask) = masks.get(&info.name) else {
                continue;
            };
            let (k, n) = (info.k(), info.n());
            let m: Vec<f32> = mask.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect();
            let t: Tensor<2> = Tensor::from_data(burn::tensor::TensorData::new(m, [k, n]), &device);
            match info.shape {
                crate::GemmShape::Linear { .. } => {
                    linear.insert(info.name.clone(), t);
                }
                crate::GemmShape::Conv(g) => {
                    // K×N in im2col order (cin, kh, kw) → [Cout, Cin, k, k].
                    conv.insert(
                        info.name.clone(),
                        t.transpose()
                            .reshape([g.out_channels, g.in_channels, g.kernel, g.kernel]),
                    );
                }
            }
        }
        MaskHooks { linear, conv }
    }
}

impl TrainHooks for MaskHooks {
    fn linear(
        &self,
        site: &GemmSite,
        x: Tensor<2>,
        weight: Tensor<2>,
        bias: Option<Tensor<1>>,
    ) -> Tensor<2> {
        match self.linear.get(site.name) {
            Some(mask) => dense_linear(x, weight * mask.clone(), bias),
            None => dense_linear(x, weight, bias),
        }
    }

    fn conv2d(
        &self,
        site: &GemmSite,
        geom: &ConvGeom,
        x: Tensor<4>,
        weight: Tensor<4>,
        bias: Option<Tensor<1>>,
    ) -> Tensor<4> {
        match self.conv.get(site.name) {
            Some(mask) => dense_conv2d(geom, x, weight * mask.clone(), bias),
            None => dense_conv2d(geom, x, weight, bias),
        }
    }
}
