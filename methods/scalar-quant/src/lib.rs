//! Scalar quantization: PTQ, QAT (STE, LSQ, PACT), binary and ternary, with integer kernels.
//!
//! Code map (details and invariants in ARCHITECTURE.md, section compbench-scalar-quant):
//! * [`quantizer`]: uniform grids (`QParams`), quantize/dequantize, per-channel weight codes;
//! * [`calibrate`]: min-max, percentile and MSE range selection;
//! * [`kernels`]: the int8 GEMM (AVX2 `maddubs`, exact) and the xnor/popcount binary GEMM;
//! * [`deployed`]: `GemmKernel`s on those kernels (what accuracy is measured through);
//! * `conv`: `QuantGemm` as a convolution that quantizes each input value once (no f32
//!   im2col buffer), bit-identical to im2col + its GEMM;
//! * [`qat`]: fake-quant `TrainHooks` (STE, LSQ, PACT, binary, ternary, sign activations);
//! * [`method`]: the registered methods `ptq`, `qat`, `binary`;
//! * [`bench`]: rows for `compbench bench kernels`.
//!
//! The crate's code map and invariants follow (from its ARCHITECTURE.md).
#![doc = include_str!("../ARCHITECTURE.md")]

pub mod bench;
pub mod calibrate;
mod conv;
pub mod deployed;
pub mod kernels;
pub mod method;
pub mod qat;
pub mod quantizer;

use compbench_nn::Method;

pub use method::{BINARY, Binary, PTQ, Ptq, QAT, Qat};

/// The methods of this crate, for compbench-registry.
pub fn all() -> &'static [&'static dyn Method] {
    static ALL: [&dyn Method; 3] = [&PTQ, &QAT, &BINARY];
    &ALL
}

pub use bench::bench_rows;
