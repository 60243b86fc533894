//! `f1`: an F1-class FHE accelerator (Feldmann, Samardzic et al., "F1: A Fast and Programmable
//! Accelerator for Fully Homomorphic Encryption", MICRO 2021, arXiv 2109.05371), priced from its
//! published design point and a first-order decomposition of each BFV operation into the work
//! of its functional units.
//!
//! **Published figures it is built from** (parameters; defaults are F1's):
//! | figure | value | status |
//! |---|---|---|
//! | die area | 151.4 mm² (14/12 nm) | seen in a public summary of the paper; not re-read in the paper |
//! | TDP | 180.4 W | same |
//! | compute clusters | 16 | recalled from the paper |
//! | vector lanes per FU | 128 (one 128-element chunk per cycle per FU) | recalled |
//! | FUs per cluster | 1 NTT, 1 automorphism, 2 modular multipliers, 2 modular adders | recalled |
//! | clock | 1 GHz | recalled |
//! | word | 32-bit RNS residues | recalled |
//! | scratchpad / off-chip | 64 MB / 1 TB/s (two HBM2 stacks) | recalled |
//!
//! The paper's per-operation latencies are not in ../shared/references (which name F1 only) and
//! were not found in the stored copies we could search, so the per-op figures below are **our
//! derivation** from the design point, not the paper's numbers.
//!
//! **Per-op work (ours)**, with `L = ceil(log_q / 32)` residue polynomials of N coefficients per
//! ciphertext polynomial (a "poly" below is one residue polynomial) and hybrid-free RNS key
//! switching with L digits (as fhe.rs does):
//! * addition: 2L poly adds; ct × pt: 2L poly mults; ct × scalar term (with its accumulation):
//!   2L mults + 2L adds;
//! * key switch of one polynomial: L inverse NTTs, L² NTTs (each digit into every limb),
//!   2L² mults + 2L² adds (the inner product with the key's two halves), then 2L adds into the
//!   ciphertext; its key is 2·L² polys of 32-bit words;
//! * rotation: 2L polys through the automorphism unit + one key switch;
//!   relinearization: one key switch;
//! * ct × ct (BFV tensor with a (L+1)-limb auxiliary base): 4L inverse NTTs, base extension
//!   4L(L+1) mults + adds, 4(2L+1) NTTs, 4(2L+1) mults + (2L+1) adds for the three products,
//!   3(2L+1) inverse NTTs, scale-and-round back 3L(L+1) mults + adds, 3L NTTs.
//!
//! Each FU class processes `clusters × lanes × units` coefficients per cycle; an operation takes
//! the busiest FU class's cycles (F1's static schedule overlaps the classes: an optimistic
//! bound, ours). Off-chip: every rotation streams its key from HBM (the per-image layout uses
//! more distinct rotation keys than 64 MB holds at N = 16384); the relinearization key stays
//! resident after one load per layer; ciphertexts and plaintexts stay on chip. Latency =
//! max(compute, key traffic / bandwidth) per operation. Energy = TDP × latency (a power proxy,
//! as the GPU roofline's). Plaintext workloads get NaN (not applicable).

use compbench_core::params::ParamSpec;
use compbench_core::{HeCost, HwDesign, HwModelEntry, HwReport, Layer, ParamError, Params, Workload};

use crate::he_cpu::{eval_encrypted, eval_he_layer};

pub static F1_PARAMS: &[ParamSpec] = &[
    ParamSpec::int("clusters", 16, 1, 1024, "compute clusters"),
    ParamSpec::int(
        "lanes",
        128,
        1,
        4096,
        "vector lanes per functional unit",
    ),
    ParamSpec::float("clock_ghz", 1.0, 0.1, 10.0, "clock, GHz"),
    ParamSpec::int("word_bits", 32, 8, 64, "bits per RNS residue"),
    ParamSpec::float(
        "hbm_tbs",
        1.0,
        0.01,
        100.0,
        "off-chip bandwidth for streamed keys, TB/s",
    ),
    ParamSpec::float("area_mm2", 151.4, 1.0, 10_000.0, "die area, mm²"),
    ParamSpec::float("tdp_w", 180.4, 1.0, 10_000.0, "power while computing, W"),
];

/// F1's functional units per cluster: (NTT, automorphism, multipliers, adders).
pub const FU_PER_CLUSTER: (f64, f64, f64, f64) = (1.0, 1.0, 2.0, 2.0);

/// Work of one operation, in residue-polynomial passes per FU class, plus streamed key polys.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PolyWork {
    pub ntt: f64,
    pub automorphism: f64,
    pub mult: f64,
    pub add: f64,
    /// Residue polynomials of key material read from off-chip memory.
    pub key_polys: f64,
}

impl PolyWork {
    fn plus(self, o: PolyWork) -> PolyWork {
        PolyWork {
            ntt: self.ntt + o.ntt,
            automorphism: self.automorphism + o.automorphism,
            mult: self.mult + o.mult,
            add: self.add + o.add,
            key_polys: self.key_polys + o.key_polys,
        }
    }
}

