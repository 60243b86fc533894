//! Deployed integer kernels: int8 GEMM (every bit width ≤ 8) and packed binary GEMM.
//!
//! Both take an epilogue closure so dequantization, bias and zero-point corrections are fused
//! into the pass that produces the i32 sums (no m × n i32 buffer round trip).

pub mod binary;
pub mod int8;

pub use int8::Isa;
