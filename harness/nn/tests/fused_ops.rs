//! The fused training ops (`compbench_nn::fused`): forward values against burn's own ops
//! (max-pool and GELU bit-exact, softmax within 1e-6), gradients against central differences
//! and against burn's autodiff of its own ops, max-pool ties, the fallback for other dtypes,
//! strided inputs, checkpointing and thread-count independence of the kernels.

use burn::backend::GradientCheckpointingStrategy;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{DType, Device, Tensor, TensorData, activation};
use compbench_core::seed::Rng;
use compbench_nn::fused::{self, erf, kernels};
use compbench_nn::train::with_threads;

fn normal(seed: u64, n: usize) -> Vec<f32> {
    let mut r = Rng::new(seed);
    (0..n).map(|_| r.normal()).collect()
}

fn tensor<const D: usize>(v: &[f32], dims: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(v.to_vec(), dims), device)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

fn plain() -> Device {
    compbench_nn::device()
}

fn ad() -> Device {
    compbench_nn::device().autodiff()
}

fn burn_pool(x: Tensor<4>) -> Tensor<4> {
    max_pool2d(x, MaxPoolOptions::new([2, 2]))
}

fn burn_softmax<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    activation::softmax(x, D - 1)
}

fn assert_bits(name: &str, a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{name}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            x.to_bits() == y.to_bits(),
            "{name}: element {i}: fused {x:e} vs burn {y:e}"
        );
    }
}

fn assert_close(name: &str, a: &[f32], b: &[f32], rel: f32) {
    assert_eq!(a.len(), b.len(), "{name}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let tol = rel * x.abs().max(y.abs()).max(1e-30);
        assert!(
            (x - y).abs() <= tol,
            "{name}: element {i}: fused {x:e} vs burn {y:e} (|diff| {:e} > {tol:e})",
            (x - y).abs()
        );
    }
}

const POOL_SHAPES: [[usize; 4]; 6] = [
    [1, 1, 2, 2],
    [3, 5, 8, 6],
    [7, 16, 28, 28],
    [5, 32, 14, 14],
    [2, 3, 7, 5],
    [1, 2, 1, 4],
];

/// Normal values, a quarter of them replaced by 0 (ReLU-like ties) and a few by ±∞.
fn pool_input(seed: u64, n: usize) -> Vec<f32> {
    let mut r = Rng::new(seed ^ 0x5eed);
    normal(seed, n)
        .into_iter()
        .map(|v| match r.below(40) {
            0..=9 => 0.0,
            10 => f32::INFINITY,
            11 => f32::NEG_INFINITY,
            _ => v,
        })
        .collect()
}

#[test]
fn max_pool_forward_is_bit_exact() {
    for (s, dims) in POOL_SHAPES.into_iter().enumerate() {
        let v = pool_input(s as u64, dims.iter().product());
        for device in [plain(), ad()] {
            let x = tensor(&v, dims, &device);
            let ours = fused::max_pool2x2(x.clone());
            let theirs = burn_pool(x);
            assert_eq!(ours.dims(), theirs.dims(), "{dims:?}");
            assert_bits(
                &format!("max_pool {dims:?}"),
                &values(ours),
                &values(theirs),
            );
        }
    }
}

#[test]
fn gelu_forward_is_bit_exact() {
    let mut special = vec![
        0.0f32, -0.0, 1e-30, -1e-30, 5.0, -5.0, 9.0, -9.0, 40.0, -40.0,
    ];
    special.extend([f32::INFINITY, f32::NEG_INFINITY, f32::MAX, f32::MIN]);
    for (s, dims) in [[5, 37], [128, 256], [1, 1], [3, 14]]
        .into_iter()
        .enumerate()
    {
        let mut v: Vec<f32> = normal(10 + s as u64, dims[0] * dims[1])
            .into_iter()
            .map(|x| 3.0 * x)
            .collect();
        for (slot, x) in v.iter_mut().zip(&special) {
            *slot = *x;
        }
        for device in [plain(), ad()] {
            let x = tensor(&v, dims, &device);
            let ours = values(fused::gelu(x.clone()));
            assert_bits(
                &format!("gelu {dims:?}"),
                &ours,
                &values(activation::gelu(x)),
            );
            let deployed: Vec<f32> = v
                .iter()
                .map(|x| compbench_nn::deployed::kernels::gelu(*x))
                .collect();
            assert_bits(&format!("gelu {dims:?} vs deployed"), &ours, &deployed);
            // The deployed model's GELU node (vectorized erff, in place) gives the same bits.
            let mut node = v.clone();
            compbench_nn::deployed::exact_kernel(compbench_core::NonlinearKind::Gelu)
                .forward(&mut node, dims[0], dims[1]);
            assert_bits(&format!("gelu {dims:?} deployed node"), &node, &deployed);
        }
    }
    // Rank 3 and 1.
    let v = normal(20, 2 * 3 * 4);
    let x = tensor(&v, [2, 3, 4], &ad());
    assert_bits(
        "gelu rank 3",
        &values(fused::gelu(x.clone())),
        &values(activation::gelu(x)),
    );
    let x = tensor(&v, [24], &plain());
    assert_bits(
        "gelu rank 1",
        &values(fused::gelu(x.clone())),
        &values(activation::gelu(x)),
    );
}

