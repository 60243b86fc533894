//! The node kinds of a deployed graph and how each runs.
//!
//! Activations flow as an [`Act`]: a flat buffer plus its per-image layout. Between
//! convolutions the layout is NHWC (the im2col GEMM's natural output, `[b·h·w, c]`); after
//! [`Node::Flatten`] or a patch embedding it is rows of features (`[b·rows, cols]`).
//! A non-linear node always sees `[rows, cols]` with `cols` the innermost dimension (channels
//! or features), so row-wise ops (softmax, LayerNorm) normalize over the right axis.

use compbench_core::{Layer, NonlinearOp, NumFormat, Workload};
use rayon::prelude::*;

use super::conv_stage::ConvStage;
use super::{GemmKernel, NonlinearKernel, buffers};
use crate::hooks::ConvGeom;
use crate::kernels::{im2col_nhwc, multi_head_attention};

/// Per-image layout of an activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `[h, w, c]`.
    Nhwc { h: usize, w: usize, c: usize },
    /// `[rows, cols]`.
    Rows { rows: usize, cols: usize },
}

impl Layout {
    pub fn per_image(&self) -> usize {
        match *self {
            Layout::Nhwc { h, w, c } => h * w * c,
            Layout::Rows { rows, cols } => rows * cols,
        }
    }

    /// `(rows per image, cols)` when viewed as a matrix with the innermost dim as columns.
    pub fn matrix(&self) -> (usize, usize) {
        match *self {
            Layout::Nhwc { h, w, c } => (h * w, c),
            Layout::Rows { rows, cols } => (rows, cols),
        }
    }
}

/// An activation: `batch` images of `layout`.
#[derive(Debug, Clone)]
pub struct Act {
    pub data: Vec<f32>,
    pub batch: usize,
    pub layout: Layout,
}

/// Sees every GEMM's input: `(name, rows × k values, rows, k)`.
pub type GemmObserver<'a> = &'a mut dyn FnMut(&str, &[f32], usize, usize);

/// A named GEMM kernel.
pub struct GemmNode {
    pub name: String,
    pub kernel: Box<dyn GemmKernel>,
}

impl GemmNode {
    pub fn new(name: impl Into<String>, kernel: Box<dyn GemmKernel>) -> GemmNode {
        GemmNode {
            name: name.into(),
            kernel,
        }
    }

    /// `x` is `rows × k`.
    fn run(&self, x: &[f32], rows: usize, obs: &mut Option<GemmObserver>) -> Vec<f32> {
        let k = self.kernel.k();
        assert_eq!(
            x.len(),
            rows * k,
            "`{}`: input is not rows × K = {rows}×{k}",
            self.name
        );
        if let Some(o) = obs {
            o(&self.name, x, rows, k);
        }
        let mut out = buffers::take(rows * self.kernel.n());
        self.kernel.forward(x, rows, &mut out);
        out
    }

    fn ir(&self, rows: u64) -> Layer {
        Layer::gemm(self.name.clone(), self.kernel.gemm_ir(rows))
    }
}

/// A named non-linear kernel.
pub struct NonlinearNode {
    pub name: String,
    pub kernel: Box<dyn NonlinearKernel>,
}

impl NonlinearNode {
    pub fn new(name: impl Into<String>, kernel: Box<dyn NonlinearKernel>) -> NonlinearNode {
        NonlinearNode {
            name: name.into(),
            kernel,
        }
    }

    fn run(&self, x: &mut [f32], rows: usize, cols: usize) {
        // Large element-wise/row-wise work is split by rows across the pool.
        const CHUNK_ROWS: usize = 1024;
        if rows > CHUNK_ROWS && rayon::current_num_threads() > 1 {
            x.par_chunks_mut(CHUNK_ROWS * cols)
                .for_each(|c| self.kernel.forward(c, c.len() / cols, cols));
        } else {
            self.kernel.forward(x, rows, cols);
        }
    }

