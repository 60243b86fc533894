//! The deployed graph's chunked paths give the bits of the unchunked ones: the fused
//! convolution stage (conv → non-linear op → 2×2 max-pool in one pass per chunk of images)
//! against the nodes run one by one, on every pattern it fuses and for batch sizes that split
//! into chunks unevenly; and the transformer block run a chunk of images at a time against one
//! whole-batch pass.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::module::Module;
use compbench_core::seed::Rng;
use compbench_core::{Dataset, Gemm, NonlinearKind};
use compbench_nn::ConvGeom;
use compbench_nn::data::Synthetic;
use compbench_nn::deployed::{
    ConvNode, DenseGemm, DeployedModel, GemmKernel, GemmNode, Node, NonlinearNode, exact_kernel,
};
use compbench_nn::kernels::im2col_nhwc;
use compbench_nn::models::{ModelConfig, ModelKind, Network};

fn images(n: usize) -> Vec<f32> {
    let splits = Synthetic::new(64, 64, 5).load(&Default::default()).unwrap();
    let pixels = splits.test.images.len() / splits.test.len();
    splits.test.images[..n * pixels].to_vec()
}

/// The last named node's output run node by node ([`DeployedModel::forward_to`] never fuses)
/// against the fused [`DeployedModel::forward`], bit for bit.
fn assert_fused_equals_unfused(dep: &DeployedModel, batch: usize) {
    let x = images(batch);
    let last = dep.outputs().last().expect("a named output").0.clone();
    let unfused = dep.forward_to(&x, batch, &last).unwrap().data;
    let fused = dep.forward(&x, batch);
    assert_eq!(fused.len(), unfused.len());
    let differ = fused
        .iter()
        .zip(&unfused)
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count();
    assert_eq!(differ, 0, "batch {batch}: {differ} logits differ");
}

#[test]
fn cnn_fused_stages_equal_nodes_one_by_one() {
    let net = Network::new(
        &ModelConfig::new(ModelKind::Cnn),
        &compbench_nn::device(),
        5,
    );
    let dep = net.valid().to_deployed();
    // 1 image; fewer than one chunk; conv1's chunk is 10 images and conv2's 4: 23 and 64 split
    // both unevenly or evenly.
    for batch in [1, 3, 23, 64] {
        assert_fused_equals_unfused(&dep, batch);
    }
}

/// A dense kernel that also offers the fused-im2col path, counting its calls.
struct ConvPathGemm {
    inner: DenseGemm,
    calls: Arc<AtomicUsize>,
}

impl GemmKernel for ConvPathGemm {
    fn kind(&self) -> &'static str {
        "dense-conv-path"
    }
    fn k(&self) -> usize {
        self.inner.k()
    }
    fn n(&self) -> usize {
        self.inner.n()
    }
    fn forward(&self, x: &[f32], m: usize, out: &mut [f32]) {
        self.inner.forward(x, m, out)
    }
    fn gemm_ir(&self, m: u64) -> Gemm {
        self.inner.gemm_ir(m)
    }
    fn weight_bits(&self) -> f64 {
        self.inner.weight_bits()
    }
    fn conv_nhwc(
        &self,
        x: &[f32],
        batch: usize,
        h: usize,
        w: usize,
        g: &ConvGeom,
        out: &mut [f32],
    ) -> bool {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let (ho, wo) = g.output_hw(h, w);
        let mut cols = vec![0.0; batch * ho * wo * g.k()];
        im2col_nhwc(x, batch, h, w, g, &mut cols);
        self.inner.forward(&cols, batch * ho * wo, out);
        true
    }
}

/// A 3×3 convolution, padding 1; with `conv_path`, its kernel offers the fused-im2col path and
/// counts its calls there.
fn conv(
    name: &str,
    cin: usize,
    cout: usize,
    rng: &mut Rng,
    conv_path: Option<Arc<AtomicUsize>>,
) -> Node {
    let geom = ConvGeom {
        in_channels: cin,
        out_channels: cout,
        kernel: 3,
        stride: 1,
        padding: 1,
    };
    let w: Vec<f32> = (0..geom.k() * cout).map(|_| rng.normal() * 0.3).collect();
    let b: Vec<f32> = (0..cout).map(|_| rng.normal() * 0.1).collect();
    let inner = DenseGemm::new(geom.k(), cout, w, Some(b));
    let kernel: Box<dyn GemmKernel> = match conv_path {
        Some(calls) => Box::new(ConvPathGemm { inner, calls }),
        None => Box::new(inner),
    };
    Node::Conv(ConvNode {
        gemm: GemmNode::new(name, kernel),
        geom,
    })
}

fn relu(name: &str) -> Node {
    Node::Nonlinear(NonlinearNode::new(name, exact_kernel(NonlinearKind::Relu)))
}