/// The vectorized `erff` agrees with libm's bit for bit, on both code paths: every 61st bit pattern of all 2³²
/// (both signs, subnormals, NaNs, ±∞) and ±64 ulp around each of libm's range boundaries.
#[test]
fn erff_is_libm_bit_for_bit() {
    let mut bits: Vec<u32> = (0..=u32::MAX).step_by(61).collect();
    for edge in [
        0x3180_0000u32,
        0x3f58_0000,
        0x3fa0_0000,
        0x4036_db6d,
        0x40c0_0000,
        0x7f80_0000,
    ] {
        for sign in [0, 0x8000_0000u32] {
            bits.extend((edge - 64..edge + 64).map(|b| b | sign));
        }
    }
    let x: Vec<f32> = bits.iter().map(|b| f32::from_bits(*b)).collect();
    let want: Vec<f32> = x.iter().map(|x| libm::erff(*x)).collect();
    let paths = if erf::avx2_available() {
        vec![false, true]
    } else {
        vec![false]
    };
    for avx2 in paths {
        let mut out = vec![0.0f32; x.len()];
        for (x, o) in x.chunks(1000).zip(out.chunks_mut(1000)) {
            erf::erff_slice_with(avx2, x, o);
        }
        for ((x, o), want) in x.iter().zip(&out).zip(&want) {
            assert!(
                o.to_bits() == want.to_bits() || (o.is_nan() && want.is_nan()),
                "erff({x:e} = {:#010x}, avx2 {avx2}): {o:e} vs libm {want:e}",
                x.to_bits()
            );
        }
    }
}

/// The large-|x| elements are gathered, computed and scattered back correctly whatever their
/// number and positions: slices of every length class (empty, under one group of 8, not a
/// multiple of 8, across the 256-element blocks) and mixes from none to all large, on both
/// code paths, against libm.
#[test]
fn erff_compaction_handles_any_length_and_mix() {
    let paths = if erf::avx2_available() {
        vec![false, true]
    } else {
        vec![false]
    };
    let mixes: [(&str, fn(usize, f32) -> f32); 4] = [
        ("all small", |_, z| 0.3 * z),
        ("all large", |_, z| 2.0 + z.abs()),
        ("every 3rd large", |i, z| {
            if i % 3 == 0 { 1.25 + z.abs() } else { 0.5 * z }
        }),
        ("gaussian", |_, z| 1.5 * z),
    ];
    for len in [0, 1, 7, 8, 9, 15, 17, 255, 256, 257, 263, 777] {
        let z = normal(len as u64 + 5, len);
        for (mix, f) in mixes {
            let x: Vec<f32> = z.iter().enumerate().map(|(i, z)| f(i, *z)).collect();
            for &avx2 in &paths {
                let mut out = vec![f32::NAN; len];
                erf::erff_slice_with(avx2, &x, &mut out);
                for (i, (x, o)) in x.iter().zip(&out).enumerate() {
                    assert_eq!(
                        o.to_bits(),
                        libm::erff(*x).to_bits(),
                        "len {len}, {mix}, avx2 {avx2}, element {i}: erff({x:e})"
                    );
                }
            }
        }
    }
}

/// Softmax of each `cols`-long row, exact (f64) after the f32 subtraction of the row max that
/// every f32 softmax does (its rounding alone is up to ~1e-6 relative for inputs near ±16).
fn softmax_f64(v: &[f32], cols: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(v.len());
    for row in v.chunks_exact(cols) {
        let m = row.iter().fold(f32::NEG_INFINITY, |m, x| m.max(*x));
        let e: Vec<f64> = row.iter().map(|x| ((*x - m) as f64).exp()).collect();
        let s: f64 = e.iter().sum();
        out.extend(e.iter().map(|e| e / s));
    }
    out
}

