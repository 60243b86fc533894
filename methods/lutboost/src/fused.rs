//! The soft path's distances as one burn op with a hand-written backward ([`soft`] kernels),
//! through burn's backend-extension mechanism (the same route as `compbench_nn::fused`).
//!
//! A method crate can add ops this way without touching the harness: declare a
//! `#[backend_extension(Flex, Autodiff)]` trait, implement it for `Flex` (forward on buffers)
//! and for `Autodiff<Flex, C>` (forward plus a `Backward` step), and call it through a wrapper
//! that falls back to plain tensor ops on other devices.
//!
//! [`soft`]: crate::soft

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::tensor::{DType, Tensor};
use compbench_nn::fused::{flex_tensor, with_slice};

use crate::metric::VqMetric;
use crate::soft::{self, SoftShape};

/// Sub-vector distances as a backend extension. `metric` is [`VqMetric::ALL`]'s index.
#[backend_extension(Flex, Autodiff)]
pub trait SoftDistanceOps: Backend {
    /// Distances `[rows, nc, c]` of `x` `[rows, nc·v]`'s sub-vectors to `cent` `[nc, c, v]`.
    fn vq_distances(
        x: FloatTensor<Self>,
        cent: FloatTensor<Self>,
        metric: usize,
    ) -> FloatTensor<Self>;
}

/// [`crate::layer::distances`] computed by the fused kernels when `x` is an f32 tensor on the
/// flex device, by burn tensor ops otherwise.
pub fn vq_distances(metric: VqMetric, x: Tensor<2>, cent: Tensor<3>) -> Tensor<3> {
    if compbench_nn::fused::supported(&x) && cent.dtype() == DType::F32 {
        let code = VqMetric::ALL
            .iter()
            .position(|m| *m == metric)
            .expect("metric in ALL");
        Tensor::from_dispatch(<Dispatch as SoftDistanceOps>::vq_distances(
            x.into_dispatch(),
            cent.into_dispatch(),
            code,
        ))
    } else {
        crate::layer::distances(metric, x, cent)
    }
}

fn shape_of(x: &FlexTensor, cent: &FlexTensor) -> SoftShape {
    let (xd, cd) = (x.shape().to_vec(), cent.shape().to_vec());
    assert!(
        xd.len() == 2 && cd.len() == 3 && xd[1] == cd[0] * cd[2],
        "vq_distances: x {xd:?} and centroids {cd:?} do not match ([rows, nc·v], [nc, c, v])"
    );
    SoftShape {
        rows: xd[0],
        nc: cd[0],
        c: cd[1],
        v: cd[2],
    }
}

fn forward(x: &FlexTensor, cent: &FlexTensor, metric: VqMetric) -> FlexTensor {
    let sh = shape_of(x, cent);
    let d = with_slice(x, |x| with_slice(cent, |c| soft::forward(metric, x, c, sh)));
    flex_tensor(d, vec![sh.rows, sh.nc, sh.c])
}

impl SoftDistanceOps for Flex {
    fn vq_distances(x: FloatTensor<Self>, cent: FloatTensor<Self>, metric: usize) -> FlexTensor {
        forward(&x, &cent, VqMetric::ALL[metric])
    }
}

/// What the backward step needs: both inputs (shared buffers, not copies) and the metric.
#[derive(Debug, Clone)]
struct DistanceState {
    x: FlexTensor,
    cent: FlexTensor,
    metric: VqMetric,
}

#[derive(Debug)]
struct DistanceBackward;

impl Backward<Flex, 2> for DistanceBackward {
    type State = DistanceState;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let Ops {
            parents,
            node,
            state,
        } = ops;
        let g = grads.consume::<Flex>(&node);
        let [px, pc] = parents;
        if px.is_none() && pc.is_none() {
            return;
        }
        let sh = shape_of(&state.x, &state.cent);
        // Both gradients come from one pass over x, the centroids and g.
        let (gx, gc) = with_slice(&state.x, |x| {
            with_slice(&state.cent, |c| {
                with_slice(&g, |g| soft::backward(state.metric, x, c, g, sh))
            })
        });
        if let Some(n) = px {
            grads.register::<Flex>(n.id, flex_tensor(gx, vec![sh.rows, sh.k()]));
        }
        if let Some(n) = pc {
            grads.register::<Flex>(n.id, flex_tensor(gc, vec![sh.nc, sh.c, sh.v]));
        }
    }
}

impl<C: CheckpointStrategy> SoftDistanceOps for Autodiff<Flex, C> {
    fn vq_distances(
        x: FloatTensor<Self>,
        cent: FloatTensor<Self>,
        metric: usize,
    ) -> FloatTensor<Self> {
        match DistanceBackward
            .prepare::<C>([x.node(), cent.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let state = DistanceState {
                    x: x.primitive().clone(),
                    cent: cent.primitive().clone(),
                    metric: VqMetric::ALL[metric],
                };
                let d = forward(&state.x, &state.cent, state.metric);
                prep.finish(state, d)
            }
            OpsKind::UnTracked(prep) => prep.finish(forward(
                x.primitive(),
                cent.primitive(),
                VqMetric::ALL[metric],
            )),
        }
    }
}
