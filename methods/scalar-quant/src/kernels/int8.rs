//! Integer GEMM: 8-bit codes in, exact i32 accumulation, fused dequantization/requantization out.
//!
//! `C[m×n] = A[m×k] · B[k×n]` where A holds activation codes (one byte each) and B weight codes
//! (i8, |w| ≤ 127). Every bit width ≤ 8 runs here: 4-bit or 2-bit values are simply small codes.
//!
//! # AVX2 without VNNI, exactly
//! `_mm256_maddubs_epi16(u8, i8)` multiplies 32 byte pairs and adds adjacent products into
//! *saturating* i16 lanes. Two encodings of A keep every pair sum below 2^15:
//! * [`ActEncoding::U7`]: activation codes shifted into `[0, 127]` (any grid of ≤ 7 bits).
//!   `2 · 127 · 128 = 32512 < 32767`, whatever the weights.
//! * [`ActEncoding::S8`]: 8-bit grids, stored as signed bytes `[−128, 127]`. The kernel computes
//!   `maddubs(|a|, sign(w, a))` (the `abs`/`sign` trick): |a| ≤ 128 is a valid *unsigned* byte
//!   and `w·sgn(a)` stays in i8 because weights never use −128 (see `quantizer`), so
//!   `2 · 128 · 127 = 32512`.
//!
//! Pair sums are widened with `_mm256_madd_epi16(p, 1)` into i32. When the grids are narrow (say
//! W4A4: pair sums ≤ 240) the kernel first accumulates `T = ⌊32767 / max pair sum⌋` k-groups in
//! i16 and widens once per T groups: half the instructions, which is where low-bit GEMMs win.
//!
//! The portable path computes the same sums with plain integer arithmetic; tests compare both
//! against a triple-loop reference, bit for bit.
//!
//! # Layout
//! B is packed once into panels of [`NR`] = 16 columns; inside a panel, per group of 4 k, the 16
//! columns' 4 bytes lie contiguously (64 bytes = two AVX2 vectors). K is padded to a multiple of
//! 4 and N to a multiple of 16 with zero weights, so padding contributes nothing. A is row-major
//! with a stride of at least `kp` bytes (padding bytes arbitrary but zero by convention).

use rayon::prelude::*;

/// Rows per micro-kernel tile.
pub const MR: usize = 4;
/// Columns per packed panel (two 8-lane i32 vectors).
pub const NR: usize = 16;
/// k per group (one broadcast i32 of A).
pub const KG: usize = 4;

/// How activation bytes are interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActEncoding {
    /// Unsigned values in `[0, 127]`.
    U7,
    /// Signed values in `[−128, 127]`.
    S8,
}

impl ActEncoding {
    #[inline(always)]
    pub fn value(self, byte: u8) -> i32 {
        match self {
            ActEncoding::U7 => byte as i32,
            ActEncoding::S8 => byte as i8 as i32,
        }
    }
}

/// Which implementation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    Portable,
    Avx2,
    /// AVX2 plus AVX-512 VNNI on 256-bit registers: `vpdpbusd` multiplies 32 u8 × i8 pairs and
    /// adds each 4 into an i32 lane without saturation, one instruction where AVX2 needs
    /// `maddubs` + `madd` + `add` (see [`gemm`]). Elsewhere (the xnor kernels) it is AVX2.
    Vnni,
}

impl Isa {
    /// The best implementation this CPU supports.
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx2") {
                if is_x86_feature_detected!("avx512vnni") && is_x86_feature_detected!("avx512vl") {
                    return Isa::Vnni;
                }
                return Isa::Avx2;
            }
        }
        Isa::Portable
    }

    /// Whether AVX2 code may run.
    pub fn has_avx2(self) -> bool {
        matches!(self, Isa::Avx2 | Isa::Vnni)
    }

    /// Every implementation this CPU can run (tests compare them).
    pub fn available() -> Vec<Isa> {
        match Isa::detect() {
            Isa::Portable => vec![Isa::Portable],
            Isa::Avx2 => vec![Isa::Portable, Isa::Avx2],
            Isa::Vnni => vec![Isa::Portable, Isa::Avx2, Isa::Vnni],
        }
    }

    /// `requested`, or the best implementation below it that this CPU can run.
    pub fn or_portable(requested: Isa) -> Isa {
        match (requested, Isa::detect()) {
            (Isa::Vnni, Isa::Vnni) => Isa::Vnni,
            (Isa::Vnni | Isa::Avx2, best) if best.has_avx2() => Isa::Avx2,
            _ => Isa::Portable,
        }
    }
}

