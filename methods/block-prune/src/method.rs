//! The `block-prune` method: parameters, cross-parameter checks, and the pipeline.

use std::collections::BTreeMap;
use std::time::Instant;

use compbench_core::seed::derive;
use compbench_core::{ParamError, ParamSpec, Params};
use compbench_nn::data::calibration_subset;
use compbench_nn::deployed::DenseGemm;
use compbench_nn::{
    Compressed, GemmLayerInfo, Method, MethodCtx, MethodError, ModelConfig, Network, train,
};

use crate::allocate::{self, Allocation, LayerCost};
use crate::blocks::{
    BlockGrid, BlockShape, Score, block_mask, block_scores, prune_order, pruned_blocks,
};
use crate::calib::{GradientObjective, calibration_gradients};
use crate::deploy::deploy_layer;
use crate::distortion::{
    TaylorTerms, distortion_of, ema_smooth, pearson, rank1_as_coded, sparsity_grid, spearman,
    taylor_curve,
};
use crate::masks::{MaskHooks, Masks, apply_masks, mask_violations};
use crate::power::{PowerSign, auto_beta, power_curve};

pub static BLOCK_PRUNE: BlockPrune = BlockPrune;

#[derive(Debug, Clone, Copy, Default)]
pub struct BlockPrune;

const PARAMS: &[ParamSpec] = &[
    ParamSpec::choice(
        "score",
        "taylor",
        &["taylor", "l1"],
        "block ranking: mean |W ⊙ g| (LPViT) or mean |W|",
    ),
    ParamSpec::choice(
        "allocation",
        "rd",
        &["rd", "uniform"],
        "per-layer sparsity: rate-distortion equal-slope allocation (LPViT) or the same in every layer",
    ),
    ParamSpec::bool(
        "second_order",
        true,
        "add the rank-1 term ½[(gᵀΔ)² + λ‖Δ‖²] to the diagonal-Fisher distortion",
    ),
    ParamSpec::choice(
        "rank1_update",
        "exact",
        &["exact", "as-coded"],
        "term 2 recomputed from Δ at every grid point, or LPViT's incremental update with its bug (adds (gᵀΔΔ)² per grid step; an ablation)",
    ),
    ParamSpec::int(
        "block_rows",
        16,
        1,
        512,
        "block height along output features",
    ),
    ParamSpec::int("block_cols", 16, 1, 512, "block width along input features"),
    ParamSpec::float(
        "flops_kept",
        0.5,
        0.01,
        1.0,
        "FLOPs budget: fraction of the pruned layers' GEMM FLOPs kept",
    ),
    ParamSpec::bool(
        "power_term",
        false,
        "add β·P_l(s), LPViT's power proxy, to the allocation's cost",
    ),
    ParamSpec::choice(
        "power_sign",
        "intended",
        &["intended", "as-coded"],
        "P_l ∝ kept blocks (intended) or ∝ s (LPViT's code, which favours pruning low-power layers)",
    ),
    ParamSpec::float(
        "power_beta",
        0.0,
        0.0,
        1e12,
        "weight β of the power term; 0 = automatic (mean max δ′ / mean max |P′|)",
    ),
    ParamSpec::int(
        "grid_points",
        101,
        11,
        1001,
        "sparsity grid points in [0, 1]",
    ),
    ParamSpec::float(
        "smooth",
        0.1,
        0.0,
        0.99,
        "EMA decay of the distortion curves (0 = no smoothing; LPViT's scripts pass --smooth 0.1)",
    ),
    ParamSpec::int(
        "fd_step",
        4,
        1,
        50,
        "finite-difference step of the slope, in grid points (LPViT's --h)",
    ),
    ParamSpec::float(
        "min_keep",
        0.05,
        0.0,
        1.0,
        "every pruned layer keeps at least this fraction of its blocks (and at least one)",
    ),
    ParamSpec::choice(
        "allocator",
        "bisection",
        &["bisection", "dp"],
        "solve the allocation by equal-slope bisection (LPViT) or the exact DP over the grid",
    ),
    ParamSpec::choice(
        "gradient",
        "label-free",
        &["label-free", "cross-entropy"],
        "g = ∂ mean(f(x)²)/∂W (LPViT's code) or the cross-entropy gradient",
    ),
    ParamSpec::int(
        "calib_images",
        1024,
        16,
        60000,
        "calibration images for g (at most 256 with --quick)",
    ),
    ParamSpec::int(
        "calib_seed",
        0,
        0,
        1_000_000,
        "which calibration images: 0 = drawn with the method's seed (which differs by suite label); n > 0 = drawn with seed n, so entries with different labels (e.g. with and without KD) prune from the same g",
    ),
    ParamSpec::bool(
        "measure_distortion",
        false,
        "ablation: measure E‖f(x; layer pruned) − f(x)‖² and its correlation with δ_l(s)",
    ),
    ParamSpec::int(
        "measure_images",
        128,
        8,
        10000,
        "images for the measured distortion",
    ),
    ParamSpec::int(
        "finetune_epochs",
        0,
        0,
        100,
        "masked fine-tuning epochs after pruning (0 = one-shot)",
    ),
    ParamSpec::int(
        "ft_images",
        0,
        0,
        100_000_000,
        "fine-tune on the first n training images per epoch (0 = the recipe's set)",
    ),
    ParamSpec::float("ft_lr", 5e-4, 1e-6, 1.0, "fine-tuning peak learning rate"),
];

