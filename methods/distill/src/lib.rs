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
//! FitNets (Romero et al., "FitNets: Hints for Thin Deep Nets", arXiv 1412.6550) is the same
//! method with `hint_layer` set: stage 1 trains the student's layers up to `guided_layer` (by
//! default the student layer of the same name) plus a learned regressor to predict the
//! teacher's `hint_layer` output for `hint_epochs` epochs (compbench_nn::distill::fit_hints);
//! the regressor is dropped and stage 2 is the KD training above, from the stage-1 weights.
//! Layer names are the deployed graph's (the Workload IR's): `conv2.relu`, `fc1`, `block0`, ...
//! Unknown names, a hint without a teacher, and layer pairs no regressor maps are refused at
//! suite validation (`check`, `check_teacher`).
//!
//! Code map: `lib.rs` only (parameters, checks, `apply`). Rows: accuracy of the deployed
//! student, `method_params` and `method_macs` of the student, and, with a teacher,
//! `method_teacher_accuracy`, `method_teacher_macs`; with hints also `method_hint_s` (stage-1
//! wall time), `method_hint_loss` (its last epoch's mean hint loss) and
//! `method_regressor_params` (the dropped regressor's size). The student's Workload IR is what
//! the hardware models price.

use std::collections::BTreeMap;

use burn::module::Module;
use compbench_core::seed::derive;
use compbench_core::{ParamError, ParamSpec, Params};
use compbench_nn::distill::{HintError, HintPlan, HintStage, fit_hints};
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
    ParamSpec::name(
        "hint_layer",
        "",
        "FitNets: the teacher layer whose output the student first learns to predict through a \
         learned regressor (a deployed layer name, e.g. conv2.relu; needs a teacher); empty = no \
         hint stage",
    ),
    ParamSpec::name(
        "guided_layer",
        "",
        "FitNets: the student layer regressed onto the hint (the layers up to it train in the \
         hint stage); empty = the student layer named like the hint layer",
    ),
    ParamSpec::int(
        "hint_epochs",
        2,
        1,
        1000,
        "FitNets: epochs of the hint stage, before the KD training of the whole student \
         (1 with --quick); unused without hint_layer",
    ),
];

/// The student layer a hint stage guides: `guided_layer`, or the hint layer's name.
fn guided_layer(params: &Params) -> &str {
    match params.str("guided_layer") {
        "" => params.str("hint_layer"),
        g => g,
    }
}

/// A hint-stage error as the parameter the user wrote: an error about the guided layer is the
/// hint layer's when `guided_layer` was left empty (it defaulted to the hint layer's name).
fn hint_param_error(params: &Params, e: HintError) -> ParamError {
    let defaulted = e.param == "guided_layer" && params.str("guided_layer").is_empty();
    ParamError::Constraint {
        param: if defaulted { "hint_layer" } else { e.param }.to_string(),
        message: if defaulted {
            format!(
                "{} (guided_layer is empty, so the student layer named like the hint layer is guided)",
                e.message
            )
        } else {
            e.message
        },
    }
}

impl Method for Distill {
    fn id(&self) -> &'static str {
        "distill"
    }

    fn describe(&self) -> &'static str {
        "knowledge distillation: train the model (a student) against a suite-named teacher (Hinton KD, \
         optionally after a FitNets hint stage); without a teacher, the student trained alone"
    }

    fn family(&self) -> Option<compbench_core::Family> {
        Some(compbench_core::Family::Distillation)
    }

    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }

    fn check(&self, params: &Params, _model: &ModelConfig) -> Result<(), ParamError> {
        if params.str("hint_layer").is_empty() && !params.str("guided_layer").is_empty() {
            return Err(ParamError::Constraint {
                param: "guided_layer".into(),
                message: "a guided layer needs a hint layer: set hint_layer (the teacher layer \
                          it learns to predict)"
                    .into(),
            });
        }
        Ok(())
    }

    fn check_teacher(
        &self,
        params: &Params,
        model: &ModelConfig,
        teacher: Option<&ModelConfig>,
    ) -> Result<(), ParamError> {
        let hint = params.str("hint_layer");
        if hint.is_empty() {
            return Ok(());
        }
        let Some(teacher) = teacher else {
            return Err(ParamError::Constraint {
                param: "hint_layer".into(),
                message: "FitNets hints come from a teacher: name one with `teacher:` on this \
                          entry"
                    .into(),
            });
        };
        HintPlan::for_configs(model, guided_layer(params), teacher, hint)
            .map(|_| ())
            .map_err(|e| hint_param_error(params, e))
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
        let mut student = match params.str("init") {
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
        // FitNets stage 1: the hint stage, from the student's start to its guided layer.
        let mut hint_metrics = BTreeMap::new();
        let hint = params.str("hint_layer");
        if !hint.is_empty() {
            let Some(teacher) = &cfg.teacher else {
                return Err(MethodError::Failed(
                    "hint_layer is set but the entry names no teacher (FitNets hints come from \
                     a teacher)"
                        .into(),
                ));
            };
            let hint_epochs = params.int("hint_epochs") as usize;
            let hint_cfg = train::TrainConfig {
                epochs: if ctx.quick {
                    hint_epochs.min(1)
                } else {
                    hint_epochs
                },
                teacher: None,
                ..cfg.clone()
            };
            let stage = HintStage {
                teacher,
                hint_layer: hint,
                guided_layer: guided_layer(params),
                hooks: &DenseHooks,
            };
            let out = fit_hints(
                student,
                &stage,
                &hint_cfg,
                &ctx.data.train,
                ctx.device,
                derive(ctx.seed, &["distill", "hints"]),
                ctx.log,
            )
            .map_err(|e| MethodError::Failed(hint_param_error(params, e).to_string()))?;
            student = out.student;
            hint_metrics.insert("hint_s".to_string(), out.log.train_s);
            hint_metrics.insert(
                "hint_loss".to_string(),
                out.log.epochs.last().map_or(f64::NAN, |e| e.loss),
            );
            hint_metrics.insert(
                "regressor_params".to_string(),
                out.plan.regressor_params() as f64,
            );
        }
        // Stage 2 (or the only stage): KD with a teacher, cross-entropy without.
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
        metrics.extend(hint_metrics);
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
