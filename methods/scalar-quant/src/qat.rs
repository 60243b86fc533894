//! Quantization-aware training through [`TrainHooks`]: fake-quantized weights and GEMM inputs,
//! with straight-through estimators, trained jointly with the model as a tuple module
//! `(Network, Learned)`.
//!
//! Every fake-quant op is written `q.detach() + (x − x.detach())`: the forward value is exactly
//! `q` (x − x = 0 in floats), so the hard forward computes the same codes as the deployed
//! integer kernel, and the gradient is the identity through `x` (the STE). Clipping is applied
//! *before* that, so `∂x̂/∂x = 1` inside the range and 0 outside (Krishnamoorthi 2018).
//!
//! * STE QAT: per-channel symmetric weight grid recomputed from the weights each step; the
//!   activation grid fixed from PTQ calibration.
//! * LSQ (Esser et al., ICLR 2020): `v̂ = round(clip(v/s, −Q_N, Q_P))·s` with the step `s`
//!   learned; its gradient is scaled by `g = 1/√(N·Q_P)` (N = weights per channel, or input
//!   features per image for activations) with the `s·g − (s·g).detach() + s.detach()` trick,
//!   which keeps the forward value exactly `s`.
//! * PACT (Choi et al., 2018): activation clip `y = 0.5(|x| − |x − α| + α)` with α learned
//!   (∂y/∂α = 1 for x ≥ α) under an L2 penalty, then uniform quantization of `[0, α]` by STE.
//!   Weights as in STE QAT (the paper uses DoReFa weights).
//! * Binary (XNOR-Net, Rastegari 2016): `α·sign(W)`, α = mean|W| per output channel. Ternary
//!   (TWN, Li & Liu 2016): Δ = 0.7·mean|W|, α = mean of |W| above Δ. Binary activations:
//!   `μ + β·sign(x − μ)` (see `deployed`), with the STE.

use std::collections::BTreeMap;

use burn::module::{Module, Param};
use burn::tensor::module::unfold4d;
use burn::tensor::ops::UnfoldOptions;
use burn::tensor::{Device, Tensor, TensorData};
use compbench_nn::hooks::{ConvGeom, GemmSite, TrainHooks, dense_conv2d, dense_linear};

use crate::quantizer::QParams;

/// How a layer's weights are fake-quantized.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WeightQ {
    Float,
    /// Symmetric grid `[−qmax, qmax]`, scale `max|w|/qmax` per channel (or per tensor), STE.
    MinMax {
        qmax: i32,
        per_channel: bool,
    },
    /// LSQ step `Learned::w[idx]` (N values or 1), grid `[−qn, qp]`, gradient scale `g`.
    Lsq {
        idx: usize,
        qn: i32,
        qp: i32,
        g: f32,
    },
    Binary,
    Ternary,
}

/// How a layer's input activations are fake-quantized.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ActQ {
    Float,
    /// A fixed grid (from calibration), STE with clipping.
    Fixed(QParams),
    /// LSQ step `Learned::a[idx]`, grid `[−qn, qp]`.
    Lsq {
        idx: usize,
        qn: i32,
        qp: i32,
        g: f32,
    },
    /// PACT clip `Learned::a[idx]`; `levels` = qmax of the grid; signed clips `[−α, α]`.
    Pact {
        idx: usize,
        levels: i32,
        signed: bool,
    },
    /// `μ + β·sign(x − μ)`.
    Sign {
        mu: f32,
        beta: f32,
    },
}

/// Per-layer plan, by GEMM layer name (absent layers stay float).
#[derive(Debug, Clone, Default)]
pub struct QatPlan {
    pub layers: BTreeMap<String, (WeightQ, ActQ)>,
}

/// The learned quantizer parameters (LSQ steps, PACT clips), trained next to the model.
#[derive(Module, Debug)]
pub struct Learned {
    pub w: Vec<Param<Tensor<1>>>,
    pub a: Vec<Param<Tensor<1>>>,
}

