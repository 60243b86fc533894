//! The deployed representation: what a compressed network runs as, on plain `f32` buffers with
//! our own kernels. Accuracy and measured latency in every report come from here.
//!
//! A [`DeployedModel`] is a small sequential graph of [`Node`]s. GEMM-bearing nodes hold a
//! `Box<dyn GemmKernel>` and non-linear nodes a `Box<dyn NonlinearKernel>`, so a method crate adds
//! a kernel kind (int8, LUT-GEMM, block-sparse, approximate GELU, ...) by implementing a trait,
//! never by editing this crate, and replaces a layer's kernel by name
//! ([`DeployedModel::replace_gemm`]). Every kernel also describes itself as Workload IR, so the
//! hardware models price exactly what ran.

pub mod annotated;
pub mod bsr;
mod buffers;
mod conv_stage;
pub mod kernels;
pub mod nodes;

use std::collections::BTreeMap;

use compbench_core::{Gemm, ImageSplit, NonlinearImpl, NonlinearKind, Workload};
use rayon::prelude::*;

pub use annotated::AnnotatedGemm;
pub use bsr::BsrGemm;
pub use kernels::{DenseGemm, ExactNonlinear, exact_kernel};
pub use nodes::{
    Act, Affine, ConvNode, DistillHeads, GemmNode, Layout, Node, NonlinearNode, PatchEmbed,
    PrependToken, TransformerBlock,
};

/// A GEMM layer with its weights baked in: `out[m×n] = x[m×k] · W[k×n] + b`.
pub trait GemmKernel: Send + Sync {
    /// Short kind name for reports and benches (`dense-f32`, `int8`, `lut`, ...).
    fn kind(&self) -> &'static str;
    fn k(&self) -> usize;
    fn n(&self) -> usize;
    /// `x` is `m × k` row-major; `out` is `m × n` row-major and fully overwritten.
    ///
    /// Rows are independent: a row's output may depend only on that row (no statistics over
    /// the batch), bit for bit, whatever `m` is. The deployed conv relies on it to run its GEMM
    /// a few images at a time.
    fn forward(&self, x: &[f32], m: usize, out: &mut [f32]);
    /// The layer as Workload IR for `m` rows (formats, sparsity, VQ spec filled in).
    fn gemm_ir(&self, m: u64) -> Gemm;
    /// Bits the layer stores for its weights (tables and codebooks included, bias excluded).
    fn weight_bits(&self) -> f64;
    /// Run the layer as a convolution straight from `batch` NHWC images (`x` is
    /// `[batch, h, w, g.in_channels]`, `out` is `[batch·Ho·Wo, n]`), fusing im2col into the
    /// kernel's own input encoding so no f32 column buffer is written and read back. Returns
    /// false, leaving `out` alone, when the kernel has no such path for `g`; the deployed conv
    /// then runs im2col + [`GemmKernel::forward`]. When it returns true, `out` is bit for bit
    /// what im2col + `forward` give (implementations test it).
    fn conv_nhwc(
        &self,
        _x: &[f32],
        _batch: usize,
        _h: usize,
        _w: usize,
        _g: &crate::hooks::ConvGeom,
        _out: &mut [f32],
    ) -> bool {
        false
    }
    /// The float weights this kernel computes with (k × n, row-major) when it has them, for
    /// methods that stack on top of one another (e.g. quantize after pruning).
    fn dense_weights(&self) -> Option<(&[f32], Option<&[f32]>)> {
        None
    }
}

/// An element-wise or row-wise non-linear op on `rows × cols` values, in place.
pub trait NonlinearKernel: Send + Sync {
    fn kind(&self) -> NonlinearKind;
    fn implementation(&self) -> NonlinearImpl;
    /// Rows are independent: a row's output may depend only on that row (no statistics over
    /// the batch or the tensor), so the graph may run any chunk of whole rows on its own (split
    /// across threads, or fused with the convolution before it).
    fn forward(&self, x: &mut [f32], rows: usize, cols: usize);
}

/// A deployed network: a sequential graph of [`Node`]s on plain buffers.
pub struct DeployedModel {
    /// e.g. `cnn` or `cnn/ptq`.
    pub name: String,
    /// `[channels, height, width]` of one input image (NCHW order of the input buffer).
    pub input: [usize; 3],
    pub classes: usize,
    pub nodes: Vec<Node>,
}

/// The exact input rows a GEMM layer saw (im2col'd for convolutions): `rows × k` row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Captured {
    pub data: Vec<f32>,
    pub rows: usize,
    pub k: usize,
}

/// Images per chunk in [`DeployedModel::accuracy`].
pub const EVAL_BATCH: usize = 256;

