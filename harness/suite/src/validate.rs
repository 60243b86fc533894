//! Raw suite → checked [`Suite`]: every rule of the format, all problems collected.

use std::collections::{BTreeMap, HashSet};

use compbench_core::{ParamError, ParamSpec, Params, Value};
use serde_saphyr::{Location, Spanned};

use crate::catalog::{Catalog, Section};
use crate::diag::{Diagnostic, SuiteErrors};
use crate::grid::{Axis, Grid, MAX_POINTS};
use crate::raw::{LabeledMap, ParamMap, ParamValue, RawEntry, RawQuick, RawSuite, S};
use compbench_core::metrics;

use crate::{Entry, MAX_EXPERIMENTS, MAX_HW_BATCH, Quick, SCHEMA_VERSION, Suite};

/// Collects diagnostics for one file.
pub(crate) struct Diags<'f> {
    pub file: &'f str,
    pub out: Vec<Diagnostic>,
}

impl Diags<'_> {
    pub fn at(&mut self, loc: &Location, field: impl Into<String>, message: impl Into<String>) {
        self.out.push(Diagnostic {
            file: self.file.to_string(),
            line: loc.line(),
            col: loc.column(),
            field: field.into(),
            message: message.into(),
        });
    }
}

/// Names of suites, labels: safe in paths, CSV cells and HTML without surprises.
fn check_name(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a valid name: use 1-64 letters, digits, `-`, `_`, `.` or `+`, starting with a letter or digit"
        ))
    }
}

pub(crate) fn validate(raw: RawSuite, file: &str, catalog: &Catalog) -> Result<Suite, SuiteErrors> {
    let mut d = Diags {
        file,
        out: Vec::new(),
    };

    if raw.schema_version.value != SCHEMA_VERSION {
        d.at(
            &raw.schema_version.referenced,
            "schema_version",
            format!(
                "unsupported schema_version {} (this compbench reads {SCHEMA_VERSION})",
                raw.schema_version.value
            ),
        );
    }
    if let Err(m) = check_name(&raw.name.value) {
        d.at(&raw.name.referenced, "name", m);
    }

    let datasets = check_datasets(&mut d, &raw.datasets, catalog);
    let seeds = check_seeds(&mut d, &raw.seeds, "seeds");
    let hw_batch = check_hw_batch(&mut d, raw.hw_batch.as_ref(), "hw_batch");
    let metrics = check_metrics(&mut d, raw.metrics.as_ref());

    let models = check_section(&mut d, Section::Models, Some(&raw.models), catalog);
    let methods = check_section(&mut d, Section::Methods, Some(&raw.methods), catalog);
    let hwmodels = check_section(&mut d, Section::HwModels, raw.hwmodels.as_ref(), catalog);
    let teachers = check_section(&mut d, Section::Teachers, raw.teachers.as_ref(), catalog);

    let mut quick = Quick::default();
    let (mut models, mut methods, mut hwmodels, mut teachers) =
        (models, methods, hwmodels, teachers);
    if let Some(q) = &raw.quick {
        quick = check_quick(
            &mut d,
            &q.value,
            [&mut models, &mut methods, &mut hwmodels, &mut teachers],
        );
    }

    if raw.hwmodels.is_none() {
        let quick_batch = raw.quick.as_ref().and_then(|q| q.value.hw_batch.as_ref());
        for (given, field) in [
            (raw.hw_batch.as_ref(), "hw_batch"),
            (quick_batch, "quick.hw_batch"),
        ] {
            if let Some(b) = given {
                d.at(
                    &b.referenced,
                    field,
                    "the suite prices no hardware: add `hwmodels` or drop `hw_batch`",
                );
            }
        }
    }

    // Resolve every point (defaults filled) in both modes, then the cross-parameter checks.
    let models = resolve_all(&mut d, models);
    let methods = resolve_all(&mut d, methods);
    let hwmodels = resolve_all(&mut d, hwmodels);
    let teachers = resolve_all(&mut d, teachers);
    check_teachers(&mut d, &methods, &teachers, raw.teachers.as_ref());
    check_pairs(&mut d, &models, &methods);
    check_hw_build(&mut d, &hwmodels, catalog);
    check_method_vs_model(&mut d, &methods, &models, catalog);
    if d.out.is_empty() {
        check_method_vs_teacher(&mut d, &methods, &models, &teachers, catalog);
    }

    if d.out.is_empty() {
        check_totals(
            &mut d,
            &raw.name.referenced,
            datasets.len(),
            &seeds,
            quick.seeds.as_deref(),
            (hw_batch.as_deref(), quick.hw_batch.as_deref()),
            &models,
            &methods,
            &hwmodels,
        );
    }
    if !d.out.is_empty() {
        d.out.sort_by_key(|x| (x.line, x.col));
        d.out.dedup();
        return Err(SuiteErrors(d.out));
    }
    Ok(Suite {
        file: file.to_string(),
        name: raw.name.value,
        paper: raw.paper.map(|p| p.value).unwrap_or_default(),
        description: raw.description.map(|p| p.value).unwrap_or_default(),
        datasets,
        models: models.into_iter().map(|e| e.entry).collect(),
        methods: methods.into_iter().map(|e| e.entry).collect(),
        teachers: teachers.into_iter().map(|e| e.entry).collect(),
        hwmodels: hwmodels.into_iter().map(|e| e.entry).collect(),
        hw_batch: hw_batch.unwrap_or_else(|| vec![1]),
        seeds,
        metrics,
        quick,
    })
}

