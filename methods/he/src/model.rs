//! The HE-ready network: an MLP `inputs → hidden → classes` with an x² activation, trained in
//! float, then quantization-aware so that its forward pass *is* the integer circuit of
//! [`crate::circuit`] up to float rounding.
//!
//! QAT forward (every fake-quant is `q.detach() + (x − x.detach())`, the straight-through
//! estimator):
//! * inputs: the training images are replaced by their dequantized values `(q − zp)·s` before
//!   training (computed by [`InputQuant`], the same function the client runs), so input
//!   rounding is shared by construction;
//! * `W1`, `W2`: symmetric per-tensor grids, `s_w = max|W|/qmax` recomputed each step
//!   (per-tensor, not per-channel: a per-channel FC1 scale would have to be folded into W2
//!   before quantizing it, and a per-class FC2 scale would change the arg-max of the integer
//!   logits);
//! * `b1` on the accumulator grid `c1 = s·s_w1`, `b2` on `c2 = s_w2·c1²`, both clamped to the
//!   widths' bias bounds (which never bind in practice; they make the accumulator bound hold);
//! * `z = x̂·Ŵ1 + b̂1 = c1·acc1`, `a = z² = c1²·acc1²`, `y = a·Ŵ2 + b̂2 = c2·acc2`.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use compbench_core::ImageSplit;
use compbench_core::seed::Rng;
use compbench_nn::models::Dense;

use crate::circuit::{InputQuant, IntMlp, Widths};

#[derive(Module, Debug)]
pub struct HeMlp {
    pub fc1: Dense,
    pub fc2: Dense,
}

/// How the forward pass treats weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Forward {
    Float,
    /// Fake-quantized to `widths`, inputs already dequantized with input step `in_scale`.
    Qat {
        widths: Widths,
        in_scale: f32,
    },
}

fn ste<const D: usize>(x: Tensor<D>, q: Tensor<D>) -> Tensor<D> {
    q.detach() + (x.clone() - x.detach())
}

/// Per-tensor symmetric fake quantization: `(Ŵ, s_w as [1, 1])`.
fn fake_weight(w: Tensor<2>, qmax: f32) -> (Tensor<2>, Tensor<2>) {
    let s = w
        .clone()
        .abs()
        .max()
        .reshape([1, 1])
        .detach()
        .div_scalar(qmax);
    let s = s.clone().mask_fill(s.equal_elem(0.0), 1.0);
    let q = (w.clone() / s.clone()).round().clamp(-qmax, qmax) * s.clone();
    (ste(w, q), s)
}

/// Bias on the grid `c` (shape [1]), clamped to `±bmax` grid steps.
fn fake_bias(b: Tensor<1>, c: Tensor<1>, bmax: f32) -> Tensor<1> {
    let q = (b.clone() / c.clone()).round().clamp(-bmax, bmax) * c;
    ste(b, q)
}

impl HeMlp {
    pub fn new(inputs: usize, hidden: usize, classes: usize, device: &Device, seed: u64) -> HeMlp {
        let mut rng = Rng::new(seed);
        HeMlp {
            fc1: Dense::new(inputs, hidden, device, &mut rng),
            fc2: Dense::new(hidden, classes, device, &mut rng),
        }
    }

    /// Logits `[b, classes]` for images `[b, c, h, w]`.
    pub fn forward(&self, x: Tensor<4>, mode: Forward) -> Tensor<2> {
        let [b, c, h, w] = x.dims();
        let x = x.reshape([b, c * h * w]);
        match mode {
            Forward::Float => {
                let z = x.matmul(self.fc1.weight.val()) + self.fc1.bias.val().unsqueeze::<2>();
                let a = z.clone() * z;
                a.matmul(self.fc2.weight.val()) + self.fc2.bias.val().unsqueeze::<2>()
            }
            Forward::Qat { widths, in_scale } => {
                let qmax = widths.weight_qmax() as f32;
                let (w1, s1) = fake_weight(self.fc1.weight.val(), qmax);
                let c1 = s1.mul_scalar(in_scale).reshape([1]);
                let b1 = fake_bias(self.fc1.bias.val(), c1.clone(), widths.bias1_max() as f32);
                let z = x.matmul(w1) + b1.unsqueeze::<2>();
                let a = z.clone() * z;
                let (w2, s2) = fake_weight(self.fc2.weight.val(), qmax);
                let c2 = (s2.reshape([1]) * c1.clone()) * c1;
                let b2 = fake_bias(self.fc2.bias.val(), c2, bias2_clamp(&widths));
                a.matmul(w2) + b2.unsqueeze::<2>()
            }
        }
    }

