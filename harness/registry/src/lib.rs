//! The static lists of methods, hardware models, models and datasets: one line per plugin.
//!
//! rust-analyzer's assists list, not a linker trick: adding a method is one crate plus one line
//! in [`methods`]. Everything that names plugins (suite validation, `compbench list`, the
//! runner) reads these lists, so a plugin is described once, by itself.
//!
//! API boundary: lookups return "unknown X `id` (valid ids are: ...)" errors; nothing here
//! prints or does IO.
//!
//! The crate's code map and invariants follow (from its ARCHITECTURE.md).
#![doc = include_str!("../ARCHITECTURE.md")]

use std::sync::OnceLock;

use compbench_core::{Dataset, Family, HwModel, ParamError, ParamSpec, Params, Value};
use compbench_nn::{Method, ModelConfig, ModelKind, TrainConfig};
use compbench_suite::{Catalog, PluginInfo};

/// Every compression method, in listing order.
pub fn methods() -> &'static [&'static dyn Method] {
    static ALL: OnceLock<Vec<&'static dyn Method>> = OnceLock::new();
    ALL.get_or_init(|| {
        static IDENTITY: compbench_nn::Identity = compbench_nn::Identity;
        [&IDENTITY as &'static dyn Method]
            .into_iter()
            // One line per method crate:
            .chain(compbench_scalar_quant::all().iter().copied())
            .chain(compbench_lutboost::all().iter().copied())
            .chain(compbench_magnitude_prune::all().iter().copied())
            .chain(compbench_block_prune::all().iter().copied())
            .chain(compbench_nonlinear::all().iter().copied())
            .chain(compbench_he::all().iter().copied())
            // External-process methods: manifests in $COMPBENCH_PLUGINS or ./plugins.
            .chain(compbench_external::discover())
            .chain(compbench_distill::all().iter().copied())
            .collect()
    })
}

/// A registered method that declares no survey family ([`Method::family`] is `None`: an
/// external method whose manifest did not load).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "method{} {} declare{} no survey family (Method::family; an external method's manifest \
     `family:`, one of: {})",
    if .ids.len() == 1 { "" } else { "s" },
    .ids.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", "),
    if .ids.len() == 1 { "s" } else { "" },
    Family::valid_ids()
)]
pub struct NoFamily {
    pub ids: Vec<String>,
}

/// The survey's taxonomy of the registered methods: every [`Family`] (in `Family::ALL` order)
/// with its methods (in listing order; a family without methods has an empty list). Each method
/// appears exactly once: an id listed twice resolves to its first entry (a native method
/// shadows an external one), as [`method`] does. `Err` names every method without a family.
pub fn taxonomy() -> Result<Vec<(Family, Vec<&'static dyn Method>)>, NoFamily> {
    taxonomy_of(methods())
}