impl Learned {
    pub fn new(w: Vec<Vec<f32>>, a: Vec<f32>, device: &Device) -> Learned {
        let p = |v: Vec<f32>| {
            let n = v.len();
            Param::from_data(TensorData::new(v, [n]), device)
        };
        Learned {
            w: w.into_iter().map(p).collect(),
            a: a.into_iter().map(|x| p(vec![x])).collect(),
        }
    }

    /// Current values of step/clip `i` of the weights (`w`) or activations (`a`).
    pub fn w_values(&self, i: usize) -> Vec<f32> {
        values(self.w[i].val())
    }

    pub fn a_value(&self, i: usize) -> f32 {
        values(self.a[i].val())[0]
    }
}

pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 tensor")
}

/// The hooks of one forward pass.
pub struct QatHooks<'a> {
    pub plan: &'a QatPlan,
    pub learned: &'a Learned,
}

/// `q` forward, identity gradient into `x`.
pub fn ste<const D: usize>(x: Tensor<D>, q: Tensor<D>) -> Tensor<D> {
    q.detach() + (x.clone() - x.detach())
}

/// Forward value exactly `s`, gradient scaled by `g` (LSQ's `grad_scale`).
pub fn grad_scale<const D: usize>(s: Tensor<D>, g: f32) -> Tensor<D> {
    let sg = s.clone().mul_scalar(g);
    s.detach() + (sg.clone() - sg.detach())
}

/// `round(x)` forward, identity gradient (LSQ's `round_pass`).
pub fn round_pass<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let r = x.clone().round();
    ste(x, r)
}

/// LSQ fake quantization of `v` with step `s` (broadcastable), grid `[−qn, qp]`.
pub fn lsq<const D: usize>(v: Tensor<D>, s: Tensor<D>, qn: i32, qp: i32, g: f32) -> Tensor<D> {
    let s = grad_scale(s, g);
    round_pass((v / s.clone()).clamp(-qn as f32, qp as f32)) * s
}

/// Fake quantization on a fixed grid: clip (gradient 0 outside), round by STE.
pub fn fixed<const D: usize>(x: Tensor<D>, g: &QParams) -> Tensor<D> {
    let lo = (g.qmin - g.zero_point) as f32;
    let hi = (g.qmax - g.zero_point) as f32;
    round_pass(x.div_scalar(g.scale).clamp(lo, hi)).mul_scalar(g.scale)
}

/// PACT: clip to `[0, α]` (or `[−α, α]`) by the differentiable formula, quantize to `levels`
/// steps of `α/levels` by STE.
pub fn pact<const D: usize>(
    x: Tensor<D>,
    alpha: Tensor<1>,
    levels: i32,
    signed: bool,
) -> Tensor<D> {
    let a = alpha.reshape([1; D]);
    let y = if signed {
        ((x.clone() + a.clone()).abs() - (x - a.clone()).abs()).mul_scalar(0.5)
    } else {
        (x.clone().abs() - (x - a.clone()).abs() + a.clone()).mul_scalar(0.5)
    };
    let s = a.detach().div_scalar(levels as f32);
    let q = (y.clone() / s.clone()).round() * s;
    ste(y, q)
}

/// `μ + β·sign(x − μ)` by STE (sign(0) = +1, as the packed kernel's `x ≥ μ`).
pub fn sign_act<const D: usize>(x: Tensor<D>, mu: f32, beta: f32) -> Tensor<D> {
    let q = x
        .clone()
        .greater_equal_elem(mu)
        .float()
        .mul_scalar(2.0 * beta)
        .add_scalar(mu - beta);
    ste(x, q)
}

