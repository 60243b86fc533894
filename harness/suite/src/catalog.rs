//! What a suite may name: the registries, passed in so this crate depends on no plugin crate.

use compbench_core::{HwModel, ParamError, ParamSpec, Params};

/// Cross-parameter check of a method against one model configuration
/// (`Method::check` behind a model-config constructor): `(method params, model id, model params)`.
pub type MethodCheck<'a> = dyn Fn(&Params, &str, &Params) -> Result<(), ParamError> + Sync + 'a;

/// Cross-parameter check of a method against the model it runs on and the teacher it distills
/// from (`Method::check_teacher` behind model-config constructors): `(method params, (model id,
/// model params), the teacher's (model id, params) or None)`. Run for every method entry, with
/// or without a `teacher:`, so a method can also refuse parameters that need one.
pub type TeacherCheck<'a> =
    dyn Fn(&Params, (&str, &Params), Option<(&str, &Params)>) -> Result<(), ParamError> + Sync + 'a;

/// A named plugin with declared parameters (a method, a model, a dataset).
pub struct PluginInfo<'a> {
    pub id: &'static str,
    pub describe: &'static str,
    pub params: &'static [ParamSpec],
    /// Only methods have one.
    pub check: Option<Box<MethodCheck<'a>>>,
    /// Only methods that distill may have one.
    pub teacher_check: Option<Box<TeacherCheck<'a>>>,
}

impl<'a> PluginInfo<'a> {
    pub fn new(id: &'static str, describe: &'static str, params: &'static [ParamSpec]) -> Self {
        PluginInfo {
            id,
            describe,
            params,
            check: None,
            teacher_check: None,
        }
    }

    pub fn with_check(mut self, check: Box<MethodCheck<'a>>) -> Self {
        self.check = Some(check);
        self
    }

    pub fn with_teacher_check(mut self, check: Box<TeacherCheck<'a>>) -> Self {
        self.teacher_check = Some(check);
        self
    }
}

impl std::fmt::Debug for PluginInfo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginInfo")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Everything validation looks names up in.
#[derive(Default)]
pub struct Catalog<'a> {
    pub methods: Vec<PluginInfo<'a>>,
    pub models: Vec<PluginInfo<'a>>,
    pub datasets: Vec<PluginInfo<'a>>,
    pub hwmodels: Vec<&'a dyn HwModel>,
    /// Parameters every method entry that names a `teacher:` also takes (the distillation
    /// temperature and weight), checked and swept like the method's own.
    pub teacher_params: &'static [ParamSpec],
}

impl std::fmt::Debug for Catalog<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field(
                "methods",
                &self.methods.iter().map(|p| p.id).collect::<Vec<_>>(),
            )
            .field(
                "models",
                &self.models.iter().map(|p| p.id).collect::<Vec<_>>(),
            )
            .field(
                "datasets",
                &self.datasets.iter().map(|p| p.id).collect::<Vec<_>>(),
            )
            .field(
                "hwmodels",
                &self.hwmodels.iter().map(|h| h.id()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Which registry an entry is looked up in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Models,
    Methods,
    HwModels,
    /// `teachers:`: model entries (looked up in the models) that methods distill from.
    Teachers,
}

impl Section {
    pub fn key(self) -> &'static str {
        match self {
            Section::Models => "models",
            Section::Methods => "methods",
            Section::HwModels => "hwmodels",
            Section::Teachers => "teachers",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Section::Models => "model",
            Section::Methods => "method",
            Section::HwModels => "hardware model",
            Section::Teachers => "teacher model",
        }
    }
}

/// Ids that changed when every id became kebab-case: (old, new). A suite that still uses an old
/// id is refused with the new one named.
pub const RENAMED_IDS: &[(&str, &str)] = &[
    ("block_sparse", "block-sparse"),
    ("gpu_roofline", "gpu-roofline"),
];

impl Catalog<'_> {
    /// The parameters of plugin `id` in `section`, or an error listing the valid ids.
    pub fn params(&self, section: Section, id: &str) -> Result<&'static [ParamSpec], String> {
        let found = match section {
            Section::Models | Section::Teachers => {
                self.models.iter().find(|p| p.id == id).map(|p| p.params)
            }
            Section::Methods => self.methods.iter().find(|p| p.id == id).map(|p| p.params),
            Section::HwModels => self
                .hwmodels
                .iter()
                .find(|h| h.id() == id)
                .map(|h| h.params()),
        };
        found.ok_or_else(|| {
            let renamed = RENAMED_IDS
                .iter()
                .find(|(old, _)| *old == id)
                .map(|(_, new)| format!("; `{id}` was renamed to `{new}`"))
                .unwrap_or_default();
            format!(
                "unknown {} `{id}` (valid ids are: {}){renamed}",
                section.noun(),
                self.ids(section).join(", ")
            )
        })
    }

    pub fn ids(&self, section: Section) -> Vec<&'static str> {
        match section {
            Section::Models | Section::Teachers => self.models.iter().map(|p| p.id).collect(),
            Section::Methods => self.methods.iter().map(|p| p.id).collect(),
            Section::HwModels => self.hwmodels.iter().map(|h| h.id()).collect(),
        }
    }

    pub fn method(&self, id: &str) -> Option<&PluginInfo<'_>> {
        self.methods.iter().find(|p| p.id == id)
    }

    pub fn hwmodel(&self, id: &str) -> Option<&dyn HwModel> {
        self.hwmodels.iter().find(|h| h.id() == id).copied()
    }

    pub fn has_dataset(&self, id: &str) -> bool {
        self.datasets.iter().any(|d| d.id == id)
    }
}