/// The whole suite must stay a size a machine can plan: experiments and priced hardware
/// configurations (× pricing batches) are counted in both modes.
#[allow(clippy::too_many_arguments)]
fn check_totals(
    d: &mut Diags,
    at: &Location,
    datasets: usize,
    seeds: &[u64],
    quick_seeds: Option<&[u64]>,
    (batches, quick_batches): (Option<&[u64]>, Option<&[u64]>),
    models: &[Draft],
    methods: &[Draft],
    hwmodels: &[Draft],
) {
    for (mode, full) in [("full", true), ("quick", false)] {
        let n = |x: &Draft| -> u64 {
            (if full {
                x.entry.full.len()
            } else {
                x.entry.quick.len()
            }) as u64
        };
        let pts = |ds: &[Draft]| -> u64 { ds.iter().map(n).sum() };
        let nseeds = if full {
            seeds.len()
        } else {
            quick_seeds.map_or(seeds.len(), |s| s.len())
        } as u64;
        // Model points × method points over the (model, method) pairs that run.
        let pairs: u64 = models
            .iter()
            .flat_map(|a| methods.iter().map(move |b| (a, b)))
            .filter(|(a, b)| crate::pairs(&a.entry, &b.entry))
            .map(|(a, b)| n(a).saturating_mul(n(b)))
            .fold(0u64, u64::saturating_add);
        let experiments = (datasets as u64)
            .saturating_mul(pairs)
            .saturating_mul(nseeds);
        if experiments > MAX_EXPERIMENTS {
            d.at(at, "", format!("the suite expands to {experiments} experiments in {mode} mode; the limit is {MAX_EXPERIMENTS}"));
        }
        let nbatches = if full {
            batches
        } else {
            quick_batches.or(batches)
        }
        .map_or(1, |b| b.len()) as u64;
        let priced = pts(hwmodels).saturating_mul(nbatches);
        if priced > MAX_POINTS {
            d.at(at, "", format!("the suite has {priced} (hardware configuration, hw_batch) pairs in {mode} mode; the limit is {MAX_POINTS}"));
        }
    }
}

fn check_datasets(d: &mut Diags, raw: &S<Vec<S<String>>>, catalog: &Catalog) -> Vec<String> {
    if raw.value.is_empty() {
        d.at(
            &raw.referenced,
            "datasets",
            "empty list: name at least one dataset",
        );
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, ds) in raw.value.iter().enumerate() {
        let field = format!("datasets[{i}]");
        if !catalog.has_dataset(&ds.value) {
            let valid: Vec<_> = catalog.datasets.iter().map(|p| p.id).collect();
            d.at(
                &ds.referenced,
                field,
                format!(
                    "unknown dataset `{}` (valid ids are: {})",
                    ds.value,
                    valid.join(", ")
                ),
            );
        } else if !seen.insert(ds.value.clone()) {
            d.at(
                &ds.referenced,
                field,
                format!("duplicate dataset `{}`", ds.value),
            );
        } else {
            out.push(ds.value.clone());
        }
    }
    out
}