    fn ir(&self, rows: u64, cols: u64) -> Layer {
        let kind = self.kernel.kind();
        let row_wise = matches!(
            kind,
            compbench_core::NonlinearKind::Softmax | compbench_core::NonlinearKind::LayerNorm
        );
        Layer::nonlinear(
            self.name.clone(),
            NonlinearOp {
                kind,
                elements: rows * cols,
                row: if row_wise { cols } else { 1 },
                implementation: self.kernel.implementation(),
                format: NumFormat::FP32,
            },
        )
    }
}

/// A convolution: im2col (`(cin, kh, kw)` columns) of an NHWC input, then a GEMM kernel.
pub struct ConvNode {
    pub gemm: GemmNode,
    pub geom: ConvGeom,
}

/// LayerNorm's affine part `γ·x + β` over the columns.
#[derive(Debug, Clone)]
pub struct Affine {
    pub name: String,
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
}

impl Affine {
    fn run(&self, x: &mut [f32]) {
        let n = self.gamma.len();
        for row in x.chunks_exact_mut(n) {
            for ((v, g), b) in row.iter_mut().zip(&self.gamma).zip(&self.beta) {
                *v = *v * g + b;
            }
        }
    }
}

/// ViT patch embedding: non-overlapping `patch × patch` patches (rows of `(cin, kh, kw)`),
/// a GEMM, plus learned positions `[tokens, d]`.
pub struct PatchEmbed {
    pub gemm: GemmNode,
    pub patch: usize,
    pub positions: Vec<f32>,
}

/// A pre-LN transformer block: `x += proj(attn(ln1(x)))`, `x += fc2(gelu(fc1(ln2(x))))`.
/// Its kernels are addressable as `{prefix}.qkv`, `{prefix}.softmax`, ...
pub struct TransformerBlock {
    pub prefix: String,
    pub heads: usize,
    pub ln1: NonlinearNode,
    pub ln1_affine: Affine,
    pub qkv: GemmNode,
    pub softmax: NonlinearNode,
    pub proj: GemmNode,
    pub ln2: NonlinearNode,
    pub ln2_affine: Affine,
    pub fc1: GemmNode,
    pub gelu: NonlinearNode,
    pub fc2: GemmNode,
}

/// A learned token put in front of every image's rows (DeiT's distillation token):
/// `[b·t, d]` → `[b·(t+1), d]`.
pub struct PrependToken {
    pub name: String,
    /// The token's `d` values, its position embedding already added.
    pub values: Vec<f32>,
}

/// The end of a ViT with a distillation token: row 0 of each image is the token, rows 1.. are
/// the patches. The patch mean and the token both go through the final LayerNorm (`ln`, then
/// `ln_affine`), the mean to `head`, the token to `dist_head`, and the output is the average
/// of the two heads' logits (DeiT's inference).
pub struct DistillHeads {
    pub ln: NonlinearNode,
    pub ln_affine: Affine,
    pub head: GemmNode,
    pub dist_head: GemmNode,
}

/// One step of a deployed graph.
pub enum Node {
    Gemm(GemmNode),
    Conv(ConvNode),
    Nonlinear(NonlinearNode),
    /// 2×2 max-pooling, stride 2, on NHWC (named for the Workload IR, e.g. `conv1.pool`).
    MaxPool2 {
        name: String,
    },
    /// NHWC → one row per image in `(c, h, w)` order (PyTorch/burn's flatten of NCHW).
    Flatten,
    PatchEmbed(PatchEmbed),
    Affine(Affine),
    TransformerBlock(Box<TransformerBlock>),
    /// Mean over each image's rows: `[b·rows, cols]` → `[b, cols]`.
    MeanPool,
    PrependToken(PrependToken),
    DistillHeads(Box<DistillHeads>),
}

