//! DeiT's hard distillation and the `kd_loss` dispatch: a hand-computed example, the gradient by
//! finite differences and in closed form, no gradient into the teacher, and the default (soft,
//! one head) path equal bit for bit to Hinton's loss.

use burn::tensor::{Device, Int, Tensor, TensorData};
use compbench_core::seed::Rng;
use compbench_nn::distill::{KdMode, hard_kd_loss, hinton_kd_loss, kd_loss};
use compbench_nn::models::Heads;
use compbench_nn::train::cross_entropy;

fn logits(v: &[f32], rows: usize, device: &Device) -> Tensor<2> {
    Tensor::<2>::from_data(TensorData::new(v.to_vec(), [rows, v.len() / rows]), device)
}

fn labels(v: &[i64], device: &Device) -> Tensor<1, Int> {
    Tensor::<1, Int>::from_data(TensorData::new(v.to_vec(), [v.len()]), device)
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .unwrap()[0]
}

fn values(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

const CLS: [f32; 6] = [1.0, 2.0, 0.0, 0.5, -1.0, 1.5];
const DIST: [f32; 6] = [0.0, 1.0, 3.0, 2.0, -1.0, 0.0];
/// Argmax per row: 0 and 2 (the first disagrees with the label, the second agrees).
const TEACHER: [f32; 6] = [2.0, 0.0, 1.0, 0.0, 0.0, 3.0];
const LABELS: [i64; 2] = [1, 2];

/// Two examples, three classes, worked by hand (natural logs):
/// * CE(cls, y): row 1 `ln(e + e² + 1) − 2` = 0.407606, row 2 `ln(e^0.5 + e^−1 + e^1.5) − 1.5`
///   = 0.371539; mean 0.3895725.
/// * CE(dist, argmax t = [0, 2]): row 1 `ln(1 + e + e³) − 0` = 3.169846, row 2
///   `ln(e² + e^−1 + 1) − 0` = 2.169846; mean 2.669846.
/// * CE(cls, [0, 2]) (one head, DeiT's hard distillation without the token): row 1
///   `ln(e + e² + 1) − 1` = 1.407606, row 2 as above 0.371539; mean 0.8895725.
///
/// | case                    | λ    | loss                                   |
/// |-------------------------|------|----------------------------------------|
/// | two heads (DeiT)        | 0.5  | ½·0.3895725 + ½·2.669846 = 1.5297093   |
/// | two heads               | 0.25 | ¾·0.3895725 + ¼·2.669846 = 0.9596409   |
/// | one head                | 0.5  | ½·0.3895725 + ½·0.8895725 = 0.6395725  |
/// | any                     | 0    | CE(cls, y) = 0.3895725                 |
#[test]
fn hard_loss_matches_hand_computed_examples() {
    let device = Device::flex();
    let t = |v: &[f32]| logits(v, 2, &device);
    let y = || labels(&LABELS, &device);
    let cases: [(&str, [f32; 6], f32, f64); 5] = [
        ("two heads", DIST, 0.5, 1.529_709_3),
        ("two heads", DIST, 0.25, 0.959_640_9),
        ("one head", CLS, 0.5, 0.639_572_5),
        ("two heads", DIST, 0.0, 0.389_572_5),
        ("one head", CLS, 1.0, 0.889_572_5),
    ];
    for (what, dist, lambda, want) in cases {
        let got = scalar(hard_kd_loss(t(&CLS), t(&dist), t(&TEACHER), y(), lambda));
        assert!(
            (got - want).abs() < 2e-6,
            "{what}, λ = {lambda}: loss {got}, hand-computed {want}"
        );
    }
    // λ = 0 is exactly cross-entropy with the labels on the class head.
    assert_eq!(
        scalar(hard_kd_loss(t(&CLS), t(&DIST), t(&TEACHER), y(), 0.0)),
        scalar(cross_entropy(t(&CLS), y(), 0.0))
    );
    // A teacher whose argmax is the label makes the one-head hard loss plain cross-entropy.
    let agreeing = [0.0, 5.0, 0.0, 0.0, 0.0, 5.0];
    let a = scalar(hard_kd_loss(t(&CLS), t(&CLS), t(&agreeing), y(), 0.7));
    assert!((a - 0.389_572_5).abs() < 2e-6, "{a}");
}

/// `kd_loss` sends each (mode, heads) case to the right loss: the default (soft, one head) is
/// Hinton's loss bit for bit; hard targets ignore the temperature; with two heads the teacher
/// term goes to the distillation head and the labels to the class head.
#[test]
fn kd_loss_dispatch_by_mode_and_heads() {
    let device = Device::flex();
    let t = |v: &[f32]| logits(v, 2, &device);
    let y = || labels(&LABELS, &device);
    let one = || Heads::single(t(&CLS));
    let two = || Heads {
        cls: t(&CLS),
        dist: Some(t(&DIST)),
    };
    for (temp, lambda) in [(1.0f32, 0.5f32), (4.0, 0.9), (8.0, 0.0), (2.0, 1.0)] {
        let soft_one = scalar(kd_loss(one(), t(&TEACHER), y(), KdMode::Soft, temp, lambda));
        assert_eq!(
            soft_one.to_bits(),
            scalar(hinton_kd_loss(t(&CLS), t(&TEACHER), y(), temp, lambda)).to_bits(),
            "soft with one head must be Hinton's loss exactly (T={temp}, λ={lambda})"
        );
        let hard_one = scalar(kd_loss(one(), t(&TEACHER), y(), KdMode::Hard, temp, lambda));
        let want = scalar(hard_kd_loss(t(&CLS), t(&CLS), t(&TEACHER), y(), lambda));
        assert_eq!(hard_one, want, "hard, one head (T={temp}, λ={lambda})");
        let hard_two = scalar(kd_loss(two(), t(&TEACHER), y(), KdMode::Hard, temp, lambda));
        let want = scalar(hard_kd_loss(t(&CLS), t(&DIST), t(&TEACHER), y(), lambda));
        assert_eq!(hard_two, want, "hard, two heads (T={temp}, λ={lambda})");
        // Soft with two heads: (1−λ)·CE(cls, y) + λ·T²·KL(teacher ‖ dist). Hinton's loss at
        // λ = 1 is T²·KL alone, so the pieces can be checked separately.
        let soft_two = scalar(kd_loss(two(), t(&TEACHER), y(), KdMode::Soft, temp, lambda));
        let ce = scalar(cross_entropy(t(&CLS), y(), 0.0));
        let kl = scalar(hinton_kd_loss(t(&DIST), t(&TEACHER), y(), temp, 1.0));
        let want = (1.0 - lambda as f64) * ce + lambda as f64 * kl;
        assert!(
            (soft_two - want).abs() < 2e-6,
            "soft, two heads (T={temp}, λ={lambda}): {soft_two} vs {want}"
        );
    }
    // The teacher's argmax does not depend on T: hard losses are equal at every temperature.
    let at = |temp| scalar(kd_loss(two(), t(&TEACHER), y(), KdMode::Hard, temp, 0.5));
    assert_eq!(at(1.0), at(20.0));
    assert_eq!(
        KdMode::NAMES
            .iter()
            .map(|n| KdMode::parse(n).unwrap().name())
            .collect::<Vec<_>>(),
        KdMode::NAMES
    );
    assert_eq!(KdMode::parse("medium"), None);
}

/// The gradient of the hard loss with respect to both heads by central differences, and its
/// closed form: ∂/∂cls = (1−λ)(softmax(cls) − onehot(y))/b, ∂/∂dist = λ(softmax(dist) −
/// onehot(argmax t))/b (summed on one head when both are the same logits). The teacher's
/// logits get no gradient: the teacher is never updated through the loss.
#[test]
fn hard_loss_gradient_matches_finite_differences_and_closed_form() {
    // (batch, classes, λ, one head, seed)
    let cases = [
        (4usize, 10usize, 0.5f32, false, 3u64),
        (3, 5, 0.9, false, 4),
        (5, 10, 0.3, true, 5),
        (2, 3, 0.5, true, 6),
    ];
    let plain = Device::flex();
    let ad = plain.clone().autodiff();
    for (b, c, lambda, one_head, seed) in cases {
        let mut rng = Rng::new(seed);
        let mut draw =
            |scale: f32| -> Vec<f32> { (0..b * c).map(|_| scale * rng.normal()).collect() };
        let c0 = draw(2.0);
        let d0 = if one_head { c0.clone() } else { draw(2.0) };
        let t0 = draw(3.0);
        let y0: Vec<i64> = (0..b).map(|i| ((5 * i + 1) % c) as i64).collect();
        let loss_of = |cls: &[f32], dist: &[f32], device: &Device| {
            let (cl, dl) = (logits(cls, b, device), logits(dist, b, device));
            hard_kd_loss(cl, dl, logits(&t0, b, device), labels(&y0, device), lambda)
        };

        let cls = logits(&c0, b, &ad).require_grad();
        let dist = if one_head {
            cls.clone()
        } else {
            logits(&d0, b, &ad).require_grad()
        };
        let teacher = logits(&t0, b, &ad).require_grad();
        let grads = hard_kd_loss(
            cls.clone(),
            dist.clone(),
            teacher.clone(),
            labels(&y0, &ad),
            lambda,
        )
        .backward();
        assert!(
            teacher.grad(&grads).is_none(),
            "the teacher's logits must get no gradient"
        );
        let g_cls = values(cls.grad(&grads).expect("class head gradient"));
        let g_dist = if one_head {
            vec![0.0; b * c]
        } else {
            values(dist.grad(&grads).expect("distillation head gradient"))
        };

        // Central differences, in f64 on the loss values.
        let h = 1e-2f32;
        let fd = |which: usize, i: usize| -> f64 {
            let at = |delta: f32| {
                let (mut cl, mut dl) = (c0.clone(), d0.clone());
                if which == 0 || one_head {
                    cl[i] += delta;
                }
                if which == 1 || one_head {
                    dl[i] += delta;
                }
                scalar(loss_of(&cl, &dl, &plain))
            };
            (at(h) - at(-h)) / (2.0 * h as f64)
        };
        for i in 0..b * c {
            let err = (g_cls[i] as f64 - fd(0, i)).abs();
            assert!(err < 2e-3, "case {b}×{c} λ={lambda}: cls[{i}] off by {err}");
            if !one_head {
                let err = (g_dist[i] as f64 - fd(1, i)).abs();
                assert!(
                    err < 2e-3,
                    "case {b}×{c} λ={lambda}: dist[{i}] off by {err}"
                );
            }
        }

        // Closed form, in f64.
        let softmax = |v: &[f32]| -> Vec<f64> {
            let m = v.iter().map(|&x| x as f64).fold(f64::MIN, f64::max);
            let e: Vec<f64> = v.iter().map(|&x| (x as f64 - m).exp()).collect();
            let z: f64 = e.iter().sum();
            e.into_iter().map(|x| x / z).collect()
        };
        let lambda = lambda as f64;
        for r in 0..b {
            let row = r * c..(r + 1) * c;
            let (pc, pd) = (softmax(&c0[row.clone()]), softmax(&d0[row.clone()]));
            let trow = &t0[row];
            let target = (0..c).fold(0, |best, j| if trow[j] > trow[best] { j } else { best });
            for j in 0..c {
                let onehot = |k: usize| if j == k { 1.0 } else { 0.0 };
                let want_cls = (1.0 - lambda) * (pc[j] - onehot(y0[r] as usize)) / b as f64;
                let want_dist = lambda * (pd[j] - onehot(target)) / b as f64;
                let (got_cls, got_dist) = (g_cls[r * c + j] as f64, g_dist[r * c + j] as f64);
                if one_head {
                    let want = want_cls + want_dist;
                    assert!(
                        (got_cls - want).abs() < 1e-5,
                        "one head [{r},{j}]: {got_cls} vs closed form {want}"
                    );
                } else {
                    assert!(
                        (got_cls - want_cls).abs() < 1e-5,
                        "cls [{r},{j}]: {got_cls} vs closed form {want_cls}"
                    );
                    assert!(
                        (got_dist - want_dist).abs() < 1e-5,
                        "dist [{r},{j}]: {got_dist} vs closed form {want_dist}"
                    );
                }
            }
        }
    }
}