/// Weights in channel-major 2-D form `[N, K]` → fake-quantized, same shape.
pub fn fake_weights(wc: Tensor<2>, q: &WeightQ, learned: &Learned) -> Tensor<2> {
    match *q {
        WeightQ::Float => wc,
        WeightQ::MinMax { qmax, per_channel } => {
            let m = if per_channel {
                wc.clone().abs().max_dim(1)
            } else {
                wc.clone().abs().max().reshape([1, 1])
            };
            let s = m.detach().div_scalar(qmax as f32);
            // An all-zero channel keeps scale 1 (as `QParams::from_range`), not 0/0.
            let s = s.clone().mask_fill(s.equal_elem(0.0), 1.0);
            round_pass((wc / s.clone()).clamp(-qmax as f32, qmax as f32)) * s
        }
        WeightQ::Lsq { idx, qn, qp, g } => {
            let s = learned.w[idx].val();
            let n = s.dims()[0];
            lsq(wc, s.reshape([n, 1]), qn, qp, g)
        }
        WeightQ::Binary => {
            let alpha = wc.clone().abs().mean_dim(1).detach();
            let q = wc
                .clone()
                .greater_equal_elem(0.0)
                .float()
                .mul_scalar(2.0)
                .sub_scalar(1.0)
                * alpha;
            ste(wc, q)
        }
        WeightQ::Ternary => {
            let abs = wc.clone().abs();
            let delta = abs.clone().mean_dim(1).mul_scalar(0.7);
            let mask = abs.clone().greater(delta).float();
            let count = mask.clone().sum_dim(1).clamp_min(1.0);
            let alpha = (abs * mask.clone()).sum_dim(1) / count;
            let sign = wc
                .clone()
                .greater_equal_elem(0.0)
                .float()
                .mul_scalar(2.0)
                .sub_scalar(1.0);
            let q = sign * mask * alpha;
            ste(wc, q.detach())
        }
    }
}

/// Fake-quantized activations (element-wise; for `Sign` on a conv use the im2col path).
pub fn fake_acts<const D: usize>(x: Tensor<D>, q: &ActQ, learned: &Learned) -> Tensor<D> {
    match *q {
        ActQ::Float => x,
        ActQ::Fixed(g) => fixed(x, &g),
        ActQ::Lsq { idx, qn, qp, g } => lsq(x, learned.a[idx].val().reshape([1; D]), qn, qp, g),
        ActQ::Pact {
            idx,
            levels,
            signed,
        } => pact(x, learned.a[idx].val(), levels, signed),
        ActQ::Sign { mu, beta } => sign_act(x, mu, beta),
    }
}

impl TrainHooks for QatHooks<'_> {
    fn linear(
        &self,
        site: &GemmSite,
        x: Tensor<2>,
        weight: Tensor<2>,
        bias: Option<Tensor<1>>,
    ) -> Tensor<2> {
        let Some((wq, aq)) = self.plan.layers.get(site.name) else {
            return dense_linear(x, weight, bias);
        };
        let w = fake_weights(weight.transpose(), wq, self.learned).transpose();
        dense_linear(fake_acts(x, aq, self.learned), w, bias)
    }

    fn conv2d(
        &self,
        site: &GemmSite,
        geom: &ConvGeom,
        x: Tensor<4>,
        weight: Tensor<4>,
        bias: Option<Tensor<1>>,
    ) -> Tensor<4> {
        let Some((wq, aq)) = self.plan.layers.get(site.name) else {
            return dense_conv2d(geom, x, weight, bias);
        };
        let [cout, cin, kh, kw] = weight.dims();
        let wc = fake_weights(weight.reshape([cout, cin * kh * kw]), wq, self.learned);
        if let ActQ::Sign { .. } = aq {
            // The deployed kernel binarizes im2col rows, zero padding included (0 ↦ μ − β), so
            // the trainable layer does the same: unfold, binarize, multiply.
            let [b, _, h, w] = x.dims();
            let (ho, wo) = geom.output_hw(h, w);
            let opts = UnfoldOptions::new(
                [geom.stride, geom.stride],
                [geom.padding, geom.padding],
                [1, 1],
            );
            let cols = unfold4d(x, [kh, kw], opts); // [b, K, L]
            let cols = fake_acts(cols, aq, self.learned);
            let y = wc
                .unsqueeze::<3>()
                .expand([b, cout, cin * kh * kw])
                .matmul(cols); // [b, cout, L]
            let y = match bias {
                Some(bb) => y + bb.reshape([1, cout, 1]),
                None => y,
            };
            return y.reshape([b, cout, ho, wo]);
        }
        let w4 = wc.reshape([cout, cin, kh, kw]);
        dense_conv2d(geom, fake_acts(x, aq, self.learned), w4, bias)
    }
}