impl DeployedModel {
    fn input_act(&self, x: &[f32], batch: usize) -> Act {
        let [c, h, w] = self.input;
        assert_eq!(
            x.len(),
            batch * c * h * w,
            "input must be batch × {c}×{h}×{w}"
        );
        // Inputs arrive NCHW (as ImageSplit stores them); the graph runs NHWC.
        let data = if c == 1 {
            x.to_vec()
        } else {
            let mut d = vec![0.0; x.len()];
            for (o, img) in d.chunks_exact_mut(c * h * w).zip(x.chunks_exact(c * h * w)) {
                for ch in 0..c {
                    for p in 0..h * w {
                        o[p * c + ch] = img[ch * h * w + p];
                    }
                }
            }
            d
        };
        Act {
            data,
            batch,
            layout: Layout::Nhwc { h, w, c },
        }
    }

    fn run(&self, x: &[f32], batch: usize, mut obs: Option<nodes::GemmObserver>) -> Vec<f32> {
        let mut act = self.input_act(x, batch);
        let mut i = 0;
        while i < self.nodes.len() {
            // Without an observer (which must see each layer's whole input), a convolution
            // runs fused with the ReLU and pool after it: same values, one pass.
            if obs.is_none()
                && let Some((stage, len)) = conv_stage::ConvStage::at(&self.nodes[i..])
            {
                act = stage.run(act);
                i += len;
                continue;
            }
            act = self.nodes[i].run(act, &mut obs);
            i += 1;
        }
        assert_eq!(
            act.layout.per_image(),
            self.classes,
            "the graph must end in {} logits",
            self.classes
        );
        act.data
    }

    /// Logits `[batch, classes]` for `batch` NCHW images.
    pub fn forward(&self, x: &[f32], batch: usize) -> Vec<f32> {
        if batch == 0 {
            return Vec::new();
        }
        self.run(x, batch, None)
    }

    /// Arg-max class per image (first maximum on ties).
    pub fn predict(&self, x: &[f32], batch: usize) -> Vec<usize> {
        argmax_rows(&self.forward(x, batch), self.classes)
    }

    /// Top-1 accuracy on `split`, in chunks of [`EVAL_BATCH`] images run in parallel.
    pub fn accuracy(&self, split: &ImageSplit) -> f64 {
        if split.is_empty() {
            return 0.0;
        }
        let p = split.pixels_per_image();
        let correct: usize = split
            .images
            .par_chunks(EVAL_BATCH * p)
            .zip(split.labels.par_chunks(EVAL_BATCH))
            .map(|(x, y)| {
                self.predict(x, y.len())
                    .iter()
                    .zip(y)
                    .filter(|(a, b)| **a == **b as usize)
                    .count()
            })
            .sum();
        correct as f64 / split.len() as f64
    }

    /// Every GEMM layer (convolutions, attention projections, ...) in execution order.
    pub fn gemm_layers(&self) -> Vec<(&str, &dyn GemmKernel)> {
        self.nodes
            .iter()
            .flat_map(|n| n.gemms())
            .map(|g| (g.name.as_str(), &*g.kernel))
            .collect()
    }

    /// Every non-linear kernel in execution order.
    pub fn nonlinear_layers(&self) -> Vec<(&str, &dyn NonlinearKernel)> {
        self.nodes
            .iter()
            .flat_map(|n| n.nonlinears())
            .map(|g| (g.name.as_str(), &*g.kernel))
            .collect()
    }

    /// Replace the kernel of GEMM layer `name` by `f(old)`. The new kernel must keep K and N.
    pub fn replace_gemm(
        &mut self,
        name: &str,
        f: impl FnOnce(&dyn GemmKernel) -> Box<dyn GemmKernel>,
    ) -> Result<(), String> {
        let node = self
            .nodes
            .iter_mut()
            .flat_map(|n| n.gemms_mut())
            .find(|g| g.name == name)
            .ok_or_else(|| format!("no GEMM layer `{name}`"))?;
        let new = f(&*node.kernel);
        let (k, n) = (node.kernel.k(), node.kernel.n());
        if new.k() != k || new.n() != n {
            return Err(format!(
                "`{name}`: new kernel is {}×{}, the layer is K×N = {k}×{n}",
                new.k(),
                new.n()
            ));
        }
        node.kernel = new;
        Ok(())
    }

    /// Replace the kernel of non-linear op `name` by `f(old)`.
    pub fn replace_nonlinear(
        &mut self,
        name: &str,
        f: impl FnOnce(&dyn NonlinearKernel) -> Box<dyn NonlinearKernel>,
    ) -> Result<(), String> {
        let node = self
            .nodes
            .iter_mut()
            .flat_map(|n| n.nonlinears_mut())
            .find(|g| g.name == name)
            .ok_or_else(|| format!("no non-linear op `{name}`"))?;
        node.kernel = f(&*node.kernel);
        Ok(())
    }

