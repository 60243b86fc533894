//! Method validation (`check`) and registration.

use std::collections::BTreeMap;

use compbench_core::{Params, Value};
use compbench_lutboost::{LUTBOOST, all};
use compbench_nn::method::Method;
use compbench_nn::models::ModelConfig;

fn params(pairs: &[(&str, Value)]) -> Params {
    let given: BTreeMap<String, Value> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    Params::resolve(LUTBOOST.params(), &given).unwrap()
}

#[test]
fn check_accepts_and_refuses() {
    use Value::*;
    // (model, params, expected error substring or None)
    let cases: Vec<(ModelConfig, Vec<(&str, Value)>, Option<&str>)> = vec![
        (ModelConfig::cnn(), vec![], None),
        (
            ModelConfig::cnn(),
            vec![("v", Int(8)), ("v_conv", Int(9))],
            None,
        ),
        (
            ModelConfig::cnn(),
            vec![("v", Int(9))],
            Some("parameter `v`: 9 does not divide K = 1568 of layer `fc1`"),
        ),
        (
            ModelConfig::cnn(),
            vec![("v_conv", Int(5))],
            Some("parameter `v_conv`: 5 does not divide K = 144 of layer `conv2`"),
        ),
        (
            ModelConfig::cnn(),
            vec![("layers", Str("all".into())), ("v", Int(4))],
            Some("K = 9 of layer `conv1`"),
        ),
        (
            ModelConfig::cnn(),
            vec![
                ("layers", Str("all".into())),
                ("v", Int(3)),
                ("v_conv", Int(9)),
            ],
            Some("3 does not divide K = 1568 of layer `fc1`"),
        ),
        (
            ModelConfig::cnn(),
            vec![
                ("layers", Str("all".into())),
                ("v", Int(2)),
                ("v_conv", Int(9)),
            ],
            None,
        ),
        (ModelConfig::vit(), vec![("v", Int(8))], None),
        (
            ModelConfig::vit(),
            vec![("v", Int(3))],
            Some("parameter `v`: 3 does not divide K = 64"),
        ),
        (ModelConfig::mlp(), vec![("v", Int(4))], None),
        (
            ModelConfig::cnn(),
            vec![("table_bits", Int(12))],
            Some("parameter `table_bits`: 12 is not a supported table width"),
        ),
    ];
    for (model, given, want) in cases {
        let r = LUTBOOST.check(&params(&given), &model);
        match (r, want) {
            (Ok(()), None) => {}
            (Err(e), Some(w)) => assert!(
                e.to_string().contains(w),
                "{}: got `{e}`, want `{w}`",
                model.label()
            ),
            (r, w) => panic!("{} {given:?}: got {r:?}, want {w:?}", model.label()),
        }
    }
}

#[test]
fn registered_once_with_documented_params() {
    let ids: Vec<&str> = all().iter().map(|m| m.id()).collect();
    assert_eq!(ids, ["lutboost", "lut-nn", "maddness"]);
    for m in all() {
        for p in m.params() {
            assert!(!p.doc.is_empty(), "{}: {} has no doc", m.id(), p.name);
        }
        // The shared parameters mean the same in every LUT method.
        for shared in [
            "v",
            "v_conv",
            "c",
            "layers",
            "table_bits",
            "table_scale",
            "calib_images",
        ] {
            assert!(
                m.params().iter().any(|p| p.name == shared),
                "{} lacks `{shared}`",
                m.id()
            );
        }
    }
    let names: Vec<&str> = LUTBOOST.params().iter().map(|p| p.name).collect();
    for want in ["v", "c", "metric", "stages", "table_bits", "layers"] {
        assert!(names.contains(&want), "missing parameter {want}");
    }
}