impl Node {
    /// The name its output goes by (the layer names of the Workload IR; a transformer block
    /// by its prefix, `block0`), or `None` for a pure layout change (flatten, mean-pool).
    /// [`super::DeployedModel::outputs`] lists them.
    pub fn name(&self) -> Option<&str> {
        match self {
            Node::Gemm(g) => Some(&g.name),
            Node::Conv(c) => Some(&c.gemm.name),
            Node::Nonlinear(n) => Some(&n.name),
            Node::MaxPool2 { name } => Some(name),
            Node::PatchEmbed(p) => Some(&p.gemm.name),
            Node::Affine(a) => Some(&a.name),
            Node::TransformerBlock(b) => Some(&b.prefix),
            // Listed one by one, not `_`: a new node kind must say whether its output is named.
            // The distillation token's nodes are unnamed: prepending a row changes the layout
            // only, and the two heads' average is no layer of the trainable model
            // (`Network::forward_to` taps neither).
            Node::Flatten | Node::MeanPool | Node::PrependToken(_) | Node::DistillHeads(_) => None,
        }
    }

    /// Every GEMM node inside, in execution order.
    pub fn gemms(&self) -> Vec<&GemmNode> {
        match self {
            Node::Gemm(g) => vec![g],
            Node::Conv(c) => vec![&c.gemm],
            Node::PatchEmbed(p) => vec![&p.gemm],
            Node::TransformerBlock(b) => vec![&b.qkv, &b.proj, &b.fc1, &b.fc2],
            Node::DistillHeads(h) => vec![&h.head, &h.dist_head],
            // Listed one by one, not `_`: a new node kind must say whether it holds GEMMs.
            Node::Nonlinear(_)
            | Node::MaxPool2 { .. }
            | Node::Flatten
            | Node::Affine(_)
            | Node::MeanPool
            | Node::PrependToken(_) => vec![],
        }
    }

    pub fn gemms_mut(&mut self) -> Vec<&mut GemmNode> {
        match self {
            Node::Gemm(g) => vec![g],
            Node::Conv(c) => vec![&mut c.gemm],
            Node::PatchEmbed(p) => vec![&mut p.gemm],
            Node::TransformerBlock(b) => {
                let b = &mut **b;
                vec![&mut b.qkv, &mut b.proj, &mut b.fc1, &mut b.fc2]
            }
            Node::DistillHeads(h) => {
                let h = &mut **h;
                vec![&mut h.head, &mut h.dist_head]
            }
            // Listed one by one, not `_`: a new node kind must say whether it holds GEMMs.
            Node::Nonlinear(_)
            | Node::MaxPool2 { .. }
            | Node::Flatten
            | Node::Affine(_)
            | Node::MeanPool
            | Node::PrependToken(_) => vec![],
        }
    }

    /// Every non-linear node inside, in execution order.
    pub fn nonlinears(&self) -> Vec<&NonlinearNode> {
        match self {
            Node::Nonlinear(n) => vec![n],
            Node::TransformerBlock(b) => vec![&b.ln1, &b.softmax, &b.ln2, &b.gelu],
            Node::DistillHeads(h) => vec![&h.ln],
            // Listed one by one, not `_`: a new node kind must say whether it holds non-linear ops.
            Node::Gemm(_)
            | Node::Conv(_)
            | Node::MaxPool2 { .. }
            | Node::Flatten
            | Node::PatchEmbed(_)
            | Node::Affine(_)
            | Node::MeanPool
            | Node::PrependToken(_) => vec![],
        }
    }

    pub fn nonlinears_mut(&mut self) -> Vec<&mut NonlinearNode> {
        match self {
            Node::Nonlinear(n) => vec![n],
            Node::TransformerBlock(b) => {
                let b = &mut **b;
                vec![&mut b.ln1, &mut b.softmax, &mut b.ln2, &mut b.gelu]
            }
            Node::DistillHeads(h) => vec![&mut h.ln],
            // Listed one by one, not `_`: a new node kind must say whether it holds non-linear ops.
            Node::Gemm(_)
            | Node::Conv(_)
            | Node::MaxPool2 { .. }
            | Node::Flatten
            | Node::PatchEmbed(_)
            | Node::Affine(_)
            | Node::MeanPool
            | Node::PrependToken(_) => vec![],
        }
    }

