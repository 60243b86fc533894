//! GPU roofline (Williams, Waterman & Patterson, CACM 2009).
//!
//! A GEMM takes t = max(FLOPs / (P · η_c), bytes / (B · η_m)) + launch overhead, where bytes is
//! the compulsory traffic (A, B and C once each at the precision's width; B as packed indices
//! plus codebooks when its storage is codebook-indexed) and P the peak of the
//! chosen precision. Non-linear ops run on the fp32 CUDA cores with 2 bytes moved per element
//! per byte of format (read + write). Energy is a power proxy: a static share of the TDP for the
//! whole time plus the rest of the TDP scaled by how busy the binding resource is, split
//! between compute and memory by their times — flagged as a rough estimate; calibrate with
//! measured power where a GPU is available. VQ is priced dense; 2:4 sparsity (a 2× tensor-core
//! peak) is not modelled.
//!
//! **Block-sparse GEMM** (weights with the IR's [`compbench_core::BlockSparsity`]) runs as a BSR
//! kernel whose time is the dense roofline time times a ratio r(d) = α_b + γ_b·d of the block
//! density d = 1 − sparsity, calibrated per block edge b on the only published GPU BSR
//! measurements we have: the PyTorch blog "Speeding up ViTs using Block Sparsity" (2024,
//! `pytorch-labs/superblock`; A100, fp32, ViT-B/16 MLP weights, batch 256), which reports, for
//! blocks 16 / 32 / 64, speedups of 1.24 / 1.37 / 1.65× at 90 % sparsity and break-even
//! sparsities 0.86 / 0.82 / 0.70 (../shared/references/lpvit.md §2.2). Two points per block
//! give the two coefficients: r(0.1) = 1/speedup and r(1 − break-even) = 1. α_b is the part of
//! the dense time the BSR kernel does not shed (A and C traffic, indexing), γ_b its cost per
//! kept block relative to dense cuBLAS (4.8× at block 16, 2.0× at 64). Our assumptions, not
//! the blog's: a rectangular block counts as its geometric-mean edge; α and γ are linear in
//! log2(edge) between the measured edges; below 16, α stays at block 16's and γ extends the
//! 16–32 trend (smaller blocks cost more per kept block); above 64 both stay at block 64's (no
//! data). The fit is pinned between break-even and 90 % sparsity; beyond 95 % the lines cross
//! (block 16's smaller α makes it the fastest as d → 0), so block-size comparisons there are an
//! extrapolation, not data. The fp32 curve is applied
//! to every precision, which is optimistic for fp16/int8 tensor cores (the blog saw bf16 gain
//! only at block 64 and high sparsity). With `bsr_dense_fallback` (default) a layer below its
//! break-even sparsity runs the dense kernel instead, as a deployment would choose.
//!
//! Presets (vendor datasheets; H100 numbers as in hwmodels.md §5 [G1], A100 recalled):
//! | | FP16 dense | INT8 dense | FP32 (non-tensor) | HBM | TDP | die | boost clock |
//! |---|---|---|---|---|---|---|---|
//! | H100 SXM | 989.4 TFLOP/s | 1978.9 TOPS | 66.9 TFLOP/s | 3.35 TB/s | 700 W | 814 mm² | 1.98 GHz |
//! | A100 SXM 80 GB | 312 TFLOP/s | 624 TOPS | 19.5 TFLOP/s | 2.039 TB/s | 400 W | 826 mm² | 1.41 GHz |

use compbench_core::params::ParamSpec;
use compbench_core::{
    Breakdown, Gemm, HwDesign, HwModelEntry, HwReport, Layer, Op, ParamError, Params,
};

use crate::common::DesignConsts;
use crate::vector;

/// One GPU's datasheet numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GpuSpec {
    pub name: &'static str,
    pub fp16_tflops: f64,
    pub int8_tops: f64,
    pub fp32_tflops: f64,
    pub bandwidth_tbs: f64,
    pub tdp_w: f64,
    pub die_mm2: f64,
    pub clock_ghz: f64,
}

pub const H100_SXM: GpuSpec = GpuSpec {
    name: "h100",
    fp16_tflops: 989.4,
    int8_tops: 1978.9,
    fp32_tflops: 66.9,
    bandwidth_tbs: 3.35,
    tdp_w: 700.0,
    die_mm2: 814.0,
    clock_ghz: 1.98,
};

pub const A100_SXM: GpuSpec = GpuSpec {
    name: "a100",
    fp16_tflops: 312.0,
    int8_tops: 624.0,
    fp32_tflops: 19.5,
    bandwidth_tbs: 2.039,
    tdp_w: 400.0,
    die_mm2: 826.0,
    clock_ghz: 1.41,
};