/// Weight codes packed for the kernel.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedB {
    pub k: usize,
    pub n: usize,
    /// k rounded up to a multiple of [`KG`].
    pub kp: usize,
    pub panels: usize,
    data: Vec<i8>,
    /// Σ_k w[k][j] per column (for zero-point corrections).
    pub colsum: Vec<i32>,
    /// max |w|.
    pub max_abs: i32,
}

impl PackedB {
    /// Pack `w` (`k × n`, row-major codes). Panics on −128 (see the module docs).
    pub fn pack(w: &[i8], k: usize, n: usize) -> PackedB {
        assert_eq!(w.len(), k * n, "weight codes must be k × n");
        assert!(
            w.iter().all(|&x| x != i8::MIN),
            "weight code −128 is not allowed (|w| ≤ 127)"
        );
        let kp = k.div_ceil(KG) * KG;
        let groups = kp / KG;
        let panels = n.div_ceil(NR);
        let mut data = vec![0i8; panels * groups * NR * KG];
        for p in 0..panels {
            for g in 0..groups {
                for c in 0..NR {
                    let j = p * NR + c;
                    if j >= n {
                        continue;
                    }
                    for t in 0..KG {
                        let r = g * KG + t;
                        if r < k {
                            data[((p * groups + g) * NR + c) * KG + t] = w[r * n + j];
                        }
                    }
                }
            }
        }
        let colsum = (0..n)
            .map(|j| (0..k).map(|r| w[r * n + j] as i32).sum())
            .collect();
        let max_abs = w.iter().map(|&x| (x as i32).abs()).max().unwrap_or(0);
        PackedB {
            k,
            n,
            kp,
            panels,
            data,
            colsum,
            max_abs,
        }
    }

    fn groups(&self) -> usize {
        self.kp / KG
    }

    fn panel(&self, p: usize) -> &[i8] {
        let len = self.groups() * NR * KG;
        &self.data[p * len..(p + 1) * len]
    }

    /// Bytes of packed weights.
    pub fn bytes(&self) -> usize {
        self.data.len()
    }
}

/// Largest |activation value| an encoding can hold (used to bound i16 partial sums).
pub fn enc_max_abs(enc: ActEncoding, max_code_span: i32) -> i32 {
    match enc {
        ActEncoding::U7 => max_code_span.clamp(0, 127),
        ActEncoding::S8 => 128,
    }
}

/// k-groups that can be summed in i16 before widening (1 = widen every group).
pub fn i16_groups(a_max_abs: i32, b_max_abs: i32) -> usize {
    let pair = 2 * a_max_abs.max(1) * b_max_abs.max(1);
    (32767 / pair).max(1) as usize
}

/// Plain triple-loop reference: `C = A · B` on decoded values, i32.
pub fn gemm_reference(
    a: &[u8],
    lda: usize,
    m: usize,
    k: usize,
    enc: ActEncoding,
    w: &[i8],
    n: usize,
) -> Vec<i32> {
    let mut c = vec![0i32; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0i32;
            for r in 0..k {
                s += enc.value(a[i * lda + r]) * w[r * n + j] as i32;
            }
            c[i * n + j] = s;
        }
    }
    c
}

/// An i32 tile of up to `MR × NR`.
pub type Tile = [[i32; NR]; MR];

