//! Trainable → deployed: same logits and predictions, kernel replacement, GEMM input capture.

use burn::module::Module;
use compbench_core::{Dataset, ImageSplit};
use compbench_nn::data::Synthetic;
use compbench_nn::deployed::{DenseGemm, GemmKernel};
use compbench_nn::hooks::DenseHooks;
use compbench_nn::kernels::im2col_nchw;
use compbench_nn::models::{GemmShape, ModelConfig, ModelKind, Network};
use compbench_nn::train::{TrainConfig, fit_dense, logits};

fn data() -> compbench_core::Splits {
    Synthetic::new(512, 300, 5)
        .load(&Default::default())
        .unwrap()
}

/// A briefly trained network (weights away from initialization, activations realistic).
fn trained(kind: ModelKind, splits: &compbench_core::Splits) -> Network {
    let device = compbench_nn::device();
    let net = Network::new(&ModelConfig::new(kind), &device, 11);
    let cfg = TrainConfig {
        epochs: 1,
        batch_size: 64,
        ..TrainConfig::for_model(kind)
    };
    let (net, _) = fit_dense(net, &cfg, &splits.train, &device, 1, &|_| {});
    net.valid()
}

fn compare(kind: ModelKind) {
    let splits = data();
    let net = trained(kind, &splits);
    let device = compbench_nn::device();
    let want = logits(|x| net.forward(x, &DenseHooks), &splits.test, &device);
    let dep = net.to_deployed();
    let got = dep.forward(&splits.test.images, splits.test.len());
    assert_eq!(got.len(), want.len());
    let max_diff = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(max_diff < 1e-4, "{kind:?}: max logit difference {max_diff}");
    let pw = compbench_nn::deployed::argmax_rows(&want, 10);
    assert_eq!(dep.predict(&splits.test.images, splits.test.len()), pw);
    let acc_burn = pw
        .iter()
        .zip(&splits.test.labels)
        .filter(|(p, l)| **p == **l as usize)
        .count() as f64
        / splits.test.len() as f64;
    assert_eq!(dep.accuracy(&splits.test), acc_burn);
}

#[test]
fn mlp_deployed_equals_trainable() {
    compare(ModelKind::Mlp);
}

#[test]
fn cnn_deployed_equals_trainable() {
    compare(ModelKind::Cnn);
}

#[test]
fn vit_deployed_equals_trainable() {
    compare(ModelKind::Vit);
}

#[test]
fn weights_round_trip_and_layer_lists_agree() {
    for kind in ModelKind::ALL {
        let device = compbench_nn::device();
        let net = Network::new(&ModelConfig::new(kind), &device, 3);
        let dep = net.to_deployed();
        let names: Vec<String> = net.gemm_layers().iter().map(|l| l.name.clone()).collect();
        let dnames: Vec<String> = dep
            .gemm_layers()
            .iter()
            .map(|(n, _)| n.to_string())
            .collect();
        assert_eq!(names, dnames, "{kind:?}");
        let nl: Vec<String> = net.nonlinear_layers().into_iter().map(|(n, _)| n).collect();
        let dnl: Vec<String> = dep
            .nonlinear_layers()
            .iter()
            .map(|(n, _)| n.to_string())
            .collect();
        assert_eq!(nl, dnl, "{kind:?}");
        for l in net.gemm_layers() {
            let (w, b) = net.gemm_weights(&l.name).unwrap();
            assert_eq!(w.len(), l.k() * l.n());
            let (dw, db) = dep
                .gemm_layers()
                .iter()
                .find(|(n, _)| *n == l.name)
                .unwrap()
                .1
                .dense_weights()
                .unwrap();
            assert_eq!(dw, &w[..]);
            assert_eq!(db.unwrap(), &b.clone().unwrap()[..]);
        }
        // set_gemm_weights round trip, including a conv.
        let l = &net.gemm_layers()[0];
        let (w, b) = net.gemm_weights(&l.name).unwrap();
        let w2: Vec<f32> = w.iter().map(|v| v * 2.0).collect();
        let net2 = net.clone().set_gemm_weights(&l.name, &w2, b.as_deref());
        assert_eq!(net2.gemm_weights(&l.name).unwrap().0, w2);
        assert!(net.clone().try_set_gemm_weights("nope", &w2, None).is_err());
        assert!(
            net.clone()
                .try_set_gemm_weights(&l.name, &w2[1..], None)
                .is_err()
        );
    }
}