pub static GPU_PARAMS: &[ParamSpec] = &[
    ParamSpec::choice("preset", "h100", &["h100", "a100"], "GPU datasheet preset"),
    ParamSpec::choice(
        "precision",
        "fp16",
        &["fp16", "int8", "fp32"],
        "GEMM precision (tensor cores for fp16/int8)",
    ),
    ParamSpec::float(
        "eff_compute",
        1.0,
        0.01,
        1.0,
        "achieved fraction of peak FLOP/s",
    ),
    ParamSpec::float(
        "eff_mem",
        1.0,
        0.01,
        1.0,
        "achieved fraction of peak bandwidth",
    ),
    ParamSpec::float(
        "launch_us",
        0.0,
        0.0,
        1000.0,
        "fixed overhead per layer (kernel launch), µs",
    ),
    ParamSpec::float(
        "static_frac",
        0.3,
        0.0,
        1.0,
        "share of TDP drawn regardless of load",
    ),
    ParamSpec::bool(
        "bsr_dense_fallback",
        true,
        "run a block-sparse layer dense when the BSR kernel would be slower",
    ),
];

/// One published BSR measurement series (PyTorch blog, A100 fp32; see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BsrMeasurement {
    /// Square block edge.
    pub block: u32,
    /// Speedup over dense at 90 % block sparsity.
    pub speedup_at_90: f64,
    /// Sparsity at which the BSR kernel is as fast as dense.
    pub break_even_sparsity: f64,
}

/// The PyTorch blog's A100 fp32 points ("Speeding up ViTs using Block Sparsity", 2024).
pub const BSR_A100_FP32: [BsrMeasurement; 3] = [
    BsrMeasurement {
        block: 16,
        speedup_at_90: 1.24,
        break_even_sparsity: 0.86,
    },
    BsrMeasurement {
        block: 32,
        speedup_at_90: 1.37,
        break_even_sparsity: 0.82,
    },
    BsrMeasurement {
        block: 64,
        speedup_at_90: 1.65,
        break_even_sparsity: 0.70,
    },
];

impl BsrMeasurement {
    /// (α, γ) of r(d) = α + γ·d through r(0.1) = 1/speedup and r(1 − break-even) = 1.
    pub fn coefficients(&self) -> (f64, f64) {
        let (d1, r1) = (0.1, 1.0 / self.speedup_at_90);
        let d2 = 1.0 - self.break_even_sparsity;
        let gamma = (1.0 - r1) / (d2 - d1);
        (r1 - gamma * d1, gamma)
    }
}

/// BSR kernel time ÷ dense time at block density `density` for `block_k × block_n` blocks
/// (see the module docs for the calibration and its extrapolation).
pub fn bsr_time_ratio(block_k: u32, block_n: u32, density: f64) -> f64 {
    let edge = ((block_k.max(1) as f64) * (block_n.max(1) as f64)).sqrt();
    let x = edge.log2().min(6.0);
    let coef: Vec<(f64, f64)> = BSR_A100_FP32.iter().map(|m| m.coefficients()).collect();
    // Segment 16–32 (γ also extended below 16, α held) or 32–64, by log2 edge 4, 5, 6.
    let (lo, t) = if x < 5.0 { (0, x - 4.0) } else { (1, x - 5.0) };
    let (a0, g0) = coef[lo];
    let (a1, g1) = coef[lo + 1];
    let alpha = a0 + t.max(0.0) * (a1 - a0);
    let gamma = g0 + t * (g1 - g0);
    alpha + gamma * density.clamp(0.0, 1.0)
}

/// A GPU design point.
#[derive(Debug, Clone, Copy)]
pub struct GpuDesign {
    pub spec: GpuSpec,
    /// Peak of the GEMM precision, FLOP/s (2 per MAC).
    pub peak_flops: f64,
    pub bytes_per_elem: f64,
    pub eff_compute: f64,
    pub eff_mem: f64,
    pub launch_s: f64,
    /// Run block-sparse layers dense when that is faster.
    pub bsr_dense_fallback: bool,
    pub consts: DesignConsts,
}

impl GpuDesign {
    pub fn from_params(given: &Params) -> Result<GpuDesign, ParamError> {
        let p = Params::resolve(GPU_PARAMS, &given.0)?;
        let spec = if p.str("preset") == "a100" {
            A100_SXM
        } else {
            H100_SXM
        };
        let (peak_flops, bytes_per_elem) = match p.str("precision") {
            "int8" => (spec.int8_tops * 1e12, 1.0),
            "fp32" => (spec.fp32_tflops * 1e12, 4.0),
            _ => (spec.fp16_tflops * 1e12, 2.0),
        };
        let static_w = p.float("static_frac") * spec.tdp_w;
        let mut area = Breakdown::new();
        area.add("die", spec.die_mm2 * 1e6);
        let freq_hz = spec.clock_ghz * 1e9;
        Ok(GpuDesign {
            spec,
            peak_flops,
            bytes_per_elem,
            eff_compute: p.float("eff_compute"),
            eff_mem: p.float("eff_mem"),
            launch_s: p.float("launch_us") * 1e-6,
            bsr_dense_fallback: p.bool("bsr_dense_fallback"),
            consts: DesignConsts {
                freq_hz,
                area_um2: spec.die_mm2 * 1e6,
                area_breakdown: area,
                leakage_w: static_w,
                peak_macs_per_cycle: peak_flops / 2.0 / freq_hz,
            },
        })
    }

