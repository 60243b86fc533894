//! On-chip SRAM: energy per access, area and leakage from capacity, word width and node.
//!
//! * Energy per 64-bit access at 45 nm follows a power law in capacity fitted (least squares in
//!   log-log, anchored at 8 KB) to Horowitz ISSCC 2014's three cache points: 10 pJ (8 KB),
//!   20 pJ (32 KB), 100 pJ (1 MB). The exponent comes out ≈ 0.477: per-access energy grows much
//!   more slowly than capacity because large arrays are banked. Below 8 KB the same law is
//!   extrapolated (a 256 B bank costs ≈ 2 pJ per 64 b), which is where register files live.
//! * Word width scales energy as (0.3 + 0.7 · width/64), the fit Accelergy's CACTI wrapper uses
//!   (a fixed decode/periphery share plus a bit-line share proportional to width).
//! * Area is proportional to bits: 0.45 µm²/bit at 45 nm, from CACTI's 128 KB / 32 nm point
//!   (0.217 mm², Accelergy Eyeriss example) brought to 45 nm with the Stillmaker–Baas area factor.
//!   The same point gives 18.2 pJ per 64-bit read; our law predicts 24 pJ at 0.9 V and 20 pJ
//!   at 0.8 V (CACTI's supply is not stated), within 35 % (checked in tests).
//! * Leakage is proportional to bits: the same CACTI point leaks 0.0057 pJ per cycle, read at
//!   1 GHz as 5.7 µW per 128 KB at 32 nm, rescaled by the energy factor.

use crate::tech::{HOROWITZ_SRAM_64B_PJ, Tech, area_scaling};

/// CACTI 128 KB SRAM at 32 nm (Accelergy Eyeriss-like example ART/ERT).
const CACTI_128KB_32NM_AREA_UM2: f64 = 0.217e6;
const CACTI_128KB_32NM_LEAK_W: f64 = 0.0057e-12 * 1e9;
const CACTI_REFERENCE_BITS: f64 = 128.0 * 8192.0;

/// Exponent of the capacity power law, fitted to Horowitz's points (anchored at the 8 KB one).
pub fn capacity_exponent() -> f64 {
    let (c0, e0) = HOROWITZ_SRAM_64B_PJ[0];
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for &(c, e) in &HOROWITZ_SRAM_64B_PJ[1..] {
        let x = (c / c0).ln();
        let y = (e / e0).ln();
        sxy += x * y;
        sxx += x * x;
    }
    sxy / sxx
}

/// Energy of one 64-bit access to an SRAM of `capacity_kb` at 45 nm, 0.9 V.
pub fn access_64b_pj_45nm(capacity_kb: f64) -> f64 {
    let (c0, e0) = HOROWITZ_SRAM_64B_PJ[0];
    e0 * (capacity_kb.max(1.0 / 64.0) / c0).powf(capacity_exponent())
}

/// One SRAM macro (or a set of identical banks accessed one at a time).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sram {
    pub capacity_kb: f64,
    pub word_bits: f64,
    /// Energy of one word access (read or write), pJ, at the design's node.
    pub access_pj: f64,
    pub area_um2: f64,
    pub leakage_w: f64,
}

impl Sram {
    pub fn new(tech: &Tech, capacity_kb: f64, word_bits: f64) -> Sram {
        let width_factor = 0.3 + 0.7 * word_bits / 64.0;
        let access_pj = access_64b_pj_45nm(capacity_kb) * width_factor * tech.energy_factor;
        let bits = capacity_kb * 8192.0;
        let um2_per_bit_45 =
            CACTI_128KB_32NM_AREA_UM2 / area_scaling(45.0, 32.0) / CACTI_REFERENCE_BITS;
        let area_um2 = bits * um2_per_bit_45 * tech.area_factor;
        let leak_per_bit_32 = CACTI_128KB_32NM_LEAK_W / CACTI_REFERENCE_BITS;
        let leakage_w =
            bits * leak_per_bit_32 * tech.energy_factor / Tech::new(32.0, tech.vdd).energy_factor;
        Sram {
            capacity_kb,
            word_bits,
            access_pj,
            area_um2,
            leakage_w,
        }
    }

    /// Energy of moving one element of `elem_bits` when elements are packed into full words.
    pub fn per_element_pj(&self, elem_bits: f64) -> f64 {
        self.access_pj * elem_bits / self.word_bits
    }

    /// An empty placeholder (zero capacity, no cost).
    pub fn none() -> Sram {
        Sram {
            capacity_kb: 0.0,
            word_bits: 1.0,
            access_pj: 0.0,
            area_um2: 0.0,
            leakage_w: 0.0,
        }
    }
}
