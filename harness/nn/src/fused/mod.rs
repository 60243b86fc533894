//! Fused CPU ops for training on burn-flex, with hand-written backward passes.
//!
//! burn-flex runs a few of the zoo's ops slowly under autodiff: 2×2 max-pool goes through a
//! generic 3-D pooling kernel, GELU and its backward are single-threaded scalar loops, and
//! softmax is decomposed into max/sub/exp/sum/div ops, each with its own backward. This module
//! replaces them by one forward and one backward kernel each ([`kernels`]), plugged into burn
//! through its backend-extension mechanism:
//!
//! * [`FusedOps`] is a `#[backend_extension(Flex, Autodiff)]` trait: burn generates its
//!   implementation for `Dispatch`, which routes a tensor to the `Flex` impl (plain forward) or
//!   to the `Autodiff<Flex, C>` impl (forward + a custom [`Backward`] step);
//! * [`max_pool2x2`], [`gelu`] and [`softmax_last`] are the safe `Tensor<D>` wrappers the zoo
//!   calls. A tensor that is not `f32` on the flex device goes to burn's own op instead, so the
//!   device stays a runtime choice.
//!
//! Forward values: max-pool and GELU are bit-identical to burn-flex's ops (same comparisons; the
//! same libm `erff` expression, with `erff` itself reimplemented branch-free in [`erf`]).
//! Softmax subtracts the row max and exponentiates in f32 as burn does, but sums in f64 and
//! rounds each quotient once: within ~1 ulp of the exact softmax, and ≤ 1e-6 relative from
//! burn-flex's softmaxes and the deployed kernel, whose f32 running sums drift by up to ~10 ulp
//! over a 49-token row. Backward: max-pool routes each gradient to its window's argmax (first
//! maximum in row-major window order on ties, last NaN wins: burn's rule), bit-identical to
//! burn's; GELU's gradient is `g·(Φ(x) + x·φ(x))` with burn-flex's expression, the derivative
//! being computed during the forward pass (one `erff` per element in total instead of two),
//! bit-identical to burn's; softmax's is `y ⊙ (g − Σ g⊙y)`, accumulated in f64 (about 10× closer
//! to the exact gradient than burn's decomposition, and within 1e-6 of it).

pub mod erf;
pub mod exp;
pub mod kernels;

use std::sync::Arc;

use burn::backend::TensorMetadata;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, DispatchDevice, Flex, backend_extension};
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{DType, Tensor, TensorData};

/// The fused ops as a burn backend extension (implemented for `Flex` and `Autodiff<Flex, C>`;
/// burn generates the `Dispatch` routing). Call them through the `Tensor` wrappers below, which
/// check the backend and dtype first: the generated routing panics on an unlisted backend.
#[backend_extension(Flex, Autodiff)]
pub trait FusedOps: Backend {
    /// 2×2 max pool with stride 2 of a `[B, C, H, W]` tensor (odd H/W: last row/column dropped).
    fn max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// Exact GELU `0.5·x·(1 + erf(x/√2))`, element-wise.
    fn gelu_erf(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// Softmax over the last dimension.
    fn softmax_last(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// True if the fused ops can run on `x`: an `f32` tensor on the flex device (with or without
/// autodiff).
pub fn supported<const D: usize>(x: &Tensor<D>) -> bool {
    x.dtype() == DType::F32
        && matches!(
            x.device().as_dispatch().clone().inner(),
            DispatchDevice::Flex(_)
        )
}

/// 2×2 max pool, stride 2, no padding: burn's `max_pool2d(x, MaxPoolOptions::new([2, 2]))`.
pub fn max_pool2x2(x: Tensor<4>) -> Tensor<4> {
    if supported(&x) {
        Tensor::from_dispatch(<Dispatch as FusedOps>::max_pool2x2(x.into_dispatch()))
    } else {
        max_pool2d(x, MaxPoolOptions::new([2, 2]))
    }
}

/// Exact (erf) GELU: burn's `activation::gelu`.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if supported(&x) {
        Tensor::from_dispatch(<Dispatch as FusedOps>::gelu_erf(x.into_dispatch()))
    } else {
        burn::tensor::activation::gelu(x)
    }
}

/// Softmax over the last dimension: burn's `activation::softmax(x, D - 1)`.
pub fn softmax_last<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if supported(&x) {
        Tensor::from_dispatch(<Dispatch as FusedOps>::softmax_last(x.into_dispatch()))
    } else {
        burn::tensor::activation::softmax(x, D - 1)
    }
}

// ---------------------------------------------------------------------------------------------
// Flex: buffers in and out
// ---------------------------------------------------------------------------------------------

/// Run `f` on `t`'s elements as one contiguous `f32` slice (copying only if `t` is a strided
/// view).
pub fn with_slice<R>(t: &FlexTensor, f: impl FnOnce(&[f32]) -> R) -> R {
    assert_eq!(t.dtype(), DType::F32, "fused ops: f32 only");
    match t.as_slice::<f32>() {
        Some(s) => f(s),
        None => f(t.to_contiguous().as_slice::<f32>().expect("contiguous")),
    }
}

/// A flex tensor owning `data` with shape `dims`.
pub fn flex_tensor(data: Vec<f32>, dims: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(data, dims))
}

/// `[planes, h, w]` of a `[B, C, H, W]` shape.
fn pool_dims(dims: &[usize]) -> (usize, usize, usize) {
    assert_eq!(
        dims.len(),
        4,
        "max_pool2x2 expects [B, C, H, W], got {dims:?}"
    );
    (dims[0] * dims[1], dims[2], dims[3])
}

