//! im2col: lower a convolution to a GEMM.
//!
//! **The one column order used everywhere** (trainable weight export, deployed conv,
//! `capture_gemm_inputs`, Workload IR): a row is one output pixel `(b, oh, ow)` in that order, and
//! its `K = Cin·k·k` columns are ordered `(cin, kh, kw)`, kw fastest. That is PyTorch's
//! `weight.reshape(Cout, -1)`, so the GEMM's B operand is `weight.reshape(Cout, K)ᵀ` (K×N with
//! N = Cout), and the GEMM's output is `[b·Ho·Wo, Cout]`, i.e. NHWC.
//! Padding positions hold 0.

use crate::hooks::ConvGeom;

/// An image copied once into a zero-padded, channel-major buffer (`[cin][h + 2p][w + 2p +
/// spare]`), so that an output window's im2col row is read in place: for the window whose
/// top-left corner is at `offset = oy·wp + ox`, column k (in the `(cin, kh, kw)` order above)
/// is `buf[offset + koff[k]]`, and the windows of horizontally adjacent output pixels are
/// adjacent in memory. The `spare` zero columns on the right let a kernel that reads a group
/// of adjacent windows at once (SIMD lanes, register-tile rows) run past the last one.
/// Stride-1 convolutions only. Used by the dense GEMM's and LUT-GEMM's direct convolutions.
#[derive(Debug, Clone)]
pub struct PaddedImage {
    cin: usize,
    h: usize,
    w: usize,
    pad: usize,
    hp: usize,
    /// Row length of the buffer: `w + 2p + spare`.
    pub wp: usize,
    /// Offset of column k from a window's top-left corner.
    pub koff: Vec<usize>,
}

impl PaddedImage {
    pub fn new(g: &ConvGeom, h: usize, w: usize, spare: usize) -> PaddedImage {
        let (cin, kk, pad) = (g.in_channels, g.kernel, g.padding);
        let (hp, wp) = (h + 2 * pad, w + 2 * pad + spare);
        let koff = (0..g.k())
            .map(|k| {
                let (c, t) = (k / (kk * kk), k % (kk * kk));
                (c * hp + t / kk) * wp + t % kk
            })
            .collect();
        PaddedImage {
            cin,
            h,
            w,
            pad,
            hp,
            wp,
            koff,
        }
    }

    /// Length of the buffer [`PaddedImage::fill`] writes into (zeroed once by its owner).
    pub fn buffer_len(&self) -> usize {
        self.cin * self.hp * self.wp
    }

    /// Copy one NHWC image into `buf`'s interior. The zero border is never written, so one
    /// buffer serves image after image.
    pub fn fill(&self, img: &[f32], buf: &mut [f32]) {
        let (cin, p) = (self.cin, self.pad);
        debug_assert_eq!(img.len(), self.h * self.w * cin);
        debug_assert_eq!(buf.len(), self.buffer_len());
        for y in 0..self.h {
            for x in 0..self.w {
                let px = &img[(y * self.w + x) * cin..][..cin];
                for (c, &v) in px.iter().enumerate() {
                    buf[(c * self.hp + y + p) * self.wp + x + p] = v;
                }
            }
        }
    }
}

