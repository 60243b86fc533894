//! Fine-tuning with the approximations in the training forward pass ([`ApproxHooks`]).
//!
//! The forward value of every replaced op is the deployed kernel's output, bit for bit (it is
//! computed by the kernel on the host). The backward pass depends on the form:
//! * element-wise polynomials and x²: the same polynomial in burn tensors, so gradients are the
//!   polynomial's own (checked by finite differences);
//! * element-wise PWL: `x·slope + intercept` with the cell's slope and intercept as constants,
//!   so the gradient is the segment's slope, the exact derivative away from cut points
//!   (finite-difference checked);
//! * Softermax: the gradient of base-2 softmax, `softmax(x·ln 2)`, whose value differs from
//!   the deployed 2^x by its fraction polynomial only (≤ 0.27 % relative);
//! * I-BERT integer ops and composed softmax/LayerNorm approximations: straight-through — the
//!   exact op's gradient, as I-BERT fine-tunes through its `floor_ste`/`round_ste`.
//!
//! All forms are `deployed + (g − g.detach())` with `g` the differentiable surrogate, so the
//! value is the deployed output exactly and the gradient is g's.

use std::collections::BTreeMap;
use std::sync::Arc;

use burn::tensor::{Tensor, TensorData};
use compbench_nn::NonlinearSite;
use compbench_nn::hooks::{TrainHooks, exact_nonlinear};

use crate::curve::Curve;
use crate::fit::GRID_CELLS;
use crate::kernel::{ApproxKernel, Body};

/// Training hooks that run the approximate kernels of the named ops.
#[derive(Debug, Clone, Default)]
pub struct ApproxHooks {
    pub kernels: BTreeMap<String, Arc<ApproxKernel>>,
}

impl TrainHooks for ApproxHooks {
    fn nonlinear(&self, site: &NonlinearSite, x: Tensor<2>) -> Tensor<2> {
        match self.kernels.get(site.name) {
            Some(k) => train_forward(k, x),
            None => exact_nonlinear(site.kind, x),
        }
    }
}

fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 tensor")
}

/// The kernel's output on `x` as a constant tensor.
fn deployed(k: &ApproxKernel, x: &Tensor<2>) -> Tensor<2> {
    let [rows, cols] = x.dims();
    let mut v = host(x.clone().detach());
    k.run(&mut v, rows, cols, true);
    Tensor::from_data(TensorData::new(v, [rows, cols]), &x.device())
}

/// The kernel's forward value with its training gradient (see the module docs).
pub fn train_forward(k: &ApproxKernel, x: Tensor<2>) -> Tensor<2> {
    let surrogate = match &k.body {
        Body::Exact => return exact_nonlinear(k.kind, x),
        Body::Elementwise(Curve::Square) => x.clone() * x.clone(),
        Body::Elementwise(Curve::Poly(p)) => {
            let t = x.clone().sub_scalar(p.center).mul_scalar(p.inv_half);
            let d = p.coef.len() - 1;
            let mut y = t.clone().mul_scalar(p.coef[d]).add_scalar(p.coef[d - 1]);
            for kk in (0..d - 1).rev() {
                y = (y * t.clone()).add_scalar(p.coef[kk]);
            }
            y
        }
        Body::Elementwise(Curve::Pwl(t)) => {
            let [rows, cols] = x.dims();
            let v = host(x.clone().detach());
            let (mut s, mut b) = (Vec::with_capacity(v.len()), Vec::with_capacity(v.len()));
            for &xv in &v {
                let c = ((xv - t.lo) * t.scale)
                    .max(0.0)
                    .min((GRID_CELLS - 1) as f32) as usize;
                s.push(t.slope[c]);
                b.push(t.icpt[c]);
            }
            let dev = x.device();
            let s = Tensor::<2>::from_data(TensorData::new(s, [rows, cols]), &dev);
            let b = Tensor::<2>::from_data(TensorData::new(b, [rows, cols]), &dev);
            x.clone() * s + b
        }
        Body::Softermax => {
            burn::tensor::activation::softmax(x.clone().mul_scalar(std::f32::consts::LN_2), 1)
        }
        _ => exact_nonlinear(k.kind, x.clone()),
    };
    deployed(k, &x) + (surrogate.clone() - surrogate.detach())
}