/// [`taxonomy`] over any list of methods.
pub fn taxonomy_of(
    list: &[&'static dyn Method],
) -> Result<Vec<(Family, Vec<&'static dyn Method>)>, NoFamily> {
    let mut seen: Vec<&str> = Vec::new();
    let mut missing = Vec::new();
    let mut out: Vec<(Family, Vec<&'static dyn Method>)> =
        Family::ALL.iter().map(|&f| (f, Vec::new())).collect();
    for &m in list {
        if seen.contains(&m.id()) {
            continue;
        }
        seen.push(m.id());
        match m.family() {
            Some(f) => out
                .iter_mut()
                .find(|(g, _)| *g == f)
                .expect("Family::ALL lists every family")
                .1
                .push(m),
            None => missing.push(m.id().to_string()),
        }
    }
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(NoFamily { ids: missing })
    }
}

/// `(method id, family)` of every registered method with a family, in listing order: what
/// reports list as "not run" when a survey's results lack a method.
pub fn method_families() -> Vec<(&'static str, Family)> {
    let mut out: Vec<(&'static str, Family)> = Vec::new();
    for m in methods() {
        if let Some(f) = m.family()
            && !out.iter().any(|(id, _)| *id == m.id())
        {
            out.push((m.id(), f));
        }
    }
    out
}

/// Every hardware model, in listing order.
pub fn hwmodels() -> &'static [&'static dyn HwModel] {
    compbench_hwmodels::all()
}

/// Per-operation cost benchmarks of homomorphic encryption (`compbench bench he`): the method
/// crate that owns the HE backend times its operations at the given BFV points (degree, log q,
/// plaintext bits); the CLI names no method crate. One line per HE backend.
pub fn he_op_bench(
    points: &[(usize, u32, u32)],
    quick: bool,
    log: &dyn Fn(&str),
) -> Result<Vec<compbench_core::HeOpSeconds>, String> {
    let points: Vec<compbench_he::bfv::HeParams> = points
        .iter()
        .map(|&(degree, log_q, plain_bits)| compbench_he::bfv::HeParams {
            degree,
            log_q,
            plain_bits,
        })
        .collect();
    compbench_he::bench::measure(&points, quick, log)
}

/// The BFV points `compbench bench he` times by default: the he suite's (degree, log q,
/// plaintext bits).
pub fn he_op_bench_points() -> Vec<(usize, u32, u32)> {
    compbench_he::bench::SUITE_POINTS
        .iter()
        .map(|p| (p.degree, p.log_q, p.plain_bits))
        .collect()
}

/// Every dataset, in listing order.
pub fn datasets() -> &'static [&'static dyn Dataset] {
    compbench_nn::data::all()
}

/// A model of the zoo as a suite sees it: its architecture knobs plus the training recipe's.
#[derive(Debug, Clone, Copy)]
pub struct ModelInfo {
    pub kind: ModelKind,
    pub id: &'static str,
    pub describe: &'static str,
    /// Architecture parameters followed by [`TRAIN_PARAMS`] (`p_model_<name>` columns).
    pub params: &'static [ParamSpec],
}

/// Training-recipe parameters every model takes. 0 means "the model's recipe" (see
/// `TrainConfig::for_model`, shortened by `--quick`), so a quick run can shorten a default
/// recipe without the suite spelling one out.
pub const TRAIN_PARAMS: &[ParamSpec] = &[
    ParamSpec::int(
        "epochs",
        0,
        0,
        1000,
        "training epochs; 0 = the model's recipe (mlp 15, cnn 10, vit 4; 1 with --quick)",
    ),
    ParamSpec::int(
        "batch_size",
        0,
        0,
        4096,
        "mini-batch size; 0 = the recipe's (128)",
    ),
    ParamSpec::float("lr", 0.0, 0.0, 1.0, "peak learning rate; 0 = the recipe's"),
    ParamSpec::int(
        "train_subset",
        0,
        0,
        100_000_000,
        "train on the first n examples; 0 = all (12 800 with --quick)",
    ),
];

/// Every model of the zoo, in listing order.
pub fn models() -> &'static [ModelInfo] {
    static ALL: OnceLock<Vec<ModelInfo>> = OnceLock::new();
    ALL.get_or_init(|| {
        ModelKind::ALL
            .iter()
            .map(|&kind| {
                let params: Vec<ParamSpec> =
                    kind.params().iter().chain(TRAIN_PARAMS).copied().collect();
                // Built once per process; the suite API wants 'static slices like the plugins'.
                let params: &'static [ParamSpec] = Box::leak(params.into_boxed_slice());
                ModelInfo {
                    kind,
                    id: kind.name(),
                    describe: kind.describe(),
                    params,
                }
            })
            .collect()
    })
}

/// An id that is not in a list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{id}` (valid ids are: {valid})")]
pub struct UnknownId {
    pub what: &'static str,
    pub id: String,
    pub valid: String,
}

fn lookup<T: Copy>(
    what: &'static str,
    id: &str,
    items: impl Iterator<Item = (&'static str, T)> + Clone,
) -> Result<T, UnknownId> {
    items
        .clone()
        .find(|(i, _)| *i == id)
        .map(|(_, t)| t)
        .ok_or_else(|| UnknownId {
            what,
            id: id.to_string(),
            valid: items.map(|(i, _)| i).collect::<Vec<_>>().join(", "),
        })
}

pub fn method(id: &str) -> Result<&'static dyn Method, UnknownId> {
    lookup("method", id, methods().iter().map(|m| (m.id(), *m)))
}