/// im2col of `batch` images stored NHWC (`[b, h, w, cin]`, the deployed model's layout between
/// convolutions). `out` is `[batch·Ho·Wo, K]`, fully overwritten.
///
/// Windows entirely inside the image write their row in order from fixed tap offsets; border
/// windows read each kernel tap's `cin` channels as one contiguous slice and scatter them into
/// the row at stride k·k, writing padding taps as zeros once per tap. Same values as
/// [`im2col_generic`] (a pure copy), which the tests check.
pub fn im2col_nhwc(x: &[f32], batch: usize, h: usize, w: usize, g: &ConvGeom, out: &mut [f32]) {
    let cin = g.in_channels;
    let (ho, wo) = g.output_hw(h, w);
    let (kk, kdim) = (g.kernel, g.k());
    assert_eq!(
        x.len(),
        batch * h * w * cin,
        "input must be [batch, h, w, cin]"
    );
    assert_eq!(
        out.len(),
        batch * ho * wo * kdim,
        "im2col output must be [batch·Ho·Wo, K]"
    );
    let taps = kk * kk;
    let pad = g.padding as isize;
    let inside = |v: isize, len: usize| v >= 0 && (v as usize) < len;
    // Offset of each tap from the window's top-left pixel, in values (for interior windows).
    let tap_off: Vec<usize> = (0..taps).map(|t| ((t / kk) * w + t % kk) * cin).collect();
    let avx2 = has_avx2();
    // Rows in (b, oy, ox) order, counted rather than divided out of the row index (three
    // integer divisions per row cost more than a 9-value row's copy).
    let coords =
        (0..batch).flat_map(|b| (0..ho).flat_map(move |oy| (0..wo).map(move |ox| (b, oy, ox))));
    for (row, (b, oy, ox)) in out.chunks_exact_mut(kdim).zip(coords) {
        let (y0, x0) = (
            (oy * g.stride) as isize - pad,
            (ox * g.stride) as isize - pad,
        );
        if y0 >= 0 && x0 >= 0 && y0 as usize + kk <= h && x0 as usize + kk <= w {
            // The whole window is inside: write the row in order (sequential stores, reads at
            // fixed offsets), which is several times faster than scattering each tap's
            // channels at stride k·k; most windows are interior.
            let base = ((b * h + y0 as usize) * w + x0 as usize) * cin;
            let window = &x[base..base + tap_off[taps - 1] + cin];
            if taps == 9 {
                let off: [usize; 9] = std::array::from_fn(|t| tap_off[t]);
                interior_row_3x3(window, &off, cin, row, avx2);
            } else {
                for (c, dst) in row.chunks_exact_mut(taps).enumerate() {
                    for (d, &o) in dst.iter_mut().zip(&tap_off) {
                        *d = window[o + c];
                    }
                }
            }
            continue;
        }
        for ky in 0..kk {
            let y = (oy * g.stride + ky) as isize - pad;
            for kx in 0..kk {
                let xx = (ox * g.stride + kx) as isize - pad;
                let tap = ky * kk + kx;
                let dst = row[tap..].iter_mut().step_by(taps);
                if inside(y, h) && inside(xx, w) {
                    let src = &x[((b * h + y as usize) * w + xx as usize) * cin..][..cin];
                    dst.zip(src).for_each(|(d, &v)| *d = v);
                } else {
                    dst.for_each(|d| *d = 0.0);
                }
            }
        }
    }
}

fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// One interior row of a 3×3 window: `row[c·9 + t] = window[off[t] + c]`. With AVX2, 8
/// channels at a time: the 9 taps' 8-channel slices are 9 loads; an 8×8 transpose of taps 0–7
/// gives each channel's first 8 values (one unaligned store each), and tap 8 fills the ninth
/// slot. A pure copy either way; the scalar loop is the reference (tests compare).
#[inline]
fn interior_row_3x3(window: &[f32], off: &[usize; 9], cin: usize, row: &mut [f32], avx2: bool) {
    assert!(window.len() >= off[8] + cin && row.len() == 9 * cin);
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if avx2 && cin >= 8 {
        // SAFETY: AVX2 detected by the caller; bounds asserted above.
        unsafe { x86::interior_row_3x3(window, off, cin, row) };
        done = cin / 8 * 8;
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = avx2;
    for (c, dst) in row.chunks_exact_mut(9).enumerate().skip(done) {
        for t in 0..9 {
            dst[t] = window[off[t] + c];
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// Channels `0 .. cin / 8 · 8` of [`super::interior_row_3x3`].
    ///
    /// # Safety
    /// AVX2 must be available; `window.len() ≥ off[8] + cin` and `row.len() = 9 · cin`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn interior_row_3x3(
        window: &[f32],
        off: &[usize; 9],
        cin: usize,
        row: &mut [f32],
    ) {
        let (src, dst) = (window.as_ptr(), row.as_mut_ptr());
        let mut c = 0;
        while c + 8 <= cin {
            // SAFETY (all loads and stores): off[t] + c + 8 ≤ window.len(); the stores write
            // row[(c + i)·9 .. (c + i)·9 + 9] ⊂ row for i < 8.
            unsafe {
                let v: [__m256; 8] = [
                    _mm256_loadu_ps(src.add(off[0] + c)),
                    _mm256_loadu_ps(src.add(off[1] + c)),
                    _mm256_loadu_ps(src.add(off[2] + c)),
                    _mm256_loadu_ps(src.add(off[3] + c)),
                    _mm256_loadu_ps(src.add(off[4] + c)),
                    _mm256_loadu_ps(src.add(off[5] + c)),
                    _mm256_loadu_ps(src.add(off[6] + c)),
                    _mm256_loadu_ps(src.add(off[7] + c)),
                ];
                let mut last = [0.0f32; 8];
                _mm256_storeu_ps(last.as_mut_ptr(), _mm256_loadu_ps(src.add(off[8] + c)));
                let t0 = _mm256_unpacklo_ps(v[0], v[1]);
                let t1 = _mm256_unpackhi_ps(v[0], v[1]);
                let t2 = _mm256_unpacklo_ps(v[2], v[3]);
                let t3 = _mm256_unpackhi_ps(v[2], v[3]);
                let t4 = _mm256_unpacklo_ps(v[4], v[5]);
                let t5 = _mm256_unpackhi_ps(v[4], v[5]);
                let t6 = _mm256_unpacklo_ps(v[6], v[7]);
                let t7 = _mm256_unpackhi_ps(v[6], v[7]);
                let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
                let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
                let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
                let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
                let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
                let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
                let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
                let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
                // Channel c + i's taps 0–7.
                let ch: [__m256; 8] = [
                    _mm256_permute2f128_ps::<0x20>(u0, u4),
                    _mm256_permute2f128_ps::<0x20>(u1, u5),
                    _mm256_permute2f128_ps::<0x20>(u2, u6),
                    _mm256_permute2f128_ps::<0x20>(u3, u7),
                    _mm256_permute2f128_ps::<0x31>(u0, u4),
                    _mm256_permute2f128_ps::<0x31>(u1, u5),
                    _mm256_permute2f128_ps::<0x31>(u2, u6),
                    _mm256_permute2f128_ps::<0x31>(u3, u7),
                ];
                for (i, (v, &l)) in ch.iter().zip(&last).enumerate() {
                    let d = dst.add((c + i) * 9);
                    _mm256_storeu_ps(d, *v);
                    *d.add(8) = l;
                }
            }
            c += 8;
        }
    }
}

/// im2col of `batch` images stored NCHW (`[b, cin, h, w]`, burn's layout).
pub fn im2col_nchw(x: &[f32], batch: usize, h: usize, w: usize, g: &ConvGeom, out: &mut [f32]) {
    let cin = g.in_channels;
    im2col_generic(batch, h, w, g, out, |b, y, xx, c| {
        x[((b * cin + c) * h + y) * w + xx]
    });
    debug_assert_eq!(x.len(), batch * h * w * cin);
}

#[inline(always)]
fn im2col_generic(
    batch: usize,
    h: usize,
    w: usize,
    g: &ConvGeom,
    out: &mut [f32],
    at: impl Fn(usize, usize, usize, usize) -> f32,
) {
    let (ho, wo) = g.output_hw(h, w);
    let (kk, kdim) = (g.kernel, g.k());
    assert_eq!(
        out.len(),
        batch * ho * wo * kdim,
        "im2col output must be [batch·Ho·Wo, K]"
    );
    let pad = g.padding as isize;
    for b in 0..batch {
        for oy in 0..ho {
            for ox in 0..wo {
                let row = &mut out[((b * ho + oy) * wo + ox) * kdim..][..kdim];
                let mut col = 0;
                for c in 0..g.in_channels {
                    for ky in 0..kk {
                        let y = (oy * g.stride + ky) as isize - pad;
                        for kx in 0..kk {
                            let xx = (ox * g.stride + kx) as isize - pad;
                            row[col] = if y >= 0 && (y as usize) < h && xx >= 0 && (xx as usize) < w
                            {
                                at(b, y as usize, xx as usize, c)
                            } else {
                                0.0
                            };
                            col += 1;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tap-sliced NHWC path against the per-element generic path on the same images
    /// (transposed to NCHW), bit for bit, over channel counts, kernels, strides and paddings.
    #[test]
    fn nhwc_matches_generic_reference() {
        let mut seed = 1u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        for (cin, kernel, stride, padding, h, w) in [
            (1, 3, 1, 1, 7, 7),
            (3, 3, 2, 1, 8, 6),
            (16, 3, 1, 1, 5, 5),
            (32, 3, 1, 1, 6, 7),
            (13, 3, 1, 0, 5, 6),
            (2, 1, 1, 0, 4, 3),
            (5, 5, 2, 2, 9, 7),
            (4, 3, 3, 0, 10, 10),
        ] {
            let g = ConvGeom {
                in_channels: cin,
                out_channels: 1,
                kernel,
                stride,
                padding,
            };
            let batch = 2;
            let nhwc: Vec<f32> = (0..batch * h * w * cin).map(|_| next()).collect();
            let mut nchw = vec![0.0; nhwc.len()];
            for b in 0..batch {
                for y in 0..h {
                    for x in 0..w {
                        for c in 0..cin {
                            nchw[((b * cin + c) * h + y) * w + x] =
                                nhwc[((b * h + y) * w + x) * cin + c];
                        }
                    }
                }
            }
            let (ho, wo) = g.output_hw(h, w);
            let mut fast = vec![f32::NAN; batch * ho * wo * g.k()];
            let mut reference = vec![0.0; fast.len()];
            im2col_nhwc(&nhwc, batch, h, w, &g, &mut fast);
            im2col_nchw(&nchw, batch, h, w, &g, &mut reference);
            let same = fast
                .iter()
                .zip(&reference)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "cin {cin} k {kernel} s {stride} p {padding} {h}×{w}");
        }
    }
}
