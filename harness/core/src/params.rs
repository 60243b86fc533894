//! Typed parameters with defaults, ranges and docs.
//!
//! Every extension point (method, hardware model, model) declares its parameters as a static
//! `&[ParamSpec]`. The same list drives `compbench list`, suite validation (with the allowed
//! values in the message) and [`Params::resolve`], so a parameter is described once.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A parameter value as written in a suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => write!(f, "{s}"),
        }
    }
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::Str(_) => "string",
        }
    }
}

/// What values a parameter accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamKind {
    /// An integer in `[min, max]`.
    Int {
        min: i64,
        max: i64,
    },
    /// A number in `[min, max]` (integers are accepted and widened).
    Float {
        min: f64,
        max: f64,
    },
    Bool,
    /// One of the listed strings.
    Choice(&'static [&'static str]),
    /// A name whose valid values depend on something else (e.g. a layer of the model the
    /// entry runs on): any string of letters, digits, `.`, `_` and `-`, or empty (none). The
    /// owner checks it against what exists (`Method::check`), and lists the names there.
    Name,
}

impl ParamKind {
    /// The allowed values, as an error message would list them.
    pub fn allowed(&self) -> String {
        match self {
            ParamKind::Int { min, max } => format!("an integer in [{min}, {max}]"),
            ParamKind::Float { min, max } => format!("a number in [{min}, {max}]"),
            ParamKind::Bool => "true or false".to_string(),
            ParamKind::Choice(c) => format!("one of {}", c.join(", ")),
            ParamKind::Name => {
                "a name (letters, digits, `.`, `_`, `-`) or empty for none".to_string()
            }
        }
    }
}

/// The static description of one parameter.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamKind,
    pub default: Default,
    pub doc: &'static str,
}

/// A default value that can live in a `static`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Default {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'static str),
}

impl Default {
    pub fn to_value(self) -> Value {
        match self {
            Default::Bool(b) => Value::Bool(b),
            Default::Int(i) => Value::Int(i),
            Default::Float(x) => Value::Float(x),
            Default::Str(s) => Value::Str(s.to_string()),
        }
    }
}

impl ParamSpec {
    pub const fn int(
        name: &'static str,
        default: i64,
        min: i64,
        max: i64,
        doc: &'static str,
    ) -> Self {
        ParamSpec {
            name,
            kind: ParamKind::Int { min, max },
            default: Default::Int(default),
            doc,
        }
    }

    pub const fn float(
        name: &'static str,
        default: f64,
        min: f64,
        max: f64,
        doc: &'static str,
    ) -> Self {
        ParamSpec {
            name,
            kind: ParamKind::Float { min, max },
            default: Default::Float(default),
            doc,
        }
    }

    pub const fn bool(name: &'static str, default: bool, doc: &'static str) -> Self {
        ParamSpec {
            name,
            kind: ParamKind::Bool,
            default: Default::Bool(default),
            doc,
        }
    }

    pub const fn choice(
        name: &'static str,
        default: &'static str,
        choices: &'static [&'static str],
        doc: &'static str,
    ) -> Self {
        ParamSpec {
            name,
            kind: ParamKind::Choice(choices),
            default: Default::Str(default),
            doc,
        }
    }

    /// A [`ParamKind::Name`] parameter; `default` is usually `""` (none).
    pub const fn name(name: &'static str, default: &'static str, doc: &'static str) -> Self {
        ParamSpec {
            name,
            kind: ParamKind::Name,
            default: Default::Str(default),
            doc,
        }
    }

    /// Check one value against this spec, normalizing it (an integer given for a float
    /// parameter becomes a float).
    pub fn check(&self, value: &Value) -> Result<Value, ParamError> {
        let bad = |why: String| ParamError::Invalid {
            param: self.name.to_string(),
            message: why,
            allowed: self.kind.allowed(),
        };
        match (&self.kind, value) {
            (ParamKind::Int { min, max }, Value::Int(i)) => {
                if i < min || i > max {
                    Err(bad(format!("{i} is out of range")))
                } else {
                    Ok(Value::Int(*i))
                }
            }
            (ParamKind::Float { min, max }, Value::Int(_) | Value::Float(_)) => {
                let x = match value {
                    Value::Int(i) => *i as f64,
                    Value::Float(x) => *x,
                    _ => unreachable!("matched above"),
                };
                if !x.is_finite() || x < *min || x > *max {
                    Err(bad(format!("{x} is out of range")))
                } else {
                    Ok(Value::Float(x))
                }
            }
            (ParamKind::Bool, Value::Bool(b)) => Ok(Value::Bool(*b)),
            (ParamKind::Choice(choices), Value::Str(s)) => {
                if choices.contains(&s.as_str()) {
                    Ok(Value::Str(s.clone()))
                } else {
                    Err(bad(format!("unknown value `{s}`")))
                }
            }
            (ParamKind::Name, Value::Str(s)) => {
                if s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                {
                    Ok(Value::Str(s.clone()))
                } else {
                    Err(bad(format!("`{s}` is not a name")))
                }
            }
            (_, v) => Err(bad(format!(
                "expected {}, found {} `{v}`",
                self.kind.allowed(),
                v.type_name()
            ))),
        }
    }
}

/// Errors from checking parameters; the suite crate adds the file:line:col.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error("parameter `{param}`: {message} (allowed: {allowed})")]
    Invalid {
        param: String,
        message: String,
        allowed: String,
    },
    #[error("unknown parameter `{param}` (allowed: {allowed})")]
    Unknown { param: String, allowed: String },
    /// A constraint between parameters (e.g. v must divide K), checked by the owner.
    #[error("parameter `{param}`: {message}")]
    Constraint { param: String, message: String },
}