    /// Run on `act`, reporting GEMM inputs to `obs`.
    pub fn run(&self, act: Act, obs: &mut Option<GemmObserver>) -> Act {
        let b = act.batch;
        match self {
            Node::Gemm(g) => {
                let (rows, cols) = act.layout.matrix();
                assert!(
                    matches!(act.layout, Layout::Rows { .. }),
                    "`{}` needs rows, got {:?}",
                    g.name,
                    act.layout
                );
                assert_eq!(
                    cols,
                    g.kernel.k(),
                    "`{}`: {cols} input features, kernel K = {}",
                    g.name,
                    g.kernel.k()
                );
                let data = g.run(&act.data, b * rows, obs);
                buffers::give(act.data);
                Act {
                    data,
                    batch: b,
                    layout: Layout::Rows {
                        rows,
                        cols: g.kernel.n(),
                    },
                }
            }
            // An observer sees the layer's whole input at once (calibration); otherwise the
            // convolution runs a chunk of images at a time (`ConvStage`).
            Node::Conv(c) if obs.is_none() => ConvStage::conv_only(c).run(act),
            Node::Conv(c) => {
                let Layout::Nhwc { h, w, c: cin } = act.layout else {
                    panic!(
                        "`{}` needs an NHWC input, got {:?}",
                        c.gemm.name, act.layout
                    )
                };
                assert_eq!(cin, c.geom.in_channels, "`{}`: input channels", c.gemm.name);
                let (ho, wo) = c.geom.output_hw(h, w);
                let cols = im2col_batch(&act.data, b, h, w, &c.geom);
                let data = c.gemm.run(&cols, b * ho * wo, obs);
                buffers::give(act.data);
                Act {
                    data,
                    batch: b,
                    layout: Layout::Nhwc {
                        h: ho,
                        w: wo,
                        c: c.geom.out_channels,
                    },
                }
            }
            Node::Nonlinear(n) => {
                let mut act = act;
                let (rows, cols) = act.layout.matrix();
                n.run(&mut act.data, b * rows, cols);
                act
            }
            Node::MaxPool2 { .. } => max_pool2(act),
            Node::Flatten => flatten(act),
            Node::PatchEmbed(p) => {
                let Layout::Nhwc { h, w, c } = act.layout else {
                    panic!("patch embedding needs an image")
                };
                let (gh, gw) = (h / p.patch, w / p.patch);
                let tokens = gh * gw;
                let g = crate::hooks::ConvGeom {
                    in_channels: c,
                    out_channels: p.gemm.kernel.n(),
                    kernel: p.patch,
                    stride: p.patch,
                    padding: 0,
                };
                let rows = im2col_batch(&act.data, b, h, w, &g);
                let mut data = p.gemm.run(&rows, b * tokens, obs);
                let d = p.gemm.kernel.n();
                for img in data.chunks_exact_mut(tokens * d) {
                    for (v, pos) in img.iter_mut().zip(&p.positions) {
                        *v += pos;
                    }
                }
                Act {
                    data,
                    batch: b,
                    layout: Layout::Rows {
                        rows: tokens,
                        cols: d,
                    },
                }
            }
            Node::Affine(a) => {
                let mut act = act;
                a.run(&mut act.data);
                act
            }
            Node::TransformerBlock(blk) => blk.run(act, obs),
            Node::MeanPool => {
                let Layout::Rows { rows, cols } = act.layout else {
                    panic!("mean-pool needs rows")
                };
                let mut data = vec![0.0; b * cols];
                for (img, out) in act
                    .data
                    .chunks_exact(rows * cols)
                    .zip(data.chunks_exact_mut(cols))
                {
                    mean_rows(img, cols, out);
                }
                Act {
                    data,
                    batch: b,
                    layout: Layout::Rows { rows: 1, cols },
                }
            }
            Node::PrependToken(t) => {
                let Layout::Rows { rows, cols } = act.layout else {
                    panic!("`{}` needs rows", t.name)
                };
                assert_eq!(t.values.len(), cols, "`{}`: token width", t.name);
                let mut data = Vec::with_capacity(b * (rows + 1) * cols);
                for img in act.data.chunks_exact(rows * cols) {
                    data.extend_from_slice(&t.values);
                    data.extend_from_slice(img);
                }
                Act {
                    data,
                    batch: b,
                    layout: Layout::Rows {
                        rows: rows + 1,
                        cols,
                    },
                }
            }
            Node::DistillHeads(h) => h.run(act, obs),
        }
    }