fn check_seeds(d: &mut Diags, raw: &S<Vec<S<i64>>>, field: &str) -> Vec<u64> {
    if raw.value.is_empty() {
        d.at(&raw.referenced, field, "empty list: give at least one seed");
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, s) in raw.value.iter().enumerate() {
        let f = format!("{field}[{i}]");
        if s.value < 0 {
            d.at(
                &s.referenced,
                f,
                format!(
                    "seed {} is out of range (allowed: an integer in [0, {}])",
                    s.value,
                    i64::MAX
                ),
            );
        } else if !seen.insert(s.value) {
            d.at(&s.referenced, f, format!("duplicate seed {}", s.value));
        } else {
            out.push(s.value as u64);
        }
    }
    out
}

/// `hw_batch`: a positive integer or a non-empty list of distinct ones, at most
/// [`MAX_HW_BATCH`]. `None` when absent (or when it has errors, which are reported).
fn check_hw_batch(d: &mut Diags, raw: Option<&S<ParamValue>>, field: &str) -> Option<Vec<u64>> {
    let raw = raw?;
    let allowed = format!("allowed: an integer in [1, {MAX_HW_BATCH}]");
    let check = |d: &mut Diags, v: &Value, loc: &Location, f: String| -> Option<u64> {
        match v {
            Value::Int(b) if (1..=MAX_HW_BATCH as i64).contains(b) => Some(*b as u64),
            Value::Int(b) => {
                d.at(loc, f, format!("batch {b} is out of range ({allowed})"));
                None
            }
            other => {
                d.at(
                    loc,
                    f,
                    format!("batch `{other}` is not an integer ({allowed})"),
                );
                None
            }
        }
    };
    match &raw.value {
        ParamValue::One(v) => check(d, v, &raw.referenced, field.to_string()).map(|b| vec![b]),
        ParamValue::List(xs) => {
            if xs.is_empty() {
                d.at(
                    &raw.referenced,
                    field,
                    "empty list: give at least one batch size (or omit `hw_batch` for batch 1)",
                );
                return None;
            }
            let mut out = Vec::new();
            let mut ok = true;
            for (i, x) in xs.iter().enumerate() {
                let f = format!("{field}[{i}]");
                match check(d, &x.value.0, &x.referenced, f.clone()) {
                    Some(b) if out.contains(&b) => {
                        d.at(&x.referenced, f, format!("duplicate batch {b}"));
                        ok = false;
                    }
                    Some(b) => out.push(b),
                    None => ok = false,
                }
            }
            ok.then_some(out)
        }
    }
}

fn check_metrics(d: &mut Diags, raw: Option<&S<Vec<S<String>>>>) -> Vec<String> {
    // Omitted: empty, which reports read as "every metric".
    let Some(raw) = raw else {
        return Vec::new();
    };
    if raw.value.is_empty() {
        d.at(
            &raw.referenced,
            "metrics",
            "empty list: omit `metrics` to report all of them",
        );
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, m) in raw.value.iter().enumerate() {
        let f = format!("metrics[{i}]");
        let known = metrics::metric(&m.value).is_some()
            || (m.value.starts_with("method_") && m.value.len() > 7);
        if !known {
            d.at(
                &m.referenced,
                f,
                format!(
                    "unknown metric `{}` (valid: {}, or method_<name>)",
                    m.value,
                    metrics::names().collect::<Vec<_>>().join(", ")
                ),
            );
        } else if !seen.insert(m.value.clone()) {
            d.at(&m.referenced, f, format!("duplicate metric `{}`", m.value));
        } else {
            out.push(m.value.clone());
        }
    }
    out
}

/// An entry while validating: its grids, where its params were written, and its points.
pub(crate) struct Draft {
    pub entry: Entry,
    pub field: String,
    pub loc: Location,
    /// The entry's parameters: its plugin's, plus the catalog's teacher parameters for a
    /// method that names a teacher.
    pub specs: Vec<ParamSpec>,
    /// Methods only: the `teachers:` label named, and where.
    pub teacher: Option<(String, Location)>,
    /// The `methods:` (model entries) or `models:` (method entries) labels, each with where it
    /// was written, and where the list was written.
    pub only: Option<(Vec<(String, Location)>, Location)>,
    pub full: Grid,
    pub quick: Grid,
    /// Where each parameter name was written (for errors found after expansion).
    pub param_locs: BTreeMap<String, Location>,
    /// False when the entry had errors: kept only so `quick:` can name its label.
    pub ok: bool,
}

