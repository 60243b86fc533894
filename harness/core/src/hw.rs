//! Hardware-model extension point.
//!
//! A [`HwModel`] is a kind of accelerator (systolic array, LUT accelerator, GPU roofline, ...)
//! with declared parameters; [`HwModel::build`] turns checked parameters into a concrete
//! [`HwDesign`] that prices Workload IR layers. Designs are pure and allocation-free in
//! `eval_layer`, so a design-space exploration can evaluate millions of (layer, design) pairs.

use serde::{Deserialize, Serialize};

use crate::ir::{Layer, Workload};
use crate::params::{ParamError, ParamSpec, Params};

/// A kind of accelerator, registered once in the registry.
pub trait HwModel: Sync {
    /// Stable id used in suites and on the command line (e.g. `systolic`).
    fn id(&self) -> &'static str;
    /// One line for `compbench list hwmodels`.
    fn describe(&self) -> &'static str;
    fn params(&self) -> &'static [ParamSpec];
    /// Build a design from resolved parameters; cross-parameter constraints are checked here.
    fn build(&self, params: &Params) -> Result<Box<dyn HwDesign>, ParamError>;

    /// The parameters of the design that runs `workload`, for models whose hardware is
    /// generated for the network it serves (a LUT accelerator is built for the network's
    /// v, c and metric). The suite's parameters are the starting point; the default keeps them.
    /// The runner records the specialized parameters in the row's `p_hw_*` columns.
    fn specialize(&self, params: &Params, workload: &Workload) -> Params {
        let _ = workload;
        params.clone()
    }
}

/// A hardware model described as plain data, for models that need nothing beyond an id, a
/// description, parameters and a constructor (no `specialize`): a new model is a design type plus
///
/// ```ignore
/// pub static MY_MODEL: HwModelEntry = HwModelEntry {
///     id: "my-model",
///     describe: "what it is, one line",
///     params: MY_PARAMS,
///     build: |p| Ok(Box::new(MyDesign::from_params(p)?)),
/// };
/// ```
#[derive(Debug, Clone, Copy)]
pub struct HwModelEntry {
    pub id: &'static str,
    pub describe: &'static str,
    pub params: &'static [ParamSpec],
    pub build: fn(&Params) -> Result<Box<dyn HwDesign>, ParamError>,
}

impl HwModel for HwModelEntry {
    fn id(&self) -> &'static str {
        self.id
    }

    fn describe(&self) -> &'static str {
        self.describe
    }

    fn params(&self) -> &'static [ParamSpec] {
        self.params
    }

    fn build(&self, params: &Params) -> Result<Box<dyn HwDesign>, ParamError> {
        (self.build)(params)
    }
}

/// One concrete design point.
pub trait HwDesign: Send + Sync {
    /// Price one layer (repeats included). Pure; must not allocate.
    fn eval_layer(&self, layer: &Layer) -> HwReport;

    /// Silicon area of the design, µm².
    fn area_um2(&self) -> f64;

    /// Leakage power of the design, W (included in every report's energy over its latency).
    fn leakage_w(&self) -> f64 {
        0.0
    }

    /// True when the design prices homomorphic-encryption work (`Gemm::he`: ciphertext ops):
    /// hwmodels' `he-cpu` and `f1`, which in turn give no number for plaintext workloads.
    fn prices_he(&self) -> bool {
        false
    }

    /// Price a whole workload: layers run one after another, energies and cycles add up.
    ///
    /// A workload with encrypted layers on a design that does not price them
    /// ([`HwDesign::prices_he`]) gets a report of NaN (no number: results rows leave the
    /// cells empty) rather than the cost of its plaintext shape, which would understate it by
    /// orders of magnitude.
    fn eval(&self, workload: &Workload) -> HwReport {
        if !self.prices_he()
            && workload
                .layers
                .iter()
                .any(|l| l.as_gemm().is_some_and(|g| g.he.is_some()))
        {
            return HwReport::not_applicable();
        }
        let mut total = HwReport::zero(self.area_um2());
        for layer in &workload.layers {
            total.accumulate(&self.eval_layer(layer));
        }
        total.finish(self.area_um2());
        total
    }
}

