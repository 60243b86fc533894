//! compbench-nonlinear: approximate non-linear operations (the survey's fourth compression
//! family) as deployed kernels, training hooks and Workload IR.
//!
//! Code map:
//! * [`fit`]: least-squares fits in f64 — PWL with DP-optimal cut points on a 256-cell grid
//!   (error never rises with more segments), polynomials of degree 2-4;
//! * [`curve`]: the f32 evaluators the kernels run (PWL table, Horner polynomial, x², Softermax's
//!   2^x), each with a plain loop and an AVX2 loop that agree bit for bit;
//! * [`ibert`]: I-BERT's integer-only i-exp, i-GELU, i-sqrt, softmax and LayerNorm with the
//!   published constants and scale handling: per-row scalar references, and [`ibert::fast`], the
//!   same arithmetic in loops the compiler vectorizes (AVX2 when present), bit-identical;
//! * [`kernel`]: [`kernel::ApproxKernel`], the `NonlinearKernel` built from an implementation
//!   choice and the op's calibrated input statistics (softmax and LayerNorm composed from exp,
//!   reciprocal and inverse-square-root approximations, NN-LUT style);
//! * [`layer_norm`]: the approximate LayerNorm's rows (exact 8-lane mean and variance, fitted
//!   1/√), plain and AVX2 with the row held in registers;
//! * [`hooks`]: `TrainHooks` whose forward value is the deployed kernel's output exactly;
//! * [`method`]: the registered method `nonlinear`;
//! * [`bench`]: rows for `compbench bench kernels` (exact kernel as the baseline).
//!
//! Invariants: a kernel's output for a row depends only on that row and on constants fixed at
//! calibration (the deployed graph runs row chunks in parallel); integer kernels are
//! deterministic integer arithmetic; `ApproxKernel::run(.., simd = true)` and `(.., false)`
//! give identical bits (the approximate softmax and LayerNorm sum in eight fixed lanes on both
//! paths, `kernel::lane_sum`).

pub mod bench;
pub mod curve;
pub mod fit;
pub mod hooks;
pub mod ibert;
pub mod kernel;
pub mod layer_norm;
pub mod method;

use compbench_nn::Method;

pub use method::{NONLINEAR, Nonlinear};

/// The methods of this crate, for compbench-registry.
pub fn all() -> &'static [&'static dyn Method] {
    static ALL: [&dyn Method; 1] = [&NONLINEAR];
    &ALL
}