    /// `(weights K×N row-major, bias)` of FC1 and FC2.
    pub fn weights(&self) -> [(Vec<f32>, Vec<f32>); 2] {
        let v = |d: TensorData| {
            d.convert::<f32>()
                .try_into_vec::<f32>()
                .expect("f32 parameter")
        };
        [
            (
                v(self.fc1.weight.val().into_data()),
                v(self.fc1.bias.val().into_data()),
            ),
            (
                v(self.fc2.weight.val().into_data()),
                v(self.fc2.bias.val().into_data()),
            ),
        ]
    }

    /// The integer twin of the QAT forward pass, computed on the CPU with the same f32
    /// operations (scale, divide, round half to even, clamp) the fake quantizers run.
    pub fn to_integer(&self, widths: Widths, input: InputQuant) -> IntMlp {
        let qmax = widths.weight_qmax();
        let [(w1, b1), (w2, b2)] = self.weights();
        let scale = |w: &[f32]| {
            let m = w.iter().fold(0f32, |a, &x| a.max(x.abs())) / qmax as f32;
            if m == 0.0 { 1.0 } else { m }
        };
        let codes = |w: &[f32], s: f32| -> Vec<i64> {
            w.iter()
                .map(|&x| ((x / s).round_ties_even() as i64).clamp(-qmax, qmax))
                .collect()
        };
        let (k, m, c) = (widths.inputs, widths.hidden, widths.classes);
        let s1 = scale(&w1);
        let c1 = s1 * input.scale;
        let q1 = codes(&w1, s1); // [k][m]
        let s2 = scale(&w2);
        let c2 = (s2 * c1) * c1;
        let q2 = codes(&w2, s2); // [m][c]
        // Out-major for the circuit.
        let w1_t: Vec<i64> = (0..m)
            .flat_map(|j| (0..k).map(move |i| (i, j)))
            .map(|(i, j)| q1[i * m + j])
            .collect();
        let w2_t: Vec<i64> = (0..c)
            .flat_map(|o| (0..m).map(move |j| (j, o)))
            .map(|(j, o)| q2[j * c + o])
            .collect();
        let bmax1 = widths.bias1_max();
        let b1_int: Vec<i64> = b1
            .iter()
            .enumerate()
            .map(|(j, &b)| {
                let bb = ((b / c1).round_ties_even() as i64).clamp(-bmax1, bmax1);
                let row_sum: i64 = w1_t[j * k..(j + 1) * k].iter().sum();
                bb - input.zero * row_sum
            })
            .collect();
        let bmax2 = bias2_clamp(&widths) as f64;
        let b2_int: Vec<i64> = b2
            .iter()
            .map(|&b| {
                (b / c2)
                    .round_ties_even()
                    .clamp(-bmax2 as f32, bmax2 as f32) as i64
            })
            .collect();
        IntMlp {
            widths,
            input,
            w1: w1_t,
            b1: b1_int,
            w2: w2_t,
            b2: b2_int,
            logit_scale: c2 as f64,
        }
    }
}

/// The layer-2 bias clamp as an f32 no larger than the exact bound (so the bound holds).
fn bias2_clamp(widths: &Widths) -> f32 {
    let exact = widths.bias2_max().min(i64::MAX as u128) as f64;
    let mut f = exact as f32;
    while f as f64 > exact {
        f = f32::from_bits(f.to_bits() - 1);
    }
    f
}

/// Pixel range of a split (the input quantizer's calibration).
pub fn input_range(split: &ImageSplit) -> (f32, f32) {
    split
        .images
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}

/// The split with every pixel replaced by its dequantized value.
pub fn dequantized(split: &ImageSplit, q: &InputQuant) -> ImageSplit {
    ImageSplit {
        images: split.images.iter().map(|&x| q.dequantized(x)).collect(),
        ..split.clone()
    }
}
