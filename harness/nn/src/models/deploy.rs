//! Trainable → deployed conversion. Weights are copied exactly (f32 values, im2col layout for
//! convolutions); every GEMM kernel comes from the caller's factory or is a [`DenseGemm`].

use compbench_core::NonlinearKind;

use super::config::{GemmLayerInfo, IMAGE_SIDE};
use super::layers::{LayerNorm, values};
use super::{Network, Vit};
use crate::deployed::{
    Affine, ConvNode, DenseGemm, DeployedModel, DistillHeads, GemmKernel, GemmNode, Node,
    NonlinearNode, PatchEmbed, PrependToken, TransformerBlock, exact_kernel,
};
use crate::models::config::GemmShape;

/// Builds a layer's kernel from its info, `K×N` weights and bias; `None` → [`DenseGemm`].
pub type GemmFactory<'a> =
    &'a dyn Fn(&GemmLayerInfo, &[f32], Option<&[f32]>) -> Option<Box<dyn GemmKernel>>;

impl Network {
    /// The exact float deployed model.
    pub fn to_deployed(&self) -> DeployedModel {
        self.to_deployed_with(&|_, _, _| None)
    }

    /// The deployed model with kernels from `factory` (layers it declines get [`DenseGemm`]).
    pub fn to_deployed_with(&self, factory: GemmFactory) -> DeployedModel {
        let layers = self.gemm_layers();
        let gemm = |name: &str| -> GemmNode {
            let info = layers
                .iter()
                .find(|l| l.name == name)
                .expect("layer listed by gemm_layers");
            let (w, b) = self
                .gemm_weights(name)
                .expect("layer listed by gemm_layers");
            let kernel = factory(info, &w, b.as_deref())
                .unwrap_or_else(|| Box::new(DenseGemm::new(info.k(), info.n(), w, b)));
            assert_eq!(
                (kernel.k(), kernel.n()),
                (info.k(), info.n()),
                "factory kernel for `{name}` has the wrong shape"
            );
            GemmNode::new(name, kernel)
        };
        let nl = |name: &str, kind| Node::Nonlinear(NonlinearNode::new(name, exact_kernel(kind)));
        let conv = |name: &str| {
            let GemmShape::Conv(geom) = layers
                .iter()
                .find(|l| l.name == name)
                .expect("conv layer")
                .shape
            else {
                unreachable!("`{name}` is a convolution")
            };
            Node::Conv(ConvNode {
                gemm: gemm(name),
                geom,
            })
        };
        let nodes = match self {
            Network::Mlp(_) => vec![
                Node::Flatten,
                Node::Gemm(gemm("fc1")),
                nl("fc1.relu", NonlinearKind::Relu),
                Node::Gemm(gemm("fc2")),
                nl("fc2.relu", NonlinearKind::Relu),
                Node::Gemm(gemm("fc3")),
            ],
            Network::Cnn(_) => vec![
                conv("conv1"),
                nl("conv1.relu", NonlinearKind::Relu),
                Node::MaxPool2 {
                    name: "conv1.pool".into(),
                },
                conv("conv2"),
                nl("conv2.relu", NonlinearKind::Relu),
                Node::MaxPool2 {
                    name: "conv2.pool".into(),
                },
                Node::Flatten,
                Node::Gemm(gemm("fc1")),
                nl("fc1.relu", NonlinearKind::Relu),
                Node::Gemm(gemm("fc2")),
            ],
            Network::Vit(v) => vit_nodes(v, &gemm),
        };
        DeployedModel {
            name: self.kind().name().to_string(),
            input: [1, IMAGE_SIDE, IMAGE_SIDE],
            classes: self.classes(),
            nodes,
        }
    }
}

fn affine(name: &str, ln: &LayerNorm) -> Affine {
    Affine {
        name: name.to_string(),
        gamma: values(&ln.gamma),
        beta: values(&ln.beta),
    }
}

fn vit_nodes(v: &Vit, gemm: &dyn Fn(&str) -> GemmNode) -> Vec<Node> {
    let ex = |name: String, kind| NonlinearNode::new(name, exact_kernel(kind));
    let mut nodes = vec![Node::PatchEmbed(PatchEmbed {
        gemm: gemm("patch_embed"),
        patch: v.patch,
        positions: values(&v.pos),
    })];
    if let Some(dt) = &v.distill {
        // Token plus its position, summed once here exactly as the trainable model sums them.
        let values = values(&dt.token)
            .iter()
            .zip(values(&dt.pos))
            .map(|(t, p)| t + p)
            .collect();
        nodes.push(Node::PrependToken(PrependToken {
            name: "dist_token".into(),
            values,
        }));
    }
    for (i, blk) in v.blocks.iter().enumerate() {
        let p = format!("block{i}");
        nodes.push(Node::TransformerBlock(Box::new(TransformerBlock {
            prefix: p.clone(),
            heads: v.heads,
            ln1: ex(format!("{p}.ln1"), NonlinearKind::LayerNorm),
            ln1_affine: affine(&format!("{p}.ln1"), &blk.ln1),
            qkv: gemm(&format!("{p}.qkv")),
            softmax: ex(format!("{p}.softmax"), NonlinearKind::Softmax),
            proj: gemm(&format!("{p}.proj")),
            ln2: ex(format!("{p}.ln2"), NonlinearKind::LayerNorm),
            ln2_affine: affine(&format!("{p}.ln2"), &blk.ln2),
            fc1: gemm(&format!("{p}.fc1")),
            gelu: ex(format!("{p}.gelu"), NonlinearKind::Gelu),
            fc2: gemm(&format!("{p}.fc2")),
        })));
    }
    if v.distill.is_some() {
        nodes.push(Node::DistillHeads(Box::new(DistillHeads {
            ln: ex("ln_f".into(), NonlinearKind::LayerNorm),
            ln_affine: affine("ln_f", &v.ln_f),
            head: gemm("head"),
            dist_head: gemm("dist_head"),
        })));
    } else {
        nodes.push(Node::MeanPool);
        nodes.push(Node::Nonlinear(ex("ln_f".into(), NonlinearKind::LayerNorm)));
        nodes.push(Node::Affine(affine("ln_f", &v.ln_f)));
        nodes.push(Node::Gemm(gemm("head")));
    }
    nodes
}
