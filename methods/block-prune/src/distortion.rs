//! Per-layer distortion curves δ_l(s): LPViT's second-order Taylor proxy of the output
//! distortion caused by pruning one layer to sparsity s, on a sparsity grid.
//!
//! With Δ = W⊙M(s) − W (the pruned weights, negated; no OBS-style correction of the others)
//! and g the calibration gradient of the layer's weights:
//!
//! * term 1 (diagonal empirical Fisher): (1/n) Σ_i (Δ_i g_i)²;
//! * term 2 (rank-1 Fisher of the mean gradient, LPViT's `--second_order`):
//!   ½ Δᵀ(g gᵀ + λI)Δ = ½[(gᵀΔ)² + λ‖Δ‖²], λ = 1e-7.
//!
//! Both are recomputed from Δ at every grid point. LPViT's code updates term 2 incrementally
//! between grid points with the *current* Δ where the identity needs the previous one; that
//! bug is not reproduced by default. [`rank1_as_coded`] computes the code's recurrence as an
//! ablation (`rank1_update: as-coded`), to test whether the bug changes the allocation: with
//! ΔΔ_d = Δ_d − Δ_{d−1}, the code's increment ½(ΔΔ_d + 2Δ_d)ᵀ g (gᵀΔΔ_d) exceeds the exact
//! one by (gᵀΔΔ_d)², so its term 2 is the exact one plus Σ_{d'≤d} (gᵀΔΔ_{d'})², a
//! non-decreasing sum over the slices pruned at each grid step.
//!
//! Curves are then smoothed by a bias-corrected EMA (TensorBoard's, as LPViT's `--smooth`).

use crate::blocks::{BlockGrid, block_mask, pruned_blocks};

/// LPViT's damping of the rank-1 Fisher term.
pub const FISHER_DAMPING: f64 = 1e-7;

/// The sparsity grid: `points` values s_j = j/(points−1), 0 ≤ j < points.
pub fn sparsity_grid(points: usize) -> Vec<f64> {
    let last = points.max(2) - 1;
    (0..=last).map(|j| j as f64 / last as f64).collect()
}

/// The two Taylor terms for one pruning perturbation Δ = −w on the pruned elements.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaylorTerms {
    /// (1/n) Σ (Δ_i g_i)².
    pub diag_fisher: f64,
    /// ½[(gᵀΔ)² + λ‖Δ‖²].
    pub rank1: f64,
    /// Its damping part ½λ‖Δ‖² (diagnostic: how much of term 2 is the damping).
    pub damping: f64,
}

/// The Taylor terms of pruning the elements where `keep` is false.
pub fn taylor_terms(w: &[f32], g: &[f32], keep: impl Fn(usize) -> bool) -> TaylorTerms {
    let (mut diag, mut gd, mut dd) = (0.0f64, 0.0f64, 0.0f64);
    for i in 0..w.len() {
        if keep(i) {
            continue;
        }
        let d = -(w[i] as f64);
        let gi = g[i] as f64;
        diag += (d * gi) * (d * gi);
        gd += gi * d;
        dd += d * d;
    }
    TaylorTerms {
        diag_fisher: diag / w.len().max(1) as f64,
        rank1: 0.5 * (gd * gd + FISHER_DAMPING * dd),
        damping: 0.5 * FISHER_DAMPING * dd,
    }
}

/// Both Taylor terms on `grid` for a layer whose blocks are pruned in `order` (see
/// [`crate::blocks::prune_order`]).
pub fn taylor_curve(
    grid: &BlockGrid,
    w: &[f32],
    g: &[f32],
    order: &[usize],
    sparsities: &[f64],
) -> Vec<TaylorTerms> {
    let block_of = grid.element_blocks();
    sparsities
        .iter()
        .map(|&s| {
            let keep = block_mask(order, pruned_blocks(s, grid.num_blocks()));
            taylor_terms(w, g, |i| keep[block_of[i]])
        })
        .collect()
}