/// The integer GEMM with a caller-supplied epilogue.
///
/// `a`: `m` rows of stride `lda ≥ b.kp`. `a_max_abs` bounds |decoded activation| (for the i16
/// fast path; pass 128 when unsure). For every output row `i` and panel, `epilogue(i, j0,
/// acc, out_row)` receives the exact i32 sums of columns `j0 .. j0 + acc.len()` and the row's
/// output slice (`n` values). Rows are split across rayon tasks.
pub fn gemm<T: Send, E: Epilogue<T>>(
    a: &[u8],
    lda: usize,
    m: usize,
    b: &PackedB,
    enc: ActEncoding,
    a_max_abs: i32,
    isa: Isa,
    out: &mut [T],
    epilogue: E,
) {
    let n = b.n;
    assert!(lda >= b.kp, "lda {lda} < padded k {}", b.kp);
    assert!(
        a.len() >= if m == 0 { 0 } else { (m - 1) * lda + b.kp },
        "A too short"
    );
    assert_eq!(out.len(), m * n, "out must be m × n");
    if m == 0 || n == 0 {
        return;
    }
    let isa = Isa::or_portable(isa);
    let t = i16_groups(a_max_abs, b.max_abs);
    let rows_per_task = rows_per_task(m, b.kp * n);
    out.par_chunks_mut(rows_per_task * n)
        .enumerate()
        .for_each(|(task, out_rows)| {
            let job = RowsJob {
                a,
                lda,
                b,
                enc,
                isa,
                t,
                row0: task * rows_per_task,
            };
            #[cfg(target_arch = "x86_64")]
            if isa != Isa::Portable {
                // SAFETY: `Isa::or_portable` confirmed AVX2 (VNNI implies it).
                return unsafe { job.run_avx2(out_rows, &epilogue) };
            }
            job.run(out_rows, &epilogue)
        });
}

/// What [`gemm`] does with each finished tile row: `apply(i, j0, acc, row)` gets output row
/// `i`'s i32 sums for columns `j0 .. j0 + acc.len()` and that row of `out`. Any
/// `Fn(usize, usize, &[i32], &mut [T])` closure is one. A hot epilogue should be a type whose
/// `apply` is `#[inline(always)]`: a closure body may stay an out-of-line function compiled
/// without AVX2, where an inlined `apply` becomes part of the AVX2 task body
/// ([`RowsJob::run_avx2`]).
pub trait Epilogue<T>: Sync {
    fn apply(&self, i: usize, j0: usize, acc: &[i32], row: &mut [T]);
}

impl<T, F: Fn(usize, usize, &[i32], &mut [T]) + Sync> Epilogue<T> for F {
    #[inline(always)]
    fn apply(&self, i: usize, j0: usize, acc: &[i32], row: &mut [T]) {
        self(i, j0, acc, row)
    }
}

/// One rayon task of [`gemm`]: the rows of `out_rows`, every panel.
struct RowsJob<'a> {
    a: &'a [u8],
    lda: usize,
    b: &'a PackedB,
    enc: ActEncoding,
    isa: Isa,
    t: usize,
    row0: usize,
}

impl RowsJob<'_> {
    #[inline(always)]
    fn run<T, E: Epilogue<T>>(&self, out_rows: &mut [T], epilogue: &E) {
        let (b, n) = (self.b, self.b.n);
        let rows = out_rows.len() / n;
        let mut tile: Tile = [[0; NR]; MR];
        for p in 0..b.panels {
            let j0 = p * NR;
            let nc = NR.min(n - j0);
            let panel = b.panel(p);
            let mut i = 0;
            while i < rows {
                let r = MR.min(rows - i);
                let a_tile = &self.a[(self.row0 + i) * self.lda..];
                micro(
                    self.isa,
                    self.enc,
                    self.t,
                    a_tile,
                    self.lda,
                    r,
                    panel,
                    b.groups(),
                    &mut tile,
                );
                if self.isa == Isa::Vnni && self.enc == ActEncoding::S8 {
                    // The VNNI kernel read a + 128 (unsigned): remove 128 · Σ_k w per column.
                    for acc in tile.iter_mut().take(r) {
                        for (v, &cs) in acc.iter_mut().zip(&b.colsum[j0..j0 + nc]) {
                            *v = v.wrapping_sub(cs.wrapping_mul(128));
                        }
                    }
                }
                for (ii, acc) in tile.iter().take(r).enumerate() {
                    let row = i + ii;
                    epilogue.apply(
                        self.row0 + row,
                        j0,
                        &acc[..nc],
                        &mut out_rows[row * n..(row + 1) * n],
                    );
                }
                i += r;
            }
        }
    }

    /// [`RowsJob::run`] compiled with AVX2, so an inlined epilogue ([`Epilogue`]) and the VNNI
    /// correction are 8-wide (out of line, the W8A8 epilogue was SSE2 code, with i32 multiplies
    /// emulated, and cost more than the GEMM in the deployed ViT). Same operations, same
    /// results.
    ///
    /// # Safety
    /// AVX2 must be available.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn run_avx2<T, E: Epilogue<T>>(&self, out_rows: &mut [T], epilogue: &E) {
        self.run(out_rows, epilogue)
    }
}

