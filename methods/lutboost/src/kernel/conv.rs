//! A LUT convolution without an f32 im2col buffer: the encoder reads each sub-vector straight
//! from a zero-padded channel-major copy of the image, then the look-up kernel accumulates.
//!
//! Why: im2col of the CNN's conv2 writes 288 floats per output pixel that the encoder reads
//! once; the copy cost as much as the look-ups. Here the only copy is the image itself
//! (`[cin][h + 2p][w + 2p + 8]`, zero borders), 9× smaller than its columns.
//!
//! Both encoders run here: the nearest-centroid one and MADDNESS's hash tree.
//!
//! The AVX2 encoders put 8 horizontally adjacent output pixels in the 8 lanes of a register:
//! in the padded channel-major copy, coordinate (cin, ky, kx) of those 8 pixels' windows is 8
//! consecutive floats, one unaligned load. Each centroid's distance is then the same
//! expression as in [`crate::encode`] (start value, then per coordinate a fused multiply-add,
//! or |x − c| terms), evaluated for 8 rows at once (two such groups per call), and the argmin
//! is a running strict `<` over centroids in index order: the first minimum, as
//! `argmin_first`. So the codes, and the output, are bit for bit those of im2col +
//! [`LutGemm::forward_with`] (tests/conv.rs). The tree encoder walks its levels for 8 rows at
//! once (`tree::x86::codes`). The portable path gathers each row from the same
//! padded copy and calls the row encoder.
//!
//! Work is split across threads by chunks of whole images whose rows fill whole 32-row code
//! blocks, so each chunk encodes and accumulates on one thread with its own buffers.

use compbench_nn::ConvGeom;
use compbench_nn::kernels::PaddedImage;
use rayon::prelude::*;

use super::{ActEncoder, Isa, LutGemm};
use crate::encode::{Codes, Encoder, ROW_BLOCK, encode_row_portable};
use crate::tree::TreeEncoder;

/// Lanes per encoder register (and the extra zero columns the padded copy carries, so the last
/// lane group of a row may read past the image).
const LANES: usize = 8;
/// Rows a chunk aims for (rounded up to whole images filling whole code blocks).
const CHUNK_ROWS: usize = 1024;

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// im2col + encode + look-up for a stride-1 convolution; false (nothing written) otherwise.
/// See the module docs.
pub fn conv_nhwc(
    l: &LutGemm,
    isa: Isa,
    x: &[f32],
    batch: usize,
    h: usize,
    w: usize,
    g: &ConvGeom,
    out: &mut [f32],
) -> bool {
    let enc = &l.enc;
    if g.stride != 1 || g.k() != enc.k() || g.kernel > h + 2 * g.padding {
        return false;
    }
    let (ho, wo) = g.output_hw(h, w);
    let rows_img = ho * wo;
    let n = l.table.n;
    let per_in = h * w * g.in_channels;
    assert_eq!(x.len(), batch * per_in, "input must be [batch, h, w, cin]");
    assert_eq!(
        out.len(),
        batch * rows_img * n,
        "out must be [batch·Ho·Wo, n]"
    );
    if batch == 0 || n == 0 {
        return true;
    }
    // Whole images whose rows fill whole code blocks: chunks encode independently.
    let unit = ROW_BLOCK / gcd(rows_img, ROW_BLOCK);
    let imgs = (CHUNK_ROWS.div_ceil(unit * rows_img) * unit).min(batch);
    let pd = PaddedImage::new(g, h, w, LANES);
    let work = |(buf, codes): &mut (Vec<f32>, Codes), (os, xs): (&mut [f32], &[f32])| {
        let nimg = xs.len() / per_in;
        codes.reset(nimg * rows_img, enc.nc());
        if buf.len() != pd.buffer_len() {
            *buf = vec![0.0; pd.buffer_len()];
        }
        for (i, img) in xs.chunks_exact(per_in).enumerate() {
            pd.fill(img, buf);
            encode_image(isa, enc, &pd, buf, ho, wo, i * rows_img, codes);
        }
        l.accumulate_serial(isa, codes, os);
    };
    let chunks = os_and_xs(out, x, imgs * rows_img * n, imgs * per_in);
    if batch <= imgs {
        let mut state = (Vec::new(), Codes::default());
        chunks.for_each(|c| work(&mut state, c));
    } else {
        chunks
            .collect::<Vec<_>>()
            .into_par_iter()
            .for_each_init(|| (Vec::new(), Codes::default()), work);
    }
    true
}