fn check_section(
    d: &mut Diags,
    section: Section,
    raw: Option<&S<Vec<S<RawEntry>>>>,
    catalog: &Catalog,
) -> Vec<Draft> {
    let key = section.key();
    let Some(raw) = raw else { return Vec::new() };
    if raw.value.is_empty() {
        let hint = if section == Section::HwModels {
            "omit `hwmodels` to price no hardware"
        } else if section == Section::Teachers {
            "omit `teachers` when no method distills"
        } else {
            "give at least one entry"
        };
        d.at(&raw.referenced, key, format!("empty list: {hint}"));
    }
    let mut labels: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    for (i, e) in raw.value.iter().enumerate() {
        let field = format!("{key}[{i}]");
        let entry = &e.value;
        let label = entry
            .label
            .as_ref()
            .map_or(entry.id.value.clone(), |l| l.value.clone());
        let label_loc = entry
            .label
            .as_ref()
            .map_or(entry.id.referenced, |l| l.referenced);
        let label_field = if entry.label.is_some() {
            format!("{field}.label")
        } else {
            format!("{field}.id")
        };
        if let Err(m) = check_name(&label) {
            d.at(&label_loc, label_field.clone(), m);
        } else if !labels.insert(label.clone()) {
            d.at(
                &label_loc,
                label_field,
                format!("duplicate label `{label}` in {key}: give one of the entries a distinct `label:`"),
            );
        }
        let teacher = entry
            .teacher
            .as_ref()
            .map(|t| (t.value.clone(), t.referenced));
        if let (Some((_, loc)), false) = (&teacher, section == Section::Methods) {
            d.at(
                loc,
                format!("{field}.teacher"),
                format!("only method entries take a `teacher` (this is a {key} entry)"),
            );
        }
        let only = check_only(d, section, &field, entry);
        let mut param_locs = BTreeMap::new();
        let (specs, grid) = match catalog.params(section, &entry.id.value) {
            Ok(specs) => {
                let mut specs = specs.to_vec();
                if section == Section::Methods && teacher.is_some() {
                    specs.extend(
                        catalog
                            .teacher_params
                            .iter()
                            .filter(|t| !specs.iter().any(|s| s.name == t.name))
                            .copied()
                            .collect::<Vec<_>>(),
                    );
                }
                let grid = check_grid(d, &field, entry, &specs, &mut param_locs);
                (specs, grid)
            }
            Err(m) => {
                d.at(&entry.id.referenced, format!("{field}.id"), m);
                (Vec::new(), None)
            }
        };
        let ok = grid.is_some();
        let g = grid.unwrap_or_default();
        out.push(Draft {
            entry: Entry {
                id: entry.id.value.clone(),
                label,
                full: Vec::new(),
                quick: Vec::new(),
                teacher: teacher.as_ref().map(|(t, _)| t.clone()),
                only: only
                    .as_ref()
                    .map(|(l, _)| l.iter().map(|(x, _)| x.clone()).collect()),
            },
            field,
            loc: e.referenced,
            specs,
            teacher,
            only,
            quick: g.clone(),
            full: g,
            param_locs,
            ok,
        });
    }
    out
}

/// A model entry's `methods:` or a method entry's `models:` list: present only where it
/// belongs, not empty, no duplicates, every label a valid name. Which labels exist is checked
/// once both sections are read ([`check_pairs`]).
fn check_only(
    d: &mut Diags,
    section: Section,
    field: &str,
    entry: &RawEntry,
) -> Option<(Vec<(String, Location)>, Location)> {
    let key = section.key();
    // (the list, its name, the section it belongs in, what it means)
    let lists = [
        (
            &entry.methods,
            "methods",
            Section::Models,
            "the method labels the model runs",
        ),
        (
            &entry.models,
            "models",
            Section::Methods,
            "the model labels the method runs on",
        ),
    ];
    let mut own = None;
    for (list, name, belongs, meaning) in lists {
        let Some(list) = list else { continue };
        if section != belongs {
            d.at(
                &list.referenced,
                format!("{field}.{name}"),
                format!(
                    "only {} entries take `{name}:` ({meaning}); this is a {key} entry",
                    belongs.key().trim_end_matches('s')
                ),
            );
        } else {
            own = Some((list, name));
        }
    }
    let (list, name) = own?;
    if list.value.is_empty() {
        d.at(
            &list.referenced,
            format!("{field}.{name}"),
            format!("empty list: omit `{name}` to pair the entry with every one"),
        );
        return None;
    }
    let mut out: Vec<(String, Location)> = Vec::new();
    for (i, l) in list.value.iter().enumerate() {
        let f = format!("{field}.{name}[{i}]");
        if out.iter().any(|(x, _)| *x == l.value) {
            d.at(&l.referenced, f, format!("duplicate label `{}`", l.value));
        } else {
            out.push((l.value.clone(), l.referenced));
        }
    }
    Some((out, list.referenced))
}