/// Resolved parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub shape: BlockShape,
    pub score: Score,
    pub uniform: bool,
    pub second_order: bool,
    pub rank1_as_coded: bool,
    pub flops_kept: f64,
    pub power: Option<PowerSign>,
    pub power_beta: f64,
    pub grid_points: usize,
    pub smooth: f64,
    pub fd_step: usize,
    pub min_keep: f64,
    pub use_dp: bool,
    pub gradient: GradientObjective,
    pub calib_images: usize,
    pub calib_seed: u64,
    pub measure_distortion: bool,
    pub measure_images: usize,
    pub finetune_epochs: usize,
    pub ft_images: usize,
    pub ft_lr: f64,
}

impl Settings {
    pub fn from_params(p: &Params) -> Result<Settings, ParamError> {
        Ok(Settings {
            shape: BlockShape {
                rows: p.int("block_rows") as usize,
                cols: p.int("block_cols") as usize,
            },
            score: match p.str("score") {
                "l1" => Score::L1,
                _ => Score::Taylor,
            },
            uniform: p.str("allocation") == "uniform",
            second_order: p.bool("second_order"),
            rank1_as_coded: p.str("rank1_update") == "as-coded",
            flops_kept: p.float("flops_kept"),
            power: p.bool("power_term").then(|| match p.str("power_sign") {
                "as-coded" => PowerSign::AsCoded,
                _ => PowerSign::Intended,
            }),
            power_beta: p.float("power_beta"),
            grid_points: p.int("grid_points") as usize,
            smooth: p.float("smooth"),
            fd_step: p.int("fd_step") as usize,
            min_keep: p.float("min_keep"),
            use_dp: p.str("allocator") == "dp",
            gradient: match p.str("gradient") {
                "cross-entropy" => GradientObjective::CrossEntropy,
                _ => GradientObjective::LabelFree,
            },
            calib_images: p.int("calib_images") as usize,
            calib_seed: p.int("calib_seed") as u64,
            measure_distortion: p.bool("measure_distortion"),
            measure_images: p.int("measure_images") as usize,
            finetune_epochs: p.int("finetune_epochs") as usize,
            ft_images: p.int("ft_images") as usize,
            ft_lr: p.float("ft_lr"),
        })
    }
}

/// One pruned layer as the allocator sees it.
#[derive(Debug, Clone)]
pub struct PlannedLayer {
    pub info: GemmLayerInfo,
    pub grid: BlockGrid,
    /// Kept blocks at each grid point.
    pub kept: Vec<usize>,
    /// FLOPs units per kept block.
    pub unit: u64,
    pub allowed: Vec<bool>,
}