    /// Workload IR layers for `batch` images entering this node with `layout`; returns the
    /// output layout too.
    pub fn ir(&self, batch: u64, layout: Layout, out: &mut Workload) -> Layout {
        let (rows, cols) = layout.matrix();
        let m = batch * rows as u64;
        match self {
            Node::Gemm(g) => {
                out.layers.push(g.ir(m));
                Layout::Rows {
                    rows,
                    cols: g.kernel.n(),
                }
            }
            Node::Conv(c) => {
                let Layout::Nhwc { h, w, .. } = layout else {
                    panic!("conv needs NHWC")
                };
                let (ho, wo) = c.geom.output_hw(h, w);
                out.layers.push(c.gemm.ir(batch * (ho * wo) as u64));
                Layout::Nhwc {
                    h: ho,
                    w: wo,
                    c: c.geom.out_channels,
                }
            }
            Node::Nonlinear(n) => {
                out.layers.push(n.ir(m, cols as u64));
                layout
            }
            Node::MaxPool2 { name } => {
                out.layers.push(Layer::nonlinear(
                    name.clone(),
                    NonlinearOp {
                        kind: compbench_core::NonlinearKind::MaxPool,
                        elements: batch * layout.per_image() as u64,
                        row: 4,
                        implementation: compbench_core::NonlinearImpl::Exact,
                        format: NumFormat::FP32,
                    },
                ));
                let Layout::Nhwc { h, w, c } = layout else {
                    panic!("max-pool needs NHWC")
                };
                Layout::Nhwc {
                    h: h / 2,
                    w: w / 2,
                    c,
                }
            }
            Node::Flatten => Layout::Rows {
                rows: 1,
                cols: layout.per_image(),
            },
            Node::PatchEmbed(p) => {
                let Layout::Nhwc { h, w, .. } = layout else {
                    panic!("patch embedding needs an image")
                };
                let tokens = (h / p.patch) * (w / p.patch);
                out.layers.push(p.gemm.ir(batch * tokens as u64));
                Layout::Rows {
                    rows: tokens,
                    cols: p.gemm.kernel.n(),
                }
            }
            Node::Affine(_) => layout,
            Node::TransformerBlock(blk) => blk.ir(batch, layout, out),
            Node::MeanPool => Layout::Rows { rows: 1, cols },
            // A copy: no arithmetic to price. Its cost is the extra row every later layer runs.
            Node::PrependToken(_) => Layout::Rows {
                rows: rows + 1,
                cols,
            },
            Node::DistillHeads(h) => {
                // The final LayerNorm runs on two rows per image (patch mean and token); each
                // head is one row. The mean and the average of the heads are element-wise
                // (not listed, like every add).
                out.layers.push(h.ln.ir(2 * batch, cols as u64));
                out.layers.push(h.head.ir(batch));
                out.layers.push(h.dist_head.ir(batch));
                Layout::Rows {
                    rows: 1,
                    cols: h.head.kernel.n(),
                }
            }
        }
    }
}

/// Mean of the `cols`-wide rows of `rows` into `out` (summed in row order, then divided).
fn mean_rows(rows: &[f32], cols: usize, out: &mut [f32]) {
    let n = rows.len() / cols;
    for r in rows.chunks_exact(cols) {
        out.iter_mut().zip(r).for_each(|(o, v)| *o += v);
    }
    out.iter_mut().for_each(|o| *o /= n as f32);
}

