//! Pieces every design shares: turning per-layer work into an [`HwReport`], reading parameters.

use compbench_core::{Breakdown, HwReport, Params};

/// Design-wide constants every layer report carries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DesignConsts {
    pub freq_hz: f64,
    pub area_um2: f64,
    pub area_breakdown: Breakdown,
    pub leakage_w: f64,
    pub peak_macs_per_cycle: f64,
}

impl DesignConsts {
    /// Finish a layer: latency from cycles, leakage over the latency, derived fields.
    /// `energy` already holds the dynamic energy by component.
    pub fn layer_report(&self, cycles: f64, mut energy: Breakdown, macs: f64) -> HwReport {
        let latency_s = cycles / self.freq_hz;
        energy.add("leakage", self.leakage_w * latency_s * 1e12);
        let energy_pj = energy.total();
        HwReport {
            cycles,
            latency_s,
            energy_pj,
            power_w: if latency_s > 0.0 {
                energy_pj * 1e-12 / latency_s
            } else {
                0.0
            },
            area_um2: self.area_um2,
            utilization: if cycles > 0.0 && self.peak_macs_per_cycle > 0.0 {
                (macs / (self.peak_macs_per_cycle * cycles)).min(1.0)
            } else {
                0.0
            },
            macs,
            energy_breakdown: energy,
            area_breakdown: self.area_breakdown,
            counts: Breakdown::new(),
            peak_macs_per_cycle: self.peak_macs_per_cycle,
        }
    }
}

/// `HwDesign` for an accelerator type with fields `consts: DesignConsts` and
/// `vector: VectorUnit` and a method `price_gemm(&self, &Gemm, repeats: f64) -> HwReport`:
/// non-linear layers go to the shared vector unit ([`crate::systolic::price_nonlinear`]); area
/// and leakage are the design's constants. A new accelerator writes only its GEMM pricing.
macro_rules! accelerator_design {
    ($design:ty) => {
        impl compbench_core::HwDesign for $design {
            fn eval_layer(&self, layer: &compbench_core::Layer) -> compbench_core::HwReport {
                let repeats = layer.repeats as f64;
                match &layer.op {
                    compbench_core::Op::Gemm(g) => self.price_gemm(g, repeats),
                    compbench_core::Op::Nonlinear(op) => {
                        $crate::systolic::price_nonlinear(&self.vector, &self.consts, op, repeats)
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
    };
}
pub(crate) use accelerator_design;

/// Integer ceiling division (b > 0).
#[inline]
pub fn ceil_div(a: u64, b: u64) -> u64 {
    a.div_ceil(b.max(1))
}

/// DRAM bytes for one operand that is read `sram_bytes` times in total from an SRAM of
/// `capacity_bytes`, with `unique_bytes` distinct data (derived first-order model): if the
/// operand fits it is fetched once; otherwise the share that does not fit is re-fetched every
/// time the array re-reads it, so traffic tends to the SRAM-level traffic as capacity → 0.
#[inline]
pub fn dram_traffic(unique_bytes: f64, sram_bytes: f64, capacity_bytes: f64) -> f64 {
    if unique_bytes <= capacity_bytes || sram_bytes <= unique_bytes {
        unique_bytes
    } else {
        unique_bytes + (sram_bytes - unique_bytes) * (1.0 - capacity_bytes / unique_bytes)
    }
}

/// Parameter readers that cannot panic on a resolved [`Params`] of the right spec.
pub fn p_u64(p: &Params, name: &str) -> u64 {
    p.int(name).max(0) as u64
}
