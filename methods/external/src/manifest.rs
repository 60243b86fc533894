//! The manifest: what an external method declares about itself before anything runs.

use std::path::{Path, PathBuf};

use compbench_core::{Family, ParamSpec};
use serde::Deserialize;

/// The protocol version this harness speaks (manifests and messages carry it).
pub const PROTOCOL_VERSION: u32 = 1;

/// Longest run allowed by a manifest or suite, seconds.
pub const MAX_TIMEOUT_S: i64 = 86_400;

/// A parsed, checked manifest (`manifest.yaml` in the method's directory).
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The manifest file.
    pub path: PathBuf,
    /// Directory the command runs in (the manifest's).
    pub dir: PathBuf,
    pub id: &'static str,
    pub description: &'static str,
    /// The survey family the method belongs to (`family:`, required).
    pub family: Family,
    /// Program and arguments; the program is looked up on PATH (or relative to `dir`).
    pub command: Vec<String>,
    /// Declared parameters, plus the harness's own `timeout_s`.
    pub params: &'static [ParamSpec],
    /// Which data splits the method wants written (`calibration`, `train`).
    pub data: Vec<DataSplit>,
    /// Calibration examples (the first n of the training split).
    pub calibration_examples: usize,
    /// Hash of the manifest text, part of every result's notes (what ran).
    pub fingerprint: String,
}

/// Data a method may ask for. The test split is never given to a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataSplit {
    Calibration,
    Train,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    protocol: u32,
    id: String,
    description: String,
    /// A `compbench_core::Family` id; required, so every method is placed in the taxonomy.
    family: String,
    command: Vec<String>,
    #[serde(default = "default_timeout")]
    timeout_s: i64,
    #[serde(default)]
    data: Vec<DataSplit>,
    #[serde(default = "default_calibration")]
    calibration_examples: usize,
    #[serde(default)]
    params: Vec<RawParam>,
}

fn default_timeout() -> i64 {
    600
}

