//! Non-linear ops (softmax, GELU, LayerNorm, activations, pooling) on a SIMD vector unit.
//!
//! Every accelerator model carries one: `lanes` fp32-capable FMA lanes, one op per lane per
//! cycle. An op's cost is elements × (ops per element) plus rows × (ops per row), where the op
//! counts depend on how the method computes it ([`NonlinearImpl`]). Counts are **derived**
//! (standard libm-style implementations), in FMA-equivalents:
//!
//! | building block | ops | why |
//! |---|---|---|
//! | exp (exact) | 10 | range reduction (3) + degree-6 polynomial (6) + 2ⁿ scaling (1), as in SLEEF/glibc expf |
//! | erf (exact) | 12 | rational/polynomial approximation, ~12 FMAs |
//! | reciprocal, rsqrt | 4 | initial estimate + Newton–Raphson iterations |
//! | polynomial of degree d | d | Horner's rule |
//! | piecewise-linear | 1 table read + 1 FMA (+1 compare to pick the segment) | |
//! | integer (I-BERT style) | i-exp 4, i-erf 5, integer sqrt 10, at integer width | shifts and small-integer polys |
//! | base-2 exp (Softermax) | 5 | floor + fraction + degree-2 Horner (2) + exponent insert |
//!
//! Per kind, with T the transcendental part: ReLU 1; MaxPool 1 compare per input element;
//! GELU T(erf)+3; SiLU T(exp)+6 (add, reciprocal, multiply); softmax: max, subtract, T(exp),
//! sum, scale = T+4 per element and a reciprocal per row; LayerNorm: 6 per element (sum,
//! centered square, normalize, affine) and rsqrt + 2 per row; Other: 1 (or T for approximations).
//!
//! Energy per op: exact and polynomial forms run in the op's format (fp32 FMA = Horowitz fp32
//! mult + add = 4.6 pJ at 45 nm; fp16 1.5 pJ; integer b-bit: b-bit mult + 2b-bit add); integer
//! forms at their own width; a table read is a read of a segments × 2 × bits register file.

use compbench_core::{NonlinearImpl, NonlinearKind, NonlinearOp, NumFormat};

use crate::sram::Sram;
use crate::tech::{ArithOp, Cost, Tech};

const EXP_OPS: f64 = 10.0;
const ERF_OPS: f64 = 12.0;
const RECIPROCAL_OPS: f64 = 4.0;
const INT_EXP_OPS: f64 = 4.0;
const INT_ERF_OPS: f64 = 5.0;
const INT_SQRT_OPS: f64 = 10.0;
/// Softermax's 2^x: floor, fraction, degree-2 Horner (2), exponent insert.
const POW2_OPS: f64 = 5.0;

/// Work of one non-linear op, before pricing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NonlinearWork {
    /// Arithmetic ops per element.
    pub ops_per_element: f64,
    /// Table reads per element (piecewise-linear forms).
    pub reads_per_element: f64,
    /// Ops once per row (row-wise ops: reciprocal, rsqrt).
    pub ops_per_row: f64,
}

/// Op counts of `op` (see the module table).
pub fn work(op: &NonlinearOp) -> NonlinearWork {
    use NonlinearKind as K;
    // (transcendental part per element, per-row special function)
    let (t_elem, t_row, read) = match op.implementation {
        NonlinearImpl::Exact => {
            let t = match op.kind {
                K::Gelu => ERF_OPS,
                K::Silu | K::Softmax => EXP_OPS,
                _ => 0.0,
            };
            (t, RECIPROCAL_OPS, 0.0)
        }
        NonlinearImpl::Polynomial { degree } => (degree as f64, degree as f64, 0.0),
        // One compare to find the segment, then slope·x + intercept.
        NonlinearImpl::PiecewiseLinear { .. } => (2.0, 2.0, 1.0),
        NonlinearImpl::Integer { .. } => {
            let t = match op.kind {
                K::Gelu => INT_ERF_OPS,
                K::Silu | K::Softmax => INT_EXP_OPS,
                _ => 0.0,
            };
            (t, INT_SQRT_OPS, 0.0)
        }
        // Only softmax has a base-2 form; other kinds are priced as exact.
        NonlinearImpl::Base2Softmax => {
            let t = if op.kind == K::Softmax {
                POW2_OPS
            } else {
                match op.kind {
                    K::Gelu => ERF_OPS,
                    K::Silu => EXP_OPS,
                    _ => 0.0,
                }
            };
            (t, RECIPROCAL_OPS, 0.0)
        }
    };
    let has_transcendental = matches!(op.kind, K::Gelu | K::Silu | K::Softmax | K::Other);
    let reads = if has_transcendental { read } else { 0.0 };
    let (per_elem, per_row) = match op.kind {
        K::Relu | K::MaxPool => (1.0, 0.0),
        K::Gelu => (t_elem + 3.0, 0.0),
        K::Silu => (t_elem + 6.0, 0.0),
        K::Softmax => (t_elem + 4.0, t_row),
        K::LayerNorm => (6.0, t_row + 2.0),
        K::Other => (t_elem.max(1.0), 0.0),
    };
    NonlinearWork {
        ops_per_element: per_elem,
        reads_per_element: reads,
        ops_per_row: per_row,
    }
}

