//! Per-layer sparsity allocation under a FLOPs budget (LPViT's "empirical optimisation").
//!
//! Each layer l has, on the sparsity grid, a cost curve D_l(j) = δ_l(s_j) + β·P_l(s_j)
//! (smoothed distortion plus the power term) and a FLOPs cost u_l(j) in integer units (kept
//! blocks × GEMM rows of the layer, divided by their common gcd; every block of one experiment
//! has the same area, so units are exact FLOPs ratios). Grid points that keep fewer than the
//! minimum share of blocks are not allowed.
//!
//! * [`bisect`]: the equal-slope (Lagrangian) condition. For a slope λ every layer takes the
//!   allowed grid point whose numerical derivative D_l′ is closest to λ; λ is bisected until
//!   the kept FLOPs fraction meets the target. The returned side is the one
//!   that does not exceed the budget; what the last jump left unspent is refilled greedily
//!   (one grid point back at a time, best objective decrease per FLOPs unit first).
//! * [`dp`]: the exact minimum of Σ D_l subject to Σ u_l ≤ capacity (a multiple-choice
//!   knapsack over the grid, as RD_PRUNE's and SPDY's DP), the check that the bisection is near
//!   optimal: at the bisection's budget its objective is never higher.
//! * [`uniform`]: every layer at the same grid sparsity (the baseline).

/// What the allocator sees of one layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerCost {
    /// D_l on the grid (smoothed distortion + β·power).
    pub cost: Vec<f64>,
    /// FLOPs units kept at each grid point.
    pub units: Vec<u64>,
    /// Grid points the layer may take (enough blocks kept).
    pub allowed: Vec<bool>,
}

/// A choice of one grid point per layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation {
    pub choice: Vec<usize>,
    /// Σ D_l at the choice.
    pub objective: f64,
    /// Kept FLOPs units.
    pub units: u64,
}

impl Allocation {
    fn of(layers: &[LayerCost], choice: Vec<usize>) -> Allocation {
        let objective = layers.iter().zip(&choice).map(|(l, &j)| l.cost[j]).sum();
        let units = layers.iter().zip(&choice).map(|(l, &j)| l.units[j]).sum();
        Allocation {
            choice,
            objective,
            units,
        }
    }
}

/// Dense FLOPs units (grid point 0 keeps every block).
pub fn total_units(layers: &[LayerCost]) -> u64 {
    layers.iter().map(|l| l.units[0]).sum()
}

/// Numerical derivative dD/ds on a uniform grid of step `ds`, as LPViT's `derivative_approx`
/// computes it with `--h` = `h`: the 5-point stencil
/// (−y[j+h] + 8y[j+h/2] − 8y[j−h/2] + y[j−h]) / (6·h·ds), i.e. inner offset h/2 and outer
/// offset h (not 2h), so the slope at j reads the curve within ±h grid points. An odd `h` uses
/// the inner offset ⌊h/2⌋ and the outer 2⌊h/2⌋ (the code would mix ⌊h/2⌋ with h, which is not
/// a derivative estimate).
///
/// Near the ends the code shrinks the reach to h' = min(h, j, n−1−j); here h' is rounded down
/// to even for the same reason; below 2 the code's forward difference (j < 2) or central
/// difference (the other end) is used. The code returns no slope for the last grid point (its result has n−1 entries); here
/// it gets the one-sided difference, and [`bisect`] never picks it on a slope (see
/// [`equal_slope`]).
pub fn derivative(y: &[f64], ds: f64, h: usize) -> Vec<f64> {
    let n = y.len();
    let half = (h / 2).max(1);
    (0..n)
        .map(|j| {
            let reach_half = half.min(j / 2).min((n - 1 - j) / 2);
            if reach_half >= 1 {
                let (a, b) = (reach_half, 2 * reach_half);
                (-y[j + b] + 8.0 * y[j + a] - 8.0 * y[j - a] + y[j - b]) / (12.0 * a as f64 * ds)
            } else if n < 2 {
                0.0
            } else if j < 2 && j + 1 < n {
                (y[j + 1] - y[j]) / ds
            } else if j == n - 1 {
                (y[n - 1] - y[n - 2]) / ds
            } else {
                (y[j + 1] - y[j - 1]) / (2.0 * ds)
            }
        })
        .collect()
}

/// The grid points a slope may select: all but the last (LPViT's derivative has no entry
/// for s = 1).
fn candidates(d: &[f64]) -> std::ops::Range<usize> {
    0..d.len().saturating_sub(1).max(1)
}

