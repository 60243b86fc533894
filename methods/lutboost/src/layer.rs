//! The trainable LUT layer: LUT-NN's differentiable form of the deployed LUT-GEMM, plugged into
//! the model zoo through [`TrainHooks`].
//!
//! For a converted layer with input rows x `[rows, K]`, weights W `[K, N]`:
//! * distances d[s, r, j] between sub-vector x[r, s·v..s·v+v] and centroid C[s, j] under the
//!   layer's metric (L2 squared, L1, Chebyshev);
//! * tables T = C·W per subspace, `[nc, c, N]` (recomputed every step, so W and C both learn);
//! * **hard** forward: Σ_s T[s][argmin_j d][:] — computed by the deployed kernel itself
//!   ([`LutGemm`]) on the host, from the current centroids and weights (with the stage-4
//!   quantized tables when tables are quantized), so training sees exactly what deploys;
//! * **soft** backward (LUT-NN, Tang et al. 2023): attention = softmax(−d · τ) over j, with a
//!   learnable inverse temperature τ, and soft = attention · T. The output is
//!   `hard.detach() + (soft − soft.detach())`: its value is the hard output bit for bit
//!   (x − x = 0 exactly), its gradient is the soft path's. LUT-NN writes the same straight-through
//!   estimator as `soft − (soft − hard).detach()`, which equals hard only up to rounding.
//!   The argmin of L1 / Chebyshev has no useful gradient, which is why LUT-DLA needs the STE.
//!
//! τ = exp(G · t) with a gain G = [`TEMP_GAIN`]: Adam's step is about the learning rate whatever
//! the gradient's scale, so the gain gives the temperature LUT-NN's 100× larger learning rate
//! (temp-lr 0.1 vs lr 1e-3) while one optimizer trains everything (compbench-nn's `fit` has a
//! single learning rate).
//!
//! Convolutions are lowered with `unfold4d`, whose column order `(cin, kh, kw)` is nn's im2col
//! order, and rows `(b, oh, ow)`, so subspace s covers the same K columns in training and in
//! the deployed kernel (v = 9 makes a subspace one input channel's 3×3 patch).

use std::collections::BTreeMap;

use burn::module::{Module, Param};
use burn::tensor::module::unfold4d;
use burn::tensor::ops::UnfoldOptions;
use burn::tensor::{Device, Tensor, TensorData};
use compbench_nn::hooks::{ConvGeom, GemmSite, TrainHooks, dense_conv2d, dense_linear};

use crate::kernel::LutGemm;
use crate::metric::VqMetric;
use crate::table::{TableBits, TableScale};

/// A tensor's values on the host, row-major.
fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 tensor")
}

/// Multiplier of the temperature parameter (see the module docs).
pub const TEMP_GAIN: f32 = 100.0;

/// Trainable parameters of one converted layer.
#[derive(Module, Debug)]
pub struct LutLayerParams {
    /// `[nc, c, v]`.
    pub centroids: Param<Tensor<3>>,
    /// `[1]`: τ = exp(TEMP_GAIN · temp).
    pub temp: Param<Tensor<1>>,
}

/// The trainable parameters of every converted layer, in [`LutConfig::layers`] order. Trained
/// next to the model as the tuple module `(Network, LutParams)`.
#[derive(Module, Debug)]
pub struct LutParams {
    pub layers: Vec<LutLayerParams>,
}

/// What a converted layer is (plain data, not trained).
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSpec {
    pub name: String,
    pub k: usize,
    pub n: usize,
    pub v: usize,
    pub c: usize,
    pub metric: VqMetric,
}

impl LayerSpec {
    pub fn nc(&self) -> usize {
        self.k / self.v
    }
}

/// The converted layers and how tables are computed in the hard forward.
#[derive(Debug, Clone, PartialEq)]
pub struct LutConfig {
    pub layers: Vec<LayerSpec>,
    /// Quantize the hard path's tables (stage 4) like the deployed kernel does.
    pub table: Option<(TableBits, TableScale)>,
}

impl LutConfig {
    pub fn index(&self, name: &str) -> Option<usize> {
        self.layers.iter().position(|l| l.name == name)
    }
}

/// Which paths the hooks compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Hard forward with the soft-assignment backward (training).
    Ste,
    /// Hard forward only (evaluation, no gradient needed).
    Hard,
    /// The soft path alone (tests compare its autodiff gradient with finite differences).
    Soft,
}