/// Forward softmax: within 1e-6 relative of burn-flex's fused (inference) softmax, of burn's
/// autodiff decomposition and of the deployed kernel (all three sum in f32), and within 3e-7
/// relative (a few ulp) of the exact softmax of the max-shifted row.
#[test]
fn softmax_forward_matches_burn() {
    for (s, dims) in [[7, 49], [1, 1], [33, 300], [3, 5], [6272, 49]]
        .into_iter()
        .enumerate()
    {
        let v: Vec<f32> = normal(30 + s as u64, dims[0] * dims[1])
            .into_iter()
            .map(|x| 4.0 * x)
            .collect();
        let name = |what: &str| format!("softmax {dims:?} {what}");
        let x = tensor(&v, dims, &plain());
        let ours = values(fused::softmax_last(x.clone()));
        assert_close(
            &name("vs flex fused"),
            &ours,
            &values(burn_softmax(x)),
            1e-6,
        );
        let mut deployed = v.clone();
        deployed
            .chunks_exact_mut(dims[1])
            .for_each(compbench_nn::deployed::kernels::softmax_row);
        assert_close(&name("vs deployed"), &ours, &deployed, 1e-6);
        let x = tensor(&v, dims, &ad()).require_grad();
        let ad_ours = values(fused::softmax_last(x.clone()));
        assert_bits(&name("autodiff vs plain"), &ad_ours, &ours);
        let theirs = values(burn_softmax(x));
        assert_close(&name("vs autodiff decomposition"), &ad_ours, &theirs, 1e-6);
        let exact = softmax_f64(&v, dims[1]);
        let rel_err = |y: &[f32]| {
            y.iter()
                .zip(&exact)
                .map(|(y, e)| (*y as f64 - e).abs() / e.abs().max(1e-30))
                .fold(0.0, f64::max)
        };
        let (err, burn_err) = (rel_err(&ours), rel_err(&theirs));
        eprintln!(
            "{}: max rel error {err:e} (burn autodiff {burn_err:e})",
            name("")
        );
        assert!(err <= 3e-7, "{}: max rel error {err:e}", name("vs exact"));
    }
    // Rank 4, the last dim.
    let v = normal(40, 2 * 3 * 4 * 5);
    let x = tensor(&v, [2, 3, 4, 5], &plain());
    assert_close(
        "softmax rank 4",
        &values(fused::softmax_last(x.clone())),
        &values(burn_softmax(x)),
        1e-6,
    );
}

/// Strided views (a transpose, a narrowed slice) are read correctly.
#[test]
fn strided_inputs() {
    let v = normal(50, 12 * 10);
    for device in [plain(), ad()] {
        let x = tensor(&v, [12, 10], &device).transpose();
        assert_close(
            "softmax of a transpose",
            &values(fused::softmax_last(x.clone())),
            &values(burn_softmax(x.clone())),
            1e-6,
        );
        assert_bits(
            "gelu of a transpose",
            &values(fused::gelu(x.clone())),
            &values(activation::gelu(x)),
        );
        let x = tensor(&v, [2, 3, 4, 5], &device)
            .narrow(1, 1, 2)
            .narrow(3, 1, 4);
        assert_bits(
            "max_pool of a narrowed view",
            &values(fused::max_pool2x2(x.clone())),
            &values(burn_pool(x)),
        );
    }
}

/// f64 tensors are not the fused ops' business: they go to burn's own ops.
#[test]
fn other_dtypes_fall_back_to_burn() {
    let v: Vec<f64> = normal(60, 2 * 2 * 4 * 4)
        .iter()
        .map(|x| *x as f64)
        .collect();
    let x = Tensor::<4>::from_data(TensorData::new(v, [2, 2, 4, 4]), (&ad(), DType::F64));
    assert!(!fused::supported(&x));
    let f64s = |t: Tensor<4>| t.into_data().try_into_vec::<f64>().unwrap();
    assert_eq!(
        f64s(fused::max_pool2x2(x.clone())),
        f64s(burn_pool(x.clone()))
    );
    assert_eq!(
        f64s(fused::gelu(x.clone())),
        f64s(activation::gelu(x.clone()))
    );
    assert_eq!(
        f64s(fused::softmax_last(x.clone())),
        f64s(burn_softmax(x.clone()))
    );
    assert!(fused::supported(&tensor(&[1.0], [1], &plain())));
}

/// `Σ w ⊙ f(x)`, accumulated in f64 from the op's f32 output.
fn weighted(y: Vec<f32>, w: &[f32]) -> f64 {
    y.iter().zip(w).map(|(y, w)| *y as f64 * *w as f64).sum()
}

