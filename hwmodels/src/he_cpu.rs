//! `he-cpu`: one CPU core running BFV (fhe.rs), priced from a per-operation table measured on a
//! real machine by `compbench bench he --json` (a [`Calibration`] document in
//! hwmodels/data/, selected by the `calibration` parameter).
//!
//! A layer's [`HeCost`] counts one unit of `images_per_unit` images; a GEMM of `m` images runs
//! `ceil(m / images_per_unit)` units, each costing
//!
//! ```text
//! ct_pt_mul·t(ct×pt) + ct_scalar_mul·t(ct×scalar term) + ct_ct_mul·t(tensor)
//!   + relinearizations·t(relin) + rotations·t(rotation)
//!   + (additions − ct_scalar_mul)·t(ct+ct)
//! ```
//!
//! with the times of the calibration row at the layer's `(poly_degree, log_q)`. A scalar term's
//! time includes its accumulation (fhe.rs fuses dot products), so the additions priced alone
//! are those beyond one per scalar term ([`compbench_core::HeOpSeconds`] states the convention);
//! key switches are inside the rotation and relinearization times, not priced again.
//! Encryption and decryption are the client's and are not in the IR.
//!
//! Energy is a power proxy, latency × `core_watts`; area is `core_area_mm2`. Both defaults are
//! our assumptions for the calibrating machine (an unnamed AMD EPYC VM): the per-core share of
//! an EPYC 7763's 280 W TDP over 64 cores (4.375 W), and of a Zen 3 CCD's 80.7 mm² over its
//! 8 cores (10.1 mm², L3 slice included) — datasheet and die figures recalled, not re-read.
//!
//! Not applicable: a workload without encrypted layers gets NaN (empty cells), as a plaintext
//! accelerator gets NaN for an encrypted one; so does a layer at a point the calibration has
//! no row for. Non-GEMM layers of an encrypted workload cost nothing here: the method counts
//! their ciphertext work (the x² square) in the next GEMM's `HeCost`.

use compbench_core::params::ParamSpec;
use compbench_core::{
    Breakdown, HeCost, HeOpSeconds, HwDesign, HwModelEntry, HwReport, Layer, ParamError, Params,
    Workload,
};
use serde::{Deserialize, Serialize};

/// What `compbench bench he --json` prints: the per-op seconds at each measured point, with the
/// command and machine that produced them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    pub command: String,
    /// RFC 3339, UTC.
    pub date: String,
    /// The runner's environment record (git hash, rustc, CPU, threads, OS).
    pub machine: serde_json::Value,
    pub rows: Vec<HeOpSeconds>,
}

impl Calibration {
    pub fn parse(json: &str) -> Result<Calibration, String> {
        serde_json::from_str(json).map_err(|e| format!("HE CPU calibration: {e}"))
    }

    /// The row measured at `(poly_degree, log_q)`.
    pub fn row(&self, poly_degree: u32, log_q: u32) -> Option<&HeOpSeconds> {
        self.rows
            .iter()
            .find(|r| r.poly_degree == poly_degree && r.log_q == log_q)
    }
}

/// The calibrations shipped in hwmodels/data/, newest first: (parameter value, file).
pub const CALIBRATIONS: &[(&str, &str)] = &[(
    "epyc-2026-12-07",
    include_str!("../data/he-cpu-2026-12-07.json"),
)];

const CALIBRATION_IDS: &[&str] = &["epyc-2026-12-07"];

pub static HE_CPU_PARAMS: &[ParamSpec] = &[
    ParamSpec::choice(
        "calibration",
        "epyc-2026-12-07",
        CALIBRATION_IDS,
        "per-op BFV timings (hwmodels/data/he-cpu-<date>.json, from `compbench bench he --json`)",
    ),
    ParamSpec::float(
        "core_watts",
        4.375,
        0.1,
        500.0,
        "power of the core while it computes, W (default: EPYC 7763 TDP / cores)",
    ),
    ParamSpec::float(
        "core_area_mm2",
        10.1,
        0.1,
        1000.0,
        "silicon per core, mm² (default: Zen 3 CCD / 8 cores, L3 slice included)",
    ),
    ParamSpec::float(
        "clock_ghz",
        2.6,
        0.1,
        10.0,
        "core clock, GHz (only converts latency to cycles)",
    ),
];