impl LutLayerParams {
    pub fn new(
        centroids: &[f32],
        nc: usize,
        c: usize,
        v: usize,
        temp_init: f32,
        device: &Device,
    ) -> Self {
        LutLayerParams {
            centroids: Param::from_data(TensorData::new(centroids.to_vec(), [nc, c, v]), device),
            temp: Param::from_data(
                TensorData::new(vec![temp_init.ln() / TEMP_GAIN], [1]),
                device,
            ),
        }
    }

    /// Centroids as `[s][j][d]` floats.
    pub fn centroid_values(&self) -> Vec<f32> {
        self.centroids
            .val()
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("f32 centroids")
    }

    /// The inverse temperature τ.
    pub fn tau(&self) -> f32 {
        let t = self
            .temp
            .val()
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("f32 temp")[0];
        (TEMP_GAIN * t).exp()
    }
}

/// Distances `[rows, nc, c]` of the sub-vectors of `x` `[rows, K]` to the centroids `[nc, c, v]`
/// (burn tensor ops: the reference and off-flex fallback of [`crate::fused::vq_distances`]).
pub fn distances(metric: VqMetric, x: Tensor<2>, cent: Tensor<3>) -> Tensor<3> {
    let [rows, k] = x.dims();
    let [nc, c, v] = cent.dims();
    debug_assert_eq!(k, nc * v);
    let xs = x.reshape([rows, nc, v]).swap_dims(0, 1); // [nc, rows, v]
    let d = match metric {
        // ‖x‖² − 2⟨x, c⟩ + ‖c‖²: a batched GEMM instead of a [nc, rows, c, v] difference tensor.
        VqMetric::L2 => {
            let x2 = xs.clone().square().sum_dim(2); // [nc, rows, 1]
            let c2 = cent.clone().square().sum_dim(2).swap_dims(1, 2); // [nc, 1, c]
            let xc = xs.matmul(cent.swap_dims(1, 2)); // [nc, rows, c]
            (x2 - xc.mul_scalar(2.0) + c2).clamp_min(0.0)
        }
        VqMetric::L1 | VqMetric::Chebyshev => {
            let diff = (xs.unsqueeze_dim::<4>(2) - cent.unsqueeze_dim::<4>(1)).abs(); // [nc, rows, c, v]
            let d = if metric == VqMetric::L1 {
                diff.sum_dim(3)
            } else {
                diff.max_dim(3)
            };
            d.reshape([nc, rows, c])
        }
    };
    d.swap_dims(0, 1)
}

/// Tables `[nc, c, N]` = C · W per subspace.
pub fn tables(cent: Tensor<3>, w: Tensor<2>) -> Tensor<3> {
    let [nc, _, v] = cent.dims();
    let [_, n] = w.dims();
    cent.matmul(w.reshape([nc, v, n]))
}

/// The LUT layer on rows: `x` `[rows, K]`, `w` `[K, N]`, optional bias `[N]`.
pub fn lut_linear(
    spec: &LayerSpec,
    p: &LutLayerParams,
    table: Option<(TableBits, TableScale)>,
    mode: Mode,
    x: Tensor<2>,
    w: Tensor<2>,
    bias: Option<Tensor<1>>,
) -> Tensor<2> {
    let [rows, _] = x.dims();
    let (nc, c) = (spec.nc(), spec.c);
    let n = spec.n;
    let cent = p.centroids.val();
    // The hard path runs the deployed kernel itself on the host: it is exact by construction
    // (the trainable hard forward *is* the deployed computation, table quantization included),
    // and an order of magnitude faster than one-hot matmuls in burn. It carries no gradient.
    let hard = || {
        let device = x.device();
        let xv = host(x.clone());
        let kernel = LutGemm::new(
            spec.metric,
            spec.v,
            c,
            &host(cent.clone()),
            &host(w.clone()),
            n,
            None,
            table.map_or(TableBits::F32, |t| t.0),
            table.map_or(TableScale::PerColumn, |t| t.1),
        );
        let mut out = vec![0.0f32; rows * n];
        kernel.forward_with(kernel.isa, &xv, rows, &mut out);
        Tensor::<2>::from_data(TensorData::new(out, [rows, n]), &device)
    };
    let soft = || {
        let d = crate::fused::vq_distances(spec.metric, x.clone(), cent.clone()); // [rows, nc, c]
        let t = tables(cent.clone(), w.clone()); // [nc, c, n]
        let tau = p.temp.val().mul_scalar(TEMP_GAIN).exp(); // [1]
        // The fused softmax (one kernel forward and backward, vectorized exp): burn's
        // decomposed one was a fifth of a stage-2/3 step in layout copies and element-wise ops.
        let attn = compbench_nn::fused::softmax_last(d.neg() * tau.unsqueeze::<3>());
        attn.reshape([rows, nc * c]).matmul(t.reshape([nc * c, n]))
    };
    let out = match mode {
        Mode::Hard => hard(),
        Mode::Soft => soft(),
        Mode::Ste => {
            let s = soft();
            hard() + (s.clone() - s.detach())
        }
    };
    match bias {
        Some(b) => out + b.unsqueeze::<2>(),
        None => out,
    }
}

