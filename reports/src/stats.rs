//! Small statistics helpers: Student-t 95 % confidence intervals.

/// Two-sided 97.5 % quantile of Student's t with `df` degrees of freedom.
pub fn t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => T[df - 1],
        31..=60 => 2.000,
        61..=120 => 1.980,
        _ => 1.960,
    }
}

/// Half-width of the 95 % CI of a mean from a sample standard deviation (ddof 1) and `n`
/// observations; `None` below two observations.
pub fn ci95(std: f64, n: usize) -> Option<f64> {
    (n >= 2 && std.is_finite()).then(|| t975(n - 1) * std / (n as f64).sqrt())
}

/// Mean and 95 % CI half-width of `xs` (CI `None` below two values).
pub fn mean_ci(xs: &[f64]) -> (f64, Option<f64>) {
    let n = xs.len();
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, None);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, ci95(var.sqrt(), n))
}

/// Welch's two-sample t-test at 95 % (two-sided) from two samples' means, sample standard
/// deviations and sizes (each ≥ 2): true when the means differ significantly. Two samples with
/// no spread differ exactly when their means do.
pub fn welch_differs(a: (f64, f64, usize), b: (f64, f64, usize)) -> bool {
    let (ma, sa, na) = a;
    let (mb, sb, nb) = b;
    if na < 2 || nb < 2 {
        return false;
    }
    let va = sa * sa / na as f64;
    let vb = sb * sb / nb as f64;
    let se = (va + vb).sqrt();
    let d = (mb - ma).abs();
    if se == 0.0 {
        return d > 0.0;
    }
    // Welch–Satterthwaite degrees of freedom, rounded down (conservative).
    let df = (va + vb).powi(2) / (va * va / (na - 1) as f64 + vb * vb / (nb - 1) as f64);
    d / se > t975((df.floor() as usize).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welch_needs_a_clear_gap_for_two_seeds() {
        // Two seeds each: df ≈ 2, t ≈ 4.3: a 0.23 pp gap with 0.2 pp spread is noise.
        assert!(!welch_differs((2.2, 0.2, 2), (2.43, 0.2, 2)));
        assert!(welch_differs((2.2, 0.01, 2), (3.2, 0.01, 2)));
        assert!(welch_differs((1.0, 0.0, 2), (1.5, 0.0, 2)));
        assert!(!welch_differs((1.0, 0.0, 2), (1.0, 0.0, 2)));
        assert!(
            !welch_differs((1.0, 0.0, 1), (5.0, 0.0, 2)),
            "needs two per side"
        );
    }

    #[test]
    fn ci_of_three_values() {
        let (m, ci) = mean_ci(&[1.0, 2.0, 3.0]);
        assert_eq!(m, 2.0);
        // std = 1, t(2) = 4.303, / sqrt(3)
        assert!((ci.unwrap() - 4.303 / 3f64.sqrt()).abs() < 1e-12);
        assert_eq!(mean_ci(&[5.0]).1, None);
    }
}