/// Up to [`Breakdown::CAP`] named parts, fixed-size so reports never allocate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Breakdown {
    pub parts: [(&'static str, f64); Breakdown::CAP],
    pub len: usize,
}

impl Breakdown {
    pub const CAP: usize = 10;

    pub const fn new() -> Breakdown {
        Breakdown {
            parts: [("", 0.0); Breakdown::CAP],
            len: 0,
        }
    }

    /// Add `value` to the part named `name`, creating it if needed. Names beyond the
    /// capacity are folded into the last slot (named "other").
    pub fn add(&mut self, name: &'static str, value: f64) {
        for p in &mut self.parts[..self.len] {
            if p.0 == name {
                p.1 += value;
                return;
            }
        }
        if self.len < Self::CAP {
            self.parts[self.len] = (name, value);
            self.len += 1;
        } else {
            self.parts[Self::CAP - 1].0 = "other";
            self.parts[Self::CAP - 1].1 += value;
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, f64)> + '_ {
        self.parts[..self.len].iter().copied()
    }

    pub fn get(&self, name: &str) -> Option<f64> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    pub fn total(&self) -> f64 {
        self.iter().map(|(_, v)| v).sum()
    }

    pub fn merge(&mut self, other: &Breakdown) {
        for (n, v) in other.iter() {
            self.add(n, v);
        }
    }
}

impl Default for Breakdown {
    fn default() -> Self {
        Breakdown::new()
    }
}

/// Cost of a layer or a workload on one design.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HwReport {
    pub cycles: f64,
    pub latency_s: f64,
    pub energy_pj: f64,
    /// Average power over the latency: energy / latency (leakage included).
    pub power_w: f64,
    pub area_um2: f64,
    /// Useful MACs ÷ (peak MACs per cycle × cycles), in [0, 1].
    pub utilization: f64,
    /// Useful operations (dense-equivalent MACs) the report covers, for efficiency ratios.
    pub macs: f64,
    /// Energy by component, pJ.
    pub energy_breakdown: Breakdown,
    /// Area by component, µm².
    pub area_breakdown: Breakdown,
    /// Access counts and folds under SCALE-Sim's names (`sram_ifmap_reads`, `dram_filter_bytes`,
    /// `folds`, …), summed over layers and repeats; empty for models that do not count them.
    /// Lets a SCALE-Sim user compare traffic directly instead of backing it out of the energy.
    pub counts: Breakdown,
    /// Peak MACs per cycle, used to recompute utilization when reports are summed.
    pub peak_macs_per_cycle: f64,
}

impl HwReport {
    pub fn zero(area_um2: f64) -> HwReport {
        HwReport {
            cycles: 0.0,
            latency_s: 0.0,
            energy_pj: 0.0,
            power_w: 0.0,
            area_um2,
            utilization: 0.0,
            macs: 0.0,
            energy_breakdown: Breakdown::new(),
            area_breakdown: Breakdown::new(),
            counts: Breakdown::new(),
            peak_macs_per_cycle: 0.0,
        }
    }

    /// The report of a design that does not apply to the workload (a plaintext design on an
    /// encrypted one, or the reverse): every figure NaN, which tables show as "not priced".
    pub fn not_applicable() -> HwReport {
        HwReport {
            cycles: f64::NAN,
            latency_s: f64::NAN,
            energy_pj: f64::NAN,
            power_w: f64::NAN,
            utilization: f64::NAN,
            macs: f64::NAN,
            ..HwReport::zero(f64::NAN)
        }
    }

    /// Add a layer's report to a running total (area is the design's, not summed).
    pub fn accumulate(&mut self, layer: &HwReport) {
        self.cycles += layer.cycles;
        self.latency_s += layer.latency_s;
        self.energy_pj += layer.energy_pj;
        self.macs += layer.macs;
        self.energy_breakdown.merge(&layer.energy_breakdown);
        self.counts.merge(&layer.counts);
        if self.area_breakdown.len == 0 {
            self.area_breakdown = layer.area_breakdown;
        }
        self.peak_macs_per_cycle = self.peak_macs_per_cycle.max(layer.peak_macs_per_cycle);
    }

    /// Recompute the derived fields of a total.
    pub fn finish(&mut self, area_um2: f64) {
        self.area_um2 = area_um2;
        self.power_w = if self.latency_s > 0.0 {
            self.energy_pj * 1e-12 / self.latency_s
        } else {
            0.0
        };
        self.utilization = if self.cycles > 0.0 && self.peak_macs_per_cycle > 0.0 {
            (self.macs / (self.peak_macs_per_cycle * self.cycles)).min(1.0)
        } else {
            0.0
        };
    }

    /// Dense-equivalent operations per joule (2 ops per MAC), the power-efficiency figure.
    pub fn ops_per_joule(&self) -> f64 {
        if self.energy_pj.is_nan() || self.macs.is_nan() {
            f64::NAN // not priced (see HwDesign::eval)
        } else if self.energy_pj > 0.0 {
            2.0 * self.macs / (self.energy_pj * 1e-12)
        } else {
            0.0
        }
    }

    /// Dense-equivalent operations per second per mm², the area-efficiency figure.
    pub fn ops_per_s_per_mm2(&self) -> f64 {
        if self.latency_s.is_nan() || self.area_um2.is_nan() || self.macs.is_nan() {
            f64::NAN // not priced (see HwDesign::eval)
        } else if self.latency_s > 0.0 && self.area_um2 > 0.0 {
            2.0 * self.macs / self.latency_s / (self.area_um2 * 1e-6)
        } else {
            0.0
        }
    }
}