/// Every label in a `methods:` / `models:` list names an entry of the other section, and every
/// model runs some method and every method some model.
fn check_pairs(d: &mut Diags, models: &[Draft], methods: &[Draft]) {
    for (side, others, other_key, name) in [
        (models, methods, "methods", "methods"),
        (methods, models, "models", "models"),
    ] {
        for draft in side {
            let Some((labels, _)) = &draft.only else {
                continue;
            };
            for (i, (label, loc)) in labels.iter().enumerate() {
                if !others.iter().any(|o| &o.entry.label == label) {
                    let valid: Vec<&str> = others.iter().map(|o| o.entry.label.as_str()).collect();
                    d.at(
                        loc,
                        format!("{}.{name}[{i}]", draft.field),
                        format!(
                            "no entry labelled `{label}` in {other_key} (labels are: {})",
                            valid.join(", ")
                        ),
                    );
                }
            }
        }
    }
    if !d.out.is_empty() {
        return;
    }
    for (side, others, what, other_what, own_list, other_list) in [
        (models, methods, "model", "method", "methods", "models"),
        (methods, models, "method", "model", "models", "methods"),
    ] {
        for draft in side {
            let paired = others.iter().any(|o| {
                let (model, method) = if what == "model" {
                    (&draft.entry, &o.entry)
                } else {
                    (&o.entry, &draft.entry)
                };
                crate::pairs(model, method)
            });
            if !paired {
                let loc = draft.only.as_ref().map_or(draft.loc, |(_, l)| *l);
                d.at(
                    &loc,
                    draft.field.clone(),
                    format!(
                        "{what} `{}` is paired with no {other_what}: its `{own_list}:` and the {other_what}s' `{other_list}:` lists leave every one out",
                        draft.entry.label
                    ),
                );
            }
        }
    }
}

/// Check one value against its spec, reporting at the value's location.
fn check_value(
    d: &mut Diags,
    spec: &ParamSpec,
    v: &Value,
    loc: &Location,
    field: &str,
) -> Option<Value> {
    match spec.check(v) {
        Ok(v) => Some(v),
        Err(e) => {
            d.at(loc, field, e.to_string());
            None
        }
    }
}

fn find_spec<'s>(
    d: &mut Diags,
    specs: &'s [ParamSpec],
    key: &Spanned<String>,
    field: &str,
) -> Option<&'s ParamSpec> {
    match specs.iter().find(|s| s.name == key.value) {
        Some(s) => Some(s),
        None => {
            let allowed = if specs.is_empty() {
                "none: this takes no parameters".to_string()
            } else {
                specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
            };
            d.at(
                &key.referenced,
                field,
                ParamError::Unknown {
                    param: key.value.clone(),
                    allowed,
                }
                .to_string(),
            );
            None
        }
    }
}

/// A value-or-list, checked: the list of values (one for a fixed value).
fn check_param_value(
    d: &mut Diags,
    spec: &ParamSpec,
    v: &S<ParamValue>,
    field: &str,
) -> Option<(Vec<Value>, bool)> {
    match &v.value {
        ParamValue::One(x) => {
            check_value(d, spec, x, &v.referenced, field).map(|x| (vec![x], false))
        }
        ParamValue::List(xs) => {
            if xs.is_empty() {
                d.at(&v.referenced, field, "empty grid: give at least one value");
                return None;
            }
            let mut ok = true;
            let mut out = Vec::new();
            let mut seen: Vec<&Value> = Vec::new();
            for (j, x) in xs.iter().enumerate() {
                let f = format!("{field}[{j}]");
                if seen.contains(&&x.value.0) {
                    d.at(
                        &x.referenced,
                        f,
                        format!("duplicate grid value `{}`", x.value.0),
                    );
                    ok = false;
                    continue;
                }
                seen.push(&x.value.0);
                match check_value(d, spec, &x.value.0, &x.referenced, &f) {
                    Some(v) => out.push(v),
                    None => ok = false,
                }
            }
            ok.then_some((out, true))
        }
    }
}