/// Per-operation work at `l` residues per polynomial (see the module docs).
pub fn op_work(l: f64) -> [(&'static str, PolyWork); 6] {
    let key_switch = PolyWork {
        ntt: l + l * l,
        mult: 2.0 * l * l,
        add: 2.0 * l * l + 2.0 * l,
        ..PolyWork::default()
    };
    let tensor = PolyWork {
        ntt: 4.0 * l + 4.0 * (2.0 * l + 1.0) + 3.0 * (2.0 * l + 1.0) + 3.0 * l,
        mult: 4.0 * l * (l + 1.0) + 4.0 * (2.0 * l + 1.0) + 3.0 * l * (l + 1.0),
        add: 4.0 * l * (l + 1.0) + (2.0 * l + 1.0) + 3.0 * l * (l + 1.0),
        ..PolyWork::default()
    };
    [
        (
            "addition",
            PolyWork {
                add: 2.0 * l,
                ..PolyWork::default()
            },
        ),
        (
            "ct_pt_mul",
            PolyWork {
                mult: 2.0 * l,
                ..PolyWork::default()
            },
        ),
        (
            "ct_scalar_mul",
            PolyWork {
                mult: 2.0 * l,
                add: 2.0 * l,
                ..PolyWork::default()
            },
        ),
        ("ct_ct_mul", tensor),
        ("relinearization", key_switch),
        (
            "rotation",
            key_switch.plus(PolyWork {
                automorphism: 2.0 * l,
                key_polys: 2.0 * l * l,
                ..PolyWork::default()
            }),
        ),
    ]
}

/// An F1-class design point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct F1Design {
    pub clusters: f64,
    pub lanes: f64,
    pub clock_hz: f64,
    pub word_bits: u32,
    pub hbm_bytes_per_s: f64,
    pub area_um2: f64,
    pub tdp_w: f64,
}

impl F1Design {
    pub fn from_params(given: &Params) -> Result<F1Design, ParamError> {
        let p = Params::resolve(F1_PARAMS, &given.0)?;
        Ok(F1Design {
            clusters: p.int("clusters") as f64,
            lanes: p.int("lanes") as f64,
            clock_hz: p.float("clock_ghz") * 1e9,
            word_bits: p.int("word_bits") as u32,
            hbm_bytes_per_s: p.float("hbm_tbs") * 1e12,
            area_um2: p.float("area_mm2") * 1e6,
            tdp_w: p.float("tdp_w"),
        })
    }

    /// Residues per polynomial at `log_q`.
    pub fn limbs(&self, log_q: u32) -> f64 {
        log_q.div_ceil(self.word_bits).max(1) as f64
    }

    /// Seconds of `w` at ring degree `n`: the busiest FU class against the key stream.
    pub fn seconds(&self, w: &PolyWork, n: f64) -> f64 {
        let (ntt_u, aut_u, mul_u, add_u) = FU_PER_CLUSTER;
        let per_cycle = |units: f64| self.clusters * self.lanes * units;
        let cycles = [
            w.ntt * n / per_cycle(ntt_u),
            w.automorphism * n / per_cycle(aut_u),
            w.mult * n / per_cycle(mul_u),
            w.add * n / per_cycle(add_u),
        ]
        .into_iter()
        .fold(0.0, f64::max);
        let key_bytes = w.key_polys * n * self.word_bits as f64 / 8.0;
        (cycles / self.clock_hz).max(key_bytes / self.hbm_bytes_per_s)
    }

    /// Seconds of one of each operation at `(n, log_q)`, in [`op_work`]'s order.
    pub fn op_seconds(&self, n: u32, log_q: u32) -> [(&'static str, f64); 6] {
        op_work(self.limbs(log_q)).map(|(name, w)| (name, self.seconds(&w, n as f64)))
    }

    /// The report of `units` units of `c`.
    pub fn price(&self, c: &HeCost, units: f64, macs: f64) -> HwReport {
        let l = self.limbs(c.log_q);
        let n = c.poly_degree as f64;
        let standalone_adds = c.additions.saturating_sub(c.ct_scalar_mul);
        let counts = [
            standalone_adds,
            c.ct_pt_mul,
            c.ct_scalar_mul,
            c.ct_ct_mul,
            c.relinearizations,
            c.rotations,
        ];
        let mut r = HwReport::zero(self.area_um2);
        let mut seconds = 0.0;
        for ((name, w), count) in op_work(l).into_iter().zip(counts) {
            if count == 0 {
                continue;
            }
            let s = self.seconds(&w, n) * count as f64;
            seconds += s;
            r.energy_breakdown.add(name, units * s * self.tdp_w * 1e12);
            r.counts.add(name, units * s);
        }
        // The relinearization key: one load per layer that relinearizes.
        let mut key_s = 0.0;
        if c.relinearizations > 0 {
            let key = PolyWork {
                key_polys: 2.0 * l * l,
                ..PolyWork::default()
            };
            key_s = self.seconds(&key, n);
            r.energy_breakdown.add("relin_key_load", key_s * self.tdp_w * 1e12);
            r.counts.add("relin_key_load", key_s);
        }
        r.latency_s = units * seconds + key_s;
        r.cycles = r.latency_s * self.clock_hz;
        r.energy_pj = r.latency_s * self.tdp_w * 1e12;
        r.macs = macs;
        r
    }
}

impl HwDesign for F1Design {
    fn eval_layer(&self, layer: &Layer) -> HwReport {
        eval_he_layer(layer, self.area_um2, |c, units, macs| self.price(c, units, macs))
    }

    fn area_um2(&self) -> f64 {
        self.area_um2
    }

    fn prices_he(&self) -> bool {
        true
    }

    fn eval(&self, workload: &Workload) -> HwReport {
        eval_encrypted(self, workload)
    }
}

/// Registry entry for the `f1` hardware model.
pub static F1: HwModelEntry = HwModelEntry {
    id: "f1",
    describe: "F1-class FHE accelerator (MICRO 2021 design point: 16 clusters × 128 lanes, 1 GHz, 151.4 mm², 180.4 W): BFV ops as NTT/automorphism/mult/add passes, rotation keys streamed from HBM; NaN for plaintext workloads",
    params: F1_PARAMS,
    build: |p| Ok(Box::new(F1Design::from_params(p)?)),
};
