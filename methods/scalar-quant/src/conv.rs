//! [`QuantGemm`] as a convolution without an f32 im2col buffer.
//!
//! The im2col path writes K = cin·k·k floats per output pixel and quantizes every one of them,
//! although each input value appears in up to k·k rows. Here each chunk of images is quantized
//! once (activation quantization is elementwise on a static grid, so the codes are the ones the
//! im2col rows would get; a padding position gets the code of 0.0, as im2col's zeros do), and
//! the columns are gathered from the codes. Gathered in `(ky, kx, cin)` order, a window row is
//! k·k copies of `cin` consecutive bytes of the NHWC image; the weights are packed again in
//! that order, and integer dot products do not depend on the order of their terms, so the
//! output is bit for bit im2col + [`GemmKernel::forward`] (tests/conv.rs). A row's code sum is
//! the sum of its pixels' sums (and of the padding codes).
//!
//! Work is split across threads by chunks of whole images, each through its own buffers.

use compbench_nn::ConvGeom;
use compbench_nn::deployed::GemmKernel;
use rayon::prelude::*;

use crate::deployed::QuantGemm;
use crate::kernels::int8::PackedB;

/// Column bytes a chunk aims for: a chunk is written and read back while it is in cache.
const CHUNK_BYTES: usize = 256 * 1024;

/// The fused convolution (see the module docs); false when `g` does not match the layer.
pub(crate) fn conv_nhwc(
    q: &QuantGemm,
    x: &[f32],
    batch: usize,
    h: usize,
    w: usize,
    g: &ConvGeom,
    out: &mut [f32],
) -> bool {
    let (k, n, cin) = (q.k(), q.n(), g.in_channels);
    if g.k() != k || g.kernel > h + 2 * g.padding || g.kernel > w + 2 * g.padding {
        return false;
    }
    let (ho, wo) = g.output_hw(h, w);
    let (rows_img, per_in) = (ho * wo, h * w * cin);
    assert_eq!(x.len(), batch * per_in, "input must be [batch, h, w, cin]");
    assert_eq!(
        out.len(),
        batch * rows_img * n,
        "out must be [batch·Ho·Wo, n]"
    );
    if batch == 0 || n == 0 {
        return true;
    }
    // Packed once per layer (a layer sees one geometry); another geometry packs its own.
    let key = (cin, g.kernel);
    let pack = || PackedB::pack(&taps_major(q.stored(), g, n), k, n);
    let (cached_key, cached) = q.conv_packed.get_or_init(|| (key, pack()));
    let other;
    let packed = if *cached_key == key {
        cached
    } else {
        other = pack();
        &other
    };
    let lda = packed.kp;
    // A padding position's code and its value in a row's code sum.
    let mut pad = [0u8; 1];
    let pad_sum = q.encode(&[0.0], 1, 1, 1, &mut pad)[0];
    let imgs = (CHUNK_BYTES / (rows_img * lda).max(1)).clamp(1, batch);
    out.par_chunks_mut(imgs * rows_img * n)
        .zip(x.par_chunks(imgs * per_in))
        .for_each_init(
            || (Vec::new(), Vec::new(), Vec::new()),
            |(codes, cols, rowsum): &mut (Vec<u8>, Vec<u8>, Vec<i32>), (os, xs)| {
                let nimg = xs.len() / per_in;
                let pixels = nimg * h * w;
                codes.resize(pixels * cin, 0);
                let pixel_sums = q.encode(xs, pixels, cin, cin, codes);
                let m = nimg * rows_img;
                cols.resize(m * lda, 0);
                gather_columns(
                    codes,
                    &pixel_sums,
                    (nimg, h, w),
                    g,
                    (pad[0], pad_sum),
                    (lda, cols),
                    rowsum,
                );
                q.gemm_codes(packed, cols, lda, m, rowsum, os);
            },
        );
    true
}

/// Weight rows reordered from im2col's `(cin, ky, kx)` to `(ky, kx, cin)`.
fn taps_major(stored: &[i8], g: &ConvGeom, n: usize) -> Vec<i8> {
    let (cin, taps) = (g.in_channels, g.kernel * g.kernel);
    let mut out = vec![0i8; stored.len()];
    for c in 0..cin {
        for t in 0..taps {
            let (from, to) = ((c * taps + t) * n, (t * cin + c) * n);
            out[to..to + n].copy_from_slice(&stored[from..from + n]);
        }
    }
    out
}

/// The `(ky, kx, cin)`-ordered code columns of `nimg` NHWC code images into `cols`
/// (`lda` bytes per output pixel, zero beyond K), and each row's code sum into `sums`.
fn gather_columns(
    codes: &[u8],
    pixel_sums: &[i32],
    (nimg, h, w): (usize, usize, usize),
    g: &ConvGeom,
    (pad_code, pad_sum): (u8, i32),
    (lda, cols): (usize, &mut [u8]),
    sums: &mut Vec<i32>,
) {
    let (cin, kk, k) = (g.in_channels, g.kernel, g.k());
    let (ho, wo) = g.output_hw(h, w);
    let pad = g.padding as isize;
    let inside = |v: isize, len: usize| v >= 0 && (v as usize) < len;
    sums.clear();
    let mut rows = cols.chunks_exact_mut(lda);
    for b in 0..nimg {
        for oy in 0..ho {
            for ox in 0..wo {
                let row = rows.next().expect("cols holds every output pixel");
                let (y0, x0) = (
                    (oy * g.stride) as isize - pad,
                    (ox * g.stride) as isize - pad,
                );
                let mut sum = 0i32;
                for ky in 0..kk {
                    let y = y0 + ky as isize;
                    let dst = &mut row[ky * kk * cin..(ky + 1) * kk * cin];
                    if inside(y, h) && x0 >= 0 && x0 as usize + kk <= w {
                        // The window's row lies inside: k·cin consecutive bytes.
                        let p = (b * h + y as usize) * w + x0 as usize;
                        dst.copy_from_slice(&codes[p * cin..(p + kk) * cin]);
                        sum += pixel_sums[p..p + kk].iter().sum::<i32>();
                        continue;
                    }
                    for (kx, d) in dst.chunks_exact_mut(cin).enumerate() {
                        let xx = x0 + kx as isize;
                        if inside(y, h) && inside(xx, w) {
                            let p = (b * h + y as usize) * w + xx as usize;
                            d.copy_from_slice(&codes[p * cin..(p + 1) * cin]);
                            sum += pixel_sums[p];
                        } else {
                            d.fill(pad_code);
                            sum += pad_sum * cin as i32;
                        }
                    }
                }
                row[k..].fill(0);
                sums.push(sum);
            }
        }
    }
}