pub fn hwmodel(id: &str) -> Result<&'static dyn HwModel, UnknownId> {
    lookup(
        "hardware model",
        id,
        hwmodels().iter().map(|h| (h.id(), *h)),
    )
}

pub fn dataset(id: &str) -> Result<&'static dyn Dataset, UnknownId> {
    lookup("dataset", id, datasets().iter().map(|d| (d.id(), *d)))
}

pub fn model(id: &str) -> Result<&'static ModelInfo, UnknownId> {
    lookup("model", id, models().iter().map(|m| (m.id, m)))
}

/// The architecture of model `kind` from resolved suite parameters (training knobs ignored).
pub fn model_config(kind: ModelKind, params: &Params) -> Result<ModelConfig, ParamError> {
    let arch: Params = Params(
        params
            .0
            .iter()
            .filter(|(k, _)| kind.params().iter().any(|s| s.name == k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    );
    ModelConfig::from_params(kind, &arch)
}

/// The training recipe of model `kind` from resolved suite parameters: the model's recipe,
/// shortened when `quick`, then every non-zero [`TRAIN_PARAMS`] value applied.
pub fn train_config(kind: ModelKind, params: &Params, quick: bool) -> TrainConfig {
    let base = TrainConfig::for_model(kind);
    let mut t = if quick { base.quick() } else { base };
    let int = |n: &str| match params.get(n) {
        Some(Value::Int(i)) if *i > 0 => Some(*i as usize),
        _ => None,
    };
    if let Some(e) = int("epochs") {
        t.epochs = e;
    }
    if let Some(b) = int("batch_size") {
        t.batch_size = b;
    }
    if let Some(n) = int("train_subset") {
        t.train_subset = Some(n);
    }
    if let Some(Value::Float(lr)) = params.get("lr")
        && *lr > 0.0
    {
        t.lr = *lr;
    }
    t
}

/// The lists as a suite-validation [`Catalog`], with each method's cross-parameter check
/// (`Method::check` against the model configuration) wired in.
pub fn catalog() -> Catalog<'static> {
    Catalog {
        methods: methods()
            .iter()
            .map(|&m| {
                PluginInfo::new(m.id(), m.describe(), m.params())
                    .with_check(Box::new(move |p: &Params, model: &str, mp: &Params| {
                        let Ok(info) = crate::model(model) else {
                            return Ok(());
                        };
                        let cfg = model_config(info.kind, mp)?;
                        m.check(p, &cfg)?;
                        match m.family() {
                            Some(_) => Ok(()),
                            None => Err(ParamError::Constraint {
                                param: "family".into(),
                                message: NoFamily {
                                    ids: vec![m.id().to_string()],
                                }
                                .to_string(),
                            }),
                        }
                    }))
                    .with_teacher_check(Box::new(
                        move |p: &Params,
                              (model, mp): (&str, &Params),
                              teacher: Option<(&str, &Params)>| {
                            // Unknown ids are reported by validation already.
                            let Ok(info) = crate::model(model) else {
                                return Ok(());
                            };
                            let cfg = model_config(info.kind, mp)?;
                            let teacher = match teacher {
                                Some((id, tp)) => match crate::model(id) {
                                    Ok(t) => Some(model_config(t.kind, tp)?),
                                    Err(_) => return Ok(()),
                                },
                                None => None,
                            };
                            m.check_teacher(p, &cfg, teacher.as_ref())
                        },
                    ))
            })
            .collect(),
        models: models()
            .iter()
            .map(|m| PluginInfo::new(m.id, m.describe, m.params))
            .collect(),
        datasets: datasets()
            .iter()
            .map(|d| PluginInfo::new(d.id(), d.describe(), &[]))
            .collect(),
        hwmodels: hwmodels().to_vec(),
        teacher_params: compbench_nn::distill::TEACHER_PARAMS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_lookups_list_valid_ids() {
        let mut ids: Vec<&str> = methods().iter().map(|m| m.id()).collect();
        ids.sort();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate method id");
        let e = method("nope").map(|_| ()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("unknown method `nope` (valid ids are: identity"),
            "{e}"
        );
        assert!(model("mlp").is_ok());
        assert!(dataset("synthetic").is_ok());
    }

    /// Every registered method has a survey family and appears exactly once in the taxonomy.
    #[test]
    fn every_method_has_a_family_and_is_listed_exactly_once() {
        let taxonomy = taxonomy().unwrap_or_else(|e| panic!("{e}"));
        let listed: Vec<&str> = taxonomy
            .iter()
            .flat_map(|(_, ms)| ms.iter().map(|m| m.id()))
            .collect();
        for m in methods() {
            let n = listed.iter().filter(|id| **id == m.id()).count();
            assert_eq!(n, 1, "`{}` is listed {n} times in the taxonomy", m.id());
            let (family, _) = taxonomy
                .iter()
                .find(|(_, ms)| ms.iter().any(|x| x.id() == m.id()))
                .unwrap();
            assert_eq!(Some(*family), m.family());
        }
        assert_eq!(listed.len(), methods().len());
        assert_eq!(
            method_families().len(),
            listed.len(),
            "method_families lists the same methods"
        );
        // The survey's families each have a native method here.
        for f in Family::ALL {
            assert!(
                taxonomy.iter().any(|(g, ms)| *g == f && !ms.is_empty()),
                "no method of family {f}"
            );
        }
    }

    /// A method without a family is an error naming it (an external method whose manifest does
    /// not load is one), and so is a suite that uses it.
    #[test]
    fn a_method_without_a_family_is_a_registry_error() {
        let dir = std::env::temp_dir().join(format!("compbench-nofamily-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("broken-one")).unwrap();
        let manifest = dir.join("broken-one").join("manifest.yaml");
        std::fs::write(
            &manifest,
            "protocol: 1\nid: broken-one\ndescription: d\ncommand: [sh]\n",
        )
        .unwrap();
        let broken = compbench_external::load(&manifest);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(broken.family(), None);
        let mut list: Vec<&'static dyn Method> = methods().to_vec();
        list.push(broken);
        let e = taxonomy_of(&list).map(|_| ()).unwrap_err();
        assert_eq!(e.ids, ["broken-one"]);
        let text = e.to_string();
        assert!(
            text.starts_with("method `broken-one` declares no survey family")
                && text.contains("scalar-quantization"),
            "{text}"
        );
        // An id listed twice is one method (the first entry wins, as lookups do).
        let twice: Vec<&'static dyn Method> = vec![methods()[0], methods()[0]];
        let t = taxonomy_of(&twice).unwrap();
        assert_eq!(t.iter().map(|(_, ms)| ms.len()).sum::<usize>(), 1);
    }

    /// `compbench list models` prints this help; it must name the epochs the code really uses.
    #[test]
    fn epochs_help_names_each_models_recipe() {
        let help = TRAIN_PARAMS
            .iter()
            .find(|p| p.name == "epochs")
            .unwrap()
            .doc;
        for kind in ModelKind::ALL {
            let text = format!("{} {}", kind.name(), TrainConfig::for_model(kind).epochs);
            assert!(help.contains(&text), "`{help}` does not say `{text}`");
        }
    }

    #[test]
    fn quick_recipe_is_shorter_and_explicit_values_win() {
        let info = model("mlp").unwrap();
        let p = Params::defaults(info.params);
        assert_eq!(train_config(ModelKind::Mlp, &p, true).epochs, 1);
        let mut p2 = p.clone();
        p2.set("epochs", Value::Int(3));
        assert_eq!(train_config(ModelKind::Mlp, &p2, true).epochs, 3);
        assert_eq!(
            train_config(ModelKind::Mlp, &p, false).epochs,
            TrainConfig::for_model(ModelKind::Mlp).epochs
        );
    }
}