fn check_grid(
    d: &mut Diags,
    field: &str,
    entry: &RawEntry,
    specs: &[ParamSpec],
    locs: &mut BTreeMap<String, Location>,
) -> Option<Grid> {
    let mut grid = Grid::default();
    let mut ok = true;
    let claim = |d: &mut Diags,
                 key: &Spanned<String>,
                 f: &str,
                 locs: &mut BTreeMap<String, Location>|
     -> bool {
        if locs.contains_key(&key.value) {
            d.at(
                &key.referenced,
                f,
                format!(
                    "parameter `{}` is given twice (in `params` and/or `zip`)",
                    key.value
                ),
            );
            false
        } else {
            locs.insert(key.value.clone(), key.referenced);
            true
        }
    };
    if let Some(params) = &entry.params {
        for (key, v) in &params.value.0 {
            let f = format!("{field}.params.{}", key.value);
            let Some(spec) = find_spec(d, specs, key, &f) else {
                ok = false;
                continue;
            };
            if !claim(d, key, &f, locs) {
                ok = false;
                continue;
            }
            match check_param_value(d, spec, v, &f) {
                Some((vals, false)) => grid
                    .fixed
                    .push((key.value.clone(), vals.into_iter().next().expect("one"))),
                Some((vals, true)) => grid.axes.push(Axis {
                    names: vec![key.value.clone()],
                    rows: vals.into_iter().map(|v| vec![v]).collect(),
                }),
                None => ok = false,
            }
        }
    }
    if let Some(zip) = &entry.zip {
        if zip.value.is_empty() {
            d.at(
                &zip.referenced,
                format!("{field}.zip"),
                "empty list: give at least one group or omit `zip`",
            );
            ok = false;
        }
        for (g, group) in zip.value.iter().enumerate() {
            let gf = format!("{field}.zip[{g}]");
            if group.value.0.is_empty() {
                d.at(&group.referenced, gf, "empty zip group");
                ok = false;
                continue;
            }
            let mut axis = Axis {
                names: Vec::new(),
                rows: Vec::new(),
            };
            let mut columns: Vec<Vec<Value>> = Vec::new();
            let mut len: Option<(usize, String)> = None;
            for (key, v) in &group.value.0 {
                let f = format!("{gf}.{}", key.value);
                let Some(spec) = find_spec(d, specs, key, &f) else {
                    ok = false;
                    continue;
                };
                if !claim(d, key, &f, locs) {
                    ok = false;
                    continue;
                }
                match check_param_value(d, spec, v, &f) {
                    Some((_, false)) => {
                        d.at(&v.referenced, f, "zip values must be lists (one per point); put fixed values in `params`");
                        ok = false;
                    }
                    Some((vals, true)) => {
                        match &len {
                            Some((n, first)) if *n != vals.len() => {
                                d.at(
                                    &v.referenced,
                                    f,
                                    format!("zip lists differ in length: `{}` has {} values, `{first}` has {n}", key.value, vals.len()),
                                );
                                ok = false;
                            }
                            Some(_) => {}
                            None => len = Some((vals.len(), key.value.clone())),
                        }
                        axis.names.push(key.value.clone());
                        columns.push(vals);
                    }
                    None => ok = false,
                }
            }
            if ok && !columns.is_empty() {
                let n = columns[0].len();
                axis.rows = (0..n)
                    .map(|i| columns.iter().map(|c| c[i].clone()).collect())
                    .collect();
                grid.axes.push(axis);
            }
        }
    }
    if ok && grid.len().is_none() {
        d.at(
            &entry.id.referenced,
            field,
            format!("grid has more than {MAX_POINTS} points; split it or use `zip`"),
        );
        ok = false;
    }
    ok.then_some(grid)
}