/// Term 2 as LPViT's code accumulates it over the grid (its `hessian_deltaw` recurrence, bug
/// included): 0 at the first grid point (nothing pruned), then at each step d > 0 with
/// ΔΔ = Δ_d − Δ_{d−1} nonzero on the newly pruned elements N_d,
/// term2_d = term2_{d−1} + ½[(gᵀΔΔ)(gᵀ(ΔΔ + 2Δ_d)) + λ Σ_{i∈N_d} (ΔΔ_i + 2Δ_{d,i})]
/// (the code adds λ, not λ·ΔΔ_i, on N_d). An ablation; the exact term is [`TaylorTerms::rank1`].
pub fn rank1_as_coded(
    grid: &BlockGrid,
    w: &[f32],
    g: &[f32],
    order: &[usize],
    sparsities: &[f64],
) -> Vec<f64> {
    let block_of = grid.element_blocks();
    let mut out = Vec::with_capacity(sparsities.len());
    let mut prev_keep: Option<Vec<bool>> = None;
    let mut acc = 0.0f64;
    for &s in sparsities {
        let keep = block_mask(order, pruned_blocks(s, grid.num_blocks()));
        if let Some(prev) = &prev_keep {
            // Δ_d = −w where pruned; ΔΔ = −w where newly pruned (pruned sets are nested).
            let (mut g_dd, mut g_d, mut damp) = (0.0f64, 0.0f64, 0.0f64);
            for i in 0..w.len() {
                let b = block_of[i];
                if keep[b] {
                    continue;
                }
                let d = -(w[i] as f64);
                g_d += g[i] as f64 * d;
                if prev[b] && d != 0.0 {
                    g_dd += g[i] as f64 * d;
                    damp += 3.0 * d; // ΔΔ_i + 2Δ_i with Δ_i = ΔΔ_i
                }
            }
            acc += 0.5 * (g_dd * (g_dd + 2.0 * g_d) + FISHER_DAMPING * damp);
        }
        out.push(acc);
        prev_keep = Some(keep);
    }
    out
}

/// δ(s) from the terms: term 1, plus term 2 when `second_order`.
pub fn distortion_of(terms: &[TaylorTerms], second_order: bool) -> Vec<f64> {
    terms
        .iter()
        .map(|t| t.diag_fisher + if second_order { t.rank1 } else { 0.0 })
        .collect()
}

/// δ(s) on `grid` (see [`taylor_curve`], [`distortion_of`]).
pub fn distortion_curve(
    grid: &BlockGrid,
    w: &[f32],
    g: &[f32],
    order: &[usize],
    sparsities: &[f64],
    second_order: bool,
) -> Vec<f64> {
    distortion_of(&taylor_curve(grid, w, g, order, sparsities), second_order)
}

/// Bias-corrected exponential moving average with decay `a` ∈ [0, 1): m_k = a·m_{k−1} +
/// (1−a)·x_k, reported as m_k / (1 − a^(k+1)). `a = 0` returns the input.
pub fn ema_smooth(xs: &[f64], a: f64) -> Vec<f64> {
    let mut m = 0.0;
    let mut debias = 1.0;
    xs.iter()
        .map(|&x| {
            m = a * m + (1.0 - a) * x;
            debias *= a;
            m / (1.0 - debias)
        })
        .collect()
}

/// Pearson correlation of two equally long samples (0 when either is constant).
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    if n < 2 {
        return 0.0;
    }
    let mx = x[..n].iter().sum::<f64>() / n as f64;
    let my = y[..n].iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (a, b) = (x[i] - mx, y[i] - my);
        sxy += a * b;
        sxx += a * a;
        syy += b * b;
    }
    if sxx <= 0.0 || syy <= 0.0 {
        0.0
    } else {
        sxy / (sxx * syy).sqrt()
    }
}

/// Spearman rank correlation (Pearson of average ranks).
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