impl DistillHeads {
    fn run(&self, act: Act, obs: &mut Option<GemmObserver>) -> Act {
        let Layout::Rows { rows, cols: d } = act.layout else {
            panic!("the distillation heads need rows")
        };
        assert!(
            rows >= 2,
            "the distillation heads need the token and patches"
        );
        let b = act.batch;
        // Rows 0..b: each image's patch mean; rows b..2b: each image's token (the order the
        // trainable model normalizes them in).
        let mut x = vec![0.0; 2 * b * d];
        let (pooled, tokens) = x.split_at_mut(b * d);
        for ((img, p), t) in act
            .data
            .chunks_exact(rows * d)
            .zip(pooled.chunks_exact_mut(d))
            .zip(tokens.chunks_exact_mut(d))
        {
            t.copy_from_slice(&img[..d]);
            mean_rows(&img[d..], d, p);
        }
        self.ln.run(&mut x, 2 * b, d);
        self.ln_affine.run(&mut x);
        let mut cls = self.head.run(&x[..b * d], b, obs);
        let dist = self.dist_head.run(&x[b * d..], b, obs);
        cls.iter_mut()
            .zip(&dist)
            .for_each(|(c, t)| *c = (*c + t) * 0.5);
        Act {
            data: cls,
            batch: b,
            layout: Layout::Rows {
                rows: 1,
                cols: self.head.kernel.n(),
            },
        }
    }
}

/// Rows a transformer block aims to process per chunk of whole images (at the wide ViT's
/// shapes its largest intermediate, fc1's output, is then 512 KB and stays in cache).
const BLOCK_CHUNK_ROWS: usize = 256;

impl TransformerBlock {
    /// Without an observer, the block runs a chunk of whole images at a time, in parallel:
    /// every step is per row (LayerNorm, GEMMs, GELU, residuals) or per image (attention), so
    /// the values are those of the whole batch at once, and each chunk's intermediates (its
    /// qkv, attention and fc1 outputs) stay in cache instead of streaming through memory
    /// between steps. An observer sees each GEMM's whole input, so it gets one whole-batch
    /// pass.
    fn run(&self, act: Act, obs: &mut Option<GemmObserver>) -> Act {
        let Layout::Rows { rows: t, cols: d } = act.layout else {
            panic!("a transformer block needs rows")
        };
        let b = act.batch;
        let mut x = act.data;
        if obs.is_some() {
            self.run_images(&mut x, b, t, d, obs);
        } else {
            let imgs = (BLOCK_CHUNK_ROWS / t.max(1)).max(1);
            x.par_chunks_mut(imgs * t * d)
                .for_each(|xs| self.run_images(xs, xs.len() / (t * d), t, d, &mut None));
        }
        Act {
            data: x,
            batch: b,
            layout: act.layout,
        }
    }

    /// The block on `b` whole images of `t × d` rows, in place.
    fn run_images(
        &self,
        x: &mut [f32],
        b: usize,
        t: usize,
        d: usize,
        obs: &mut Option<GemmObserver>,
    ) {
        let m = b * t;
        // Attention half.
        let mut h = buffers::take(x.len());
        h.copy_from_slice(x);
        self.ln1.run(&mut h, m, d);
        self.ln1_affine.run(&mut h);
        let qkv = self.qkv.run(&h, m, obs);
        let mut attn = buffers::take(m * d);
        let softmax = |s: &mut [f32], r: usize, c: usize| self.softmax.kernel.forward(s, r, c);
        multi_head_attention(&qkv, b, t, self.heads, d / self.heads, &softmax, &mut attn);
        let y = self.proj.run(&attn, m, obs);
        x.iter_mut().zip(&y).for_each(|(a, v)| *a += v);
        buffers::give(qkv);
        buffers::give(attn);
        buffers::give(y);
        // MLP half.
        h.copy_from_slice(x);
        self.ln2.run(&mut h, m, d);
        self.ln2_affine.run(&mut h);
        let mut hidden = self.fc1.run(&h, m, obs);
        self.gelu.run(&mut hidden, m, self.fc1.kernel.n());
        let y = self.fc2.run(&hidden, m, obs);
        x.iter_mut().zip(&y).for_each(|(a, v)| *a += v);
        buffers::give(h);
        buffers::give(hidden);
        buffers::give(y);
    }