/// im2col of `x` `[B, Cin, H, W]` into rows `[B·Ho·Wo, Cin·k·k]`, nn's order.
pub fn im2col(geom: &ConvGeom, x: Tensor<4>) -> Tensor<2> {
    let [b, _, _, _] = x.dims();
    let opts = UnfoldOptions::new(
        [geom.stride, geom.stride],
        [geom.padding, geom.padding],
        [1, 1],
    );
    let cols = unfold4d(x, [geom.kernel, geom.kernel], opts); // [B, K, L]
    let [_, k, l] = cols.dims();
    cols.swap_dims(1, 2).reshape([b * l, k])
}

/// `[B·Ho·Wo, N]` rows back to `[B, N, Ho, Wo]`.
pub fn rows_to_nchw(y: Tensor<2>, b: usize, ho: usize, wo: usize) -> Tensor<4> {
    let [_, n] = y.dims();
    y.reshape([b, ho * wo, n])
        .swap_dims(1, 2)
        .reshape([b, n, ho, wo])
}

/// Conv weight `[Cout, Cin, k, k]` as `[K, N]`.
pub fn conv_weight_kxn(w: Tensor<4>) -> Tensor<2> {
    let [cout, cin, kh, kw] = w.dims();
    w.reshape([cout, cin * kh * kw]).transpose()
}

/// The hooks that run converted layers as LUT layers and every other layer densely.
pub struct LutHooks<'a> {
    pub cfg: &'a LutConfig,
    pub params: &'a LutParams,
    pub mode: Mode,
}

impl TrainHooks for LutHooks<'_> {
    fn linear(
        &self,
        site: &GemmSite,
        x: Tensor<2>,
        weight: Tensor<2>,
        bias: Option<Tensor<1>>,
    ) -> Tensor<2> {
        match self.cfg.index(site.name) {
            Some(i) => lut_linear(
                &self.cfg.layers[i],
                &self.params.layers[i],
                self.cfg.table,
                self.mode,
                x,
                weight,
                bias,
            ),
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
        let Some(i) = self.cfg.index(site.name) else {
            return dense_conv2d(geom, x, weight, bias);
        };
        let [b, _, h, w] = x.dims();
        let (ho, wo) = geom.output_hw(h, w);
        let rows = im2col(geom, x);
        let y = lut_linear(
            &self.cfg.layers[i],
            &self.params.layers[i],
            self.cfg.table,
            self.mode,
            rows,
            conv_weight_kxn(weight),
            bias,
        );
        rows_to_nchw(y, b, ho, wo)
    }
}

/// Hooks that compute every layer densely and record, for the named layers, the layer's input
/// rows (im2col'd for convs) as host vectors — calibration data for stages 1 and 2 when the
/// caller wants the trainable model's view rather than the deployed one's.
pub struct CaptureHooks<'a> {
    pub names: &'a [String],
    pub store: std::sync::Mutex<BTreeMap<String, Vec<f32>>>,
}

impl CaptureHooks<'_> {
    fn keep(&self, name: &str, x: &Tensor<2>) {
        if self.names.iter().any(|n| n == name) {
            let v = x
                .clone()
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .expect("f32");
            self.store
                .lock()
                .expect("capture lock")
                .entry(name.to_string())
                .or_default()
                .extend(v);
        }
    }
}

impl TrainHooks for CaptureHooks<'_> {
    fn linear(
        &self,
        site: &GemmSite,
        x: Tensor<2>,
        weight: Tensor<2>,
        bias: Option<Tensor<1>>,
    ) -> Tensor<2> {
        self.keep(site.name, &x);
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
        if self.names.iter().any(|n| n == site.name) {
            self.keep(site.name, &im2col(geom, x.clone()));
        }
        dense_conv2d(geom, x, weight, bias)
    }
}