/// The pruned layers and the sparsity grid, validated.
#[derive(Debug, Clone)]
pub struct Plan {
    pub sparsities: Vec<f64>,
    pub layers: Vec<PlannedLayer>,
    pub budget_units: u64,
    pub total_units: u64,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn constraint(param: &str, message: String) -> ParamError {
    ParamError::Constraint {
        param: param.into(),
        message,
    }
}

/// Which layers are pruned, their block grids and FLOPs units; refuses a block shape that does
/// not tile a pruned layer and a budget below what `min_keep` allows.
pub fn plan(s: &Settings, layers: &[GemmLayerInfo]) -> Result<Plan, ParamError> {
    let pruned: Vec<&GemmLayerInfo> = layers.iter().filter(|l| !l.first && !l.last).collect();
    if pruned.is_empty() {
        return Err(constraint(
            "block_rows",
            "the model has no GEMM layer between the first and the classifier to prune".into(),
        ));
    }
    let sparsities = sparsity_grid(s.grid_points);
    let g = pruned
        .iter()
        .map(|l| l.rows_per_image as u64)
        .fold(0, gcd)
        .max(1);
    let mut out = Vec::new();
    for l in pruned {
        let Some(grid) = BlockGrid::new(l.k(), l.n(), s.shape) else {
            let (out_f, in_f) = (l.n(), l.k());
            let param = if !out_f.is_multiple_of(s.shape.rows) {
                "block_rows"
            } else {
                "block_cols"
            };
            return Err(constraint(
                param,
                format!(
                    "block {}×{} (out × in) does not tile layer `{}` (W is {out_f} × {in_f}, out × in): \
                     block_rows must divide {out_f} and block_cols must divide {in_f} (no padding rule)",
                    s.shape.rows, s.shape.cols, l.name
                ),
            ));
        };
        let nb = grid.num_blocks();
        let min_kept = ((s.min_keep * nb as f64) - 1e-9).ceil().max(1.0) as usize;
        let kept: Vec<usize> = sparsities
            .iter()
            .map(|&sp| nb - pruned_blocks(sp, nb))
            .collect();
        let allowed = kept.iter().map(|&k| k >= min_kept).collect();
        out.push(PlannedLayer {
            info: l.clone(),
            grid,
            kept,
            unit: l.rows_per_image as u64 / g,
            allowed,
        });
    }
    let total_units: u64 = out
        .iter()
        .map(|l| l.grid.num_blocks() as u64 * l.unit)
        .sum();
    let budget_units = ((s.flops_kept * total_units as f64) + 1e-9).floor() as u64;
    // The least FLOPs the allocation can keep: every layer at its sparsest allowed point
    // (uniform: the sparsest point allowed in every layer).
    let reachable: u64 = if s.uniform {
        (0..sparsities.len())
            .rev()
            .find(|&j| out.iter().all(|l| l.allowed[j]))
            .map_or(total_units, |j| {
                out.iter().map(|l| l.kept[j] as u64 * l.unit).sum()
            })
    } else {
        out.iter()
            .map(|l| {
                l.kept
                    .iter()
                    .zip(&l.allowed)
                    .filter(|(_, a)| **a)
                    .map(|(&k, _)| k as u64 * l.unit)
                    .min()
                    .unwrap_or(l.grid.num_blocks() as u64 * l.unit)
            })
            .sum()
    };
    if budget_units < reachable {
        return Err(constraint(
            "flops_kept",
            format!(
                "a FLOPs budget of {} is below what min_keep {} allows with {}×{} blocks and {} grid \
                 points: every pruned layer keeps at least max(1, ⌈min_keep · blocks⌉) blocks, i.e. \
                 at least {:.4} of the pruned layers' FLOPs; raise flops_kept or lower min_keep",
                s.flops_kept,
                s.min_keep,
                s.shape.rows,
                s.shape.cols,
                s.grid_points,
                reachable as f64 / total_units as f64
            ),
        ));
    }
    Ok(Plan {
        sparsities,
        layers: out,
        budget_units,
        total_units,
    })
}

/// The GEMM layers of a model configuration (built untrained; only shapes are read).
pub fn model_layers(model: &ModelConfig) -> Vec<GemmLayerInfo> {
    Network::new(model, &compbench_nn::device(), 0).gemm_layers()
}

impl Method for BlockPrune {
    fn id(&self) -> &'static str {
        "block-prune"
    }