fn check_quick(
    d: &mut Diags,
    q: &RawQuick,
    [models, methods, hwmodels, teachers]: [&mut [Draft]; 4],
) -> Quick {
    let mut quick = Quick::default();
    if let Some(seeds) = &q.seeds {
        quick.seeds = Some(check_seeds(d, seeds, "quick.seeds"));
    }
    quick.hw_batch = check_hw_batch(d, q.hw_batch.as_ref(), "quick.hw_batch");
    let subset = |d: &mut Diags, v: &Option<S<i64>>, name: &str| -> Option<usize> {
        let v = v.as_ref()?;
        if v.value < 1 {
            d.at(
                &v.referenced,
                format!("quick.{name}"),
                format!("{} is out of range (allowed: an integer ≥ 1)", v.value),
            );
            None
        } else {
            Some(v.value as usize)
        }
    };
    quick.test_subset = subset(d, &q.test_subset, "test_subset");
    quick.train_subset = subset(d, &q.train_subset, "train_subset");
    for (section, map, drafts) in [
        (Section::Models, &q.models, models),
        (Section::Methods, &q.methods, methods),
        (Section::HwModels, &q.hwmodels, hwmodels),
        (Section::Teachers, &q.teachers, teachers),
    ] {
        if let Some(map) = map {
            apply_overrides(d, section, map, drafts);
        }
    }
    quick
}

fn apply_overrides(d: &mut Diags, section: Section, map: &S<LabeledMap>, drafts: &mut [Draft]) {
    let key = section.key();
    for (label, params) in &map.value.0 {
        let field = format!("quick.{key}.{}", label.value);
        let Some(draft) = drafts.iter_mut().find(|x| x.entry.label == label.value) else {
            let labels: Vec<_> = drafts.iter().map(|x| x.entry.label.as_str()).collect();
            d.at(
                &label.referenced,
                field,
                format!(
                    "no entry labelled `{}` in {key} (labels are: {})",
                    label.value,
                    labels.join(", ")
                ),
            );
            continue;
        };
        if draft.ok {
            apply_override(d, &field, &params.value, draft);
        }
    }
}

fn apply_override(d: &mut Diags, field: &str, params: &ParamMap, draft: &mut Draft) {
    let mut seen = HashSet::new();
    for (key, v) in &params.0 {
        let f = format!("{field}.{}", key.value);
        let Some(spec) = find_spec(d, &draft.specs, key, &f) else {
            continue;
        };
        if !seen.insert(key.value.clone()) {
            d.at(
                &key.referenced,
                f,
                format!("parameter `{}` is given twice", key.value),
            );
            continue;
        }
        if let Some((vals, _)) = check_param_value(d, spec, v, &f) {
            draft.quick.set(&key.value, vals);
            draft
                .param_locs
                .entry(key.value.clone())
                .or_insert(key.referenced);
        }
    }
    if draft.quick.len().is_none() {
        d.at(
            &draft.loc,
            field,
            format!("quick grid has more than {MAX_POINTS} points"),
        );
    }
}

fn resolve_grid(d: &mut Diags, draft: &Draft, grid: &Grid) -> Vec<Params> {
    if !draft.ok || grid.len().is_none() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for given in grid.expand() {
        match Params::resolve(&draft.specs, &given) {
            Ok(p) => out.push(p),
            Err(e) => {
                // Values were checked one by one already; this is a defensive net.
                d.at(&draft.loc, draft.field.clone(), e.to_string());
                return Vec::new();
            }
        }
    }
    out
}

fn resolve_all(d: &mut Diags, drafts: Vec<Draft>) -> Vec<Draft> {
    drafts
        .into_iter()
        .map(|mut draft| {
            draft.entry.full = resolve_grid(d, &draft, &draft.full);
            draft.entry.quick = resolve_grid(d, &draft, &draft.quick);
            draft
        })
        .collect()
}

/// Where to report a parameter error: at the parameter if it was written, else at the entry.
fn param_error_at(d: &mut Diags, draft: &Draft, e: &ParamError, prefix: &str) {
    let (loc, field) = match draft.param_locs.get(e.param()) {
        Some(loc) => (*loc, format!("{}.params.{}", draft.field, e.param())),
        None => (draft.loc, draft.field.clone()),
    };
    d.at(&loc, field, format!("{prefix}{e}"));
}