fn os_and_xs<'a>(
    out: &'a mut [f32],
    x: &'a [f32],
    out_chunk: usize,
    x_chunk: usize,
) -> impl Iterator<Item = (&'a mut [f32], &'a [f32])> {
    out.chunks_mut(out_chunk).zip(x.chunks(x_chunk))
}

/// Lane groups of 8 horizontally adjacent output pixels of one image (rows `r0 ..`): their
/// offset in the padded copy and (first row, lanes).
fn lane_groups(
    pd: &PaddedImage,
    ho: usize,
    wo: usize,
    r0: usize,
) -> impl Iterator<Item = (usize, (usize, usize))> + '_ {
    (0..ho).flat_map(move |oy| {
        (0..wo)
            .step_by(LANES)
            .map(move |ox0| (oy * pd.wp + ox0, (r0 + oy * wo + ox0, LANES.min(wo - ox0))))
    })
}

/// Encode one image (rows `r0 ..`) from its padded copy.
#[allow(clippy::too_many_arguments)]
fn encode_image(
    isa: Isa,
    enc: &ActEncoder,
    pd: &PaddedImage,
    buf: &[f32],
    ho: usize,
    wo: usize,
    r0: usize,
    codes: &mut Codes,
) {
    match enc {
        ActEncoder::Nearest(e) => encode_image_nearest(isa, e, pd, buf, ho, wo, r0, codes),
        ActEncoder::Tree(t) => encode_image_tree(isa, t, pd, buf, ho, wo, r0, codes),
    }
}

