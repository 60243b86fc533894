//! The deployed (plaintext) twins the runner evaluates, and their Workload IR.
//!
//! * float: `fc1` dense f32, `fc1.square` (x², a degree-2 polynomial), `fc2` dense f32;
//! * integer: `fc1` computes `acc1` from the client's input codes; `fc2` squares and applies
//!   the classifier in `i64`. The square is fused into `fc2`'s kernel because `acc1²` needs
//!   up to 35 bits and the buffers between deployed nodes are f32 (exact only to 2^24; `acc1`
//!   itself is checked to fit). `fc2` writes `acc2 − max(acc2)` per row, so the f32 logits
//!   keep the integer arg-max exactly (the maximum becomes 0, every other logit ≤ −1).
//!
//! Encrypted layouts attach their per-layer [`HeCost`] to the integer kernels' IR: `fc1` has
//! FC1's operations, `fc2` the square's and FC2's.

use std::sync::Arc;

use compbench_core::{Gemm, HeCost, NonlinearImpl, NonlinearKind, NumFormat};
use compbench_nn::deployed::{DenseGemm, GemmNode, Node, NonlinearNode};
use compbench_nn::{DeployedModel, GemmKernel, NonlinearKernel};

use crate::circuit::IntMlp;
use crate::slots::OpStats;

/// x², element-wise.
pub struct SquareKernel;

impl NonlinearKernel for SquareKernel {
    fn kind(&self) -> NonlinearKind {
        NonlinearKind::Other
    }
    fn implementation(&self) -> NonlinearImpl {
        NonlinearImpl::Polynomial { degree: 2 }
    }
    fn forward(&self, x: &mut [f32], _rows: usize, _cols: usize) {
        x.iter_mut().for_each(|v| *v *= *v);
    }
}

/// The float HE-ready network.
pub fn float_model(
    name: String,
    weights: [(Vec<f32>, Vec<f32>); 2],
    dims: [usize; 3],
) -> DeployedModel {
    let [(w1, b1), (w2, b2)] = weights;
    let [k, m, c] = dims;
    DeployedModel {
        name,
        input: [1, 28, 28],
        classes: c,
        nodes: vec![
            Node::Flatten,
            Node::Gemm(GemmNode::new(
                "fc1",
                Box::new(DenseGemm::new(k, m, w1, Some(b1))),
            )),
            Node::Nonlinear(NonlinearNode::new("fc1.square", Box::new(SquareKernel))),
            Node::Gemm(GemmNode::new(
                "fc2",
                Box::new(DenseGemm::new(m, c, w2, Some(b2))),
            )),
        ],
    }
}

/// HE op counts of one layer as IR.
pub fn he_cost(ops: &OpStats, degree: usize, log_q: u32, images_per_unit: u64) -> HeCost {
    HeCost {
        poly_degree: degree as u32,
        ct_pt_mul: ops.ct_pt_mul,
        ct_ct_mul: ops.ct_ct_mul,
        relinearizations: ops.relinearizations,
        rotations: ops.rotations,
        additions: ops.additions,
        ct_scalar_mul: ops.ct_scalar_mul,
        key_switches: ops.key_switches(),
        images_per_unit,
        log_q,
    }
}

fn int_gemm(m: u64, k: usize, n: usize, net: &IntMlp, he: &Option<HeCost>) -> Gemm {
    let mut g = Gemm::dense(
        m,
        k as u64,
        n as u64,
        NumFormat::Int(net.widths.weight_bits as u8),
    );
    g.out = NumFormat::Int(64);
    g.he = he.clone();
    g
}

/// FC1 of the integer twin: input codes → `acc1` (exact in f32, checked by the method).
pub struct IntFc1 {
    pub net: Arc<IntMlp>,
    pub he: Option<HeCost>,
}

impl GemmKernel for IntFc1 {
    fn kind(&self) -> &'static str {
        "he-int-fc1"
    }
    fn k(&self) -> usize {
        self.net.widths.inputs
    }
    fn n(&self) -> usize {
        self.net.widths.hidden
    }
    fn forward(&self, x: &[f32], m: usize, out: &mut [f32]) {
        let (k, n) = (self.k(), self.n());
        for (row, o) in x.chunks_exact(k).zip(out.chunks_exact_mut(n)).take(m) {
            let acc = self.net.hidden(&self.net.quantize(row));
            for (d, a) in o.iter_mut().zip(acc) {
                *d = a as f32;
            }
        }
    }
    fn gemm_ir(&self, m: u64) -> Gemm {
        let mut g = int_gemm(m, self.k(), self.n(), &self.net, &self.he);
        g.act = NumFormat::Int(self.net.widths.input_bits as u8);
        g
    }
    fn weight_bits(&self) -> f64 {
        (self.k() * self.n()) as f64 * self.net.widths.weight_bits as f64
    }
}

/// x² then FC2 of the integer twin, in `i128`; writes `acc2 − max acc2` per row.
pub struct IntSquareFc2 {
    pub net: Arc<IntMlp>,
    pub he: Option<HeCost>,
}

impl GemmKernel for IntSquareFc2 {
    fn kind(&self) -> &'static str {
        "he-int-square-fc2"
    }
    fn k(&self) -> usize {
        self.net.widths.hidden
    }
    fn n(&self) -> usize {
        self.net.widths.classes
    }
    fn forward(&self, x: &[f32], m: usize, out: &mut [f32]) {
        let (k, n) = (self.k(), self.n());
        for (row, o) in x.chunks_exact(k).zip(out.chunks_exact_mut(n)).take(m) {
            let logits: Vec<i128> = self
                .net
                .w2
                .chunks_exact(k)
                .zip(&self.net.b2)
                .map(|(w, &b)| {
                    w.iter()
                        .zip(row)
                        .map(|(&w, &a)| {
                            let a = a as i128;
                            w as i128 * a * a
                        })
                        .sum::<i128>()
                        + b as i128
                })
                .collect();
            let max = logits.iter().copied().max().unwrap_or(0);
            for (d, l) in o.iter_mut().zip(logits) {
                *d = (l - max) as f32;
            }
        }
    }
    fn gemm_ir(&self, m: u64) -> Gemm {
        let mut g = int_gemm(m, self.k(), self.n(), &self.net, &self.he);
        g.act = NumFormat::Int(64);
        g
    }
    fn weight_bits(&self) -> f64 {
        (self.k() * self.n()) as f64 * self.net.widths.weight_bits as f64
    }
}

/// The integer twin, with optional HE costs for `fc1` and `fc2`.
pub fn integer_model(name: String, net: Arc<IntMlp>, he: [Option<HeCost>; 2]) -> DeployedModel {
    let [he1, he2] = he;
    DeployedModel {
        name,
        input: [1, 28, 28],
        classes: net.widths.classes,
        nodes: vec![
            Node::Flatten,
            Node::Gemm(GemmNode::new(
                "fc1",
                Box::new(IntFc1 {
                    net: net.clone(),
                    he: he1,
                }),
            )),
            Node::Gemm(GemmNode::new(
                "fc2",
                Box::new(IntSquareFc2 { net, he: he2 }),
            )),
        ],
    }
}
