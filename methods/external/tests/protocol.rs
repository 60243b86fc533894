//! The harness side of the protocol without Python: manifests, the process runner (timeout,
//! exit status, stderr), and the checks on a method's answer, each error naming its field.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use compbench_core::{Params, Value};
use compbench_external::method::build_layers;
use compbench_external::process::{self, RunError};
use compbench_external::protocol::{DataFiles, LayerInfo, ModelInfo, Request, Response};
use compbench_external::{ExternalMethod, Manifest};
use compbench_nn::data::synthetic::Synthetic;
use compbench_nn::models::{ModelConfig, Network};
use compbench_nn::train::TrainConfig;
use compbench_nn::{GemmKernel, Method, MethodCtx};
use safetensors::tensor::{Dtype, TensorView};

const GOOD: &str = "protocol: 1\nid: echo-test\ndescription: a test\nfamily: pruning\n\
command: [sh, run.sh]\ntimeout_s: 5\nparams:\n  - name: bits\n    type: int\n    default: 4\n    min: 1\n    max: 8\n    doc: index bits\n";

#[test]
fn manifest_declares_params_with_ranges_and_the_harness_timeout() {
    let m = Manifest::parse(Path::new("/x/m/manifest.yaml"), GOOD).unwrap();
    assert_eq!(m.id, "echo-test");
    assert_eq!(m.family, compbench_core::Family::Pruning);
    assert_eq!(m.dir, Path::new("/x/m"));
    let names: Vec<&str> = m.params.iter().map(|p| p.name).collect();
    assert_eq!(names, ["bits", "timeout_s"]);
    let p = Params::resolve(m.params, &BTreeMap::new()).unwrap();
    assert_eq!(p.int("timeout_s"), 5);
    let bad: BTreeMap<String, Value> = [("bits".to_string(), Value::Int(9))].into();
    let e = Params::resolve(m.params, &bad).unwrap_err().to_string();
    assert!(e.contains("`bits`") && e.contains("[1, 8]"), "{e}");
}

#[test]
fn bad_manifests_are_refused_naming_file_and_field() {
    let cases = [
        (
            GOOD.replace("id: echo-test", "id: Echo_Test"),
            "m.yaml: id: `Echo_Test` is not a kebab-case id",
        ),
        (
            GOOD.replace("protocol: 1", "protocol: 2"),
            "m.yaml: protocol: version 2 is not spoken",
        ),
        (
            GOOD.replace("default: 4", "default: 9"),
            "m.yaml: params[0] (`bits`): default: parameter `bits`: 9 is out of range",
        ),
        (
            GOOD.replace("type: int", "type: integer"),
            "m.yaml: params[0] (`bits`): type: unknown type `integer`",
        ),
        (
            GOOD.replace("timeout_s: 5", "timeout_s: 0"),
            "m.yaml: timeout_s: 0 is out of range",
        ),
        (
            GOOD.replace("command: [sh, run.sh]", "command: []"),
            "m.yaml: command: must name a program",
        ),
        (
            GOOD.replace("timeout_s: 5\n", "timeout_s: 5\ncolour: red\n"),
            "m.yaml:7:1: unknown field `colour`",
        ),
        (
            GOOD.replace("family: pruning", "family: quantization"),
            "m.yaml: family: unknown family `quantization` (valid: baseline, scalar-quantization,",
        ),
    ];
    for (src, want) in cases {
        let e = Manifest::parse(Path::new("m.yaml"), &src).unwrap_err();
        assert!(e.starts_with(want), "got: {e}\nwant: {want}");
    }
    // Every method declares its survey family.
    let e =
        Manifest::parse(Path::new("m.yaml"), &GOOD.replace("family: pruning\n", "")).unwrap_err();
    assert!(e.starts_with("m.yaml:") && e.contains("family"), "{e}");
}

fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

#[test]
fn a_hung_process_is_stopped_by_the_timeout_with_its_stderr_kept() {
    let t0 = std::time::Instant::now();
    let e = process::run(
        &sh("echo loading weights >&2; sleep 4"),
        Path::new("."),
        b"{}",
        Duration::from_secs(1),
    )
    .unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(10), "not stopped");
    match &e {
        RunError::Timeout { seconds, stderr } => {
            assert_eq!(*seconds, 1);
            assert!(stderr.contains("loading weights"), "{stderr}");
        }
        other => panic!("expected a timeout, got {other}"),
    }
    assert!(e.to_string().contains("timeout_s"), "{e}");
}