/// [`encode_image`] for MADDNESS's tree encoder.
#[allow(clippy::too_many_arguments)]
fn encode_image_tree(
    isa: Isa,
    t: &TreeEncoder,
    pd: &PaddedImage,
    buf: &[f32],
    ho: usize,
    wo: usize,
    r0: usize,
    codes: &mut Codes,
) {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx2 && std::is_x86_feature_detected!("avx2") {
        for (off, group) in lane_groups(pd, ho, wo, r0) {
            // SAFETY: AVX2 is available (checked above); every lane-group load, up to
            // LANES − 1 floats past a row's last output pixel, stays in the padded copy (its
            // width has LANES spare columns).
            unsafe {
                x86::encode_tree_lanes(t, buf[off..].as_ptr(), &pd.koff, group, &mut codes.data)
            };
        }
        return;
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = isa;
    encode_image_portable(pd, buf, ho, wo, r0, t.nc, codes, |row, block, r| {
        t.encode_row(row, block, r)
    })
}

/// [`encode_image`] for the nearest-centroid encoder.
#[allow(clippy::too_many_arguments)]
fn encode_image_nearest(
    isa: Isa,
    enc: &Encoder,
    pd: &PaddedImage,
    buf: &[f32],
    ho: usize,
    wo: usize,
    r0: usize,
    codes: &mut Codes,
) {
    if isa == Isa::Avx2
        && let Some(lanes_fn) = lanes_encoder(enc)
    {
        // Two lane groups per encoder call; an odd last group is paired with an empty one
        // that reads the same pixels and writes nothing.
        let mut groups = lane_groups(pd, ho, wo, r0);
        while let Some(a) = groups.next() {
            let b = groups.next().unwrap_or((a.0, (0, 0)));
            // SAFETY: AVX2 and FMA are available (`lanes_encoder` checked); every lane-group
            // load, up to LANES − 1 floats past a row's last output pixel, stays in the padded
            // copy (its width has LANES spare columns).
            unsafe {
                lanes_fn(
                    enc,
                    [buf[a.0..].as_ptr(), buf[b.0..].as_ptr()],
                    &pd.koff,
                    [a.1, b.1],
                    &mut codes.data,
                )
            };
        }
        return;
    }
    encode_image_portable(pd, buf, ho, wo, r0, enc.nc, codes, |row, block, r| {
        encode_row_portable(enc, row, block, r)
    })
}

/// Encodes two groups of 8 rows at once: in group g, lane i's coordinate k is at
/// `src[g] + koff[k] + i`; writes the codes of rows `row0 .. row0 + lanes` of each group
/// `(row0, lanes)` into blocked `codes` (`[(row/32)·nc + s]·32 + row % 32`). A group with 0 lanes
/// is computed but not written (its `src` must still be readable).
pub(crate) type LanesEncoder =
    unsafe fn(&Encoder, [*const f32; 2], &[usize], [(usize, usize); 2], &mut [u8]);

/// The rows-in-lanes AVX2 encoder for this metric and sub-vector length, if this CPU has AVX2
/// and FMA and one is compiled for `v` (2, 4, 8, 9).
pub(crate) fn lanes_encoder(enc: &Encoder) -> Option<LanesEncoder> {
    #[cfg(target_arch = "x86_64")]
    {
        if !(std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")) {
            return None;
        }
        use crate::metric::VqMetric::*;
        let f: LanesEncoder = match (enc.metric, enc.v) {
            (L2, 2) => x86::encode_lanes::<0, 2>,
            (L1, 2) => x86::encode_lanes::<1, 2>,
            (Chebyshev, 2) => x86::encode_lanes::<2, 2>,
            (L2, 4) => x86::encode_lanes::<0, 4>,
            (L1, 4) => x86::encode_lanes::<1, 4>,
            (Chebyshev, 4) => x86::encode_lanes::<2, 4>,
            (L2, 8) => x86::encode_lanes::<0, 8>,
            (L1, 8) => x86::encode_lanes::<1, 8>,
            (Chebyshev, 8) => x86::encode_lanes::<2, 8>,
            (L2, 9) => x86::encode_lanes::<0, 9>,
            (L1, 9) => x86::encode_lanes::<1, 9>,
            (Chebyshev, 9) => x86::encode_lanes::<2, 9>,
            _ => return None,
        };
        Some(f)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = enc;
        None
    }
}

/// Gather each row's K values from the padded copy, then `encode_row(row, block, row in block)`.
#[allow(clippy::too_many_arguments)]
fn encode_image_portable(
    pd: &PaddedImage,
    buf: &[f32],
    ho: usize,
    wo: usize,
    r0: usize,
    nc: usize,
    codes: &mut Codes,
    encode_row: impl Fn(&[f32], &mut [u8], usize),
) {
    let mut row = vec![0.0f32; pd.koff.len()];
    for oy in 0..ho {
        for ox in 0..wo {
            let base = oy * pd.wp + ox;
            for (v, &o) in row.iter_mut().zip(&pd.koff) {
                *v = buf[base + o];
            }
            let r = r0 + oy * wo + ox;
            let block = &mut codes.data[(r / ROW_BLOCK) * nc * ROW_BLOCK..][..nc * ROW_BLOCK];
            encode_row(&row, block, r % ROW_BLOCK);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::*;
    use crate::encode::store_lane_codes;

    /// `M`: 0 = L2, 1 = L1, 2 = Chebyshev; `V`: sub-vector length. See [`LanesEncoder`].
    ///
    /// Two groups share each centroid's broadcasts and give the core two independent
    /// distance chains per centroid (one group alone left the FP pipes half idle, waiting on
    /// the chain's latency).
    ///
    /// # Safety
    /// AVX2 and FMA must be available; `src[g] + koff[k] .. + 8` must be readable for every k < K.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn encode_lanes<const M: u8, const V: usize>(
        enc: &Encoder,
        src: [*const f32; 2],
        koff: &[usize],
        groups: [(usize, usize); 2],
        codes: &mut [u8],
    ) {
        let (nc, c, cpad) = (enc.nc, enc.c, enc.cpad);
        debug_assert_eq!(enc.v, V);
        debug_assert_eq!(koff.len(), nc * V);
        let sign = _mm256_set1_ps(-0.0);
        let one = _mm256_set1_epi32(1);
        let (cols, init) = (enc.cols.as_ptr(), enc.init.as_ptr());
        let term = |acc: __m256, xd: __m256, cv: __m256| match M {
            0 => _mm256_fmadd_ps(xd, cv, acc),
            1 => _mm256_add_ps(acc, _mm256_andnot_ps(sign, _mm256_sub_ps(xd, cv))),
            _ => _mm256_max_ps(acc, _mm256_andnot_ps(sign, _mm256_sub_ps(xd, cv))),
        };
        for s in 0..nc {
            let mut xa = [_mm256_setzero_ps(); V];
            let mut xb = [_mm256_setzero_ps(); V];
            for d in 0..V {
                // SAFETY: readable by the caller's contract.
                unsafe {
                    xa[d] = _mm256_loadu_ps(src[0].add(koff[s * V + d]));
                    xb[d] = _mm256_loadu_ps(src[1].add(koff[s * V + d]));
                }
            }
            let (mut best_a, mut best_b) =
                (_mm256_set1_ps(f32::INFINITY), _mm256_set1_ps(f32::INFINITY));
            let (mut idx_a, mut idx_b) = (_mm256_setzero_ps(), _mm256_setzero_ps());
            let mut jv = _mm256_setzero_si256();
            for j in 0..c {
                // SAFETY: init is nc·cpad, cols nc·v·cpad floats; j < c ≤ cpad.
                let start = _mm256_set1_ps(unsafe { *init.add(s * cpad + j) });
                let (mut acc_a, mut acc_b) = (start, start);
                for d in 0..V {
                    let cv = _mm256_set1_ps(unsafe { *cols.add((s * V + d) * cpad + j) });
                    acc_a = term(acc_a, xa[d], cv);
                    acc_b = term(acc_b, xb[d], cv);
                }
                // Strict <: a later equal distance never replaces an earlier one.
                let j_ps = _mm256_castsi256_ps(jv);
                let lt = _mm256_cmp_ps::<_CMP_LT_OQ>(acc_a, best_a);
                best_a = _mm256_min_ps(acc_a, best_a);
                idx_a = _mm256_blendv_ps(idx_a, j_ps, lt);
                let lt = _mm256_cmp_ps::<_CMP_LT_OQ>(acc_b, best_b);
                best_b = _mm256_min_ps(acc_b, best_b);
                idx_b = _mm256_blendv_ps(idx_b, j_ps, lt);
                jv = _mm256_add_epi32(jv, one);
            }
            for (idx, group) in [idx_a, idx_b].into_iter().zip(groups) {
                store_lane_codes(_mm256_castps_si256(idx), group, nc, s, codes);
            }
        }
    }

    /// MADDNESS's codes for one lane group (see the module docs): lane i's coordinate k is at
    /// `src + koff[k] + i`.
    ///
    /// # Safety
    /// AVX2 must be available; `src + koff[k] .. + 8` must be readable for every k < K.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn encode_tree_lanes(
        t: &TreeEncoder,
        src: *const f32,
        koff: &[usize],
        group: (usize, usize),
        codes: &mut [u8],
    ) {
        debug_assert_eq!(koff.len(), t.k());
        for s in 0..t.nc {
            // SAFETY: readable by the caller's contract.
            let node =
                crate::tree::x86::codes(t, s, |k| unsafe { _mm256_loadu_ps(src.add(koff[k])) });
            store_lane_codes(node, group, t.nc, s, codes);
        }
    }
}
