//! DeiT's distillation token on the ViT: at inference the logits are the average of the two
//! heads, in the trainable model and in the deployed graph (our kernels); the `distill_token`
//! knob, its layers and its cache key.

use burn::module::Module;
use compbench_core::{Dataset, Params, Value};
use compbench_nn::data::Synthetic;
use compbench_nn::deployed::argmax_rows;
use compbench_nn::distill::{KdMode, Teacher};
use compbench_nn::hooks::DenseHooks;
use compbench_nn::models::{ModelConfig, ModelKind, Network};
use compbench_nn::train::{self, TrainConfig, fit};

/// ViT shapes the token must work with: (d_model, depth, heads, mlp_ratio, patch, seed).
const CASES: &[(usize, usize, usize, usize, usize, u64)] = &[
    (64, 4, 4, 2, 4, 1),  // the default ViT: 49 patch tokens + 1
    (32, 2, 2, 2, 7, 2),  // 16 patch tokens
    (16, 1, 1, 3, 14, 3), // 4 patch tokens, one head
    (24, 3, 3, 1, 28, 4), // a single patch token: the token doubles the sequence
];

fn token_vit(case: (usize, usize, usize, usize, usize, u64)) -> ModelConfig {
    let (d_model, depth, heads, mlp_ratio, patch, _) = case;
    ModelConfig {
        d_model,
        depth,
        heads,
        mlp_ratio,
        patch,
        distill_token: true,
        ..ModelConfig::vit()
    }
}

fn data() -> compbench_core::Splits {
    Synthetic::new(384, 96, 7)
        .load(&Default::default())
        .unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max)
}

/// The deployed model's logits are the average of the trainable model's two heads (and not
/// either head alone), for every shape in [`CASES`]; the trainable `forward` is that average
/// bit for bit. The first case is briefly trained with hard distillation first, so the heads
/// are trained apart, not just two random initializations.
#[test]
fn deployed_logits_are_the_average_of_the_two_heads() {
    let splits = data();
    let device = compbench_nn::device();
    for (i, &case) in CASES.iter().enumerate() {
        let cfg = token_vit(case);
        let mut net = Network::new(&cfg, &device, case.5);
        if i == 0 {
            let teacher = Network::new(&ModelConfig::mlp(), &device, 9).to_deployed();
            let recipe = TrainConfig {
                epochs: 1,
                batch_size: 64,
                threads: 2,
                teacher: Some(Teacher::new("mlp", "k", teacher, 4.0, 0.5).with_mode(KdMode::Hard)),
                ..TrainConfig::for_model(ModelKind::Vit)
            };
            let forward = |m: &Network, x| m.forward_heads(x, &DenseHooks);
            net = fit(net, &recipe, &splits.train, &device, 5, forward, &|_| {}).0;
        }
        let net = net.valid();
        let test = &splits.test;
        let head = |pick: usize| {
            train::logits(
                |x| {
                    let h = net.forward_heads(x, &DenseHooks);
                    match pick {
                        0 => h.cls,
                        _ => h.dist.expect("a token ViT has a distillation head"),
                    }
                },
                test,
                &device,
            )
        };
        let (cls, dist) = (head(0), head(1));
        let average: Vec<f32> = cls.iter().zip(&dist).map(|(c, d)| (c + d) * 0.5).collect();
        let forward = train::logits(|x| net.forward(x, &DenseHooks), test, &device);
        assert_eq!(
            forward, average,
            "case {case:?}: forward is the heads' average"
        );

        let deployed = net.to_deployed();
        let got = deployed.forward(&test.images, test.len());
        let err = max_diff(&got, &average);
        assert!(
            err < 1e-4,
            "case {case:?}: deployed vs average of heads: {err}"
        );
        // The heads really differ, so matching the average says something.
        for (name, one) in [("class head", &cls), ("distillation head", &dist)] {
            let apart = max_diff(&got, one);
            assert!(
                apart > 100.0 * err.max(1e-6),
                "case {case:?}: deployed logits are the {name}'s alone ({apart} apart)"
            );
        }
        assert_eq!(
            deployed.predict(&test.images, test.len()),
            argmax_rows(&average, 10),
            "case {case:?}: predictions"
        );
        // One image at a time gives the batch's logits (the token is per image).
        let one = deployed.forward(test.image(3), 1);
        assert_eq!(one, got[30..40], "case {case:?}: image 3 alone");
    }
}

