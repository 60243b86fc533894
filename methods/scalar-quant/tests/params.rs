//! Bad parameters are refused with the allowed range, before any work.

use std::collections::BTreeMap;

use compbench_core::{Params, Value};
use compbench_nn::ModelConfig;
use compbench_scalar_quant::all;

fn resolve(method: &str, pairs: &[(&str, Value)]) -> Result<Params, String> {
    let m = all().iter().find(|m| m.id() == method).expect("registered");
    let given: BTreeMap<String, Value> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let p = Params::resolve(m.params(), &given).map_err(|e| e.to_string())?;
    m.check(&p, &ModelConfig::cnn())
        .map_err(|e| e.to_string())?;
    Ok(p)
}

#[test]
fn bad_parameters_name_the_allowed_values() {
    let cases: &[(&str, &[(&str, Value)], &str)] = &[
        (
            "ptq",
            &[("w_bits", Value::Int(0))],
            "parameter `w_bits`: 0 is out of range (allowed: an integer in [2, 8])",
        ),
        (
            "ptq",
            &[("a_bits", Value::Int(33))],
            "parameter `a_bits`: 33 is out of range (allowed: an integer in [2, 32])",
        ),
        (
            "ptq",
            &[("a_bits", Value::Int(16))],
            "parameter `a_bits`: 16 is not a supported width (allowed: 2..8, or 32 for float activations)",
        ),
        (
            "ptq",
            &[("calibration", Value::Str("entropy".into()))],
            "parameter `calibration`: unknown value `entropy` (allowed: one of minmax, percentile, mse, kl)",
        ),
        (
            "ptq",
            &[("keep_float", Value::Str("all".into()))],
            "parameter `keep_float`: unknown value `all` (allowed: one of first_last, first, last, none)",
        ),
        (
            "qat",
            &[("scheme", Value::Str("dorefa".into()))],
            "parameter `scheme`: unknown value `dorefa` (allowed: one of ste, lsq, pact)",
        ),
        (
            "qat",
            &[("a_bits", Value::Int(1))],
            "parameter `a_bits`: 1 is out of range (allowed: an integer in [2, 8])",
        ),
        (
            "binary",
            &[("weights", Value::Str("quaternary".into()))],
            "parameter `weights`: unknown value `quaternary` (allowed: one of binary, ternary)",
        ),
        (
            "binary",
            &[("bits", Value::Int(1))],
            "unknown parameter `bits` (allowed: weights, binary_activations, a_bits, calib_images, keep_float, epochs, lr)",
        ),
    ];
    for (method, given, expected) in cases {
        assert_eq!(
            resolve(method, given).unwrap_err(),
            *expected,
            "{method} {given:?}"
        );
    }
}

#[test]
fn defaults_resolve_and_ids_are_stable() {
    let ids: Vec<&str> = all().iter().map(|m| m.id()).collect();
    assert_eq!(ids, ["ptq", "qat", "binary"]);
    for m in all() {
        resolve(m.id(), &[]).unwrap();
        for spec in m.params() {
            assert!(!spec.doc.is_empty(), "{}.{} has no doc", m.id(), spec.name);
        }
    }
    assert!(
        resolve(
            "ptq",
            &[("a_bits", Value::Int(32)), ("w_bits", Value::Int(4))]
        )
        .is_ok()
    );
}