    fn kernel_benches(&self, quick: bool) -> Vec<compbench_nn::bench::KernelBenchRow> {
        compbench_nn::bench::bsr_bench_rows(quick)
    }

    fn describe(&self) -> &'static str {
        "LPViT block pruning: Taylor block scores, second-order distortion curves, equal-slope sparsity allocation under a FLOPs budget with a power term, masked fine-tuning"
    }

    fn family(&self) -> Option<compbench_core::Family> {
        Some(compbench_core::Family::Pruning)
    }

    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }

    fn check(&self, params: &Params, model: &ModelConfig) -> Result<(), ParamError> {
        let s = Settings::from_params(params)?;
        plan(&s, &model_layers(model)).map(|_| ())
    }

    fn apply(&self, ctx: &MethodCtx, params: &Params) -> Result<Compressed, MethodError> {
        let s = Settings::from_params(params)?;
        let all_layers = ctx.baseline.gemm_layers();
        let plan = plan(&s, &all_layers)?;
        let log = ctx.log;
        let t0 = Instant::now();
        let mut metrics = BTreeMap::new();
        let mut notes = Vec::new();

        let weights: Vec<(Vec<f32>, Option<Vec<f32>>)> = plan
            .layers
            .iter()
            .map(|l| {
                ctx.baseline
                    .gemm_weights(&l.info.name)
                    .ok_or_else(|| MethodError::Failed(format!("no layer `{}`", l.info.name)))
            })
            .collect::<Result<_, _>>()?;

        // 1. Calibration gradient (not needed by uniform L1 pruning).
        let need_grad = s.score == Score::Taylor || !s.uniform || s.measure_distortion;
        let calib_n = if ctx.quick {
            s.calib_images.min(256)
        } else {
            s.calib_images
        };
        let calib_seed = match s.calib_seed {
            0 => derive(ctx.seed, &["calib"]),
            n => derive(n, &["calib"]),
        };
        let calib = calibration_subset(&ctx.data.train, calib_n, calib_seed);
        let grads = if need_grad {
            log(&format!(
                "block-prune: calibration gradient over {} images",
                calib.len()
            ));
            let infos: Vec<&GemmLayerInfo> = plan.layers.iter().map(|l| &l.info).collect();
            calibration_gradients(ctx.baseline, &infos, &calib, s.gradient, ctx.device)
        } else {
            BTreeMap::new()
        };

        // 2. Block order per layer; 3. distortion curves.
        let ds = 1.0 / (plan.sparsities.len() - 1) as f64;
        let mut orders = Vec::new();
        let mut raw_curves = Vec::new();
        let mut diag_curves = Vec::new();
        let mut terms_at_half: Vec<TaylorTerms> = Vec::new();
        let mut costs = Vec::new();
        let mut powers = Vec::new();
        for (l, (w, _)) in plan.layers.iter().zip(&weights) {
            let g = grads.get(&l.info.name).map(Vec::as_slice);
            let order = prune_order(&block_scores(&l.grid, w, g, s.score));
            let terms = match g {
                Some(g) => taylor_curve(&l.grid, w, g, &order, &plan.sparsities),
                None => Vec::new(),
            };
            let (raw, diag) = if terms.is_empty() {
                let zero = vec![0.0; plan.sparsities.len()];
                (zero.clone(), zero)
            } else {
                terms_at_half.push(terms[plan.sparsities.len() / 2]);
                // The curves' shape, for the report's evidence (rows only; tables hide
                // `method_layer*` columns): both terms at s = 25 / 50 / 75 %.
                for pct in [25usize, 50, 75] {
                    let j = (pct * (plan.sparsities.len() - 1) + 50) / 100;
                    let t = terms[j];
                    metrics.insert(format!("layer{}_diag_s{pct}", l.info.index), t.diag_fisher);
                    metrics.insert(format!("layer{}_rank1_s{pct}", l.info.index), t.rank1);
                }
                let diag = distortion_of(&terms, false);
                let raw = match g {
                    Some(g) if s.second_order && s.rank1_as_coded => {
                        let coded = rank1_as_coded(&l.grid, w, g, &order, &plan.sparsities);
                        diag.iter().zip(coded).map(|(d, r)| d + r).collect()
                    }
                    _ => distortion_of(&terms, s.second_order),
                };
                (raw, diag)
            };
            let smooth = ema_smooth(&raw, s.smooth);
            powers.push(power_curve(
                &l.kept,
                &plan.sparsities,
                l.grid.num_blocks(),
                l.info.k(),
                s.power.unwrap_or(PowerSign::Intended),
            ));
            orders.push(order);
            raw_curves.push(raw);
            diag_curves.push(diag);
            costs.push(smooth);
        }

        // How the two Taylor terms compare at s = 0.5 (medians over layers): term 2 over
        // term 1, and the share of term 2 that is the damping ½λ‖Δ‖². λ is a fixed 1e-7 while
        // (gᵀΔ)² scales with g², so this balance depends on the scale of g.
        if !terms_at_half.is_empty() {
            let ratio = |f: &dyn Fn(&TaylorTerms) -> f64| {
                median(
                    terms_at_half
                        .iter()
                        .map(f)
                        .filter(|x| x.is_finite())
                        .collect(),
                )
            };
            metrics.insert(
                "rank1_over_diag".into(),
                ratio(&|t: &TaylorTerms| t.rank1 / t.diag_fisher),
            );
            metrics.insert(
                "damping_share".into(),
                ratio(&|t: &TaylorTerms| t.damping / t.rank1),
            );
        }

        // 4. Allocation.
        let beta = match s.power {
            None => 0.0,
            Some(_) if s.power_beta > 0.0 => s.power_beta,
            Some(_) => {
                // LPViT's recalc_lamda_power differentiates both curves with h = 10,
                // whatever --h is.
                let slopes: Vec<Vec<f64>> = costs
                    .iter()
                    .map(|c| allocate::derivative(c, ds, BETA_FD_STEP))
                    .collect();
                let p_slopes: Vec<Vec<f64>> = powers
                    .iter()
                    .map(|p| allocate::derivative(p, ds, BETA_FD_STEP))
                    .collect();
                auto_beta(&slopes, &p_slopes)
            }
        };
        let layer_costs: Vec<LayerCost> = plan
            .layers
            .iter()
            .zip(costs.iter().zip(&powers))
            .map(|(l, (c, p))| LayerCost {
                cost: c.iter().zip(p).map(|(d, p)| d + beta * p).collect(),
                units: l.kept.iter().map(|&k| k as u64 * l.unit).collect(),
                allowed: l.allowed.clone(),
            })
            .collect();
        let unreachable = |how: &str| {
            MethodError::Failed(format!(
                "{how} allocation cannot meet flops_kept {} with these curves; try allocator: dp",
                s.flops_kept
            ))
        };
        let chosen: Allocation = if s.uniform {
            allocate::uniform(&layer_costs, plan.budget_units)
                .ok_or_else(|| unreachable("uniform"))?
        } else {
            let dp =
                allocate::dp(&layer_costs, plan.budget_units).ok_or_else(|| unreachable("DP"))?;
            metrics.insert("objective_dp".into(), dp.objective);
            let bis = allocate::bisect(&layer_costs, ds, s.fd_step, plan.budget_units);
            if let Some(b) = &bis {
                metrics.insert("objective_bisection".into(), b.objective);
            }
            if s.use_dp {
                dp
            } else {
                bis.ok_or_else(|| unreachable("equal-slope"))?
            }
        };
        if s.power.is_some() {
            metrics.insert("power_beta".into(), beta);
        }

        // 5. Masks.
        let mut masks: Masks = BTreeMap::new();
        let mut block_keeps = Vec::new();
        let (mut kept_blocks, mut all_blocks) = (0usize, 0usize);
        let (mut power_kept, mut power_dense) = (0.0f64, 0.0f64);
        for (i, l) in plan.layers.iter().enumerate() {
            let j = chosen.choice[i];
            let nb = l.grid.num_blocks();
            let keep = block_mask(&orders[i], nb - l.kept[j]);
            masks.insert(l.info.name.clone(), l.grid.element_mask(&keep));
            kept_blocks += l.kept[j];
            all_blocks += nb;
            let c = crate::power::column_groups(l.info.k());
            power_kept += l.kept[j] as f64 * c;
            power_dense += nb as f64 * c;
            metrics.insert(
                format!("layer{}_sparsity", l.info.index),
                1.0 - l.kept[j] as f64 / nb as f64,
            );
            block_keeps.push(keep);
        }
        metrics.insert(
            "flops_kept".into(),
            chosen.units as f64 / plan.total_units as f64,
        );
        metrics.insert(
            "block_density".into(),
            kept_blocks as f64 / all_blocks as f64,
        );
        // The power proxy with the intended sign, relative to dense, whatever drove the allocation.
        metrics.insert("power_proxy".into(), power_kept / power_dense);
        let mut network = apply_masks(ctx.baseline.clone(), &masks).map_err(MethodError::Failed)?;
        metrics.insert("prune_s".into(), t0.elapsed().as_secs_f64());

        // Ablation: measured distortion and the additivity assumption.
        if s.measure_distortion {
            let m = measure(
                ctx,
                &s,
                &plan,
                &weights,
                &orders,
                &raw_curves,
                &diag_curves,
                &chosen,
                &network,
            )?;
            metrics.extend(m);
        }

        // 6. Fine-tuning with the masks fixed.
        if s.finetune_epochs > 0 {
            let mut cfg = ctx.train.clone().with_epochs(s.finetune_epochs);
            cfg.lr = s.ft_lr;
            cfg.warmup_epochs = cfg.warmup_epochs.min(0.1);
            if s.ft_images > 0 {
                cfg.train_subset =
                    Some(cfg.train_subset.map_or(s.ft_images, |n| n.min(s.ft_images)));
            }
            let hooks = MaskHooks::new(&masks, &all_layers, ctx.device);
            let (tuned, tlog) = train::fit(
                network,
                &cfg,
                &ctx.data.train,
                ctx.device,
                derive(ctx.seed, &["finetune"]),
                |m: &Network, x| m.forward(x, &hooks),
                log,
            );
            let bad = mask_violations(&tuned, &masks);
            if bad > 0 {
                return Err(MethodError::Failed(format!(
                    "{bad} pruned weights became non-zero during fine-tuning"
                )));
            }
            network = tuned;
            metrics.insert("finetune_s".into(), tlog.train_s);
            notes.push(format!(
                "fine-tuned {} epoch(s) with masks fixed (lr {}{})",
                s.finetune_epochs,
                s.ft_lr,
                cfg.train_subset
                    .map_or(String::new(), |n| format!(", first {n} training images"))
            ));
        }

        // 7. Deploy.
        let mut deployed = network.to_deployed();
        for (l, keep) in plan.layers.iter().zip(block_keeps) {
            let (w, b) = network
                .gemm_weights(&l.info.name)
                .expect("planned layer exists");
            let kernel = deploy_layer(&l.grid, w, b, keep);
            deployed
                .replace_gemm(&l.info.name, |_| kernel)
                .map_err(MethodError::Failed)?;
        }
        deployed.name = format!("{}/block-prune", ctx.model.label());
        notes.push(crate::deploy::KERNEL_NOTE.to_string());
        Ok(Compressed {
            deployed,
            metrics,
            notes,
        })
    }
}