    /// Run `batch` images and keep the exact input rows each named GEMM layer saw (im2col'd
    /// for convolutions, `(cin, kh, kw)` columns). Unknown names are simply absent.
    pub fn capture_gemm_inputs(
        &self,
        x: &[f32],
        batch: usize,
        names: &[&str],
    ) -> BTreeMap<String, Captured> {
        let mut out = BTreeMap::new();
        let mut obs = |name: &str, data: &[f32], rows: usize, k: usize| {
            if names.contains(&name) {
                out.insert(
                    name.to_string(),
                    Captured {
                        data: data.to_vec(),
                        rows,
                        k,
                    },
                );
            }
        };
        if batch > 0 {
            self.run(x, batch, Some(&mut obs));
        }
        out
    }

    /// Every named output of the graph in execution order, with its per-image layout: the
    /// layer names of the Workload IR (`conv1`, `conv1.relu`, `conv1.pool`, `fc1`, ...) and a
    /// ViT's blocks by prefix (`block0`, ...). A name borne by consecutive nodes (a ViT's
    /// `ln_f`: the normalization, then its affine part) is one output, the last node's. These
    /// are the names [`DeployedModel::forward_to`] and the trainable
    /// [`Network::forward_to`](crate::models::Network::forward_to) read.
    pub fn outputs(&self) -> Vec<(String, Layout)> {
        let [c, h, w] = self.input;
        let mut layout = Layout::Nhwc { h, w, c };
        // `Node::ir` is the one place that knows each node's output layout.
        let mut scratch = Workload::new(String::new());
        let mut out: Vec<(String, Layout)> = Vec::new();
        for node in &self.nodes {
            layout = node.ir(1, layout, &mut scratch);
            if let Some(name) = node.name() {
                match out.iter_mut().find(|(n, _)| n == name) {
                    Some(entry) => entry.1 = layout,
                    None => out.push((name.to_string(), layout)),
                }
            }
        }
        out
    }

    /// The output of layer `name` (see [`DeployedModel::outputs`]) for `batch` NCHW images:
    /// the graph runs up to that layer's last node and stops. The activation is in the graph's
    /// own layout (NHWC for images, rows of features or tokens otherwise). A teacher's hint
    /// layer in FitNets ([`crate::distill`]) is read this way.
    pub fn forward_to(&self, x: &[f32], batch: usize, name: &str) -> Result<Act, String> {
        let Some(last) = self.nodes.iter().rposition(|n| n.name() == Some(name)) else {
            let names: Vec<String> = self.outputs().into_iter().map(|(n, _)| n).collect();
            return Err(format!(
                "`{}` has no layer `{name}` (layers: {})",
                self.name,
                names.join(", ")
            ));
        };
        let [c, h, w] = self.input;
        if x.len() != batch * c * h * w {
            return Err(format!(
                "`{}`: {} input values are not {batch} images of {c}×{h}×{w}",
                self.name,
                x.len()
            ));
        }
        if batch == 0 {
            let layout = self
                .outputs()
                .into_iter()
                .find(|(n, _)| n == name)
                .map(|(_, l)| l)
                .expect("a node bears the name");
            return Ok(Act {
                data: Vec::new(),
                batch: 0,
                layout,
            });
        }
        let mut act = self.input_act(x, batch);
        for node in &self.nodes[..=last] {
            act = node.run(act, &mut None);
        }
        Ok(act)
    }

    /// The network as Workload IR for `batch` images: every GEMM through its kernel's
    /// [`GemmKernel::gemm_ir`], attention's Q·Kᵀ and P·V as non-static GEMMs repeated per
    /// head, non-linear ops with element counts. Element-wise adds (bias, residual, positions)
    /// and layout changes are not listed.
    pub fn workload(&self, batch: u64) -> Workload {
        let mut w = Workload::new(self.name.clone());
        let [c, h, wd] = self.input;
        let mut layout = Layout::Nhwc { h, w: wd, c };
        for node in &self.nodes {
            layout = node.ir(batch, layout, &mut w);
        }
        w
    }

    /// Stored weight bits of all GEMM layers (what the kernels report).
    pub fn weight_bits(&self) -> f64 {
        self.gemm_layers()
            .iter()
            .map(|(_, k)| k.weight_bits())
            .sum()
    }
}

/// Arg-max of each `classes`-wide row (first maximum on ties).
pub fn argmax_rows(logits: &[f32], classes: usize) -> Vec<usize> {
    logits
        .chunks_exact(classes)
        .map(|r| {
            let mut best = 0;
            for (i, &v) in r.iter().enumerate() {
                if v > r[best] {
                    best = i;
                }
            }
            best
        })
        .collect()
}
