//! Multi-head self-attention on plain buffers (the deployed ViT's core).

use rayon::prelude::*;

use super::sgemm::sgemm_serial;

/// `out[b·T + t, h·dh + j] = Σ_s softmax_s(q_t·k_s / √dh) · v_s[j]` for every image and head.
///
/// `qkv` is `[batch·T, 3·H·dh]` with columns ordered `(q|k|v, head, j)` — the layout of the
/// trainable model's fused `qkv` projection. `softmax` normalizes `rows × cols` scores in place
/// (a pluggable [`crate::deployed::NonlinearKernel`] in the deployed model). Images run in
/// parallel on the current rayon pool; `out` is `[batch·T, H·dh]`.
pub fn multi_head_attention(
    qkv: &[f32],
    batch: usize,
    tokens: usize,
    heads: usize,
    dh: usize,
    softmax: &(dyn Fn(&mut [f32], usize, usize) + Sync),
    out: &mut [f32],
) {
    let d = heads * dh;
    assert_eq!(qkv.len(), batch * tokens * 3 * d);
    assert_eq!(out.len(), batch * tokens * d);
    let scale = 1.0 / (dh as f32).sqrt();
    // Per-thread scratch, reused from image to image: every buffer is fully overwritten for
    // each image (gathers and GEMM outputs), so fresh zeroed ones per image were only memset
    // and page-fault cost (80 KB per image and block at the wide ViT's shapes).
    let scratch = || {
        (
            vec![0.0f32; tokens * dh],
            vec![0.0f32; dh * tokens],
            vec![0.0f32; heads * tokens * dh],
            vec![0.0f32; heads * tokens * tokens],
            vec![0.0f32; tokens * dh],
        )
    };
    out.par_chunks_mut(tokens * d).enumerate().for_each_init(
        scratch,
        |(q, kt, v, scores, o), (b, out_img)| {
            let img = &qkv[b * tokens * 3 * d..(b + 1) * tokens * 3 * d];
            // Per head, gather Q [T, dh], Kᵀ [dh, T] and V [T, dh] contiguously so both products
            // run on the SIMD GEMM (serially: images are already spread over the pool).
            for h in 0..heads {
                for t in 0..tokens {
                    let row = &img[t * 3 * d..(t + 1) * 3 * d];
                    q[t * dh..(t + 1) * dh].copy_from_slice(&row[h * dh..(h + 1) * dh]);
                    for j in 0..dh {
                        kt[j * tokens + t] = row[d + h * dh + j];
                    }
                    v[(h * tokens + t) * dh..(h * tokens + t + 1) * dh]
                        .copy_from_slice(&row[2 * d + h * dh..2 * d + (h + 1) * dh]);
                }
                let s = &mut scores[h * tokens * tokens..(h + 1) * tokens * tokens];
                sgemm_serial(tokens, dh, tokens, q, kt, s);
                s.iter_mut().for_each(|x| *x *= scale);
            }
            // Scores for all heads of this image are [H·T, T], so one softmax call covers them.
            softmax(scores, heads * tokens, tokens);
            for h in 0..heads {
                let p = &scores[h * tokens * tokens..(h + 1) * tokens * tokens];
                sgemm_serial(
                    tokens,
                    tokens,
                    dh,
                    p,
                    &v[h * tokens * dh..(h + 1) * tokens * dh],
                    o,
                );
                for t in 0..tokens {
                    out_img[t * d + h * dh..t * d + (h + 1) * dh]
                        .copy_from_slice(&o[t * dh..(t + 1) * dh]);
                }
            }
        },
    );
}