/// [`HwReport::counts`] names from which the JSON form derives `mapping_efficiency`: PE slots
/// holding work, and PE slots offered (R·C per fold), summed over folds.
pub const MAPPED_PE_SLOTS: &str = "mapped_pe_slots";
pub const PE_SLOTS: &str = "pe_slots";

/// Serializable form for `--json` output and result rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HwReportJson {
    pub cycles: f64,
    pub latency_s: f64,
    pub energy_pj: f64,
    pub power_w: f64,
    pub area_um2: f64,
    pub utilization: f64,
    pub macs: f64,
    pub breakdown: serde_json_like::Breakdowns,
}

/// Kept dependency-free: a breakdown as ordered (name, value) pairs.
pub mod serde_json_like {
    use serde::{Deserialize, Serialize};
    use std::collections::BTreeMap;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
    pub struct Breakdowns {
        pub energy_pj: BTreeMap<String, f64>,
        pub area_um2: BTreeMap<String, f64>,
        /// [`super::HwReport::counts`], plus `mapping_efficiency` (mapped PE slots ÷ PE slots
        /// over all folds) when the model counts PE slots.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub counts: BTreeMap<String, f64>,
    }
}

impl From<&HwReport> for HwReportJson {
    fn from(r: &HwReport) -> Self {
        let to_map = |b: &Breakdown| b.iter().map(|(n, v)| (n.to_string(), v)).collect();
        let mut counts: std::collections::BTreeMap<String, f64> = to_map(&r.counts);
        if let (Some(mapped), Some(slots)) = (r.counts.get(MAPPED_PE_SLOTS), r.counts.get(PE_SLOTS))
            && slots > 0.0
        {
            counts.insert("mapping_efficiency".into(), mapped / slots);
        }
        HwReportJson {
            cycles: r.cycles,
            latency_s: r.latency_s,
            energy_pj: r.energy_pj,
            power_w: r.power_w,
            area_um2: r.area_um2,
            utilization: r.utilization,
            macs: r.macs,
            breakdown: serde_json_like::Breakdowns {
                energy_pj: to_map(&r.energy_breakdown),
                area_um2: to_map(&r.area_breakdown),
                counts,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breakdown_adds_and_folds_overflow() {
        let mut b = Breakdown::new();
        b.add("mac", 1.0);
        b.add("mac", 2.0);
        assert_eq!(b.get("mac"), Some(3.0));
        for name in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"] {
            b.add(name, 1.0);
        }
        assert_eq!(b.len, Breakdown::CAP);
        assert_eq!(b.total(), 14.0);
        assert_eq!(b.parts[Breakdown::CAP - 1].0, "other");
    }

    /// A design that does not price ciphertext ops gives no number for an encrypted workload
    /// (its plaintext shape would understate it by orders of magnitude).
    #[test]
    fn encrypted_workloads_are_not_priced_as_plaintext() {
        struct PerMac;
        impl HwDesign for PerMac {
            fn eval_layer(&self, layer: &Layer) -> HwReport {
                let mut r = HwReport::zero(self.area_um2());
                r.cycles = layer.as_gemm().map_or(0, |g| g.macs()) as f64;
                r.latency_s = r.cycles * 1e-9;
                r.energy_pj = r.cycles;
                r
            }
            fn area_um2(&self) -> f64 {
                1.0
            }
        }
        use crate::ir::{Gemm, HeCost, NumFormat};
        let mut w = Workload::new("w");
        w.layers
            .push(Layer::gemm("fc", Gemm::dense(1, 8, 4, NumFormat::Int(8))));
        let plain = PerMac.eval(&w);
        assert_eq!((plain.cycles, plain.area_um2), (32.0, 1.0));
        w.layers[0].as_gemm_mut().unwrap().he = Some(HeCost::default());
        let r = PerMac.eval(&w);
        assert!(r.cycles.is_nan() && r.energy_pj.is_nan() && r.latency_s.is_nan());
        assert!(r.area_um2.is_nan());
        assert!(r.ops_per_joule().is_nan() && r.ops_per_s_per_mm2().is_nan());
    }

    #[test]
    fn totals_recompute_power_and_utilization() {
        let mut layer = HwReport::zero(100.0);
        layer.cycles = 10.0;
        layer.latency_s = 1e-8;
        layer.energy_pj = 50.0;
        layer.macs = 40.0;
        layer.peak_macs_per_cycle = 8.0;
        let mut total = HwReport::zero(100.0);
        total.accumulate(&layer);
        total.accumulate(&layer);
        total.finish(100.0);
        assert_eq!(total.cycles, 20.0);
        assert!((total.power_w - 100e-12 / 2e-8).abs() < 1e-12);
        assert!((total.utilization - 80.0 / 160.0).abs() < 1e-12);
    }
}
