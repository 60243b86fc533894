//! FitNets' layer pairing: which regressor maps a student's guided layer onto a teacher's hint
//! (from the real deployed graphs of the zoo), when the regressor ends in a ReLU, and the
//! errors for unknown names and for pairs no regressor maps.

use compbench_nn::deployed::Layout;
use compbench_nn::distill::{HintPlan, RegressorKind};
use compbench_nn::models::ModelConfig;

fn small_cnn() -> ModelConfig {
    ModelConfig {
        conv1_channels: 8,
        conv2_channels: 16,
        fc_hidden: 32,
        ..ModelConfig::cnn()
    }
}

#[test]
fn regressors_follow_the_shapes_of_the_two_layers() {
    let (s, t) = (small_cnn(), ModelConfig::cnn());
    // Same spatial size: a 1×1 convolution 16 → 32 channels, ending in the hint's ReLU.
    let p = HintPlan::for_configs(&s, "conv2.relu", &t, "conv2.relu").unwrap();
    assert_eq!(p.kind, RegressorKind::Conv { kernel: 1 });
    assert_eq!(
        p.guided,
        Layout::Nhwc {
            h: 14,
            w: 14,
            c: 16
        }
    );
    assert_eq!(
        p.hint,
        Layout::Nhwc {
            h: 14,
            w: 14,
            c: 32
        }
    );
    assert!(p.relu);
    assert_eq!(p.regressor_params(), 16 * 32 + 32);
    assert_eq!(p.describe(), "1×1 conv 16→32 + ReLU");
    // A larger guided map shrinks by a valid convolution: 28 − k + 1 = 14, k = 15.
    let p = HintPlan::for_configs(&s, "conv1", &t, "conv2.relu").unwrap();
    assert_eq!(p.kind, RegressorKind::Conv { kernel: 15 });
    assert_eq!(p.regressor_params(), 8 * 15 * 15 * 32 + 32);
    // A max-pool after the ReLU keeps the hint non-negative; a conv's own output is not.
    assert!(
        HintPlan::for_configs(&s, "conv2.pool", &t, "conv2.pool")
            .unwrap()
            .relu
    );
    assert!(
        !HintPlan::for_configs(&s, "conv2", &t, "conv2")
            .unwrap()
            .relu
    );
    // Onto a fully connected hint: a linear map of the flattened layer.
    let p = HintPlan::for_configs(&s, "conv2.pool", &t, "fc1").unwrap();
    assert_eq!(p.kind, RegressorKind::Flat);
    assert_eq!(p.regressor_params(), 16 * 49 * 128 + 128);
    assert!(!p.relu);
    let p = HintPlan::for_configs(&s, "fc1.relu", &t, "fc1.relu").unwrap();
    assert_eq!(p.kind, RegressorKind::PerRow);
    assert!(p.relu);
    // A ViT's tokens onto a wider ViT's tokens: per row (token), d 32 → 64.
    let narrow = ModelConfig {
        d_model: 32,
        depth: 2,
        ..ModelConfig::vit()
    };
    let p = HintPlan::for_configs(&narrow, "block1", &ModelConfig::vit(), "block2").unwrap();
    assert_eq!(p.kind, RegressorKind::PerRow);
    assert_eq!(p.hint, Layout::Rows { rows: 49, cols: 64 });
    assert_eq!(p.regressor_params(), 32 * 64 + 64);
    // Any model onto any one-row hint: the MLP's hidden layer guided by the CNN's fc1.
    let p = HintPlan::for_configs(&ModelConfig::mlp(), "fc2.relu", &t, "fc1.relu").unwrap();
    assert_eq!(p.kind, RegressorKind::PerRow);
}

#[test]
fn unknown_layers_and_unmappable_pairs_are_errors_naming_the_parameter() {
    let (s, t) = (small_cnn(), ModelConfig::cnn());
    let e = HintPlan::for_configs(&s, "conv2", &t, "conv3").unwrap_err();
    assert_eq!(e.param, "hint_layer");
    assert_eq!(
        e.message,
        "the teacher (cnn) has no layer `conv3` (its layers: conv1, conv1.relu, conv1.pool, \
         conv2, conv2.relu, conv2.pool, fc1, fc1.relu, fc2)"
    );
    let e = HintPlan::for_configs(&s, "block0", &t, "conv2").unwrap_err();
    assert_eq!(e.param, "guided_layer");
    assert!(
        e.message
            .starts_with("the student (cnn) has no layer `block0` (its layers: conv1,"),
        "{}",
        e.message
    );
    // A guided map smaller than the hint: no valid convolution grows it.
    let e = HintPlan::for_configs(&s, "conv2.pool", &t, "conv1").unwrap_err();
    assert_eq!(e.param, "guided_layer");
    assert!(
        e.message.starts_with(
            "the student's `conv2.pool` (7×7×16) cannot be regressed onto the teacher's `conv1` \
             (28×28×16): FitNets' convolutional regressor"
        ),
        "{}",
        e.message
    );
    // Features onto a map.
    let e = HintPlan::for_configs(&s, "fc1", &t, "conv2").unwrap_err();
    assert_eq!(e.param, "guided_layer");
    assert!(e.message.contains("(1×32)"), "{}", e.message);
    // Tokens onto a different number of tokens (patch 7: 16 tokens vs 49).
    let coarse = ModelConfig {
        patch: 7,
        ..ModelConfig::vit()
    };
    let e = HintPlan::for_configs(&coarse, "block0", &ModelConfig::vit(), "block0").unwrap_err();
    assert!(e.message.contains("(16×64)"), "{}", e.message);
}
