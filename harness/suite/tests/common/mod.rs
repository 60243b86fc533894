//! A small fake catalog, so suite tests need no plugin crate.
#![allow(dead_code)]

use compbench_core::ir::Layer;
use compbench_core::{HwDesign, HwModel, HwReport, ParamError, ParamSpec, Params};
use compbench_suite::{Catalog, PluginInfo};

pub const MLP: &[ParamSpec] = &[
    ParamSpec::int("hidden", 64, 1, 4096, "hidden width"),
    ParamSpec::int("epochs", 5, 1, 100, "training epochs"),
];
pub const PTQ: &[ParamSpec] = &[
    ParamSpec::int("w_bits", 8, 1, 16, "weight bits"),
    ParamSpec::int("a_bits", 8, 1, 16, "activation bits"),
    ParamSpec::choice("calib", "minmax", &["minmax", "mse"], "calibration"),
    ParamSpec::bool("per_channel", true, "per-channel"),
];
pub const TEACHER: &[ParamSpec] = &[
    ParamSpec::float("kd_temperature", 4.0, 0.1, 100.0, "temperature"),
    ParamSpec::float("kd_lambda", 0.9, 0.0, 1.0, "weight of the soft term"),
];
pub const SYSTOLIC: &[ParamSpec] = &[
    ParamSpec::int("rows", 16, 1, 1024, "array rows"),
    ParamSpec::int("cols", 16, 1, 1024, "array cols"),
    ParamSpec::choice("dataflow", "os", &["os", "ws", "is"], "dataflow"),
];

pub struct FakeSystolic;
struct FakeDesign;
impl HwDesign for FakeDesign {
    fn eval_layer(&self, _: &Layer) -> HwReport {
        HwReport::zero(1.0)
    }
    fn area_um2(&self) -> f64 {
        1.0
    }
}
impl HwModel for FakeSystolic {
    fn id(&self) -> &'static str {
        "systolic"
    }
    fn describe(&self) -> &'static str {
        "fake systolic array"
    }
    fn params(&self) -> &'static [ParamSpec] {
        SYSTOLIC
    }
    fn build(&self, p: &Params) -> Result<Box<dyn HwDesign>, ParamError> {
        if p.int("rows") * p.int("cols") > 65536 {
            return Err(ParamError::Constraint {
                param: "cols".into(),
                message: "rows × cols must be ≤ 65536".into(),
            });
        }
        Ok(Box::new(FakeDesign))
    }
}

pub static SYSTOLIC_MODEL: FakeSystolic = FakeSystolic;

pub fn catalog() -> Catalog<'static> {
    Catalog {
        methods: vec![
            PluginInfo::new("identity", "no compression", &[]),
            PluginInfo::new("ptq", "post-training quantization", PTQ).with_check(Box::new(
                |p, model, mp| {
                    // A cross-parameter rule of the fake: narrow MLPs cannot take 1-bit weights.
                    if p.int("w_bits") == 1 && model == "mlp" && mp.int("hidden") < 32 {
                        return Err(ParamError::Constraint {
                            param: "w_bits".into(),
                            message: "1-bit weights need hidden ≥ 32".into(),
                        });
                    }
                    Ok(())
                },
            )),
        ],
        models: vec![PluginInfo::new("mlp", "multi-layer perceptron", MLP)],
        datasets: vec![
            PluginInfo::new("synthetic", "generated", &[]),
            PluginInfo::new("fashion-mnist", "real", &[]),
        ],
        hwmodels: vec![&SYSTOLIC_MODEL],
        teacher_params: TEACHER,
    }
}

pub const GOOD: &str = "\
schema_version: 1
name: test
models:
  - id: mlp
    params: { hidden: 16, epochs: [1, 2] }
datasets: [synthetic]
methods:
  - id: identity
  - id: ptq
    params:
      w_bits: [8, 4, 2]
    zip:
      - { a_bits: [8, 4], calib: [minmax, mse] }
hwmodels:
  - id: systolic
    label: int8-systolic
    params: { rows: [8, 16] }
seeds: [0, 1]
quick:
  seeds: [0]
  test_subset: 100
  models: { mlp: { epochs: 1 } }
  methods: { ptq: { w_bits: 8 } }
";