    pub fn bandwidth_bytes_per_s(&self) -> f64 {
        self.spec.bandwidth_tbs * 1e12
    }

    /// Ridge point of the roofline, FLOP per byte.
    pub fn ridge_flop_per_byte(&self) -> f64 {
        self.peak_flops / self.bandwidth_bytes_per_s()
    }

    /// Time of `g`'s kernel relative to its dense roofline time: the BSR ratio for a layer with
    /// block-sparse static weights (capped at 1 with the dense fallback), else 1.
    pub fn gemm_time_ratio(&self, g: &Gemm) -> f64 {
        match &g.sparsity {
            Some(sp) if g.weights_static => {
                let r = bsr_time_ratio(sp.block_k, sp.block_n, sp.density);
                if self.bsr_dense_fallback {
                    r.min(1.0)
                } else {
                    r
                }
            }
            _ => 1.0,
        }
    }

    /// Bytes of a GEMM's weight operand read from memory: at the GEMM precision's width, or,
    /// for codebook storage, the packed indices plus the codebooks (the decode is a
    /// shared-memory look-up folded into the compute roof, not priced on its own).
    pub fn weight_bytes(&self, g: &compbench_core::Gemm) -> f64 {
        let storage = g.storage();
        let elements = (g.k * g.n) as f64;
        match storage.codebook {
            Some(_) => (elements * storage.element.bits() as f64 + storage.codebook_bits()) / 8.0,
            None => elements * self.bytes_per_elem,
        }
    }

    /// (compute time, memory time) → report, with the power proxy.
    fn roofline(&self, flops: f64, bytes: f64, peak: f64, macs: f64) -> HwReport {
        self.roofline_scaled(flops, bytes, peak, macs, 1.0)
    }

    /// The roofline with its busy time multiplied by `time_ratio` (a BSR kernel's time relative
    /// to dense); power while busy is unchanged, so energy scales with the time.
    fn roofline_scaled(
        &self,
        flops: f64,
        bytes: f64,
        peak: f64,
        macs: f64,
        time_ratio: f64,
    ) -> HwReport {
        let t_c = flops / (peak * self.eff_compute);
        let t_m = bytes / (self.bandwidth_bytes_per_s() * self.eff_mem);
        let busy = t_c.max(t_m) * time_ratio;
        let t = busy + self.launch_s;
        let dynamic_w = self.spec.tdp_w - self.consts.leakage_w;
        let dynamic_pj = dynamic_w * busy * 1e12;
        let share_c = if t_c + t_m > 0.0 {
            t_c / (t_c + t_m)
        } else {
            0.0
        };
        let mut e = Breakdown::new();
        e.add("compute", dynamic_pj * share_c);
        e.add("memory", dynamic_pj * (1.0 - share_c));
        self.consts.layer_report(t * self.consts.freq_hz, e, macs)
    }
}

impl HwDesign for GpuDesign {
    fn eval_layer(&self, layer: &Layer) -> HwReport {
        let r = layer.repeats as f64;
        match &layer.op {
            Op::Gemm(g) => {
                let (m, k, n) = (g.m as f64, g.k as f64, g.n as f64);
                let bytes = (m * k + m * n) * self.bytes_per_elem + self.weight_bytes(g);
                self.roofline_scaled(
                    r * 2.0 * m * k * n,
                    r * bytes,
                    self.peak_flops,
                    r * m * k * n,
                    self.gemm_time_ratio(g),
                )
            }
            Op::Nonlinear(op) => {
                let w = vector::work(op);
                let elems = op.elements as f64;
                let rows = (op.elements / op.row.max(1)) as f64;
                // One FMA = 2 FLOPs on the fp32 cores.
                let flops = 2.0
                    * (elems * (w.ops_per_element + w.reads_per_element) + rows * w.ops_per_row);
                let bytes = 2.0 * elems * op.format.bits() as f64 / 8.0;
                self.roofline(r * flops, r * bytes, self.spec.fp32_tflops * 1e12, 0.0)
            }
        }
    }

    fn area_um2(&self) -> f64 {
        self.consts.area_um2
    }

    fn leakage_w(&self) -> f64 {
        self.consts.leakage_w
    }
}

/// Registry entry for the `gpu-roofline` hardware model.
pub static GPU_ROOFLINE: HwModelEntry = HwModelEntry {
    id: "gpu-roofline",
    describe: "GPU roofline (H100 SXM / A100 presets): max(compute, memory) time with efficiency factors and a TDP power proxy; block-sparse GEMM from published A100 BSR measurements",
    params: GPU_PARAMS,
    build: |params| Ok(Box::new(GpuDesign::from_params(params)?)),
};