/// Each layer's grid point whose slope is closest to `lambda` (ties: the lower sparsity),
/// chosen over the whole grid and then capped at the layer's sparsest allowed point, as
/// LPViT's `pareto_condition` picks argmin |δ′ − λ| and then takes min(1 − min_sp, s).
/// (Choosing only among allowed points instead would move a layer whose matching slope lies
/// beyond the cap to some unrelated allowed point with a similar slope.)
fn equal_slope(slopes: &[Vec<f64>], layers: &[LayerCost], lambda: f64) -> Vec<usize> {
    slopes
        .iter()
        .zip(layers)
        .map(|(d, l)| {
            let (lo, hi) = d[candidates(d)]
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                    (a.min(x), b.max(x))
                });
            // Outside the slopes' range the closest slope is the extreme one; compared
            // directly (with a huge λ, |d − λ| would round to one value for every d).
            let target = lambda.clamp(lo, hi);
            let mut best = (f64::INFINITY, 0);
            for j in candidates(d) {
                let gap = (d[j] - target).abs();
                if gap < best.0 {
                    best = (gap, j);
                }
            }
            // The cap: the sparsest allowed point at or below the choice.
            (0..=best.1).rev().find(|&j| l.allowed[j]).unwrap_or(0)
        })
        .collect()
}

/// Bisection on the common slope λ until the kept units are at most `budget_units`, then
/// [`refill`]; `None` when even the steepest slopes keep more than the budget.
///
/// LPViT bisects t in λ = 2^t over [−100, 100]. Here λ itself is bisected over the range the
/// layers' slopes span: the same choices are reachable (each layer's choice depends on λ only
/// through the clamped closest slope), and negative slopes, which the intended power term
/// produces (D′ = δ′ − β|P′|), are reachable too.
pub fn bisect(layers: &[LayerCost], ds: f64, h: usize, budget_units: u64) -> Option<Allocation> {
    let slopes: Vec<Vec<f64>> = layers.iter().map(|l| derivative(&l.cost, ds, h)).collect();
    let at = |lambda: f64| Allocation::of(layers, equal_slope(&slopes, layers, lambda));
    let (mut lo, mut hi) = slopes
        .iter()
        .flat_map(|d| d[candidates(d)].iter().copied())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
    if !lo.is_finite() || !hi.is_finite() {
        return None;
    }
    let low = at(lo);
    if low.units <= budget_units {
        return Some(refill(layers, low, budget_units));
    }
    let mut best = at(hi);
    if best.units > budget_units {
        return None;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        let a = at(mid);
        if a.units > budget_units {
            lo = mid;
        } else {
            hi = mid;
            best = a;
        }
    }
    Some(refill(layers, best, budget_units))
}

/// Spends what the bisection left of the budget: where several layers switch grid points at
/// the same slope, the kept FLOPs jump past the target. Step layers back to their previous
/// allowed kept count one at a time (the largest objective decrease per added unit first)
/// while the budget holds, so the result is within one step of the smallest layer step.
fn refill(layers: &[LayerCost], mut a: Allocation, budget_units: u64) -> Allocation {
    loop {
        let mut best: Option<(f64, usize, usize)> = None;
        for (l, layer) in layers.iter().enumerate() {
            let j = a.choice[l];
            // The nearest lower-sparsity point that keeps more (grid points can share a count).
            let Some(prev) = (0..j)
                .rev()
                .find(|&p| layer.allowed[p] && layer.units[p] > layer.units[j])
            else {
                continue;
            };
            let added = layer.units[prev] - layer.units[j];
            if a.units + added > budget_units {
                continue;
            }
            // The proxy need not fall when less is pruned (the rank-1 term is not monotone),
            // so the best rate may be a loss: the budget, not the proxy, is the target.
            let rate = (layer.cost[j] - layer.cost[prev]) / added as f64;
            if best.is_none_or(|(r, _, _)| rate > r) {
                best = Some((rate, l, prev));
            }
        }
        let Some((_, l, prev)) = best else {
            return a;
        };
        let mut choice = a.choice.clone();
        choice[l] = prev;
        a = Allocation::of(layers, choice);
    }
}