/// Seconds of one unit of `c` at the times `s`, and the same split by operation kind.
pub fn unit_seconds(c: &HeCost, s: &HeOpSeconds) -> (f64, Breakdown) {
    let mut b = Breakdown::new();
    let standalone_adds = c.additions.saturating_sub(c.ct_scalar_mul);
    for (name, count, t) in [
        ("ct_pt_mul", c.ct_pt_mul, s.ct_pt_mul),
        ("ct_scalar_mul", c.ct_scalar_mul, s.ct_scalar_mul),
        ("ct_ct_mul", c.ct_ct_mul, s.ct_ct_mul),
        ("relinearization", c.relinearizations, s.relinearization),
        ("rotation", c.rotations, s.rotation),
        ("addition", standalone_adds, s.addition),
    ] {
        if count > 0 {
            b.add(name, count as f64 * t);
        }
    }
    (b.total(), b)
}

/// A core priced by one calibration.
#[derive(Debug, Clone)]
pub struct HeCpuDesign {
    pub calibration: Calibration,
    pub core_watts: f64,
    pub area_um2: f64,
    pub clock_hz: f64,
}

impl HeCpuDesign {
    pub fn from_params(p: &Params) -> Result<HeCpuDesign, ParamError> {
        let p = Params::resolve(HE_CPU_PARAMS, &p.0)?;
        let id = p.str("calibration");
        let (_, json) = CALIBRATIONS
            .iter()
            .find(|(i, _)| *i == id)
            .ok_or_else(|| ParamError::Constraint {
                param: "calibration".into(),
                message: format!("no calibration `{id}`"),
            })?;
        let calibration = Calibration::parse(json).map_err(|message| ParamError::Constraint {
            param: "calibration".into(),
            message,
        })?;
        Ok(HeCpuDesign {
            calibration,
            core_watts: p.float("core_watts"),
            area_um2: p.float("core_area_mm2") * 1e6,
            clock_hz: p.float("clock_ghz") * 1e9,
        })
    }

    /// The report of `units` units of `c`, or NaN when the calibration lacks its point.
    pub fn price(&self, c: &HeCost, units: f64, macs: f64) -> HwReport {
        let Some(row) = self.calibration.row(c.poly_degree, c.log_q) else {
            return HwReport::not_applicable();
        };
        let (s, by_op) = unit_seconds(c, row);
        let mut r = HwReport::zero(self.area_um2);
        r.latency_s = units * s;
        r.cycles = r.latency_s * self.clock_hz;
        r.energy_pj = r.latency_s * self.core_watts * 1e12;
        for (name, t) in by_op.iter() {
            r.energy_breakdown
                .add(name, units * t * self.core_watts * 1e12);
            r.counts.add(name, units * t);
        }
        r.macs = macs;
        r
    }
}

impl HwDesign for HeCpuDesign {
    fn eval_layer(&self, layer: &Layer) -> HwReport {
        eval_he_layer(layer, self.area_um2, |c, units, macs| self.price(c, units, macs))
    }

    fn area_um2(&self) -> f64 {
        self.area_um2
    }

    fn prices_he(&self) -> bool {
        true
    }

    /// NaN (not applicable) for a workload without encrypted layers; otherwise the sum of its
    /// layers.
    fn eval(&self, workload: &Workload) -> HwReport {
        eval_encrypted(self, workload)
    }
}

/// The shared `eval_layer` of the HE models: an encrypted GEMM priced by `price(cost, units,
/// macs)` over its repeats, a plaintext GEMM not applicable, and other layers free (they are
/// priced inside the next encrypted GEMM's counts, see the module docs).
pub fn eval_he_layer(
    layer: &Layer,
    area_um2: f64,
    price: impl Fn(&HeCost, f64, f64) -> HwReport,
) -> HwReport {
    match layer.as_gemm() {
        Some(g) => match &g.he {
            Some(c) => price(
                c,
                layer.repeats as f64 * c.units(g.m) as f64,
                layer.repeats as f64 * g.macs() as f64,
            ),
            None => HwReport::not_applicable(),
        },
        None => HwReport::zero(area_um2),
    }
}

/// The shared `eval` of the HE models: NaN unless the workload has encrypted layers, then the
/// layers one after another.
pub fn eval_encrypted(d: &dyn HwDesign, workload: &Workload) -> HwReport {
    if !workload
        .layers
        .iter()
        .any(|l| l.as_gemm().is_some_and(|g| g.he.is_some()))
    {
        return HwReport::not_applicable();
    }
    let mut total = HwReport::zero(d.area_um2());
    for layer in &workload.layers {
        total.accumulate(&d.eval_layer(layer));
    }
    total.finish(d.area_um2());
    total
}

/// Registry entry for the `he-cpu` hardware model.
pub static HE_CPU: HwModelEntry = HwModelEntry {
    id: "he-cpu",
    describe: "one CPU core running BFV (fhe.rs): the IR's HE op counts priced from per-op times measured by `compbench bench he` (hwmodels/data/); power and area per core; NaN for plaintext workloads",
    params: HE_CPU_PARAMS,
    build: |p| Ok(Box::new(HeCpuDesign::from_params(p)?)),
};
