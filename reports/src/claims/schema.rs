//! The schema of `suites/references/<paper>.yaml`: a paper's published claims, each with a
//! machine-checkable shape.
//!
//! ```yaml
//! schema_version: 1
//! paper: lut-dla                  # must equal the file stem and the rows' `paper` column
//! citation: {title: "...", venue: "HPCA 2025", arxiv: "2501.10658"}
//! note: "Ranges are the paper's; ..."   # optional, shown under the paper's heading
//! claims:
//!   - id: power-efficiency
//!     claim: "LUT-DLA improves power efficiency by 1.4-7.0x."
//!     source: "Abstract; §VI"
//!     check:
//!       kind: ratio               # range | ordering | trend | ratio
//!       metric: ops_per_joule
//!       numerator: {hw_label: lut}
//!       denominator: {hw_label: int8-systolic}
//!       min: 1.4
//!       max: 7.0
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The only `schema_version` this crate reads.
pub const SCHEMA_VERSION: u32 = 1;

/// One `suites/references/<paper>.yaml` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceFile {
    pub schema_version: u32,
    /// Paper id, as in the results' `paper` column (`lut-dla`).
    pub paper: String,
    pub citation: Citation,
    /// Free text shown under the paper's heading (e.g. "ranges are the paper's").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub claims: Vec<Claim>,
}

/// Where the claims were published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Citation {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authors: Option<String>,
    /// Venue and year, e.g. `HPCA 2025`.
    pub venue: String,
    /// arXiv identifier without prefix, e.g. `2501.10658`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arxiv: Option<String>,
}

/// One published claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// Stable id, unique in the file (`cnn-drop-l2`).
    pub id: String,
    /// The claim as a sentence.
    pub claim: String,
    /// Where in the paper (table, figure, section).
    pub source: String,
    pub check: Check,
}

/// A machine-checkable shape. Every check takes an optional `filter` restricting the rows it
/// looks at; rows are configurations (seeds averaged), so "mean" means mean over
/// configurations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Check {
    /// `aggregate` of the metric over the selected configurations lies in `[min, max]`.
    Range(RangeCheck),
    /// The metric's mean per value of `by` is ordered as `order` says.
    Ordering(OrderingCheck),
    /// The metric's mean per value of `along` moves in `direction`.
    Trend(TrendCheck),
    /// mean(metric | numerator) / mean(metric | denominator) lies in `[min, max]`.
    Ratio(RatioCheck),
}

/// See [`Check::Range`]. At least one of `min`, `max`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeCheck {
    pub metric: String,
    #[serde(default)]
    pub filter: Filter,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default)]
    pub aggregate: Aggregate,
}

/// See [`Check::Ordering`]. Holds when every consecutive pair is ordered, allowing `tolerance`
/// (in the metric's stored unit). Compares like with like: only settings of the other key
/// columns that ran every value in `order` count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderingCheck {
    pub metric: String,
    /// The column whose values are ordered (`p_method_metric`).
    pub by: String,
    /// The values of `by`, in the claimed order (at least two).
    pub order: Vec<Scalar>,
    #[serde(default)]
    pub direction: Direction,
    #[serde(default)]
    pub tolerance: f64,
    /// Key columns that differ between the levels by design and so do not split settings, as in
    /// [`TrendCheck::covary`]; `p_method_*` names every method parameter, which is how an
    /// ordering compares different methods (`by: label`) on the same model.
    #[serde(default)]
    pub covary: Vec<String>,
    #[serde(default)]
    pub filter: Filter,
}

/// See [`Check::Trend`]. Holds when the per-level means are monotone in `direction` (each step
/// may go against it by at most `tolerance`) and the last level is strictly past the first.
/// Levels sort numerically when they are all numbers, else as strings. Compares like with like:
/// only settings of the other key columns that ran every level count (so a stages 1-4 ablation
/// at one v, c is compared with the stage-4 run at that v, c, not with the whole grid).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrendCheck {
    pub metric: String,
    /// The parameter column the trend runs along (`p_method_c`).
    pub along: String,
    pub direction: TrendDirection,
    #[serde(default)]
    pub tolerance: f64,
    /// Key columns that change together with `along` by design (a suite's `zip`, e.g. the conv
    /// layers' `p_method_v_conv` beside `p_method_v`): they do not split settings. A name ending
    /// in `*` covers every column with that prefix.
    #[serde(default)]
    pub covary: Vec<String>,
    #[serde(default)]
    pub filter: Filter,
}

/// See [`Check::Ratio`]. `filter` applies to both sides. At least one of `min`, `max`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatioCheck {
    pub metric: String,
    pub numerator: Filter,
    pub denominator: Filter,
    #[serde(default)]
    pub filter: Filter,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// How a range check reduces the selected configurations to one number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    #[default]
    Mean,
    Max,
    Min,
}

/// `ascending`: the first in `order` has the smallest metric.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[default]
    Ascending,
    Descending,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrendDirection {
    Increasing,
    Decreasing,
}