/// The exact minimum of Σ D_l over allowed grid points with Σ units ≤ `budget_units`.
pub fn dp(layers: &[LayerCost], budget_units: u64) -> Option<Allocation> {
    let cap = budget_units.min(total_units(layers)) as usize;
    let mut best = vec![f64::INFINITY; cap + 1];
    best[0] = 0.0;
    // choice[l][c]: layer l's grid point in the best solution using exactly c units.
    let mut choice: Vec<Vec<u32>> = Vec::with_capacity(layers.len());
    for l in layers {
        let mut next = vec![f64::INFINITY; cap + 1];
        let mut pick = vec![u32::MAX; cap + 1];
        for (j, (&cost, &u)) in l.cost.iter().zip(&l.units).enumerate() {
            if !l.allowed[j] {
                continue;
            }
            let u = u as usize;
            if u > cap {
                continue;
            }
            for c in u..=cap {
                let v = best[c - u] + cost;
                if v < next[c] {
                    next[c] = v;
                    pick[c] = j as u32;
                }
            }
        }
        best = next;
        choice.push(pick);
    }
    let (mut c, _) = best
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .min_by(|a, b| a.1.total_cmp(b.1))?;
    let mut out = vec![0usize; layers.len()];
    for l in (0..layers.len()).rev() {
        let j = choice[l][c] as usize;
        out[l] = j;
        c -= layers[l].units[j] as usize;
    }
    Some(Allocation::of(layers, out))
}