/// Every `teacher:` names a `teachers:` entry, and every teacher is one trained model (one
/// point in each mode).
fn check_teachers(
    d: &mut Diags,
    methods: &[Draft],
    teachers: &[Draft],
    raw: Option<&S<Vec<S<RawEntry>>>>,
) {
    for t in teachers.iter().filter(|t| t.ok) {
        for (mode, points) in [("", &t.entry.full), (" in quick mode", &t.entry.quick)] {
            if points.len() != 1 {
                d.at(
                    &t.loc,
                    t.field.clone(),
                    format!(
                        "teacher `{}` has {} parameter points{mode}; a teacher is one trained model: give fixed values, not lists",
                        t.entry.label,
                        points.len()
                    ),
                );
                break;
            }
        }
    }
    for m in methods {
        let Some((label, loc)) = &m.teacher else {
            continue;
        };
        if teachers.iter().any(|t| &t.entry.label == label) {
            continue;
        }
        let message = if raw.is_none() {
            format!("unknown teacher `{label}`: the suite has no `teachers:` section")
        } else {
            let labels: Vec<_> = teachers.iter().map(|t| t.entry.label.as_str()).collect();
            format!(
                "unknown teacher `{label}` (teachers are: {})",
                labels.join(", ")
            )
        };
        d.at(loc, format!("{}.teacher", m.field), message);
    }
}

fn check_hw_build(d: &mut Diags, hwmodels: &[Draft], catalog: &Catalog) {
    for draft in hwmodels {
        let Some(hw) = catalog.hwmodel(&draft.entry.id) else {
            continue;
        };
        for p in draft.entry.full.iter().chain(&draft.entry.quick) {
            if let Err(e) = hw.build(p) {
                param_error_at(d, draft, &e, "");
                break;
            }
        }
    }
}

fn check_method_vs_model(d: &mut Diags, methods: &[Draft], models: &[Draft], catalog: &Catalog) {
    for m in methods {
        let Some(check) = catalog.method(&m.entry.id).and_then(|p| p.check.as_ref()) else {
            continue;
        };
        'models: for model in models {
            if !crate::pairs(&model.entry, &m.entry) {
                continue;
            }
            for (mp, modelp) in [
                (&m.entry.full, &model.entry.full),
                (&m.entry.quick, &model.entry.quick),
            ] {
                for p in mp {
                    for q in modelp {
                        if let Err(e) = check(p, &model.entry.id, q) {
                            param_error_at(
                                d,
                                m,
                                &e,
                                &format!("with model `{}` ({}): ", model.entry.label, q.label()),
                            );
                            continue 'models;
                        }
                    }
                }
            }
        }
    }
}

/// Each method's teacher check (`Method::check_teacher`): every point of the method against
/// every point of each model it runs on, with its teacher's point (or none), in both modes.
/// Run once everything else is valid, so every teacher label resolves.
fn check_method_vs_teacher(
    d: &mut Diags,
    methods: &[Draft],
    models: &[Draft],
    teachers: &[Draft],
    catalog: &Catalog,
) {
    for m in methods {
        let Some(check) = catalog
            .method(&m.entry.id)
            .and_then(|p| p.teacher_check.as_ref())
        else {
            continue;
        };
        let teacher = m
            .teacher
            .as_ref()
            .and_then(|(label, _)| teachers.iter().find(|t| &t.entry.label == label));
        'models: for model in models {
            if !crate::pairs(&model.entry, &m.entry) {
                continue;
            }
            let modes = [
                (
                    &m.entry.full,
                    &model.entry.full,
                    teacher.map(|t| &t.entry.full),
                ),
                (
                    &m.entry.quick,
                    &model.entry.quick,
                    teacher.map(|t| &t.entry.quick),
                ),
            ];
            for (mp, modelp, tp) in modes {
                // A teacher is one point per mode (check_teachers).
                let tp = tp.and_then(|points| points.first());
                for p in mp {
                    for q in modelp {
                        let t = teacher.zip(tp).map(|(t, tp)| (t.entry.id.as_str(), tp));
                        if let Err(e) = check(p, (&model.entry.id, q), t) {
                            let with_teacher = teacher
                                .map(|t| format!(" and teacher `{}`", t.entry.label))
                                .unwrap_or_default();
                            param_error_at(
                                d,
                                m,
                                &e,
                                &format!(
                                    "with model `{}` ({}){with_teacher}: ",
                                    model.entry.label,
                                    q.label()
                                ),
                            );
                            continue 'models;
                        }
                    }
                }
            }
        }
    }
}