#[test]
fn conv_export_uses_im2col_order() {
    // conv1's exported K×N weights times the im2col of the input must equal burn's conv.
    let splits = data();
    let device = compbench_nn::device();
    let net = Network::new(&ModelConfig::cnn(), &device, 9);
    let dep = net.to_deployed();
    let x: ImageSplit = splits.test.head(2);
    let cap = dep.capture_gemm_inputs(&x.images, 2, &["conv1", "conv2", "fc1", "missing"]);
    assert_eq!(cap.len(), 3);
    let info = net
        .gemm_layers()
        .into_iter()
        .find(|l| l.name == "conv1")
        .unwrap();
    let GemmShape::Conv(g) = info.shape else {
        panic!()
    };
    let mut cols = vec![0.0; 2 * 28 * 28 * g.k()];
    im2col_nchw(&x.images, 2, 28, 28, &g, &mut cols);
    let c = &cap["conv1"];
    assert_eq!((c.rows, c.k), (2 * 784, 9));
    assert_eq!(c.data, cols);
    assert_eq!(cap["conv2"].k, 144);
    assert_eq!(cap["fc1"].rows, 2);
}

#[test]
fn replace_gemm_checks_shape_and_changes_output() {
    let device = compbench_nn::device();
    let net = Network::new(&ModelConfig::mlp(), &device, 1);
    let mut dep = net.to_deployed();
    let x = data().test.head(4);
    let before = dep.forward(&x.images, 4);
    let err = dep.replace_gemm("fc3", |_| {
        Box::new(DenseGemm::new(128, 9, vec![0.0; 128 * 9], None))
    });
    assert!(err.unwrap_err().contains("K×N = 128×10"));
    assert!(
        dep.replace_gemm("nope", |k| Box::new(DenseGemm::new(
            k.k(),
            k.n(),
            vec![0.0; k.k() * k.n()],
            None
        )))
        .is_err()
    );
    dep.replace_gemm("fc3", |k| {
        Box::new(DenseGemm::new(k.k(), k.n(), vec![0.0; k.k() * k.n()], None))
    })
    .unwrap();
    let after = dep.forward(&x.images, 4);
    assert_ne!(before, after);
    assert!(after.iter().all(|v| *v == 0.0));
    dep.replace_nonlinear("fc1.relu", |_| {
        compbench_nn::deployed::exact_kernel(compbench_core::NonlinearKind::Gelu)
    })
    .unwrap();
    assert!(
        dep.replace_nonlinear("fc9.relu", |k| compbench_nn::deployed::exact_kernel(
            k.kind()
        ))
        .is_err()
    );
}

#[test]
fn factory_kernels_are_used() {
    let device = compbench_nn::device();
    let net = Network::new(&ModelConfig::vit(), &device, 1);
    let dep = net.to_deployed_with(&|info, w, b| {
        (info.name == "head").then(|| {
            Box::new(DenseGemm::new(
                info.k(),
                info.n(),
                w.to_vec(),
                b.map(|b| b.to_vec()),
            )) as Box<dyn GemmKernel>
        })
    });
    assert_eq!(dep.gemm_layers().len(), 1 + 4 * 4 + 1);
    let _ = net.num_params();
}

/// The deployed conv runs its GEMM a few images at a time (and a calibration observer sees the
/// whole batch at once); either way every image's logits are those of running it alone, bit
/// for bit.
#[test]
fn deployed_batch_equals_images_one_at_a_time() {
    let splits = data();
    let net = Network::new(
        &ModelConfig::new(ModelKind::Cnn),
        &compbench_nn::device(),
        3,
    )
    .valid();
    let dep = net.to_deployed();
    let n = 23; // more than one conv chunk at conv1 (10 images) and conv2 (4), a multiple of neither
    let pixels = splits.test.images.len() / splits.test.len();
    let batch = dep.forward(&splits.test.images[..n * pixels], n);
    for i in 0..n {
        let one = dep.forward(&splits.test.images[i * pixels..(i + 1) * pixels], 1);
        let same = one
            .iter()
            .zip(&batch[i * 10..(i + 1) * 10])
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(
            same,
            "image {i}: {one:?} vs {:?}",
            &batch[i * 10..(i + 1) * 10]
        );
    }
}
