//! Named intermediate outputs (FitNets' hint and guided layers): the deployed graph's
//! `forward_to` and the trainable network's `forward_to` give the same values, under the same
//! names and shapes, for every named output of every model of the zoo; unknown names are
//! errors that list the names.

use burn::module::Module;
use burn::tensor::Tensor;
use compbench_core::Dataset;
use compbench_nn::data::Synthetic;
use compbench_nn::deployed::Layout;
use compbench_nn::hooks::DenseHooks;
use compbench_nn::models::{Feature, ModelConfig, Network};
use compbench_nn::train::{TrainConfig, batch_tensors, fit_dense};

fn data() -> compbench_core::Splits {
    Synthetic::new(256, 64, 3)
        .load(&Default::default())
        .unwrap()
}

/// A briefly trained network, so activations are realistic (not just initialization's).
fn trained(cfg: &ModelConfig, splits: &compbench_core::Splits) -> Network {
    let device = compbench_nn::device();
    let net = Network::new(cfg, &device, 4);
    let recipe = TrainConfig {
        epochs: 1,
        batch_size: 64,
        threads: 2,
        ..TrainConfig::for_model(cfg.kind)
    };
    let (net, _) = fit_dense(net, &recipe, &splits.train, &device, 1, &|_| {});
    net.valid()
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

/// The burn feature as the deployed graph lays it out (NHWC for maps), with its layout.
fn as_deployed(f: Feature) -> (Layout, Vec<f32>) {
    match f {
        Feature::Spatial(x) => {
            let [b, c, h, w] = x.dims();
            let nchw = values(x);
            let mut nhwc = vec![0.0; nchw.len()];
            for i in 0..b {
                for ch in 0..c {
                    for p in 0..h * w {
                        nhwc[i * h * w * c + p * c + ch] = nchw[i * c * h * w + ch * h * w + p];
                    }
                }
            }
            (Layout::Nhwc { h, w, c }, nhwc)
        }
        Feature::Rows(x) => {
            let [_, rows, cols] = x.dims();
            (Layout::Rows { rows, cols }, values(x))
        }
    }
}

/// Every named output of `cfg`'s deployed graph equals the trainable network's output of the
/// same name on the same images: same layout, values within 1e-4 (relative to the layer's
/// largest magnitude, at least 1). The two compute the same float ops in different orders
/// (im2col GEMMs vs burn's convolution), hence a tolerance and not bit equality; logits agree
/// to the same 1e-4 (tests/deployed.rs).
fn capture_agrees(cfg: &ModelConfig, expected_names: &[&str]) {
    let splits = data();
    let net = trained(cfg, &splits);
    let device = compbench_nn::device();
    let deployed = net.to_deployed();
    let outputs = deployed.outputs();
    let names: Vec<&str> = outputs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, expected_names, "{:?}: named outputs", cfg.kind);
    let batch = 5;
    let x = splits.test.head(batch);
    let idx: Vec<usize> = (0..batch).collect();
    for (name, layout) in &outputs {
        let act = deployed.forward_to(&x.images, batch, name).unwrap();
        assert_eq!(
            act.layout, *layout,
            "{name}: layout of forward_to vs outputs()"
        );
        assert_eq!(act.data.len(), batch * layout.per_image(), "{name}");
        let (images, _) = batch_tensors(&splits.test, &idx, &device);
        let feature = net.forward_to(images, &DenseHooks, name).unwrap();
        let (burn_layout, burn) = as_deployed(feature);
        assert_eq!(burn_layout, *layout, "{name}: burn feature shape");
        let scale = act.data.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let worst = act
            .data
            .iter()
            .zip(&burn)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst <= 1e-4 * scale,
            "{:?} `{name}`: deployed and trainable differ by {worst} (scale {scale})",
            cfg.kind
        );
    }
    // The last named output is the logits (the head), except with a distillation token,
    // whose logits are the two heads' average: forward_to there is forward.
    if cfg.distill_token {
        return;
    }
    let last = outputs.last().unwrap().0.as_str();
    let act = deployed.forward_to(&x.images, batch, last).unwrap();
    assert_eq!(act.data, deployed.forward(&x.images, batch));
}

#[test]
fn cnn_outputs_agree_between_deployed_and_trainable() {
    let names = [
        "conv1",
        "conv1.relu",
        "conv1.pool",
        "conv2",
        "conv2.relu",
        "conv2.pool",
        "fc1",
        "fc1.relu",
        "fc2",
    ];
    capture_agrees(&ModelConfig::cnn(), &names);
    // A narrow student: the same names, its own widths.
    let small = ModelConfig {
        conv1_channels: 8,
        conv2_channels: 16,
        fc_hidden: 32,
        ..ModelConfig::cnn()
    };
    capture_agrees(&small, &names);
}

#[test]
fn mlp_outputs_agree_between_deployed_and_trainable() {
    capture_agrees(
        &ModelConfig::mlp(),
        &["fc1", "fc1.relu", "fc2", "fc2.relu", "fc3"],
    );
}

#[test]
fn vit_outputs_agree_between_deployed_and_trainable() {
    let cfg = ModelConfig {
        depth: 2,
        ..ModelConfig::vit()
    };
    capture_agrees(&cfg, &["patch_embed", "block0", "block1", "ln_f", "head"]);
}

/// With DeiT's distillation token the blocks' outputs carry the token's row first; the end of
/// the network (final LayerNorm over the token and the patch mean, two heads averaged) is no
/// single layer, so it is not a named output.
#[test]
fn token_vit_outputs_agree_between_deployed_and_trainable() {
    let cfg = ModelConfig {
        depth: 2,
        distill_token: true,
        ..ModelConfig::vit()
    };
    capture_agrees(&cfg, &["patch_embed", "block0", "block1"]);
}

/// The names are the Workload IR's: every GEMM and non-linear layer the IR lists for the CNN
/// is a named output (the IR adds nothing the graph does not name).
#[test]
fn output_names_are_the_ir_layer_names() {
    let device = compbench_nn::device();
    let deployed = Network::new(&ModelConfig::cnn(), &device, 0).to_deployed();
    let ir: Vec<String> = deployed
        .workload(1)
        .layers
        .iter()
        .map(|l| l.name.clone())
        .collect();
    let outputs: Vec<String> = deployed.outputs().into_iter().map(|(n, _)| n).collect();
    assert_eq!(ir, outputs);
}

#[test]
fn unknown_layer_names_are_errors_listing_the_layers() {
    let splits = data();
    let device = compbench_nn::device();
    let net = Network::new(&ModelConfig::mlp(), &device, 0);
    let deployed = net.to_deployed();
    let x = splits.test.head(2);
    let err = deployed.forward_to(&x.images, 2, "conv2").unwrap_err();
    assert_eq!(
        err,
        "`mlp` has no layer `conv2` (layers: fc1, fc1.relu, fc2, fc2.relu, fc3)"
    );
    let (images, _) = batch_tensors(&splits.test, &[0, 1], &device);
    let err = net.forward_to(images, &DenseHooks, "conv2").unwrap_err();
    assert_eq!(
        err,
        "`mlp` has no layer `conv2` (layers: fc1, fc1.relu, fc2, fc2.relu, fc3)"
    );
    // A wrong input size is an error too, not a panic.
    assert!(deployed.forward_to(&x.images[..10], 2, "fc1").is_err());
}