/// Autodiff gradient of `Σ w ⊙ f(x)` (through whichever op `f` uses).
fn fused_grad<const D: usize>(
    v: &[f32],
    dims: [usize; D],
    w: &[f32],
    f: impl Fn(Tensor<D>) -> Tensor<D>,
) -> Vec<f32> {
    let x = tensor(v, dims, &ad()).require_grad();
    let y = f(x.clone());
    let loss = (tensor(w, y.dims(), &ad()) * y).sum();
    values(x.grad(&loss.backward()).expect("gradient"))
}

/// `[B, C, H/2, W/2]`.
fn pooled(dims: [usize; 4]) -> usize {
    dims[0] * dims[1] * (dims[2] / 2) * (dims[3] / 2)
}

/// Central differences of `Σ w ⊙ f(x)` (f64 accumulation) against the fused op's autodiff
/// gradient, on every coordinate.
fn finite_difference_check<const D: usize>(
    name: &str,
    v: &[f32],
    dims: [usize; D],
    w: &[f32],
    h: f32,
    tol: f64,
    f: impl Fn(Tensor<D>) -> Tensor<D>,
) {
    let g = fused_grad(v, dims, w, &f);
    let loss = |p: &[f32]| weighted(values(f(tensor(p, dims, &plain()))), w);
    let mut worst = 0.0f64;
    for i in 0..v.len() {
        let mut p = v.to_vec();
        p[i] = v[i] + h;
        let lp = loss(&p);
        p[i] = v[i] - h;
        let lm = loss(&p);
        let step = ((v[i] + h) as f64) - ((v[i] - h) as f64);
        let fd = (lp - lm) / step;
        let err = (g[i] as f64 - fd).abs() / (1.0 + fd.abs());
        worst = worst.max(err);
        assert!(
            err <= tol,
            "{name}: coordinate {i}: autodiff {} vs finite difference {fd} (rel err {err:e})",
            g[i]
        );
    }
    eprintln!("{name}: worst relative error {worst:e}");
}

#[test]
fn gelu_gradient_matches_finite_differences() {
    let v: Vec<f32> = normal(70, 4 * 9).iter().map(|x| 2.0 * x).collect();
    let w = normal(71, 4 * 9);
    finite_difference_check("gelu", &v, [4, 9], &w, 1e-2, 2e-3, fused::gelu);
}

#[test]
fn softmax_gradient_matches_finite_differences() {
    let v: Vec<f32> = normal(72, 5 * 7).iter().map(|x| 2.0 * x).collect();
    let w = normal(73, 5 * 7);
    finite_difference_check("softmax", &v, [5, 7], &w, 1e-2, 2e-3, fused::softmax_last);
}

#[test]
fn max_pool_gradient_matches_finite_differences() {
    // Distinct values at least 0.05 apart, so a step of 0.01 never changes an argmax.
    let dims = [2, 3, 6, 4];
    let n: usize = dims.iter().product();
    let mut v: Vec<f32> = (0..n).map(|i| 0.05 * i as f32 - 3.0).collect();
    Rng::new(74).shuffle(&mut v);
    let w = normal(75, n / 4);
    finite_difference_check("max_pool", &v, dims, &w, 1e-2, 1e-3, fused::max_pool2x2);
}

/// ReLU zeros tie in whole windows: the gradient goes to exactly one element, the first in
/// row-major window order (burn's rule), and matches burn's gradient bit for bit.
#[test]
fn max_pool_ties_route_the_gradient_to_one_element() {
    let dims = [3, 4, 6, 8];
    let n: usize = dims.iter().product();
    let v: Vec<f32> = normal(76, n)
        .into_iter()
        .map(|x| (x - 0.8).max(0.0))
        .collect();
    let w: Vec<f32> = normal(77, n / 4).iter().map(|x| x.abs() + 0.5).collect();
    let g = fused_grad(&v, dims, &w, fused::max_pool2x2);
    let (h, wd) = (dims[2], dims[3]);
    let mut all_zero_windows = 0;
    for p in 0..dims[0] * dims[1] {
        for i in 0..h / 2 {
            for j in 0..wd / 2 {
                let at = |di: usize, dj: usize| p * h * wd + (2 * i + di) * wd + 2 * j + dj;
                let idx = [at(0, 0), at(0, 1), at(1, 0), at(1, 1)];
                let nonzero: Vec<usize> = idx.iter().copied().filter(|k| g[*k] != 0.0).collect();
                assert_eq!(
                    nonzero.len(),
                    1,
                    "window ({p},{i},{j}): gradient at {nonzero:?}"
                );
                if idx.iter().all(|k| v[*k] == 0.0) {
                    all_zero_windows += 1;
                    assert_eq!(
                        nonzero[0], idx[0],
                        "tie: the first element takes the gradient"
                    );
                }
                let out = p * (h / 2) * (wd / 2) + i * (wd / 2) + j;
                assert_eq!(g[nonzero[0]], w[out]);
            }
        }
    }
    assert!(
        all_zero_windows > 10,
        "only {all_zero_windows} all-zero windows"
    );
    let theirs = fused_grad(&v, dims, &w, burn_pool);
    assert_bits("max_pool tie gradient vs burn", &g, &theirs);
}

