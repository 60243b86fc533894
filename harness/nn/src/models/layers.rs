//! Parameter-holding building blocks of the zoo. They compute nothing themselves: GEMMs and
//! non-linear ops go through [`TrainHooks`] so methods can change them.
//!
//! Initialization uses compbench-core's [`Rng`] (never a dependency's RNG), with PyTorch's
//! defaults (Kaiming-uniform with a = √5, i.e. U(±1/√fan_in) for weights and biases), so the
//! PyTorch reference script trains the same distribution of models.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};
use compbench_core::NonlinearKind;
use compbench_core::seed::Rng;

use crate::hooks::{GemmSite, NonlinearSite, TrainHooks};

/// A fully-connected layer: `weight` is `[in, out]` (K×N, burn's Linear layout), `bias` `[out]`.
#[derive(Module, Debug)]
pub struct Dense {
    pub weight: Param<Tensor<2>>,
    pub bias: Param<Tensor<1>>,
}

impl Dense {
    pub fn new(fan_in: usize, fan_out: usize, device: &Device, rng: &mut Rng) -> Dense {
        let bound = 1.0 / (fan_in as f32).sqrt();
        Dense {
            weight: param(
                uniform(rng, fan_in * fan_out, bound),
                [fan_in, fan_out],
                device,
            ),
            bias: param(uniform(rng, fan_out, bound), [fan_out], device),
        }
    }

    pub fn forward(&self, site: &GemmSite, x: Tensor<2>, hooks: &dyn TrainHooks) -> Tensor<2> {
        hooks.linear(site, x, self.weight.val(), Some(self.bias.val()))
    }
}

/// A 2-D convolution's parameters: `weight` `[Cout, Cin, k, k]`, `bias` `[Cout]`. The geometry
/// lives in the model (it is architecture, not state).
#[derive(Module, Debug)]
pub struct Conv {
    pub weight: Param<Tensor<4>>,
    pub bias: Param<Tensor<1>>,
}

impl Conv {
    pub fn new(cin: usize, cout: usize, k: usize, device: &Device, rng: &mut Rng) -> Conv {
        let fan_in = cin * k * k;
        let bound = 1.0 / (fan_in as f32).sqrt();
        Conv {
            weight: param(
                uniform(rng, cout * fan_in, bound),
                [cout, cin, k, k],
                device,
            ),
            bias: param(uniform(rng, cout, bound), [cout], device),
        }
    }
}

/// LayerNorm's affine part (`γ·x̂ + β`); the normalization x̂ goes through the hooks.
#[derive(Module, Debug)]
pub struct LayerNorm {
    pub gamma: Param<Tensor<1>>,
    pub beta: Param<Tensor<1>>,
}

impl LayerNorm {
    pub fn new(dim: usize, device: &Device) -> LayerNorm {
        LayerNorm {
            gamma: param(vec![1.0; dim], [dim], device),
            beta: param(vec![0.0; dim], [dim], device),
        }
    }

    /// `x` is `[rows, dim]`.
    pub fn forward(&self, name: &str, x: Tensor<2>, hooks: &dyn TrainHooks) -> Tensor<2> {
        let site = NonlinearSite {
            name,
            kind: NonlinearKind::LayerNorm,
        };
        let xhat = hooks.nonlinear(&site, x);
        xhat * self.gamma.val().unsqueeze::<2>() + self.beta.val().unsqueeze::<2>()
    }
}

pub(crate) fn uniform(rng: &mut Rng, n: usize, bound: f32) -> Vec<f32> {
    (0..n)
        .map(|_| (rng.next_f32() * 2.0 - 1.0) * bound)
        .collect()
}

pub(crate) fn param<const D: usize>(
    values: Vec<f32>,
    shape: [usize; D],
    device: &Device,
) -> Param<Tensor<D>> {
    Param::from_data(TensorData::new(values, shape), device)
}

/// A parameter's values as a flat row-major `Vec<f32>`.
pub(crate) fn values<const D: usize>(p: &Param<Tensor<D>>) -> Vec<f32> {
    p.val()
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 parameter")
}

/// Replace a parameter's values, keeping its id (so optimizers and records still match it).
pub(crate) fn replace<const D: usize>(p: &mut Param<Tensor<D>>, values: Vec<f32>) {
    let dims = p.val().dims();
    let device = p.val().device();
    let id = p.id;
    let mut new = param(values, dims, &device);
    new.id = id;
    *p = new;
}