/// The finite-difference step LPViT's code uses for β (`recalc_lamda_power`, h = 10).
const BETA_FD_STEP: usize = 10;

/// The median (0 for no values).
fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    }
}

/// Sparsities at which each layer's distortion is measured for the correlation.
const MEASURE_AT: [f64; 3] = [0.25, 0.5, 0.75];

/// Measured E_x‖f(x; pruned) − f(x)‖² (logits, summed over classes, mean over images) per
/// layer at [`MEASURE_AT`], its rank and linear correlation with the predicted δ_l(s), and
/// the additivity ratio: the joint distortion of the whole allocation over the sum of the
/// layers' distortions at their allocated sparsities.
#[allow(clippy::too_many_arguments)]
fn measure(
    ctx: &MethodCtx,
    s: &Settings,
    plan: &Plan,
    weights: &[(Vec<f32>, Option<Vec<f32>>)],
    orders: &[Vec<usize>],
    raw_curves: &[Vec<f64>],
    diag_curves: &[Vec<f64>],
    chosen: &Allocation,
    pruned: &Network,
) -> Result<BTreeMap<String, f64>, MethodError> {
    let imgs = calibration_subset(
        &ctx.data.train,
        if ctx.quick {
            s.measure_images.min(64)
        } else {
            s.measure_images
        },
        derive(ctx.seed, &["measure"]),
    );
    let n = imgs.len().max(1);
    let mut deployed = ctx.baseline.to_deployed();
    let reference = deployed.forward(&imgs.images, imgs.len());
    let dist = |d: &compbench_nn::DeployedModel| {
        let y = d.forward(&imgs.images, imgs.len());
        y.iter()
            .zip(&reference)
            .map(|(a, b)| ((a - b) as f64).powi(2))
            .sum::<f64>()
            / n as f64
    };
    let swap = |d: &mut compbench_nn::DeployedModel,
                l: &PlannedLayer,
                w: Vec<f32>,
                b: &Option<Vec<f32>>| {
        let kernel: Box<dyn compbench_nn::GemmKernel> =
            Box::new(DenseGemm::new(l.grid.k, l.grid.n, w, b.clone()));
        d.replace_gemm(&l.info.name, |_| kernel)
            .map_err(MethodError::Failed)
    };
    let masked = |l: &PlannedLayer, w: &[f32], pruned_blocks_n: usize, order: &[usize]| {
        let keep = l.grid.element_mask(&block_mask(order, pruned_blocks_n));
        w.iter()
            .zip(&keep)
            .map(|(&x, &k)| if k { x } else { 0.0 })
            .collect::<Vec<f32>>()
    };
    let (mut predicted, mut predicted_diag, mut measured) = (Vec::new(), Vec::new(), Vec::new());
    let mut single_sum = 0.0;
    for (i, l) in plan.layers.iter().enumerate() {
        let (w, b) = &weights[i];
        let nb = l.grid.num_blocks();
        for &sp in &MEASURE_AT {
            let j = ((sp * (plan.sparsities.len() - 1) as f64).round()) as usize;
            swap(
                &mut deployed,
                l,
                masked(l, w, nb - l.kept[j], &orders[i]),
                b,
            )?;
            predicted.push(raw_curves[i][j]);
            predicted_diag.push(diag_curves[i][j]);
            measured.push(dist(&deployed));
        }
        let j = chosen.choice[i];
        swap(
            &mut deployed,
            l,
            masked(l, w, nb - l.kept[j], &orders[i]),
            b,
        )?;
        single_sum += dist(&deployed);
        swap(&mut deployed, l, w.clone(), b)?;
    }
    let joint = dist(&pruned.to_deployed());
    let mut m = BTreeMap::new();
    m.insert(
        "distortion_spearman".into(),
        spearman(&predicted, &measured),
    );
    m.insert("distortion_pearson".into(), pearson(&predicted, &measured));
    // The same with term 1 alone: whether the rank-1 term helps the proxy track the output.
    m.insert(
        "distortion_spearman_term1".into(),
        spearman(&predicted_diag, &measured),
    );
    m.insert("joint_distortion".into(), joint);
    if single_sum > 0.0 {
        m.insert("additivity_ratio".into(), joint / single_sum);
    }
    Ok(m)
}