/// The knob: a suite parameter of the ViT only, absent from the cache key when off (existing
/// ViT baselines keep their keys), present when on; the token's layers and parameters.
#[test]
fn the_distill_token_knob_its_layers_and_cache_key() {
    assert_eq!(
        serde_json::to_string(&ModelConfig::vit()).unwrap(),
        r#"{"kind":"vit","classes":10,"d_model":64,"depth":4,"heads":4,"mlp_ratio":2,"patch":4}"#,
        "a ViT without the token serializes as before the token existed"
    );
    let cfg = ModelConfig {
        distill_token: true,
        ..ModelConfig::vit()
    };
    let json = serde_json::to_string(&cfg).unwrap();
    assert!(
        json.ends_with(r#""patch":4,"distill_token":true}"#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<ModelConfig>(&json).unwrap(), cfg);
    assert_eq!(cfg.label(), "vit(distill_token)");

    let mut p = Params::defaults(ModelKind::Vit.params());
    assert_eq!(p.get("distill_token"), Some(&Value::Bool(false)));
    assert_eq!(
        ModelConfig::from_params(ModelKind::Vit, &p).unwrap(),
        ModelConfig::vit()
    );
    p.set("distill_token", Value::Bool(true));
    assert_eq!(ModelConfig::from_params(ModelKind::Vit, &p).unwrap(), cfg);
    assert!(
        !ModelKind::Cnn
            .params()
            .iter()
            .any(|s| s.name == "distill_token"),
        "only the ViT has the knob"
    );
    let cnn = ModelConfig {
        distill_token: true,
        ..ModelConfig::cnn()
    };
    let err = cnn.validate().unwrap_err().to_string();
    assert!(
        err.contains("distill_token") && err.contains("ViT"),
        "{err}"
    );

    let device = compbench_nn::device();
    let plain = Network::new(&ModelConfig::vit(), &device, 0);
    let net = Network::new(&cfg, &device, 0);
    // The token, its position and the second head; the rest is the same network.
    let (d, c) = (64, 10);
    assert_eq!(net.num_params() - plain.num_params(), 2 * d + d * c + c);
    // Initialization draws the token last: every shared parameter starts equal.
    for l in plain.gemm_layers() {
        assert_eq!(
            plain.gemm_weights(&l.name),
            net.gemm_weights(&l.name),
            "`{}` initialized differently",
            l.name
        );
    }
    let layers = net.gemm_layers();
    let names: Vec<&str> = layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names.last(), Some(&"dist_head"));
    let rows = |name: &str| layers.iter().find(|l| l.name == name).unwrap();
    assert_eq!(rows("patch_embed").rows_per_image, 49, "patches only");
    assert_eq!(rows("block0.qkv").rows_per_image, 50, "patches + token");
    let (head, dist) = (rows("head"), rows("dist_head"));
    assert!(head.last && dist.last, "both heads are classifiers");
    assert_eq!((dist.k(), dist.n(), dist.rows_per_image), (d, c, 1));
    // The second head's weights round-trip like any layer's and reach the deployed model.
    let (w, b) = net.gemm_weights("dist_head").unwrap();
    let w2: Vec<f32> = w.iter().map(|v| v * 2.0).collect();
    let net = net
        .try_set_gemm_weights("dist_head", &w2, b.as_deref())
        .unwrap();
    assert_eq!(net.gemm_weights("dist_head").unwrap().0, w2);
    let dep = net.to_deployed();
    assert_eq!(
        dep.gemm_layers()
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>(),
        names,
        "trainable and deployed list the same GEMMs"
    );
    assert!(plain.gemm_weights("dist_head").is_none());
}