#[test]
fn a_failing_process_reports_its_exit_status_and_stderr() {
    let e = process::run(
        &sh("cat >/dev/null; echo 'Traceback: boom' >&2; exit 3"),
        Path::new("."),
        b"{}",
        Duration::from_secs(10),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("exit status: 3") && e.contains("Traceback: boom"),
        "{e}"
    );
    let e = process::run(
        &["definitely-not-a-program-xyz".to_string()],
        Path::new("."),
        b"",
        Duration::from_secs(1),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("cannot start `definitely-not-a-program-xyz`"),
        "{e}"
    );
    // The request reaches stdin and stdout comes back whole (larger than a pipe buffer).
    let big = vec![b'x'; 300_000];
    let ok = process::run(&sh("cat"), Path::new("."), &big, Duration::from_secs(20)).unwrap();
    assert_eq!(ok.stdout.len(), big.len());
}

// ---- response checks -------------------------------------------------------------------

fn write_st(path: &Path, tensors: &[(&str, Vec<usize>, Vec<f32>)]) {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, s, v)| {
            (
                n.to_string(),
                s.clone(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views: Vec<(String, TensorView)> = bytes
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

/// Two layers: `a` 4×2 with a bias, `b` 2×3 without.
fn request(dir: &Path) -> Request {
    write_st(
        &dir.join("model.safetensors"),
        &[
            ("a.weight", vec![4, 2], vec![0.5; 8]),
            ("a.bias", vec![2], vec![1.0, 2.0]),
            ("b.weight", vec![2, 3], vec![0.25; 6]),
        ],
    );
    let layer = |name: &str, k, n, has_bias| LayerInfo {
        name: name.into(),
        k,
        n,
        rows_per_image: 1,
        first: name == "a",
        last: name == "b",
        has_bias,
    };
    Request {
        protocol: 1,
        method: "t".into(),
        params: BTreeMap::new(),
        seed: 0,
        quick: true,
        model: ModelInfo {
            kind: "mlp".into(),
            weights: dir.join("model.safetensors").display().to_string(),
            input: [1, 1, 4],
            classes: 3,
        },
        layers: vec![layer("a", 4, 2, true), layer("b", 2, 3, false)],
        data: DataFiles::default(),
        work_dir: dir.display().to_string(),
        output: dir.join("out.safetensors").display().to_string(),
    }
}

fn response(json: &str) -> Response {
    serde_json::from_str(json).unwrap()
}

const LAYERS: &str = r#"[{"name": "a", "storage": {"index_bits": 1}}, {"name": "b"}]"#;

fn answer(layers: &str) -> String {
    format!(r#"{{"protocol": 1, "weights": "out.safetensors", "layers": {layers}}}"#)
}

fn good_weights() -> Vec<(&'static str, Vec<usize>, Vec<f32>)> {
    vec![
        (
            "a.weight",
            vec![4, 2],
            vec![0.5, -0.5, 0.5, 0.5, -0.5, -0.5, 0.5, 0.5],
        ),
        ("b.weight", vec![2, 3], vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
    ]
}

fn check(
    weights: &[(&str, Vec<usize>, Vec<f32>)],
    layers: &str,
) -> Result<Vec<(String, Box<dyn GemmKernel>)>, String> {
    let dir = tempfile::tempdir().unwrap();
    let req = request(dir.path());
    write_st(&dir.path().join("out.safetensors"), weights);
    build_layers(&req, &response(&answer(layers)), dir.path())
}

#[test]
fn a_good_answer_builds_codebook_and_dense_kernels() {
    let built = check(&good_weights(), LAYERS).unwrap();
    let (name, a) = &built[0];
    assert_eq!(name, "a");
    assert_eq!(a.kind(), "codebook-f32");
    // 8 one-bit indices + two f32 values.
    assert_eq!(a.weight_bits(), 8.0 + 64.0);
    let g = a.gemm_ir(1);
    let s = g.storage.clone().unwrap();
    assert_eq!(s.element, compbench_core::NumFormat::Int(1));
    assert_eq!(g.weight, compbench_core::NumFormat::FP32, "computes in f32");
    // The bias not returned is the one sent; the decoded weights are exactly the returned ones.
    let (w, b) = a.dense_weights().unwrap();
    assert_eq!(w, &good_weights()[0].2[..]);
    assert_eq!(b, Some(&[1.0f32, 2.0][..]));
    let mut out = [0.0f32; 2];
    a.forward(&[1.0, 1.0, 1.0, 1.0], 1, &mut out);
    assert_eq!(out, [1.0 + 1.0, 0.0 + 2.0]);
    // Declared sparsity is measured: b keeps one 1×1 block of six.
    let built = check(
        &good_weights(),
        r#"[{"name": "a"}, {"name": "b", "sparsity": {"block_k": 1, "block_n": 1}}]"#,
    )
    .unwrap();
    let sp = built[1].1.gemm_ir(1).sparsity.unwrap();
    assert_eq!(sp.density, 1.0 / 6.0);
    assert_eq!(sp.mask.unwrap(), [true, false, false, false, false, false]);
}

#[test]
fn malformed_answers_name_the_field() {
    let w = good_weights();
    let mut shape = good_weights();
    shape[1].1 = vec![3, 2];
    let mut nan = good_weights();
    nan[1].2[4] = f32::NAN;
    let mut missing = good_weights();
    missing.pop();
    let cases: Vec<(Vec<(&str, Vec<usize>, Vec<f32>)>, &str, &str)> = vec![
        (
            w.clone(),
            r#"[{"name": "a"}]"#,
            "layers: no entry for layer `b`",
        ),
        (
            w.clone(),
            r#"[{"name": "a"}, {"name": "b"}, {"name": "c"}]"#,
            "layers[2].name: `c` is not a GEMM layer of the model (its layers: a, b)",
        ),
        (
            w.clone(),
            r#"[{"name": "a"}, {"name": "a"}]"#,
            "layers[1].name: `a` is listed twice",
        ),
        (
            shape,
            r#"[{"name": "a"}, {"name": "b"}]"#,
            "weights: tensor `b.weight` has shape [3, 2], expected [2, 3]",
        ),
        (
            nan,
            r#"[{"name": "a"}, {"name": "b"}]"#,
            "weights: tensor `b.weight` has 1 NaN or infinite values",
        ),
        (
            missing,
            r#"[{"name": "a"}, {"name": "b"}]"#,
            "weights: tensor `b.weight` is missing",
        ),
        (
            w.clone(),
            r#"[{"name": "a", "storage": {"index_bits": 0}}, {"name": "b"}]"#,
            "layers[0] (`a`).storage.index_bits: 0 is not in [1, 16]",
        ),
        (
            w.clone(),
            r#"[{"name": "a"}, {"name": "b", "weight_bits": 0}]"#,
            "layers[1] (`b`).weight_bits: 0 is not 32 or in [1, 16]",
        ),
        (
            w.clone(),
            r#"[{"name": "a", "act_bits": 8}, {"name": "b"}]"#,
            "layers[0] (`a`).act_bits: 8 is not supported by protocol 1",
        ),
        (
            w.clone(),
            r#"[{"name": "a", "vq": {"v": 4}}, {"name": "b"}]"#,
            "layers[0] (`a`).vq: activation vector quantization is not supported",
        ),
        (
            w.clone(),
            r#"[{"name": "a"}, {"name": "b", "sparsity": {"block_k": 4, "block_n": 1}}]"#,
            "layers[1] (`b`).sparsity: block 4×1 must be at least 1×1 and at most K×N = 2×3",
        ),
    ];
    for (weights, layers, want) in cases {
        let e = match check(&weights, layers) {
            Ok(_) => panic!("accepted: {layers}"),
            Err(e) => e,
        };
        assert!(e.starts_with(want), "got: {e}\nwant: {want}");
    }
    // Declared widths are checked against the values.
    let mut many = good_weights();
    many[0].2 = vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
    let e = check(&many, LAYERS).err().unwrap();
    assert!(e.starts_with("layers[0] (`a`).storage.index_bits: the weights hold 8 distinct values, more than 2^1 = 2"), "{e}");
    let e = check(&many, r#"[{"name": "a", "weight_bits": 1}, {"name": "b"}]"#)
        .err()
        .unwrap();
    assert!(
        e.starts_with(
            "layers[0] (`a`).weight_bits: output column 0 holds 4 distinct values, more than 2^1"
        ),
        "{e}"
    );
    // Unknown fields in a response are refused by name.
    let e = serde_json::from_str::<Response>(
        r#"{"protocol": 1, "weights": "w", "layers": [], "colour": 1}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("unknown field `colour`"), "{e}");
}

// ---- a whole apply with a shell "method" -----------------------------------------------

fn apply_with(script: &str, timeout_s: i64) -> Result<compbench_nn::Compressed, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("run.sh"), script).unwrap();
    let src = GOOD.replace("timeout_s: 5", &format!("timeout_s: {timeout_s}"));
    let path = dir.path().join("manifest.yaml");
    std::fs::write(&path, &src).unwrap();
    let method = ExternalMethod {
        manifest: Manifest::load(&path).unwrap(),
    };
    let data = Synthetic::new(64, 32, 0).generate();
    let device = compbench_nn::device();
    let model = ModelConfig::mlp();
    let net = Network::new(&model, &device, 0);
    let train = TrainConfig::default();
    let log = |_: &str| {};
    let ctx = MethodCtx {
        baseline: &net,
        model: &model,
        data: &data,
        train: &train,
        device: &device,
        seed: 1,
        quick: true,
        log: &log,
    };
    let params = Params::resolve(method.params(), &BTreeMap::new()).unwrap();
    method.apply(&ctx, &params).map_err(|e| e.to_string())
}

#[test]
fn apply_errors_name_the_method_and_keep_stderr() {
    let e = apply_with(
        "cat > /dev/null; echo 'not json'; echo 'warming up' >&2",
        10,
    )
    .err()
    .unwrap();
    assert!(
        e.starts_with("external method `echo-test`: stdout is not a protocol-1 response")
            && e.contains("not json")
            && e.contains("warming up"),
        "{e}"
    );
    let e = apply_with("echo 'stuck' >&2; sleep 4", 1).err().unwrap();
    assert!(
        e.starts_with("external method `echo-test`: timed out after 1 s") && e.contains("stuck"),
        "{e}"
    );
}

#[test]
fn apply_sends_the_model_and_takes_back_unchanged_weights() {
    // A method that returns the model it was sent, unchanged, as every layer in f32.
    let script = r#"req=$(cat)
weights=$(printf '%s' "$req" | sed 's/.*"weights":"\([^"]*\)".*/\1/')
printf '{"protocol":1,"weights":"%s","layers":[{"name":"fc1"},{"name":"fc2"},{"name":"fc3"}],"notes":["identity via sh"]}' "$weights"
"#;
    let out = apply_with(script, 20).unwrap();
    let names: Vec<&str> = out.deployed.gemm_layers().iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["fc1", "fc2", "fc3"]);
    assert!(out.notes[0] == "identity via sh", "{:?}", out.notes);
    assert!(out.notes[1].starts_with("external method `echo-test` (protocol 1, manifest "));
}

#[test]
fn plugin_directories_hold_one_method_per_subdirectory_and_broken_ones_explain_themselves() {
    let root = tempfile::tempdir().unwrap();
    for (sub, src) in [
        ("b-good", GOOD.to_string()),
        ("a-broken", GOOD.replace("protocol: 1", "protocol: 7")),
    ] {
        std::fs::create_dir(root.path().join(sub)).unwrap();
        std::fs::write(root.path().join(sub).join("manifest.yaml"), src).unwrap();
    }
    std::fs::create_dir(root.path().join("not-a-plugin")).unwrap();
    let paths = compbench_external::manifest_paths(&[root.path().to_path_buf()]);
    assert_eq!(paths.len(), 2);
    let methods: Vec<&'static dyn Method> =
        paths.iter().map(|p| compbench_external::load(p)).collect();
    assert_eq!(methods[0].id(), "a-broken");
    assert_eq!(methods[1].id(), "echo-test");
    let e = methods[0]
        .check(&Params::default(), &ModelConfig::mlp())
        .unwrap_err()
        .to_string();
    assert!(e.contains("protocol: version 7 is not spoken"), "{e}");
    // A directory holding a manifest is itself one method.
    let own = compbench_external::manifest_paths(&[root.path().join("b-good")]);
    assert_eq!(own, [root.path().join("b-good").join("manifest.yaml")]);
}
