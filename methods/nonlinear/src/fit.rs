//! Fitting approximations to a scalar function on an interval: piecewise-linear segments with
//! dynamic-programming cut points, and least-squares polynomials.
//!
//! Both fit in f64 on a dense uniform sample of `[lo, hi]` and hand the result to
//! [`crate::curve`] in f32. The PWL fit minimizes the total squared error over the samples;
//! its cut points lie on a grid of [`GRID_CELLS`] equal cells, so the deployed kernel finds
//! the segment of `x` with one multiply and a table index (no search), and the optimum with
//! N+1 segments is never worse than with N (an extra cut can always repeat a line).

/// Cells of the cut-point grid (and of the deployed kernel's expanded table).
pub const GRID_CELLS: usize = 256;
/// Samples per grid cell in the least-squares fits.
const SAMPLES_PER_CELL: usize = 8;

/// A fitted piecewise-linear function: `segments` lines, each valid on a run of grid cells.
#[derive(Debug, Clone, PartialEq)]
pub struct PwlFit {
    pub lo: f64,
    pub hi: f64,
    /// First cell of each segment (the first is 0), ascending.
    pub starts: Vec<usize>,
    /// `(slope, intercept)` of each segment, in x.
    pub lines: Vec<(f64, f64)>,
    /// Total squared error over the fitting samples.
    pub sse: f64,
}

impl PwlFit {
    /// The segment covering grid cell `cell`.
    pub fn segment_of_cell(&self, cell: usize) -> usize {
        self.starts.partition_point(|&s| s <= cell) - 1
    }

    /// Cut points in x (segment boundaries, excluding `lo` and `hi`).
    pub fn cuts(&self) -> Vec<f64> {
        let w = (self.hi - self.lo) / GRID_CELLS as f64;
        self.starts[1..]
            .iter()
            .map(|&s| self.lo + s as f64 * w)
            .collect()
    }
}

/// Running sums of a weighted least-squares line fit.
#[derive(Debug, Clone, Copy, Default)]
struct Moments {
    n: f64,
    x: f64,
    y: f64,
    xx: f64,
    xy: f64,
    yy: f64,
}

impl Moments {
    fn minus(&self, o: &Moments) -> Moments {
        Moments {
            n: self.n - o.n,
            x: self.x - o.x,
            y: self.y - o.y,
            xx: self.xx - o.xx,
            xy: self.xy - o.xy,
            yy: self.yy - o.yy,
        }
    }

    /// The least-squares line and its squared error.
    fn line(&self) -> ((f64, f64), f64) {
        let vx = self.xx - self.x * self.x / self.n;
        let cxy = self.xy - self.x * self.y / self.n;
        let vy = self.yy - self.y * self.y / self.n;
        if vx <= 1e-300 {
            return ((0.0, self.y / self.n), vy.max(0.0));
        }
        let slope = cxy / vx;
        let icpt = (self.y - slope * self.x) / self.n;
        ((slope, icpt), (vy - slope * cxy).max(0.0))
    }
}

/// The `segments`-piece PWL function minimizing the squared error of `f` on `[lo, hi]`.
///
/// Exact dynamic programming over the cut grid: `cost[s][j]` is the least error of covering
/// cells `0..j` with `s` lines; each candidate segment's error comes from prefix moments in
/// O(1), so the fit is O(segments · cells²).
pub fn fit_pwl(f: impl Fn(f64) -> f64, lo: f64, hi: f64, segments: usize) -> PwlFit {
    assert!(hi > lo && (1..=GRID_CELLS).contains(&segments));
    let g = GRID_CELLS;
    let n = g * SAMPLES_PER_CELL;
    let step = (hi - lo) / n as f64;
    // prefix[c] = moments of all samples in cells 0..c.
    let mut prefix = vec![Moments::default(); g + 1];
    let mut acc = Moments::default();
    for c in 0..g {
        for s in 0..SAMPLES_PER_CELL {
            let x = lo + ((c * SAMPLES_PER_CELL + s) as f64 + 0.5) * step;
            let y = f(x);
            acc.n += 1.0;
            acc.x += x;
            acc.y += y;
            acc.xx += x * x;
            acc.xy += x * y;
            acc.yy += y * y;
        }
        prefix[c + 1] = acc;
    }
    let seg_cost = |i: usize, j: usize| prefix[j].minus(&prefix[i]).line().1;
    // cost[j] for the current segment count; back[s][j] = start of the last segment.
    let mut cost: Vec<f64> = (0..=g)
        .map(|j| if j == 0 { 0.0 } else { seg_cost(0, j) })
        .collect();
    let mut back = vec![vec![0usize; g + 1]];
    for _ in 1..segments {
        let mut next = vec![f64::INFINITY; g + 1];
        let mut b = vec![0usize; g + 1];
        for j in 1..=g {
            // Keeping the previous count (empty extra segment) is allowed: monotone in N.
            next[j] = cost[j];
            b[j] = j;
            for i in 1..j {
                let c = cost[i] + seg_cost(i, j);
                if c < next[j] {
                    next[j] = c;
                    b[j] = i;
                }
            }
        }
        cost = next;
        back.push(b);
    }
    // Walk back from the full range.
    let mut starts = Vec::new();
    let mut j = g;
    for s in (0..segments).rev() {
        let i = if s == 0 { 0 } else { back[s][j] };
        if i < j {
            starts.push(i);
            j = i;
        }
        if j == 0 {
            break;
        }
    }
    starts.reverse();
    let mut lines = Vec::with_capacity(starts.len());
    for (k, &s) in starts.iter().enumerate() {
        let e = starts.get(k + 1).copied().unwrap_or(g);
        lines.push(prefix[e].minus(&prefix[s]).line().0);
    }
    PwlFit {
        lo,
        hi,
        starts,
        lines,
        sse: cost[g],
    }
}