fn default_calibration() -> usize {
    1024
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParam {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    default: serde_json::Value,
    min: Option<f64>,
    max: Option<f64>,
    choices: Option<Vec<String>>,
    doc: String,
}

/// Ids are kebab-case: lowercase ASCII letters, digits and single dashes.
fn is_kebab(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && s.starts_with(|c: char| c.is_ascii_lowercase())
}

/// Parameter names are snake_case.
fn is_snake(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Strings of a manifest live as long as the process (the registry lists are `'static`).
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

impl Manifest {
    /// Read and check `path`. Errors are `path:line:col: message` for YAML errors and
    /// `path: field: message` for declarations that parse but do not make sense.
    pub fn load(path: &Path) -> Result<Manifest, String> {
        let shown = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
        Manifest::parse(path, &src)
    }

    /// Check a manifest's text (`path` names it in errors and sets the working directory).
    pub fn parse(path: &Path, src: &str) -> Result<Manifest, String> {
        let shown = path.display().to_string();
        let raw: RawManifest = serde_saphyr::from_str(src).map_err(|e| {
            let (line, col) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            format!("{shown}:{line}:{col}: {}", yaml_message(&e))
        })?;
        let err = |field: &str, m: String| format!("{shown}: {field}: {m}");
        if raw.protocol != PROTOCOL_VERSION {
            return Err(err(
                "protocol",
                format!(
                    "version {} is not spoken by this harness (it speaks {PROTOCOL_VERSION})",
                    raw.protocol
                ),
            ));
        }
        if !is_kebab(&raw.id) {
            return Err(err(
                "id",
                format!(
                    "`{}` is not a kebab-case id (e.g. `weight-sharing`)",
                    raw.id
                ),
            ));
        }
        let Some(family) = Family::from_id(&raw.family) else {
            return Err(err(
                "family",
                format!(
                    "unknown family `{}` (valid: {})",
                    raw.family,
                    Family::valid_ids()
                ),
            ));
        };
        if raw.command.is_empty() || raw.command[0].trim().is_empty() {
            return Err(err("command", "must name a program".into()));
        }
        if !(1..=MAX_TIMEOUT_S).contains(&raw.timeout_s) {
            return Err(err(
                "timeout_s",
                format!("{} is out of range [1, {MAX_TIMEOUT_S}]", raw.timeout_s),
            ));
        }
        if raw.calibration_examples == 0 {
            return Err(err("calibration_examples", "must be at least 1".into()));
        }
        let mut specs = Vec::new();
        for (i, p) in raw.params.iter().enumerate() {
            let field = format!("params[{i}] (`{}`)", p.name);
            specs.push(param_spec(p).map_err(|m| err(&field, m))?);
            if p.name == "timeout_s" {
                return Err(err(
                    &field,
                    "`timeout_s` is the harness's own parameter".into(),
                ));
            }
            if raw.params[..i].iter().any(|q| q.name == p.name) {
                return Err(err(&field, "declared twice".into()));
            }
        }
        specs.push(ParamSpec::int(
            "timeout_s",
            raw.timeout_s,
            1,
            MAX_TIMEOUT_S,
            "seconds before the external process is stopped (harness parameter; default from the manifest)",
        ));
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(Manifest {
            path: path.to_path_buf(),
            dir,
            id: leak(raw.id),
            description: leak(raw.description),
            family,
            command: raw.command,
            params: Box::leak(specs.into_boxed_slice()),
            data: raw.data,
            calibration_examples: raw.calibration_examples,
            fingerprint: blake3::hash(src.as_bytes()).to_hex()[..16].to_string(),
        })
    }
}

fn param_spec(p: &RawParam) -> Result<ParamSpec, String> {
    if !is_snake(&p.name) {
        return Err("parameter names are snake_case".into());
    }
    let name = leak(p.name.clone());
    let doc = leak(p.doc.clone());
    let range = |lo: f64, hi: f64| -> Result<(f64, f64), String> {
        let (min, max) = (p.min.unwrap_or(lo), p.max.unwrap_or(hi));
        if min.is_finite() && max.is_finite() && min <= max {
            Ok((min, max))
        } else {
            Err(format!("min {min} must be ≤ max {max}"))
        }
    };
    let spec = match p.kind.as_str() {
        "int" => {
            let (min, max) = range(i64::MIN as f64, i64::MAX as f64)?;
            let d = p.default.as_i64().ok_or("default: expected an integer")?;
            if min.fract() != 0.0 || max.fract() != 0.0 {
                return Err("min and max of an int parameter must be integers".into());
            }
            ParamSpec::int(name, d, min as i64, max as i64, doc)
        }
        "float" => {
            let (min, max) = range(f64::MIN, f64::MAX)?;
            let d = p.default.as_f64().ok_or("default: expected a number")?;
            ParamSpec::float(name, d, min, max, doc)
        }
        "bool" => {
            let d = p
                .default
                .as_bool()
                .ok_or("default: expected true or false")?;
            ParamSpec::bool(name, d, doc)
        }
        "choice" => {
            let choices = p
                .choices
                .as_ref()
                .filter(|c| !c.is_empty())
                .ok_or("choices: a choice parameter lists its values")?;
            if let Some(bad) = choices.iter().find(|c| !is_kebab(c)) {
                return Err(format!("choices: `{bad}` is not kebab-case"));
            }
            let d = p.default.as_str().ok_or("default: expected a string")?;
            let choices: Vec<&'static str> = choices.iter().map(|c| leak(c.clone())).collect();
            let choices: &'static [&'static str] = Box::leak(choices.into_boxed_slice());
            ParamSpec::choice(name, leak(d.to_string()), choices, doc)
        }
        other => {
            return Err(format!(
                "type: unknown type `{other}` (valid: int, float, bool, choice)"
            ));
        }
    };
    if !matches!(p.kind.as_str(), "int" | "float") && (p.min.is_some() || p.max.is_some()) {
        return Err("min/max apply to int and float parameters only".into());
    }
    spec.check(&spec.default.to_value())
        .map_err(|e| format!("default: {e}"))?;
    Ok(spec)
}

/// serde-saphyr's message without its own position prefix and source snippet (the caller
/// prints `file:line:col`).
fn yaml_message(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("").trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let msg = match first.find(": ") {
        Some(i) if first.starts_with("line ") => &first[i + 2..],
        _ => first,
    };
    match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains(", column ") => msg[..i].to_string(),
        _ => msg.to_string(),
    }
}