/// Forward max pool; with `keep_arg`, also each output's window position.
fn pool_forward(x: &FlexTensor, keep_arg: bool) -> (FlexTensor, Option<Vec<u8>>) {
    let dims = x.shape().to_vec();
    let (planes, h, w) = pool_dims(&dims);
    let n_out = planes * (h / 2) * (w / 2);
    let mut y = vec![0.0f32; n_out];
    let mut arg = keep_arg.then(|| vec![0u8; n_out]);
    with_slice(x, |x| {
        kernels::max_pool2x2_forward(x, planes, h, w, &mut y, arg.as_deref_mut())
    });
    let out_dims = vec![dims[0], dims[1], h / 2, w / 2];
    (flex_tensor(y, out_dims), arg)
}

fn gelu_forward(x: &FlexTensor) -> FlexTensor {
    let dims = x.shape().to_vec();
    let mut y = vec![0.0f32; dims.iter().product()];
    with_slice(x, |x| kernels::gelu_forward(x, &mut y));
    flex_tensor(y, dims)
}

fn last_dim(dims: &[usize]) -> usize {
    *dims.last().expect("softmax_last: scalar tensor")
}

fn softmax_forward(x: &FlexTensor) -> FlexTensor {
    let dims = x.shape().to_vec();
    let mut y = vec![0.0f32; dims.iter().product()];
    with_slice(x, |x| kernels::softmax_forward(x, last_dim(&dims), &mut y));
    flex_tensor(y, dims)
}

impl FusedOps for Flex {
    fn max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        pool_forward(&x, false).0
    }

    fn gelu_erf(x: FloatTensor<Self>) -> FloatTensor<Self> {
        gelu_forward(&x)
    }

    fn softmax_last(x: FloatTensor<Self>) -> FloatTensor<Self> {
        softmax_forward(&x)
    }
}

// ---------------------------------------------------------------------------------------------
// Autodiff<Flex>: custom backward steps
// ---------------------------------------------------------------------------------------------

/// What max-pool's backward needs: the input dims and each output's window position.
#[derive(Clone)]
struct PoolState {
    dims: [usize; 4],
    arg: Arc<Vec<u8>>,
}

impl std::fmt::Debug for PoolState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PoolState {{ dims: {:?} }}", self.dims)
    }
}

#[derive(Debug)]
struct MaxPool2x2Backward;

impl Backward<Flex, 1> for MaxPool2x2Backward {
    type State = PoolState;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let Ops {
            parents,
            node,
            state,
        } = ops;
        unary::<Flex, _>(parents, node, grads, |g| {
            let (planes, h, w) = pool_dims(&state.dims);
            let mut dx = vec![0.0f32; planes * h * w];
            with_slice(&g, |g| {
                kernels::max_pool2x2_backward(g, &state.arg, planes, h, w, &mut dx)
            });
            flex_tensor(dx, state.dims.to_vec())
        });
    }
}

/// GELU's backward multiplies by the derivative saved in the forward pass.
#[derive(Debug)]
struct GeluBackward;

impl Backward<Flex, 1> for GeluBackward {
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let Ops {
            parents,
            node,
            state: derivative,
        } = ops;
        unary::<Flex, _>(parents, node, grads, |g| {
            let dims = derivative.shape().to_vec();
            let mut dx = vec![0.0f32; dims.iter().product()];
            with_slice(&g, |g| {
                with_slice(&derivative, |d| kernels::mul(g, d, &mut dx))
            });
            flex_tensor(dx, dims)
        });
    }
}

/// Softmax's backward from the saved output.
#[derive(Debug)]
struct SoftmaxBackward;

impl Backward<Flex, 1> for SoftmaxBackward {
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let Ops {
            parents,
            node,
            state: output,
        } = ops;
        unary::<Flex, _>(parents, node, grads, |g| {
            let dims = output.shape().to_vec();
            let mut dx = vec![0.0f32; dims.iter().product()];
            with_slice(&g, |g| {
                with_slice(&output, |y| {
                    kernels::softmax_backward(y, g, last_dim(&dims), &mut dx)
                })
            });
            flex_tensor(dx, dims)
        });
    }
}

// The backward steps keep their own state (no checkpointed node outputs), so the ops are
// registered as compute-bound: a checkpointing strategy never recomputes them.
impl<C: CheckpointStrategy> FusedOps for Autodiff<Flex, C> {
    fn max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match MaxPool2x2Backward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (y, arg) = pool_forward(x.primitive(), true);
                let d = x.primitive().shape().to_vec();
                let state = PoolState {
                    dims: [d[0], d[1], d[2], d[3]],
                    arg: Arc::new(arg.expect("argmax kept")),
                };
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(pool_forward(x.primitive(), false).0),
        }
    }

    fn gelu_erf(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match GeluBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let dims = x.primitive().shape().to_vec();
                let n = dims.iter().product();
                let (mut y, mut d) = (vec![0.0f32; n], vec![0.0f32; n]);
                with_slice(x.primitive(), |x| {
                    kernels::gelu_forward_with_derivative(x, &mut y, &mut d)
                });
                prep.finish(flex_tensor(d, dims.clone()), flex_tensor(y, dims))
            }
            OpsKind::UnTracked(prep) => prep.finish(gelu_forward(x.primitive())),
        }
    }

    fn softmax_last(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match SoftmaxBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = softmax_forward(x.primitive());
                prep.finish(y.clone(), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(softmax_forward(x.primitive())),
        }
    }
}