/// Column → allowed value(s). A row matches when, for every column, its value (CSV
/// representation) equals one allowed value; numbers also match numerically (`4` = `4.0`).
/// A null cell or a missing column never matches.
pub type Filter = BTreeMap<String, FilterValue>;

/// One allowed value or a list of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FilterValue {
    One(Scalar),
    Any(Vec<Scalar>),
}

impl FilterValue {
    pub fn values(&self) -> &[Scalar] {
        match self {
            FilterValue::One(s) => std::slice::from_ref(s),
            FilterValue::Any(v) => v,
        }
    }
}

/// A YAML scalar, compared by its text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Str(s) => f.write_str(s),
        }
    }
}

impl Scalar {
    /// True when the cell text `cell` is this value (text equality, or numeric equality when
    /// both parse as numbers, or case-insensitive for booleans).
    pub fn matches(&self, cell: &str) -> bool {
        let text = self.to_string();
        if text == cell {
            return true;
        }
        match self {
            Scalar::Bool(b) => cell.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
            _ => match (text.parse::<f64>(), cell.parse::<f64>()) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            },
        }
    }
}

/// `k=v, k2=v2|v3` (for messages).
pub fn describe_filter(filter: &Filter) -> String {
    if filter.is_empty() {
        return "all rows".into();
    }
    filter
        .iter()
        .map(|(k, v)| {
            let vals: Vec<String> = v.values().iter().map(ToString::to_string).collect();
            format!("{k}={}", vals.join("|"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Check {
    /// The column the check reads.
    pub fn metric(&self) -> &str {
        match self {
            Check::Range(c) => &c.metric,
            Check::Ordering(c) => &c.metric,
            Check::Trend(c) => &c.metric,
            Check::Ratio(c) => &c.metric,
        }
    }

    /// Problems a parser cannot see (bounds, list lengths), as messages.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let bounds = |min: Option<f64>, max: Option<f64>, out: &mut Vec<String>| match (min, max) {
            (None, None) => out.push("give at least one of `min`, `max`".into()),
            (Some(a), Some(b)) if a > b => out.push(format!("min {a} is above max {b}")),
            _ => {}
        };
        match self {
            Check::Range(c) => bounds(c.min, c.max, &mut out),
            Check::Ratio(c) => {
                bounds(c.min, c.max, &mut out);
                if c.numerator.is_empty() || c.denominator.is_empty() {
                    out.push("`numerator` and `denominator` must each filter something".into());
                }
            }
            Check::Ordering(c) => {
                if c.order.len() < 2 {
                    out.push("`order` needs at least two values".into());
                }
                if c.tolerance < 0.0 {
                    out.push("`tolerance` must be ≥ 0".into());
                }
            }
            Check::Trend(c) => {
                if c.tolerance < 0.0 {
                    out.push("`tolerance` must be ≥ 0".into());
                }
            }
        }
        out
    }

    /// What the paper claims, in words ("≤ 3.10 pp (mean over configurations)").
    pub fn expected(&self) -> String {
        use crate::metrics::format_value;
        let bounds = |metric: &str, min: Option<f64>, max: Option<f64>, ratio: bool| {
            let f = |x: f64| {
                if ratio {
                    format!("{x}×")
                } else {
                    format_value(metric, x)
                }
            };
            match (min, max) {
                (Some(a), Some(b)) if ratio => format!("{a:?}–{b:?}×"),
                (Some(a), Some(b)) => format!("{} to {}", f(a), f(b)),
                (Some(a), None) => format!("≥ {}", f(a)),
                (None, Some(b)) => format!("≤ {}", f(b)),
                (None, None) => String::new(),
            }
        };
        match self {
            Check::Range(c) => {
                let agg = match c.aggregate {
                    Aggregate::Mean => "mean",
                    Aggregate::Max => "max",
                    Aggregate::Min => "min",
                };
                format!(
                    "{} {}",
                    bounds(&c.metric, c.min, c.max, false),
                    format_args!("({agg} {})", crate::metrics::label(&c.metric))
                )
            }
            Check::Ratio(c) => format!(
                "{} ({} {} / {})",
                bounds(&c.metric, c.min, c.max, true),
                crate::metrics::label(&c.metric),
                describe_filter(&c.numerator),
                describe_filter(&c.denominator)
            ),
            Check::Ordering(c) => {
                let sym = match c.direction {
                    Direction::Ascending => " ≤ ",
                    Direction::Descending => " ≥ ",
                };
                let order: Vec<String> = c.order.iter().map(ToString::to_string).collect();
                format!("{}: {}", crate::metrics::label(&c.metric), order.join(sym))
            }
            Check::Trend(c) => format!(
                "{} {} with {}",
                crate::metrics::label(&c.metric),
                match c.direction {
                    TrendDirection::Increasing => "rises",
                    TrendDirection::Decreasing => "falls",
                },
                crate::results::short_key(&c.along, &[])
            ),
        }
    }
}