/// A least-squares polynomial fit in the normalized variable `t = (x − center)/half` ∈ [−1, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct PolyFit {
    pub center: f64,
    pub half: f64,
    /// Coefficients of t⁰, t¹, …, t^degree.
    pub coef: Vec<f64>,
}

impl PolyFit {
    pub fn eval(&self, x: f64) -> f64 {
        let t = (x - self.center) / self.half;
        self.coef.iter().rev().fold(0.0, |acc, &c| acc * t + c)
    }

    /// Coefficients of x⁰ … x^degree (expanded from t), for reports.
    pub fn coef_in_x(&self) -> Vec<f64> {
        let d = self.coef.len();
        let mut out = vec![0.0; d];
        // (x − c)^k / h^k expanded by the binomial theorem.
        for (k, &a) in self.coef.iter().enumerate() {
            let mut binom = 1.0;
            for j in 0..=k {
                // term: a · C(k, j) · x^j · (−c)^(k−j) / h^k
                out[j] +=
                    a * binom * (-self.center).powi((k - j) as i32) / self.half.powi(k as i32);
                binom = binom * (k - j) as f64 / (j + 1) as f64;
            }
        }
        out
    }
}

/// The degree-`degree` polynomial minimizing the squared error of `f` on a dense uniform
/// sample of `[lo, hi]` (normal equations in the normalized variable, solved in f64).
pub fn fit_poly(f: impl Fn(f64) -> f64, lo: f64, hi: f64, degree: usize) -> PolyFit {
    assert!(hi > lo);
    let d = degree + 1;
    let center = 0.5 * (lo + hi);
    let half = 0.5 * (hi - lo);
    let n = GRID_CELLS * SAMPLES_PER_CELL;
    let mut ata = vec![0.0; d * d];
    let mut aty = vec![0.0; d];
    let mut pw = vec![0.0; d];
    for s in 0..n {
        let t = -1.0 + 2.0 * (s as f64 + 0.5) / n as f64;
        let y = f(center + half * t);
        pw[0] = 1.0;
        for k in 1..d {
            pw[k] = pw[k - 1] * t;
        }
        for r in 0..d {
            aty[r] += pw[r] * y;
            for c in 0..d {
                ata[r * d + c] += pw[r] * pw[c];
            }
        }
    }
    PolyFit {
        center,
        half,
        coef: solve(ata, aty, d),
    }
}

/// Gaussian elimination with partial pivoting on a small dense system.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>, n: usize) -> Vec<f64> {
    for col in 0..n {
        let piv = (col..n)
            .max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))
            .expect("non-empty");
        if piv != col {
            for c in 0..n {
                a.swap(col * n + c, piv * n + c);
            }
            b.swap(col, piv);
        }
        let p = a[col * n + col];
        for r in col + 1..n {
            let m = a[r * n + col] / p;
            for c in col..n {
                a[r * n + c] -= m * a[col * n + c];
            }
            b[r] -= m * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|c| a[r * n + c] * x[c]).sum();
        x[r] = (b[r] - s) / a[r * n + r];
    }
    x
}