fn pool(name: &str) -> Node {
    Node::MaxPool2 { name: name.into() }
}

/// A hand-built 28×28 → 10 graph with the given middle nodes, then flatten and a dense head.
fn graph(middle: Vec<Node>, features: usize, rng: &mut Rng) -> DeployedModel {
    let mut nodes = middle;
    nodes.push(Node::Flatten);
    let w: Vec<f32> = (0..features * 10).map(|_| rng.normal() * 0.05).collect();
    nodes.push(Node::Gemm(GemmNode::new(
        "head",
        Box::new(DenseGemm::new(features, 10, w, None)),
    )));
    DeployedModel {
        name: "hand-built".into(),
        input: [1, 28, 28],
        classes: 10,
        nodes,
    }
}

#[test]
fn every_fused_pattern_equals_nodes_one_by_one() {
    let mut rng = Rng::new(7);
    // conv + relu + pool; conv + pool; conv + relu; an odd 7×7 map pooled to 3×3 (last row and
    // column dropped); the kernel's own conv path inside the stage.
    let cases: Vec<(&str, Vec<Node>, usize)> = vec![
        (
            "conv-relu-pool",
            vec![conv("c1", 1, 8, &mut rng, None), relu("r1"), pool("p1")],
            14 * 14 * 8,
        ),
        (
            "conv-pool",
            vec![conv("c1", 1, 8, &mut rng, None), pool("p1")],
            14 * 14 * 8,
        ),
        (
            "conv-relu",
            vec![conv("c1", 1, 4, &mut rng, None), relu("r1")],
            28 * 28 * 4,
        ),
        (
            "odd-pool",
            vec![
                conv("c1", 1, 8, &mut rng, None),
                pool("p1"),
                conv("c2", 8, 8, &mut rng, None),
                pool("p2"),
                conv("c3", 8, 8, &mut rng, Some(Arc::default())),
                relu("r3"),
                pool("p3"),
            ],
            3 * 3 * 8,
        ),
    ];
    for (what, middle, features) in cases {
        let dep = graph(middle, features, &mut rng);
        for batch in [1, 5, 37] {
            let x = images(batch);
            let unfused = dep.forward_to(&x, batch, "head").unwrap().data;
            let fused = dep.forward(&x, batch);
            assert!(
                fused
                    .iter()
                    .zip(&unfused)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{what}, batch {batch}: fused and node-by-node logits differ"
            );
        }
    }
}

#[test]
fn the_kernels_own_conv_path_runs_on_each_chunk() {
    let mut rng = Rng::new(3);
    let calls = Arc::new(AtomicUsize::new(0));
    let dep = graph(
        vec![
            conv("c1", 1, 8, &mut rng, Some(calls.clone())),
            relu("r1"),
            pool("p1"),
        ],
        14 * 14 * 8,
        &mut rng,
    );
    let batch = 37;
    let x = images(batch);
    // Node by node and fused, the convolution keeps the kernel's own path (a LUT or int8
    // kernel's fused encoder) rather than falling back to im2col, a chunk of images at a time.
    dep.forward_to(&x, batch, "head").unwrap();
    assert!(
        calls.swap(0, Ordering::Relaxed) > 1,
        "node by node: one call per chunk"
    );
    dep.forward(&x, batch);
    assert!(
        calls.load(Ordering::Relaxed) > 1,
        "fused: one call per chunk"
    );
}

/// A transformer block runs a chunk of whole images at a time (256 rows: 15 of the default
/// ViT's 17-token images); an image's logits must not depend on which chunk it lands in, and
/// the chunked blocks must give what one whole-batch pass (an observed run) gives.
#[test]
fn vit_chunked_blocks_give_each_image_its_own_logits() {
    let net = Network::new(
        &ModelConfig::new(ModelKind::Vit),
        &compbench_nn::device(),
        4,
    );
    let dep = net.valid().to_deployed();
    let n = 37;
    let x = images(n);
    let pixels = x.len() / n;
    let alone: Vec<f32> = (0..n)
        .flat_map(|i| dep.forward(&x[i * pixels..(i + 1) * pixels], 1))
        .collect();
    let batch = dep.forward(&x, n);
    assert!(
        batch
            .iter()
            .zip(&alone)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "chunked batch and images alone differ"
    );
    // The head's input in an observed run (whole-batch blocks) against the same layer read
    // without an observer (chunked blocks).
    let observed = &dep.capture_gemm_inputs(&x, n, &["head"])["head"].data;
    let chunked = dep.forward_to(&x, n, "ln_f").unwrap().data;
    assert_eq!(observed.len(), chunked.len());
    assert!(
        observed
            .iter()
            .zip(&chunked)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "whole-batch (observed) and chunked blocks differ"
    );
}