/// A vector unit of `lanes` FMA lanes with precomputed per-op energies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VectorUnit {
    pub lanes: f64,
    pub area_um2: f64,
    fp32_op: f64,
    fp16_op: f64,
    int8_op: f64,
    int16_op: f64,
    int32_op: f64,
    tech: Tech,
}

impl VectorUnit {
    pub fn new(tech: &Tech, lanes: u32) -> VectorUnit {
        let fma = |m: ArithOp, a: ArithOp| tech.op(m).plus(tech.op(a));
        let fp32 = fma(ArithOp::Fp32Mult, ArithOp::Fp32Add);
        let int_op = |b: u32| fma(ArithOp::IntMult(b), ArithOp::IntAdd(2 * b)).energy_pj;
        // Each lane: an fp32 FMA datapath plus a 3-entry × 32-bit operand register set.
        let lane_area = fp32.plus(tech.register(96.0)).area_um2;
        VectorUnit {
            lanes: lanes.max(1) as f64,
            area_um2: lane_area * lanes as f64,
            fp32_op: fp32.energy_pj,
            fp16_op: fma(ArithOp::Fp16Mult, ArithOp::Fp16Add).energy_pj,
            int8_op: int_op(8),
            int16_op: int_op(16),
            int32_op: int_op(32),
            tech: *tech,
        }
    }

    fn op_pj(&self, fmt: NumFormat) -> f64 {
        match fmt {
            NumFormat::Float(b) if b <= 16 => self.fp16_op,
            NumFormat::Float(_) => self.fp32_op,
            NumFormat::Int(b) if b <= 8 => self.int8_op,
            NumFormat::Int(b) if b <= 16 => self.int16_op,
            NumFormat::Int(_) => self.int32_op,
        }
    }

    /// (cycles, energy pJ) of one run of `op` (callers multiply by repeats).
    pub fn price(&self, op: &NonlinearOp) -> (f64, f64) {
        let w = work(op);
        let elems = op.elements as f64;
        let rows = if op.row > 0 {
            (op.elements / op.row.max(1)) as f64
        } else {
            0.0
        };
        let fmt = match op.implementation {
            NonlinearImpl::Integer { bits } => NumFormat::Int(bits),
            _ => op.format,
        };
        let total_ops = elems * w.ops_per_element + rows * w.ops_per_row;
        let reads = elems * w.reads_per_element;
        let read_pj = match op.implementation {
            NonlinearImpl::PiecewiseLinear { segments, bits } if reads > 0.0 => {
                let kb = (segments as f64 * 2.0 * bits as f64) / 8192.0;
                Sram::new(&self.tech, kb, 2.0 * bits as f64).access_pj
            }
            _ => 0.0,
        };
        let cycles = ((total_ops + reads) / self.lanes).ceil();
        let energy = total_ops * self.op_pj(fmt) + reads * read_pj;
        (cycles, energy)
    }

    /// Energy per evaluated element of `op` (its row work spread over the row) and the area
    /// the evaluation needs: the lanes, plus a piecewise-linear form's (slope, intercept)
    /// register table (`segments × 2 × bits`), which the lanes do not include.
    pub fn per_evaluation(&self, op: &NonlinearOp) -> Cost {
        let (_, energy) = self.price(op);
        let table_bits = match op.implementation {
            NonlinearImpl::PiecewiseLinear { segments, bits }
                if work(op).reads_per_element > 0.0 =>
            {
                segments as f64 * 2.0 * bits as f64
            }
            _ => 0.0,
        };
        Cost {
            energy_pj: energy / op.elements.max(1) as f64,
            area_um2: self.area_um2 + self.tech.register(table_bits).area_um2,
        }
    }

    /// The per-element cost of the cheapest op, exposed for tests.
    pub fn fp32_op_cost(&self) -> Cost {
        Cost {
            energy_pj: self.fp32_op,
            area_um2: self.area_um2 / self.lanes,
        }
    }
}