/// Every layer at the lowest common grid sparsity whose kept units fit the budget.
pub fn uniform(layers: &[LayerCost], budget_units: u64) -> Option<Allocation> {
    let points = layers.first()?.cost.len();
    (0..points)
        .filter(|&j| layers.iter().all(|l| l.allowed[j]))
        .map(|j| Allocation::of(layers, vec![j; layers.len()]))
        .find(|a| a.units <= budget_units)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Convex curves c·s² on a 101-point grid, units proportional to kept fraction.
    fn convex_layers() -> Vec<LayerCost> {
        let g = 101;
        [(1.0, 64u64), (4.0, 64), (0.25, 256), (2.0, 128)]
            .iter()
            .map(|&(c, blocks)| {
                let cost = (0..g)
                    .map(|j| {
                        let s = j as f64 / 100.0;
                        c * s * s
                    })
                    .collect();
                let units = (0..g)
                    .map(|j| {
                        blocks
                            - crate::blocks::pruned_blocks(j as f64 / 100.0, blocks as usize) as u64
                    })
                    .collect();
                let allowed = (0..g).map(|j| j <= 95).collect();
                LayerCost {
                    cost,
                    units,
                    allowed,
                }
            })
            .collect()
    }

    #[test]
    fn derivative_of_a_quadratic_is_exact_inside() {
        let y: Vec<f64> = (0..101).map(|j| (j as f64 / 100.0).powi(2)).collect();
        let d = derivative(&y, 0.01, 4);
        for j in 2..100 {
            assert!(
                (d[j] - 2.0 * j as f64 / 100.0).abs() < 1e-9,
                "j={j}: {}",
                d[j]
            );
        }
    }

    /// LPViT's `derivative_approx` at an interior point, written from its formula:
    /// (−y[i+h] + 8y[i+h/2] − 8y[i−h/2] + y[i−h]) / (6·(x[i+h] − x[i])).
    fn lpvit_stencil(y: &[f64], i: usize, h: usize, ds: f64) -> f64 {
        (-y[i + h] + 8.0 * y[i + h / 2] - 8.0 * y[i - h / 2] + y[i - h]) / (6.0 * h as f64 * ds)
    }

    #[test]
    fn derivative_is_lpvits_stencil_reaching_h_grid_points() {
        let mut rng = compbench_core::seed::Rng::new(3);
        let y: Vec<f64> = (0..101).map(|_| rng.normal() as f64).collect();
        for h in [4, 10] {
            let d = derivative(&y, 0.01, h);
            for j in h..=100 - h {
                let want = lpvit_stencil(&y, j, h, 0.01);
                assert!(
                    (d[j] - want).abs() < 1e-9 * (1.0 + want.abs()),
                    "h={h} j={j}"
                );
            }
        }
        // A bump just outside ±h does not move the slope; one at +h does.
        let mut bump = vec![0.0; 101];
        bump[50 + 5] = 1.0;
        assert_eq!(derivative(&bump, 0.01, 4)[50], 0.0);
        bump[50 + 4] = 1.0;
        assert!(derivative(&bump, 0.01, 4)[50] < 0.0);
        // The code's forward difference at the first two points.
        let d = derivative(&y, 0.01, 4);
        assert!((d[1] - (y[2] - y[1]) / 0.01).abs() < 1e-9);
    }

    #[test]
    fn equal_slope_caps_the_matching_point_instead_of_searching_the_allowed_ones() {
        // Slopes 0, 1, 5, 2, 3 and the last two points not allowed. For λ = 3 the matching
        // slope is at point 3 (|2 − 3| = 1; the last point has no slope in LPViT's code), so
        // the layer takes the sparsest allowed point, 2, as min(1 − min_sp, s) does; among
        // the allowed points alone the closest slopes (1 and 5) would tie and give point 1.
        let layer = LayerCost {
            cost: vec![0.0; 5],
            units: vec![4, 3, 2, 1, 0],
            allowed: vec![true, true, true, false, false],
        };
        let slopes = vec![vec![0.0, 1.0, 5.0, 2.0, 3.0]];
        assert_eq!(
            equal_slope(&slopes, std::slice::from_ref(&layer), 3.0),
            vec![2]
        );
        assert_eq!(
            equal_slope(&slopes, std::slice::from_ref(&layer), 0.9),
            vec![1]
        );
        // The last point's slope (3.0) is never matched, even when the point is allowed.
        let all = LayerCost {
            allowed: vec![true; 5],
            ..layer
        };
        assert_eq!(equal_slope(&slopes, &[all], 3.0), vec![3]);
    }

    #[test]
    fn bisection_meets_the_budget_within_one_grid_step() {
        let layers = convex_layers();
        let total = total_units(&layers);
        for target in [0.7, 0.5, 0.45, 0.3] {
            let budget = (target * total as f64).floor() as u64;
            let a = bisect(&layers, 0.01, 4, budget).expect("reachable");
            let frac = a.units as f64 / total as f64;
            assert!(frac <= target + 1e-12, "over budget: {frac} > {target}");
            // One grid step of the whole network: 1 % of the FLOPs.
            assert!(target - frac <= 0.01 + 1e-12, "{target}: got {frac}");
        }
    }

    #[test]
    fn dp_is_never_worse_than_bisection_at_its_budget() {
        let layers = convex_layers();
        let total = total_units(&layers);
        for target in [0.7, 0.5, 0.45, 0.3] {
            let budget = (target * total as f64).floor() as u64;
            let b = bisect(&layers, 0.01, 4, budget).unwrap();
            let d = dp(&layers, budget).unwrap();
            assert!(d.units <= budget);
            assert!(
                d.objective <= b.objective + 1e-12,
                "{target}: dp {} > bisection {}",
                d.objective,
                b.objective
            );
            // Equal-slope allocation puts more sparsity where the curve is flatter.
            assert!(b.choice[2] > b.choice[1], "{:?}", b.choice);
        }
    }

    #[test]
    fn dp_finds_the_optimum_of_a_small_problem_by_enumeration() {
        // Non-convex curves where equal slopes can be fooled; DP must match brute force.
        let layers = vec![
            LayerCost {
                cost: vec![0.0, 5.0, 5.1, 9.0],
                units: vec![6, 4, 2, 0],
                allowed: vec![true; 4],
            },
            LayerCost {
                cost: vec![0.0, 1.0, 7.0, 7.5],
                units: vec![6, 4, 2, 0],
                allowed: vec![true, true, true, false],
            },
            LayerCost {
                cost: vec![0.0, 0.5, 0.6, 8.0],
                units: vec![3, 2, 1, 0],
                allowed: vec![true; 4],
            },
        ];
        for budget in 0..=15 {
            let mut best = f64::INFINITY;
            for a in 0..4 {
                for b in 0..4 {
                    for c in 0..4 {
                        let ch = [a, b, c];
                        if ch.iter().zip(&layers).any(|(&j, l)| !l.allowed[j]) {
                            continue;
                        }
                        let u: u64 = ch.iter().zip(&layers).map(|(&j, l)| l.units[j]).sum();
                        if u <= budget {
                            best = best.min(ch.iter().zip(&layers).map(|(&j, l)| l.cost[j]).sum());
                        }
                    }
                }
            }
            match dp(&layers, budget) {
                Some(d) => assert!((d.objective - best).abs() < 1e-12, "budget {budget}"),
                None => assert!(best.is_infinite(), "budget {budget}"),
            }
        }
    }

    #[test]
    fn unreachable_budget_is_none() {
        let layers = convex_layers();
        assert!(bisect(&layers, 0.01, 4, 0).is_none());
        assert!(dp(&layers, 0).is_none());
        assert!(uniform(&layers, 0).is_none());
    }

    #[test]
    fn uniform_takes_one_sparsity_everywhere() {
        let layers = convex_layers();
        let total = total_units(&layers);
        let a = uniform(&layers, total / 2).unwrap();
        assert!(a.choice.iter().all(|&j| j == 50), "{:?}", a.choice);
    }
}