/// Plain i32 output: `C = A · B`.
pub fn gemm_i32(
    a: &[u8],
    lda: usize,
    m: usize,
    b: &PackedB,
    enc: ActEncoding,
    a_max_abs: i32,
    isa: Isa,
) -> Vec<i32> {
    let mut c = vec![0i32; m * b.n];
    gemm(
        a,
        lda,
        m,
        b,
        enc,
        a_max_abs,
        isa,
        &mut c,
        |_: usize, j0: usize, acc: &[i32], row: &mut [i32]| {
            row[j0..j0 + acc.len()].copy_from_slice(acc);
        },
    );
    c
}

/// Enough rows per task for ~4 tasks per thread, a multiple of MR, and not so few that the
/// task overhead dominates small GEMMs.
pub(crate) fn rows_per_task(m: usize, kn: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    let min_rows = (1 << 16) / kn.max(1) + 1; // ≥ ~64k MACs per task
    let r = m.div_ceil(threads * 4).max(min_rows).max(MR);
    r.div_ceil(MR) * MR
}

/// Inlined into the task body: called once per tile, an out-of-line call (with this match's
/// large frame) cost as much as the epilogue it sits beside.
#[inline(always)]
fn micro(
    isa: Isa,
    enc: ActEncoding,
    t: usize,
    a: &[u8],
    lda: usize,
    r: usize,
    panel: &[i8],
    groups: usize,
    tile: &mut Tile,
) {
    // Bounds for the unsafe kernels: every row read is within `a`, the panel has `groups` groups.
    assert!(a.len() >= (r - 1) * lda + groups * KG);
    assert!(panel.len() >= groups * NR * KG);
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => {
            // SAFETY: `Isa::or_portable` confirmed AVX2; bounds asserted above.
            unsafe {
                match (r, enc) {
                    (1, ActEncoding::U7) => {
                        avx2::kernel::<1, false>(a.as_ptr(), lda, panel.as_ptr(), groups, t, tile)
                    }
                    (2, ActEncoding::U7) => {
                        avx2::kernel::<2, false>(a.as_ptr(), lda, panel.as_ptr(), groups, t, tile)
                    }
                    (3, ActEncoding::U7) => {
                        avx2::kernel::<3, false>(a.as_ptr(), lda, panel.as_ptr(), groups, t, tile)
                    }
                    (_, ActEncoding::U7) => {
                        avx2::kernel::<4, false>(a.as_ptr(), lda, panel.as_ptr(), groups, t, tile)
                    }
                    (1, ActEncoding::S8) => {
                        avx2::kernel::<1, true>(a.as_ptr(), lda, panel.as_ptr(), groups, t, tile)
                    }
                    (2, ActEncoding::S8) => {
                        avx2::kernel::<2, true>(a.as_ptr(), lda, panel.as_ptr(), groups, t, tile)
                    }
                    (3, ActEncoding::S8) => {
                        avx2::kernel::<3, true>(a.as_ptr(), lda, panel.as_ptr(), groups, t, tile)
                    }
                    (_, ActEncoding::S8) => {
                        avx2::kernel::<4, true>(a.as_ptr(), lda, panel.as_ptr(), groups, t, tile)
                    }
                }
            }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Vnni => {
            // SAFETY: `Isa::or_portable` confirmed AVX-512 VNNI + VL; bounds asserted above.
            unsafe {
                let (a, b) = (a.as_ptr(), panel.as_ptr());
                match (r, enc) {
                    (1, ActEncoding::U7) => avx2::kernel_vnni::<1, false>(a, lda, b, groups, tile),
                    (2, ActEncoding::U7) => avx2::kernel_vnni::<2, false>(a, lda, b, groups, tile),
                    (3, ActEncoding::U7) => avx2::kernel_vnni::<3, false>(a, lda, b, groups, tile),
                    (_, ActEncoding::U7) => avx2::kernel_vnni::<4, false>(a, lda, b, groups, tile),
                    (1, ActEncoding::S8) => avx2::kernel_vnni::<1, true>(a, lda, b, groups, tile),
                    (2, ActEncoding::S8) => avx2::kernel_vnni::<2, true>(a, lda, b, groups, tile),
                    (3, ActEncoding::S8) => avx2::kernel_vnni::<3, true>(a, lda, b, groups, tile),
                    (_, ActEncoding::S8) => avx2::kernel_vnni::<4, true>(a, lda, b, groups, tile),
                }
            }
        }
        _ => portable(enc, a, lda, r, panel, groups, tile),
    }
}

