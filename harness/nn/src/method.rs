//! The method extension point: a compression method turns a trained baseline into a
//! deployed model (and, through it, Workload IR).
//!
//! Adding a method = one crate implementing [`Method`] + one line in compbench-registry + a
//! suite entry (docs/adding-a-method.md). The runner owns scheduling, caching, evaluation and
//! pricing; a method only compresses.

use std::collections::BTreeMap;

use compbench_core::{Family, ParamError, ParamSpec, Params, Splits};

use crate::deployed::DeployedModel;
use crate::models::{ModelConfig, Network};
use crate::train::TrainConfig;

/// Everything a method may use.
pub struct MethodCtx<'a> {
    /// The trained float baseline (trainable form); clone it to fine-tune.
    pub baseline: &'a Network,
    pub model: &'a ModelConfig,
    pub data: &'a Splits,
    /// Training recipe for fine-tuning stages, already shortened when `quick`.
    pub train: &'a TrainConfig,
    pub device: &'a burn::tensor::Device,
    /// The method's own seed (derived per axis by the runner).
    pub seed: u64,
    /// `--quick`: shorter schedules and smaller calibration sets.
    pub quick: bool,
    /// Progress messages (the runner routes them to the progress bar or log).
    pub log: &'a (dyn Fn(&str) + Sync),
}

/// What a method returns.
pub struct Compressed {
    pub deployed: DeployedModel,
    /// Extra metrics, reported as `method_<name>` columns (e.g. `bits_per_activation`).
    pub metrics: BTreeMap<String, f64>,
    /// Caveats the report must show (e.g. "approximate: soft-assignment backward").
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MethodError {
    #[error(transparent)]
    Param(#[from] ParamError),
    #[error("{0}")]
    Failed(String),
}

pub trait Method: Sync {
    /// Stable id used in suites (e.g. `ptq`, `lutboost`).
    fn id(&self) -> &'static str;
    /// One line for `compbench list methods`.
    fn describe(&self) -> &'static str;
    /// The survey family the method belongs to (what it changes: bits, sparsity, ops, privacy,
    /// model size). Every method has one; `None` only for an entry that cannot say (an external
    /// method whose manifest did not load), which the registry reports as an error. The runner
    /// writes it into every row (`family` column) and reports group by it.
    fn family(&self) -> Option<Family>;
    fn params(&self) -> &'static [ParamSpec];
    /// Checks that need the model (e.g. `v` must divide every converted layer's K), run at
    /// suite validation, before any work starts.
    fn check(&self, params: &Params, model: &ModelConfig) -> Result<(), ParamError> {
        let _ = (params, model);
        Ok(())
    }
    /// Checks that need the teacher a suite entry names (`teacher:`), e.g. that a layer named
    /// in the parameters exists in it; `teacher` is `None` for an entry without one, so a
    /// method can also refuse parameters that need a teacher. Run at suite validation for
    /// every model the entry runs on, before any work starts.
    fn check_teacher(
        &self,
        params: &Params,
        model: &ModelConfig,
        teacher: Option<&ModelConfig>,
    ) -> Result<(), ParamError> {
        let _ = (params, model, teacher);
        Ok(())
    }
    fn apply(&self, ctx: &MethodCtx, params: &Params) -> Result<Compressed, MethodError>;
    /// Speed of the kernels this method deploys, for `compbench bench kernels`: rows timed
    /// against our dense f32 GEMM of the same shape in the same run. Methods of one crate that
    /// share a kernel family report it from one of them, so each kernel is timed once.
    fn kernel_benches(&self, quick: bool) -> Vec<crate::bench::KernelBenchRow> {
        let _ = quick;
        Vec::new()
    }
}
