//! GPU roofline (Williams, Waterman & Patterson, CACM 2009).
//!
//! A GEMM takes t = max(FLOPs / (P · η_c), bytes / (B · η_m)) + launch overhead, where bytes is
//! the compulsory traffic (A, B and C once each at the precision's width; B as packed indices
//! plus codebooks when its storage is codebook-indexed) and P the peak of the
//! chosen precision. Non-linear ops run on the fp32 CUDA cores with 2 bytes moved per element
//! per byte of format (read + write). Energy is a power proxy: a static share of the TDP for the
//! whole time plus the rest of the TDP scaled by how busy the binding resource is, split
//! between compute and memory by their times — flagged as a rough estimate; calibrate with
//! measured power where a GPU is available. Block sparsity and VQ are priced dense (tensor
//! cores have no block skipping; 2:4 would be a 2× peak, not modelled here).
//!
//! Presets (vendor datasheets; H100 numbers as in hwmodels.md §5 [G1], A100 recalled):
//! | | FP16 dense | INT8 dense | FP32 (non-tensor) | HBM | TDP | die | boost clock |
//! |---|---|---|---|---|---|---|---|
//! | H100 SXM | 989.4 TFLOP/s | 1978.9 TOPS | 66.9 TFLOP/s | 3.35 TB/s | 700 W | 814 mm² | 1.98 GHz |
//! | A100 SXM 80 GB | 312 TFLOP/s | 624 TOPS | 19.5 TFLOP/s | 2.039 TB/s | 400 W | 826 mm² | 1.41 GHz |

use compbench_core::params::ParamSpec;
use compbench_core::{Breakdown, HwDesign, HwModel, HwReport, Layer, Op, ParamError, Params};

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
];

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
        let t_c = flops / (peak * self.eff_compute);
        let t_m = bytes / (self.bandwidth_bytes_per_s() * self.eff_mem);
        let busy = t_c.max(t_m);
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
                self.roofline(
                    r * 2.0 * m * k * n,
                    r * bytes,
                    self.peak_flops,
                    r * m * k * n,
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

/// The `gpu-roofline` hardware model.
#[derive(Debug, Clone, Copy)]
pub struct GpuRoofline;

/// Registry entry for the GPU roofline.
pub static GPU_ROOFLINE: GpuRoofline = GpuRoofline;

impl HwModel for GpuRoofline {
    fn id(&self) -> &'static str {
        "gpu-roofline"
    }

    fn describe(&self) -> &'static str {
        "GPU roofline (H100 SXM / A100 presets): max(compute, memory) time with efficiency factors and a TDP power proxy"
    }

    fn params(&self) -> &'static [ParamSpec] {
        GPU_PARAMS
    }

    fn build(&self, params: &Params) -> Result<Box<dyn HwDesign>, ParamError> {
        Ok(Box::new(GpuDesign::from_params(params)?))
    }
}