impl ParamError {
    /// The parameter the error is about.
    pub fn param(&self) -> &str {
        match self {
            ParamError::Invalid { param, .. }
            | ParamError::Unknown { param, .. }
            | ParamError::Constraint { param, .. } => param,
        }
    }
}

/// Resolved parameters: every declared parameter present, checked and normalized.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Params(pub BTreeMap<String, Value>);

impl Params {
    /// Fill defaults for `specs`, check every given value, refuse unknown names.
    pub fn resolve(
        specs: &[ParamSpec],
        given: &BTreeMap<String, Value>,
    ) -> Result<Params, ParamError> {
        for name in given.keys() {
            if !specs.iter().any(|s| s.name == name) {
                return Err(ParamError::Unknown {
                    param: name.clone(),
                    allowed: if specs.is_empty() {
                        "none: this takes no parameters".to_string()
                    } else {
                        specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
                    },
                });
            }
        }
        let mut out = BTreeMap::new();
        for spec in specs {
            let v = match given.get(spec.name) {
                Some(v) => spec.check(v)?,
                None => spec.default.to_value(),
            };
            out.insert(spec.name.to_string(), v);
        }
        Ok(Params(out))
    }

    /// Defaults only.
    pub fn defaults(specs: &[ParamSpec]) -> Params {
        Params(
            specs
                .iter()
                .map(|s| (s.name.to_string(), s.default.to_value()))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// Getters panic only on a programming error: a name the owner did not declare, or a
    /// kind that contradicts its own spec (resolve() has normalized user input already).
    pub fn int(&self, name: &str) -> i64 {
        match self.0.get(name) {
            Some(Value::Int(i)) => *i,
            other => panic!("parameter `{name}` is not a resolved integer: {other:?}"),
        }
    }

    pub fn float(&self, name: &str) -> f64 {
        match self.0.get(name) {
            Some(Value::Float(x)) => *x,
            Some(Value::Int(i)) => *i as f64,
            other => panic!("parameter `{name}` is not a resolved number: {other:?}"),
        }
    }

    pub fn bool(&self, name: &str) -> bool {
        match self.0.get(name) {
            Some(Value::Bool(b)) => *b,
            other => panic!("parameter `{name}` is not a resolved bool: {other:?}"),
        }
    }

    pub fn str(&self, name: &str) -> &str {
        match self.0.get(name) {
            Some(Value::Str(s)) => s,
            other => panic!("parameter `{name}` is not a resolved string: {other:?}"),
        }
    }

    pub fn set(&mut self, name: &str, v: Value) {
        self.0.insert(name.to_string(), v);
    }

    /// `k=v,k=v` in name order, for labels and logs.
    pub fn label(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[ParamSpec] = &[
        ParamSpec::int("bits", 8, 1, 32, "bit width"),
        ParamSpec::float("lr", 1e-3, 0.0, 1.0, "learning rate"),
        ParamSpec::choice("calib", "minmax", &["minmax", "mse"], "calibration"),
        ParamSpec::bool("per_channel", true, "per-channel weights"),
    ];

    fn given(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn defaults_fill_missing() {
        let p = Params::resolve(SPECS, &given(&[("bits", Value::Int(4))])).unwrap();
        assert_eq!(p.int("bits"), 4);
        assert_eq!(p.float("lr"), 1e-3);
        assert_eq!(p.str("calib"), "minmax");
        assert!(p.bool("per_channel"));
    }

    #[test]
    fn int_widens_to_float() {
        let p = Params::resolve(SPECS, &given(&[("lr", Value::Int(1))])).unwrap();
        assert_eq!(p.get("lr"), Some(&Value::Float(1.0)));
    }

    #[test]
    fn errors_name_param_and_allowed_values() {
        let cases: &[(&[(&str, Value)], &str)] = &[
            (
                &[("bits", Value::Int(0))],
                "parameter `bits`: 0 is out of range (allowed: an integer in [1, 32])",
            ),
            (
                &[("bits", Value::Int(33))],
                "parameter `bits`: 33 is out of range (allowed: an integer in [1, 32])",
            ),
            (
                &[("calib", Value::Str("knn".into()))],
                "parameter `calib`: unknown value `knn` (allowed: one of minmax, mse)",
            ),
            (
                &[("bits", Value::Str("8".into()))],
                "parameter `bits`: expected an integer in [1, 32], found string `8` (allowed: an integer in [1, 32])",
            ),
            (
                &[("speed", Value::Int(1))],
                "unknown parameter `speed` (allowed: bits, lr, calib, per_channel)",
            ),
            (
                &[("lr", Value::Float(f64::NAN))],
                "parameter `lr`: NaN is out of range (allowed: a number in [0, 1])",
            ),
        ];
        for (input, expected) in cases {
            let err = Params::resolve(SPECS, &given(input)).unwrap_err();
            assert_eq!(err.to_string(), *expected);
        }
    }

    #[test]
    fn names_accept_layer_names_and_empty_and_refuse_others() {
        let spec = ParamSpec::name("layer", "", "a layer");
        assert_eq!(spec.default.to_value(), Value::Str(String::new()));
        for ok in ["", "conv2.relu", "block0", "patch_embed", "a-b"] {
            assert_eq!(
                spec.check(&Value::Str(ok.into())).unwrap(),
                Value::Str(ok.into())
            );
        }
        assert_eq!(
            spec.check(&Value::Str("conv 2".into()))
                .unwrap_err()
                .to_string(),
            "parameter `layer`: `conv 2` is not a name (allowed: a name (letters, digits, `.`, `_`, `-`) or empty for none)"
        );
        assert!(spec.check(&Value::Int(2)).is_err());
    }
}