    fn ir(&self, batch: u64, layout: Layout, out: &mut Workload) -> Layout {
        let Layout::Rows { rows: t, cols: d } = layout else {
            panic!("a transformer block needs rows")
        };
        let (t64, d64) = (t as u64, d as u64);
        let m = batch * t64;
        let dh = (d / self.heads) as u64;
        let heads = self.heads as u64;
        let p = &self.prefix;
        out.layers.push(self.ln1.ir(m, d64));
        out.layers.push(self.qkv.ir(m));
        // Q·Kᵀ and P·V: activations × activations, once per head and image.
        let mut qk = compbench_core::Gemm::dense(batch * t64, dh, t64, NumFormat::FP32);
        qk.weights_static = false;
        out.layers
            .push(Layer::gemm(format!("{p}.qk"), qk).with_repeats(heads));
        out.layers.push(self.softmax.ir(batch * heads * t64, t64));
        let mut pv = compbench_core::Gemm::dense(batch * t64, t64, dh, NumFormat::FP32);
        pv.weights_static = false;
        out.layers
            .push(Layer::gemm(format!("{p}.pv"), pv).with_repeats(heads));
        out.layers.push(self.proj.ir(m));
        out.layers.push(self.ln2.ir(m, d64));
        out.layers.push(self.fc1.ir(m));
        out.layers.push(self.gelu.ir(m, self.fc1.kernel.n() as u64));
        out.layers.push(self.fc2.ir(m));
        layout
    }
}

/// im2col of a batch, parallel over images (each image's rows are contiguous).
fn im2col_batch(x: &[f32], batch: usize, h: usize, w: usize, g: &ConvGeom) -> Vec<f32> {
    let (ho, wo) = g.output_hw(h, w);
    let per_out = ho * wo * g.k();
    let per_in = h * w * g.in_channels;
    let mut cols = vec![0.0; batch * per_out];
    cols.par_chunks_mut(per_out)
        .zip(x.par_chunks(per_in))
        .for_each(|(o, img)| im2col_nhwc(img, 1, h, w, g, o));
    cols
}

fn max_pool2(act: Act) -> Act {
    let Layout::Nhwc { h, w, c } = act.layout else {
        panic!("max-pool needs NHWC")
    };
    let (ho, wo) = (h / 2, w / 2);
    let mut data = vec![0.0; act.batch * ho * wo * c];
    data.par_chunks_mut(ho * wo * c)
        .zip(act.data.par_chunks(h * w * c))
        .for_each(|(o, img)| max_pool2_image(img, h, w, c, o));
    Act {
        data,
        batch: act.batch,
        layout: Layout::Nhwc { h: ho, w: wo, c },
    }
}

/// 2×2 max-pooling, stride 2, of one `[h, w, c]` image into `out` (`[h/2, w/2, c]`; an odd
/// last row or column is dropped, as in the trainable model).
pub(super) fn max_pool2_image(img: &[f32], h: usize, w: usize, c: usize, out: &mut [f32]) {
    let (ho, wo) = (h / 2, w / 2);
    debug_assert_eq!(img.len(), h * w * c);
    debug_assert_eq!(out.len(), ho * wo * c);
    for y in 0..ho {
        for x in 0..wo {
            let dst = &mut out[(y * wo + x) * c..][..c];
            let at = |yy: usize, xx: usize| &img[(yy * w + xx) * c..][..c];
            let (a, b2, c2, d) = (
                at(2 * y, 2 * x),
                at(2 * y, 2 * x + 1),
                at(2 * y + 1, 2 * x),
                at(2 * y + 1, 2 * x + 1),
            );
            for ch in 0..c {
                dst[ch] = a[ch].max(b2[ch]).max(c2[ch]).max(d[ch]);
            }
        }
    }
}

fn flatten(act: Act) -> Act {
    match act.layout {
        Layout::Nhwc { h, w, c } => {
            let per = h * w * c;
            let mut data = vec![0.0; act.data.len()];
            for (o, img) in data.chunks_exact_mut(per).zip(act.data.chunks_exact(per)) {
                for p in 0..h * w {
                    for ch in 0..c {
                        o[ch * h * w + p] = img[p * c + ch];
                    }
                }
            }
            Act {
                data,
                batch: act.batch,
                layout: Layout::Rows { rows: 1, cols: per },
            }
        }
        Layout::Rows { rows, cols } => Act {
            layout: Layout::Rows {
                rows: 1,
                cols: rows * cols,
            },
            ..act
        },
    }
}
