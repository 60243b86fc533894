//! LPViT's power proxy and the automatic choice of its weight β.
//!
//! P_l(s) counts surviving weight blocks times ⌈C_in/16⌉ (the input columns a 16-wide
//! processing element walks per block row). LPViT's code multiplies the block count by the
//! *pruned* fraction s, which makes high-power layers *less* sparse; the intended proxy uses the
//! kept fraction (1 − s). Both are available ([`PowerSign`]); `intended` is the default.
//!
//! β = mean_l max_s δ_l′(s) / mean_l max_s |P_l′(s)|: the two terms on a comparable scale,
//! as LPViT's code does (with |·| so β is positive whatever the sign convention).

/// Which way the power proxy runs with sparsity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerSign {
    /// P_l = (kept blocks) · ⌈in/16⌉: pruning a layer lowers its power.
    Intended,
    /// LPViT's code: P_l = s · (all blocks) · ⌈in/16⌉.
    AsCoded,
}

/// Input-column groups of a 16-wide processing element.
pub fn column_groups(in_features: usize) -> f64 {
    in_features.div_ceil(16) as f64
}

/// P_l at each grid point: `kept[j]` kept blocks of `num_blocks` at sparsity `s[j]`.
pub fn power_curve(
    kept: &[usize],
    sparsities: &[f64],
    num_blocks: usize,
    in_features: usize,
    sign: PowerSign,
) -> Vec<f64> {
    let c = column_groups(in_features);
    kept.iter()
        .zip(sparsities)
        .map(|(&k, &s)| match sign {
            PowerSign::Intended => k as f64 * c,
            PowerSign::AsCoded => s * num_blocks as f64 * c,
        })
        .collect()
}

/// β from the layers' distortion slopes and power slopes (0 when the power slopes vanish).
pub fn auto_beta(distortion_slopes: &[Vec<f64>], power_slopes: &[Vec<f64>]) -> f64 {
    let mean_max = |curves: &[Vec<f64>], abs: bool| {
        let n = curves.len().max(1) as f64;
        curves
            .iter()
            .map(|c| {
                c.iter()
                    .map(|&x| if abs { x.abs() } else { x })
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .filter(|x| x.is_finite())
            .sum::<f64>()
            / n
    };
    let p = mean_max(power_slopes, true);
    if p > 0.0 {
        mean_max(distortion_slopes, false) / p
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_run_opposite_ways() {
        let s = [0.0, 0.5, 1.0];
        let kept = [8, 4, 0];
        let a = power_curve(&kept, &s, 8, 128, PowerSign::Intended);
        let b = power_curve(&kept, &s, 8, 128, PowerSign::AsCoded);
        assert_eq!(a, vec![64.0, 32.0, 0.0]);
        assert_eq!(b, vec![0.0, 32.0, 64.0]);
    }

    #[test]
    fn beta_balances_the_slopes() {
        let d = vec![vec![0.0, 2.0], vec![0.0, 4.0]];
        let p = vec![vec![-10.0, -10.0], vec![-30.0, -30.0]];
        assert!((auto_beta(&d, &p) - 3.0 / 20.0).abs() < 1e-12);
        assert_eq!(auto_beta(&d, &[vec![0.0]]), 0.0);
    }
}