fn portable(
    enc: ActEncoding,
    a: &[u8],
    lda: usize,
    r: usize,
    panel: &[i8],
    groups: usize,
    tile: &mut Tile,
) {
    for (ii, acc) in tile.iter_mut().take(r).enumerate() {
        *acc = [0; NR];
        let row = &a[ii * lda..];
        for g in 0..groups {
            let av = [
                enc.value(row[g * KG]),
                enc.value(row[g * KG + 1]),
                enc.value(row[g * KG + 2]),
                enc.value(row[g * KG + 3]),
            ];
            let blk = &panel[g * NR * KG..(g + 1) * NR * KG];
            for (c, s) in acc.iter_mut().enumerate() {
                let w = &blk[c * KG..(c + 1) * KG];
                *s += av[0] * w[0] as i32
                    + av[1] * w[1] as i32
                    + av[2] * w[2] as i32
                    + av[3] * w[3] as i32;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{KG, MR, NR, Tile};
    use std::arch::x86_64::*;

    /// `R` rows × 16 columns. `S8` selects the abs/sign encoding. `t` = k-groups per i16 run.
    ///
    /// # Safety
    /// AVX2 must be available; `a` must hold `R` rows of stride `lda` with `groups·4` bytes each;
    /// `b` must hold `groups · 64` bytes.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn kernel<const R: usize, const S8: bool>(
        a: *const u8,
        lda: usize,
        b: *const i8,
        groups: usize,
        t: usize,
        tile: &mut Tile,
    ) {
        let ones = _mm256_set1_epi16(1);
        let zero = _mm256_setzero_si256();
        let mut acc32 = [[zero; 2]; R];
        let mut g = 0;
        while g < groups {
            let end = (g + t).min(groups);
            if t == 1 {
                // Wide path: widen every pair sum immediately.
                for gg in g..end {
                    // SAFETY (all loads below): in bounds by the caller's contract.
                    let (b0, b1) = unsafe { load_b(b, gg) };
                    for r in 0..R {
                        let av = unsafe { load_a(a, lda, r, gg) };
                        let (p0, p1) = products::<S8>(av, b0, b1);
                        acc32[r][0] = _mm256_add_epi32(acc32[r][0], _mm256_madd_epi16(p0, ones));
                        acc32[r][1] = _mm256_add_epi32(acc32[r][1], _mm256_madd_epi16(p1, ones));
                    }
                }
            } else {
                // Narrow path: i16 sums are exact for `t` groups (see `i16_groups`).
                let mut acc16 = [[zero; 2]; R];
                for gg in g..end {
                    let (b0, b1) = unsafe { load_b(b, gg) };
                    for r in 0..R {
                        let av = unsafe { load_a(a, lda, r, gg) };
                        let (p0, p1) = products::<S8>(av, b0, b1);
                        acc16[r][0] = _mm256_add_epi16(acc16[r][0], p0);
                        acc16[r][1] = _mm256_add_epi16(acc16[r][1], p1);
                    }
                }
                for r in 0..R {
                    acc32[r][0] =
                        _mm256_add_epi32(acc32[r][0], _mm256_madd_epi16(acc16[r][0], ones));
                    acc32[r][1] =
                        _mm256_add_epi32(acc32[r][1], _mm256_madd_epi16(acc16[r][1], ones));
                }
            }
            g = end;
        }
        debug_assert!(R <= MR);
        for r in 0..R {
            // SAFETY: tile[r] has 16 i32 = two 256-bit stores.
            unsafe {
                _mm256_storeu_si256(tile[r].as_mut_ptr() as *mut __m256i, acc32[r][0]);
                _mm256_storeu_si256(tile[r].as_mut_ptr().add(8) as *mut __m256i, acc32[r][1]);
            }
        }
    }

    /// `R` rows × 16 columns with `vpdpbusd`. U7 bytes are unsigned already; S8 bytes are
    /// flipped to `a + 128` (an xor of the top bit), and the caller subtracts `128 · Σ_k w`
    /// per column. The i32 lanes may wrap while summing; the corrected result is the exact
    /// sum, which fits i32 (|Σ| ≤ 128 · 127 · K), so wrapping arithmetic gives it exactly.
    ///
    /// # Safety
    /// AVX2, AVX-512 VNNI and VL must be available; bounds as for [`kernel`].
    #[target_feature(enable = "avx2,avx512f,avx512vl,avx512vnni")]
    pub(super) unsafe fn kernel_vnni<const R: usize, const S8: bool>(
        a: *const u8,
        lda: usize,
        b: *const i8,
        groups: usize,
        tile: &mut Tile,
    ) {
        let flip = _mm256_set1_epi8(i8::MIN);
        let zero = _mm256_setzero_si256();
        let mut acc = [[zero; 2]; R];
        for g in 0..groups {
            // SAFETY (loads): in bounds by the caller's contract.
            let (b0, b1) = unsafe { load_b(b, g) };
            for (r, ar) in acc.iter_mut().enumerate() {
                let mut av = unsafe { load_a(a, lda, r, g) };
                if S8 {
                    av = _mm256_xor_si256(av, flip);
                }
                ar[0] = _mm256_dpbusd_epi32(ar[0], av, b0);
                ar[1] = _mm256_dpbusd_epi32(ar[1], av, b1);
            }
        }
        debug_assert!(R <= MR);
        for (r, ar) in acc.iter().enumerate() {
            // SAFETY: tile[r] has 16 i32 = two 256-bit stores.
            unsafe {
                _mm256_storeu_si256(tile[r].as_mut_ptr() as *mut __m256i, ar[0]);
                _mm256_storeu_si256(tile[r].as_mut_ptr().add(8) as *mut __m256i, ar[1]);
            }
        }
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn load_b(b: *const i8, g: usize) -> (__m256i, __m256i) {
        // SAFETY: caller guarantees `b` holds group `g` (64 bytes).
        unsafe {
            let p = b.add(g * NR * KG) as *const __m256i;
            (_mm256_loadu_si256(p), _mm256_loadu_si256(p.add(1)))
        }
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn load_a(a: *const u8, lda: usize, r: usize, g: usize) -> __m256i {
        // SAFETY: caller guarantees row `r` has group `g` (4 bytes).
        let v = unsafe { (a.add(r * lda + g * KG) as *const i32).read_unaligned() };
        _mm256_set1_epi32(v)
    }

    /// Pair sums `a0·w0 + a1·w1` per i16 lane for both column vectors.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn products<const S8: bool>(av: __m256i, b0: __m256i, b1: __m256i) -> (__m256i, __m256i) {
        if S8 {
            let ua = _mm256_abs_epi8(av);
            (
                _mm256_maddubs_epi16(ua, _mm256_sign_epi8(b0, av)),
                _mm256_maddubs_epi16(ua, _mm256_sign_epi8(b1, av)),
            )
        } else {
            (_mm256_maddubs_epi16(av, b0), _mm256_maddubs_epi16(av, b1))
        }
    }
}