fn ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::{BlockShape, Score, block_scores, prune_order};
    use compbench_core::seed::Rng;

    /// ½ Δᵀ(g gᵀ + λI)Δ with the n×n matrix written out.
    fn rank1_direct(delta: &[f64], g: &[f64]) -> f64 {
        let n = delta.len();
        let mut q = 0.0;
        for i in 0..n {
            for j in 0..n {
                let h = g[i] * g[j] + if i == j { FISHER_DAMPING } else { 0.0 };
                q += delta[i] * h * delta[j];
            }
        }
        0.5 * q
    }

    /// Δᵀ diag(g²) Δ / n with the diagonal matrix written out.
    fn diag_direct(delta: &[f64], g: &[f64]) -> f64 {
        let n = delta.len();
        let mut q = 0.0;
        for i in 0..n {
            for j in 0..n {
                let h = if i == j { g[i] * g[i] } else { 0.0 };
                q += delta[i] * h * delta[j];
            }
        }
        q / n as f64
    }

    #[test]
    fn second_order_terms_match_a_direct_quadratic_form_at_every_grid_point() {
        let mut rng = Rng::new(7);
        let (k, n) = (8, 12);
        let w: Vec<f32> = (0..k * n).map(|_| rng.normal()).collect();
        let g: Vec<f32> = (0..k * n).map(|_| rng.normal() * 0.1).collect();
        let grid = BlockGrid::new(k, n, BlockShape { rows: 4, cols: 2 }).unwrap();
        let order = prune_order(&block_scores(&grid, &w, Some(&g), Score::Taylor));
        let sp = sparsity_grid(11);
        let with2 = distortion_curve(&grid, &w, &g, &order, &sp, true);
        let only1 = distortion_curve(&grid, &w, &g, &order, &sp, false);
        let g64: Vec<f64> = g.iter().map(|&x| x as f64).collect();
        for (j, &s) in sp.iter().enumerate() {
            let keep = grid.element_mask(&block_mask(&order, pruned_blocks(s, grid.num_blocks())));
            let delta: Vec<f64> = w
                .iter()
                .zip(&keep)
                .map(|(&x, &kp)| if kp { 0.0 } else { -(x as f64) })
                .collect();
            let d1 = diag_direct(&delta, &g64);
            let d2 = rank1_direct(&delta, &g64);
            assert!(
                (only1[j] - d1).abs() <= 1e-12 * (1.0 + d1),
                "s={s}: {} vs {d1}",
                only1[j]
            );
            assert!(
                (with2[j] - (d1 + d2)).abs() <= 1e-9 * (1.0 + d1 + d2),
                "s={s}: {} vs {}",
                with2[j],
                d1 + d2
            );
        }
        let terms = taylor_curve(&grid, &w, &g, &order, &sp);
        for (j, &s) in sp.iter().enumerate() {
            let keep = grid.element_mask(&block_mask(&order, pruned_blocks(s, grid.num_blocks())));
            let dd: f64 = w
                .iter()
                .zip(&keep)
                .filter(|(_, kp)| !**kp)
                .map(|(&x, _)| (x as f64).powi(2))
                .sum();
            let want = 0.5 * FISHER_DAMPING * dd;
            assert!(
                (terms[j].damping - want).abs() <= 1e-12 * (1.0 + want),
                "s={s}"
            );
        }
        assert_eq!(with2[0], 0.0, "nothing pruned, no distortion");
        assert!(
            with2[10] > with2[5],
            "pruning everything costs more than half"
        );
    }

    #[test]
    fn as_coded_rank1_is_the_exact_term_plus_the_squared_step_sums() {
        let mut rng = Rng::new(11);
        let (k, n) = (8, 12);
        let w: Vec<f32> = (0..k * n).map(|_| rng.normal()).collect();
        let g: Vec<f32> = (0..k * n).map(|_| rng.normal() * 0.1).collect();
        let grid = BlockGrid::new(k, n, BlockShape { rows: 2, cols: 2 }).unwrap();
        let order = prune_order(&block_scores(&grid, &w, Some(&g), Score::Taylor));
        let sp = sparsity_grid(9);
        let coded = rank1_as_coded(&grid, &w, &g, &order, &sp);
        let exact = taylor_curve(&grid, &w, &g, &order, &sp);
        let delta = |s: f64| -> Vec<f64> {
            let keep = grid.element_mask(&block_mask(&order, pruned_blocks(s, grid.num_blocks())));
            w.iter()
                .zip(&keep)
                .map(|(&x, &kp)| if kp { 0.0 } else { -(x as f64) })
                .collect()
        };
        let dot = |a: &[f64]| a.iter().zip(&g).map(|(x, &y)| x * y as f64).sum::<f64>();
        let (mut extra, mut coded_damping) = (0.0, 0.0);
        assert_eq!(coded[0], 0.0);
        for j in 1..sp.len() {
            let (d, p) = (delta(sp[j]), delta(sp[j - 1]));
            let dd: Vec<f64> = d.iter().zip(&p).map(|(a, b)| a - b).collect();
            extra += dot(&dd).powi(2);
            // The code adds λ (not λ·ΔΔ_i) on the newly pruned elements: ½λ Σ (ΔΔ_i + 2Δ_i).
            coded_damping += 0.5
                * FISHER_DAMPING
                * dd.iter()
                    .zip(&d)
                    .filter(|(x, _)| **x != 0.0)
                    .map(|(x, y)| x + 2.0 * y)
                    .sum::<f64>();
            let want = exact[j].rank1 - exact[j].damping + extra + coded_damping;
            assert!(
                (coded[j] - want).abs() <= 1e-9 * (1.0 + want.abs()),
                "j={j}: {} vs {want}",
                coded[j]
            );
        }
        assert!(extra > 0.0, "some step pruned something");
    }

    #[test]
    fn ema_is_bias_corrected() {
        for x in ema_smooth(&[3.0, 3.0, 3.0], 0.9) {
            assert!((x - 3.0).abs() < 1e-12, "a constant stays constant: {x}");
        }
        assert_eq!(ema_smooth(&[1.0, 2.0], 0.0), vec![1.0, 2.0]);
        let s = ema_smooth(&[0.0, 10.0], 0.5);
        // m1 = 0, m2 = 5; debias 1−0.25 = 0.75.
        assert!((s[1] - 5.0 / 0.75).abs() < 1e-12);
    }

    #[test]
    fn rank_correlation() {
        assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 100.0, 1000.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert_eq!(pearson(&[1.0, 1.0], &[1.0, 2.0]), 0.0);
    }
}
