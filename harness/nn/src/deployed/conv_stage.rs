//! A convolution with the non-linear op and 2×2 max-pool that follow it, run a chunk of images
//! at a time: `conv → relu → pool` as one pass instead of three.
//!
//! Why: node by node, the CNN's conv1 writes its whole batch output (256 images × 28×28 × 16
//! channels, 12.8 MB) to memory, ReLU reads and writes it again, and the pool reads it a third
//! time. Those passes cost as much as conv2's GEMM, in the dense model and in every compressed
//! one (they all keep conv1 in float), which hid the compressed layers' gains end to end. Here
//! each chunk's convolution output stays in a per-thread buffer that fits in cache, the
//! non-linear op runs on it there, and only the pooled quarter is written out.
//!
//! A convolution with nothing to fuse runs here too, chunk by chunk: materializing the whole
//! batch's im2col columns (29 MB for 256 images at conv2) cost more in page faults and cache
//! misses than the GEMM itself. Chunks run in parallel, each thread through its own buffers:
//! one parallel region per layer, not one per step (im2col, GEMM, ReLU, pool), whose joins left
//! a thread idle whenever the other lagged. A kernel with its own convolution path
//! ([`GemmKernel::conv_nhwc`](super::GemmKernel::conv_nhwc): the dense GEMM's and LUT-GEMM's
//! encoder read the image directly) runs it on each chunk instead of im2col + GEMM.
//!
//! The values are bit for bit those of the nodes run one by one: a chunk is whole images, a
//! [`GemmKernel`](super::GemmKernel)'s rows are independent (its `forward` contract, which the
//! conv already relies on), a [`NonlinearKernel`](super::NonlinearKernel) treats rows
//! independently (as `NonlinearNode::run` already relies on when it splits rows across
//! threads), and the pool is the same function per image. Tested in tests/deployed_fused.rs.

use rayon::prelude::*;

use super::buffers;
use super::nodes::{self, Act, ConvNode, Layout, Node, NonlinearNode};
use crate::kernels::im2col_nhwc;

/// Convolution output values per chunk (512 KB): small enough to stay in a core's cache
/// between the GEMM, the non-linear op and the pool, and still several images at the CNN's
/// shapes (conv1: 10 images of 784 rows × 16 channels).
const CHUNK_OUT_VALUES: usize = 128 * 1024;

/// A convolution and the nodes fused into it.
pub(super) struct ConvStage<'a> {
    conv: &'a ConvNode,
    act: Option<&'a NonlinearNode>,
    pool: bool,
}

impl<'a> ConvStage<'a> {
    /// The convolution alone, a chunk of images at a time.
    pub(super) fn conv_only(conv: &'a ConvNode) -> ConvStage<'a> {
        ConvStage {
            conv,
            act: None,
            pool: false,
        }
    }

    /// The stage starting at `nodes[0]` when it is a convolution followed by a non-linear op,
    /// a 2×2 max-pool, or both (in that order), with how many nodes it covers; `None` when
    /// fusing would change nothing (no convolution, or nothing after it to fuse).
    pub(super) fn at(nodes: &'a [Node]) -> Option<(ConvStage<'a>, usize)> {
        let Some(Node::Conv(conv)) = nodes.first() else {
            return None;
        };
        let mut len = 1;
        let act = match nodes.get(len) {
            Some(Node::Nonlinear(n)) => {
                len += 1;
                Some(n)
            }
            _ => None,
        };
        let pool = matches!(nodes.get(len), Some(Node::MaxPool2 { .. }));
        if pool {
            len += 1;
        }
        (len > 1).then_some((ConvStage { conv, act, pool }, len))
    }

    /// Run the stage on `act` (NHWC): what running its nodes one by one gives.
    pub(super) fn run(&self, act: Act) -> Act {
        let Layout::Nhwc { h, w, c: cin } = act.layout else {
            panic!(
                "`{}` needs an NHWC input, got {:?}",
                self.conv.gemm.name, act.layout
            )
        };
        let g = &self.conv.geom;
        assert_eq!(
            cin, g.in_channels,
            "`{}`: input channels",
            self.conv.gemm.name
        );
        let kernel = &*self.conv.gemm.kernel;
        let (batch, n, k) = (act.batch, kernel.n(), g.k());
        let (ho, wo) = g.output_hw(h, w);
        let rows_img = ho * wo;
        let (oh, ow) = if self.pool {
            (ho / 2, wo / 2)
        } else {
            (ho, wo)
        };
        let (per_in, per_out) = (h * w * cin, oh * ow * n);
        let imgs = (CHUNK_OUT_VALUES / (rows_img * n.max(k)).max(1)).clamp(1, batch.max(1));
        // Fully overwritten: the chunks cover it.
        let mut out = buffers::take(batch * per_out);
        out.par_chunks_mut(imgs * per_out)
            .zip(act.data.par_chunks(imgs * per_in))
            .for_each_init(
                || (Vec::new(), Vec::new()),
                |(conv_out, cols): &mut (Vec<f32>, Vec<f32>), (os, xs)| {
                    let nimg = xs.len() / per_in;
                    let m = nimg * rows_img;
                    conv_out.resize(m * n, 0.0);
                    if !kernel.conv_nhwc(xs, nimg, h, w, g, conv_out) {
                        cols.resize(m * k, 0.0);
                        im2col_nhwc(xs, nimg, h, w, g, cols);
                        kernel.forward(cols, m, conv_out);
                    }
                    if let Some(a) = self.act {
                        a.kernel.forward(conv_out, m, n);
                    }
                    if self.pool {
                        for (o, img) in os
                            .chunks_exact_mut(per_out)
                            .zip(conv_out.chunks_exact(rows_img * n))
                        {
                            nodes::max_pool2_image(img, ho, wo, n, o);
                        }
                    } else {
                        os.copy_from_slice(conv_out);
                    }
                },
            );
        buffers::give(act.data);
        Act {
            data: out,
            batch,
            layout: Layout::Nhwc { h: oh, w: ow, c: n },
        }
    }
}
