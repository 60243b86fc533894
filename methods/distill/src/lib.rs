//! The `distill` method: train a student network against a teacher (Hinton et al., "Distilling
//! the Knowledge in a Neural Network", arXiv 1503.02531).
//!
//! The student is the experiment's model (its architecture knobs make it small: the CNN's
//! `conv1_channels`, `conv2_channels`, `fc_hidden`; the ViT's `d_model`, `depth`, ...). It
//! starts from its own initialization (`init: scratch`) or from its trained baseline
//! (`init: baseline`) and trains with the model's recipe through compbench-nn's shared `fit`.
//! The teacher is not this crate's business: a suite names one on the method entry
//! (`teacher: <teachers label>`, with `kd_temperature`, `kd_lambda` and `kd_mode`), the runner
//! trains it like a baseline and puts it in the recipe, and `fit` then minimizes the KD loss
//! (compbench_nn::distill). The same entry without a teacher is the student trained alone
//! with the same initialization, batches and recipe: the control a KD gain is measured against.
//!
//! DeiT (Touvron et al., arXiv 2012.12877): a ViT student with `distill_token: true` (a model
//! knob) has two heads; this method trains them apart (`Network::forward_heads`): labels for the
//! class head, the teacher for the distillation head, with `kd_mode: hard` the teacher's argmax
//! (DeiT's hard distillation) or `soft` Hinton's targets. The deployed student averages the
//! heads; its rows' MACs and latency include the token.
//!
//! Code map: `lib.rs` only (parameters, `apply`). Rows: accuracy of the deployed student,
//! `method_params` and `method_macs` of the student, and, with a teacher,
//! `method_teacher_accuracy`, `method_teacher_macs`; the student's Workload IR is what the
//! hardware models price.

use std::collections::BTreeMap;

use burn::module::Module;
use compbench_core::seed::derive;
use compbench_core::{ParamSpec, Params};
use compbench_nn::hooks::DenseHooks;
use compbench_nn::{Compressed, Method, MethodCtx, MethodError, ModelConfig, Network, train};

pub static DISTILL: Distill = Distill;

/// Every method of this crate, for the registry.
pub fn all() -> &'static [&'static dyn Method] {
    static ALL: [&dyn Method; 1] = [&DISTILL];
    &ALL
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Distill;

const PARAMS: &[ParamSpec] = &[
    ParamSpec::choice(
        "init",
        "scratch",
        &["scratch", "baseline"],
        "student start: its own initialization, or its trained baseline",
    ),
    ParamSpec::int(
        "epochs",
        0,
        0,
        1000,
        "student training epochs; 0 = the model's recipe (1 with --quick)",
    ),
    ParamSpec::float(
        "lr",
        0.0,
        0.0,
        1.0,
        "peak learning rate; 0 = the model's recipe",
    ),
];

impl Method for Distill {
    fn id(&self) -> &'static str {
        "distill"
    }

    fn describe(&self) -> &'static str {
        "knowledge distillation: train the model (a student) against a suite-named teacher (Hinton KD); \
         without a teacher, the student trained alone"
    }

    fn family(&self) -> Option<compbench_core::Family> {
        Some(compbench_core::Family::Distillation)
    }

    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }

    fn apply(&self, ctx: &MethodCtx, params: &Params) -> Result<Compressed, MethodError> {
        let mut cfg = ctx.train.clone();
        let epochs = params.int("epochs") as usize;
        if epochs > 0 {
            cfg.epochs = if ctx.quick { epochs.min(1) } else { epochs };
        }
        let lr = params.float("lr");
        if lr > 0.0 {
            cfg.lr = lr;
        }
        let student = match params.str("init") {
            "baseline" => ctx.baseline.clone(),
            _ => Network::new(
                &ModelConfig {
                    classes: ctx.data.classes,
                    ..ctx.model.clone()
                },
                ctx.device,
                derive(ctx.seed, &["distill", "init"]),
            ),
        };
        if let Some(t) = &cfg.teacher
            && t.model.classes != ctx.data.classes
        {
            return Err(MethodError::Failed(format!(
                "teacher `{}` has {} classes, the data has {}",
                t.label, t.model.classes, ctx.data.classes
            )));
        }
        let (student, log) = train::fit(
            student,
            &cfg,
            &ctx.data.train,
            ctx.device,
            derive(ctx.seed, &["distill", "train"]),
            // Both heads: a ViT with a distillation token trains its token's head on the
            // teacher (DeiT); other models have one head.
            |m: &Network, x| m.forward_heads(x, &DenseHooks),
            ctx.log,
        );
        let student = student.valid();
        let mut deployed = student.to_deployed();
        deployed.name = format!("{}/distill", ctx.model.label());

        let mut metrics = BTreeMap::new();
        metrics.insert("params".to_string(), student.num_params() as f64);
        metrics.insert("macs".to_string(), deployed.workload(1).macs() as f64);
        metrics.insert("epoch_s".to_string(), log.epoch_s());
        let mut notes = Vec::new();
        match &cfg.teacher {
            Some(t) => {
                metrics.insert(
                    "teacher_accuracy".to_string(),
                    t.model.accuracy(&ctx.data.test),
                );
                metrics.insert(
                    "teacher_macs".to_string(),
                    t.model.workload(1).macs() as f64,
                );
            }
            None => notes.push("no teacher: the student trained alone".to_string()),
        }
        Ok(Compressed {
            deployed,
            metrics,
            notes,
        })
    }
}
