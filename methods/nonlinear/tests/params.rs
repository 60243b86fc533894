//! Out-of-range knobs and impossible op/implementation pairs are refused at suite validation,
//! with file:line:col.

fn suite(model: &str, params: &str) -> String {
    format!(
        "schema_version: 1\nname: t\nmodels:\n  - id: {model}\ndatasets: [fashion-mnist]\nmethods:\n  - id: nonlinear\n    params: {params}\nhwmodels:\n  - id: systolic\nseeds: [0]\nmetrics: [accuracy]\n"
    )
}

fn errors(model: &str, params: &str) -> String {
    match compbench_suite::parse(
        "bad.yaml",
        &suite(model, params),
        &compbench_registry::catalog(),
    ) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn valid_suite_parses() {
    assert_eq!(
        errors(
            "vit",
            "{ impl: pwl, segments: 16, ops: [softmax, gelu, layernorm] }"
        ),
        ""
    );
    assert_eq!(
        errors("cnn", "{ impl: poly, degree: [2, 3, 4], ops: relu }"),
        ""
    );
}

#[test]
fn out_of_range_degree_and_segments_fail_with_location() {
    for (params, needle) in [
        ("{ impl: poly, degree: 5 }", "degree"),
        ("{ impl: pwl, segments: 1 }", "segments"),
        ("{ impl: pwl, segments: 65 }", "segments"),
        ("{ impl: ibert, bits: 4 }", "bits"),
        ("{ impl: lut }", "impl"),
    ] {
        let e = errors("vit", params);
        assert!(e.contains("bad.yaml:8:"), "{params}: {e}");
        assert!(e.contains(needle), "{params}: {e}");
    }
}

#[test]
fn impossible_op_choices_fail_validation() {
    for (model, params, needle) in [
        ("vit", "{ ops: relu }", "no relu op"),
        ("cnn", "{ ops: softmax }", "no softmax op"),
        (
            "vit",
            "{ impl: softermax, ops: gelu }",
            "does not apply to gelu",
        ),
        ("cnn", "{ impl: softermax }", "applies to none"),
        (
            "vit",
            "{ impl: square, ops: layernorm }",
            "does not apply to layernorm",
        ),
    ] {
        let e = errors(model, params);
        assert!(e.contains("bad.yaml:"), "{params}: {e}");
        assert!(e.contains(needle), "{model} {params}: {e}");
    }
}