/// The fused ops' autodiff gradients equal burn's autodiff of its own ops: max-pool and GELU
/// bit for bit, softmax within 1e-6 (relative to the gradient's scale).
#[test]
fn gradients_match_burns_own_ops() {
    for (s, dims) in POOL_SHAPES.into_iter().enumerate() {
        let n: usize = dims.iter().product();
        let v = normal(80 + s as u64, n);
        let w = normal(90 + s as u64, pooled(dims));
        assert_bits(
            &format!("max_pool grad {dims:?}"),
            &fused_grad(&v, dims, &w, fused::max_pool2x2),
            &fused_grad(&v, dims, &w, burn_pool),
        );
    }
    for (s, dims) in [[5, 37], [128, 256], [6272, 49], [1, 1]]
        .into_iter()
        .enumerate()
    {
        let n = dims[0] * dims[1];
        let v: Vec<f32> = normal(100 + s as u64, n).iter().map(|x| 3.0 * x).collect();
        let w = normal(110 + s as u64, n);
        assert_bits(
            &format!("gelu grad {dims:?}"),
            &fused_grad(&v, dims, &w, fused::gelu),
            &fused_grad(&v, dims, &w, activation::gelu),
        );
        let ours = fused_grad(&v, dims, &w, fused::softmax_last);
        let theirs = fused_grad(&v, dims, &w, burn_softmax);
        let scale = theirs.iter().fold(0.0f32, |m, g| m.max(g.abs()));
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            assert!(
                (a - b).abs() <= 1e-6 * scale.max(1.0),
                "softmax grad {dims:?} element {i}: fused {a:e} vs burn {b:e}"
            );
        }
    }
}

/// A chain of fused ops inside a graph that also uses burn's ops, under balanced gradient
/// checkpointing: the same gradients as without.
#[test]
fn checkpointing_strategy_gives_the_same_gradients() {
    let v = normal(120, 2 * 3 * 8 * 8);
    let grad = |strategy: GradientCheckpointingStrategy| {
        let x = tensor(&v, [2, 3, 8, 8], &ad())
            .with_gradient_checkpointing_strategy(strategy)
            .require_grad();
        let y = fused::max_pool2x2(x.clone().exp()); // [2, 3, 4, 4]
        let y = fused::gelu(y.reshape([6, 16]).mul_scalar(0.5));
        let y = fused::softmax_last(y.clone() + y.clone().sin());
        let w =
            tensor(&normal(121, 96), [6, 16], &ad()).with_gradient_checkpointing_strategy(strategy);
        let loss = (y * w).sum();
        values(x.grad(&loss.backward()).unwrap())
    };
    assert_bits(
        "balanced vs disabled checkpointing",
        &grad(GradientCheckpointingStrategy::Balanced),
        &grad(GradientCheckpointingStrategy::Disabled),
    );
}

/// The kernels give the same bits on 1 and 2 threads (rows/planes are split, never reduced
/// across threads).
#[test]
fn kernels_do_not_depend_on_the_thread_count() {
    let (planes, h, w) = (64, 28, 28);
    let x = pool_input(130, planes * h * w);
    let g = normal(131, planes * h * w);
    let run = |threads: usize| {
        with_threads(threads, || {
            let mut y = vec![0.0; planes * h * w / 4];
            let mut arg = vec![0u8; y.len()];
            kernels::max_pool2x2_forward(&x, planes, h, w, &mut y, Some(&mut arg));
            let mut dx = vec![1.0; x.len()];
            kernels::max_pool2x2_backward(&g[..y.len()], &arg, planes, h, w, &mut dx);
            let mut gy = vec![0.0; x.len()];
            let mut gd = vec![0.0; x.len()];
            kernels::gelu_forward_with_derivative(&g, &mut gy, &mut gd);
            let mut s = vec![0.0; x.len()];
            kernels::softmax_forward(&g, 49, &mut s);
            let mut ds = vec![0.0; x.len()];
            kernels::softmax_backward(&s, &x, 49, &mut ds);
            [y, dx, gy, gd, s, ds]
        })
    };
    let (one, two) = (run(1), run(2));
    for (k, (a, b)) in one.iter().zip(&two).enumerate() {
        assert_bits(&format!("kernel output {k}"), a, b);
    }
}
