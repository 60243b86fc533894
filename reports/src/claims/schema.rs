//! The schema of `suites/references/<paper>.yaml`: what a paper states (`claims`) and what we
//! expect on top of it (`expectations`), each with a machine-checkable shape.
//!
//! ```yaml
//! schema_version: 2
//! paper: lut-dla                  # must equal the file stem and the rows' `paper` column
//! citation: {title: "...", venue: "HPCA 2025", arxiv: "2501.10658"}
//! note: "..."                     # optional, shown under the paper's heading
//! claims:                         # only what the paper states
//!   - id: power-efficiency
//!     claim: "improves power efficiency by 1.4-7.0x"   # its words, quoted or paraphrased
//!     source: Abstract            # abstract / Table N / Fig. N / §N: required, non-empty
//!     paper: "1.4-7.0×"           # optional: the paper's number as printed
//!     rule: all                   # all | any | {at: {column: value, ...}}
//!     check:
//!       kind: ratio               # range | ordering | trend | ratio
//!       metric: ops_per_joule
//!       numerator: {hw_label: lut}
//!       denominator: {hw_label: int8-systolic}
//!       # denominator_metric: measured_latency_s   # optional: the denominator's own column
//!       min: 1.4
//!       max: 7.0
//!     evidence:                   # optional: one piece per selection; default one piece
//!       - {filter: {model: cnn, hw_batch: 1}}
//!       - {filter: {model: cnn, hw_batch: 1}, denominator: {hw_label: fp16-systolic}}
//! expectations:                   # ours: same fields, `expectation` + `reason` instead of
//!   - id: accuracy-rises-with-c   #   `claim` + `source`
//!     expectation: "more centroids, higher accuracy"
//!     reason: "VQ distortion falls with c"
//!     check: {kind: trend, ..., min_effect: {standard_errors: 1}}
//! ```
//!
//! **Noise.** `min_effect` is the smallest difference (in the metric's stored unit, or
//! `{standard_errors: k}`: k standard errors of an accuracy measured on the run's test set)
//! that counts. Orderings and trends must state it. With ≥ 2 seeds per configuration a
//! difference must also pass Welch's t-test at 95 %. A difference inside the noise is
//! *inconclusive*.
//!
//! **Schema 1** (claims only, `tolerance`, `aggregate`) is still read, with a deprecation
//! note: its claims are all treated as published claims, `aggregate` is ignored (every
//! configuration is checked) and orderings/trends without `min_effect` use 0.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

/// The `schema_version` this crate writes and prefers.
pub const SCHEMA_VERSION: u32 = 2;
/// The deprecated version still read (see the module docs).
pub const SCHEMA_VERSION_V1: u32 = 1;

/// One `suites/references/<paper>.yaml` file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceFileRaw {
    pub schema_version: u32,
    pub paper: String,
    pub citation: Citation,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub claims: Vec<Spanned<EntryRaw>>,
    #[serde(default)]
    pub expectations: Vec<Spanned<EntryRaw>>,
}

/// One claim or expectation as written; [`super::load_reference`] checks that the fields of
/// its section are there.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryRaw {
    pub id: String,
    /// A published claim's words.
    #[serde(default)]
    pub claim: Option<String>,
    /// Where the paper states it.
    #[serde(default)]
    pub source: Option<String>,
    /// An expectation's words.
    #[serde(default)]
    pub expectation: Option<String>,
    /// Why we expect it.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub paper: Option<String>,
    #[serde(default)]
    pub rule: Option<Rule>,
    pub check: Check,
    #[serde(default)]
    pub evidence: Vec<Evidence>,
}

/// A validated reference file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReferenceFile {
    pub schema_version: u32,
    pub paper: String,
    pub citation: Citation,
    pub note: Option<String>,
    /// Published claims, then our expectations, in file order within each.
    pub entries: Vec<Entry>,
}

impl ReferenceFile {
    pub fn claims(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.section == Section::Claim)
    }

    pub fn expectations(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|e| e.section == Section::Expectation)
    }
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

/// A published claim (the paper says it) or an expectation (we say it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Claim,
    Expectation,
}

/// A validated claim or expectation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub id: String,
    pub section: Section,
    /// The claim's or expectation's words.
    pub text: String,
    /// A claim's place in the paper; an expectation's reason.
    pub source: String,
    /// The paper's number as printed (default: the check's bounds in words).
    pub paper: String,
    pub rule: Rule,
    pub check: Check,
    /// At least one piece (the check as written when the file lists none).
    pub evidence: Vec<Evidence>,
}

/// How the verdicts of a claim's pieces of evidence make its verdict.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Every piece holds (one that does not hold fails the claim).
    #[default]
    All,
    /// At least one piece holds.
    Any,
    /// The pieces at an operating point the paper reports (the rows matching this filter)
    /// decide, all of them; the others are shown as context.
    At(Filter),
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::All => f.write_str("all"),
            Rule::Any => f.write_str("any"),
            Rule::At(filter) => write!(f, "at {}", describe_filter(filter)),
        }
    }
}

/// One selection the check runs on: `filter` narrows the check's own filter (both sides of a
/// ratio); `numerator` / `denominator` replace a ratio's sides; `order` replaces an ordering's
/// (one claim "L1 and Chebyshev both cost less than L2" is two orders).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    #[serde(default)]
    pub filter: Filter,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numerator: Option<Filter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denominator: Option<Filter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Vec<Scalar>>,
}

/// The smallest difference that counts: a number in the metric's stored unit, or
/// `{standard_errors: k}`, k standard errors √(p(1-p)/n) of an accuracy p on the run's n test
/// images (only for `accuracy`, `accuracy_drop`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MinEffect {
    Value(f64),
    TestSet { standard_errors: f64 },
}

/// A machine-checkable shape. Every check takes an optional `filter` restricting the rows it
/// looks at; rows are configurations (seeds averaged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Check {
    /// Every selected configuration's metric lies in `[min, max]` (one piece of evidence each).
    Range(RangeCheck),
    /// The metric is ordered over the values of `by` as `order` says, per setting.
    Ordering(OrderingCheck),
    /// The metric moves in `direction` along `along`, per setting.
    Trend(TrendCheck),
    /// metric(numerator configuration) / metric(the one denominator configuration) lies in
    /// `[min, max]`, one piece per numerator configuration.
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
    /// A value within `min_effect` of a bound is inconclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_effect: Option<MinEffect>,
    /// Schema 1 only (ignored: every configuration is checked).
    #[serde(default, skip_serializing)]
    pub aggregate: Option<String>,
}

/// See [`Check::Ordering`]. Compares like with like: only settings of the other key columns
/// that ran every value in `order` count, each setting one piece of evidence.
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_effect: Option<MinEffect>,
    /// Key columns that differ between the levels by design and so do not split settings, as
    /// in [`TrendCheck::covary`]; `p_method_*` names every method parameter, which is how an
    /// ordering compares different methods (`by: label`) on the same model.
    #[serde(default)]
    pub covary: Vec<String>,
    #[serde(default)]
    pub filter: Filter,
    /// Schema 1 only (rejected in schema 2: use `min_effect`).
    #[serde(default, skip_serializing)]
    pub tolerance: Option<f64>,
}

/// See [`Check::Trend`]. Each step between consecutive levels (sorted numerically when they are
/// all numbers) must move in `direction` by at least `min_effect`. Compares like with like:
/// only settings of the other key columns that ran every level count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrendCheck {
    pub metric: String,
    /// The parameter column the trend runs along (`p_method_c`).
    pub along: String,
    pub direction: TrendDirection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_effect: Option<MinEffect>,
    /// Key columns that change together with `along` by design (a suite's `zip`, e.g. the conv
    /// layers' `p_method_v_conv` beside `p_method_v`): they do not split settings. A name ending
    /// in `*` covers every column with that prefix.
    #[serde(default)]
    pub covary: Vec<String>,
    #[serde(default)]
    pub filter: Filter,
    /// Schema 1 only (rejected in schema 2: use `min_effect`).
    #[serde(default, skip_serializing)]
    pub tolerance: Option<f64>,
}

/// See [`Check::Ratio`]. `filter` applies to both sides. At least one of `min`, `max`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatioCheck {
    pub metric: String,
    pub numerator: Filter,
    pub denominator: Filter,
    /// The denominator's column when it is not `metric`: a ratio of two measurements of one
    /// quantity in different columns (encrypted latency against the plaintext model's
    /// measured latency).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denominator_metric: Option<String>,
    #[serde(default)]
    pub filter: Filter,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// A ratio within `min_effect` (a plain number) of a bound is inconclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_effect: Option<MinEffect>,
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
            format!("{}={}", crate::results::short_key(k, &[]), vals.join("|"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `base` with every entry of `extra` added (an entry of `extra` replaces the same column).
pub fn merged(base: &Filter, extra: &Filter) -> Filter {
    let mut out = base.clone();
    out.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    out
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

    pub fn min_effect(&self) -> Option<MinEffect> {
        match self {
            Check::Range(c) => c.min_effect,
            Check::Ordering(c) => c.min_effect,
            Check::Trend(c) => c.min_effect,
            Check::Ratio(c) => c.min_effect,
        }
    }

    /// Problems a parser cannot see (bounds, list lengths, noise), as messages. `version` is
    /// the file's schema version.
    pub fn problems(&self, version: u32) -> Vec<String> {
        let mut out = Vec::new();
        let bounds = |min: Option<f64>, max: Option<f64>, out: &mut Vec<String>| match (min, max) {
            (None, None) => out.push("give at least one of `min`, `max`".into()),
            (Some(a), Some(b)) if a > b => out.push(format!("min {a} is above max {b}")),
            _ => {}
        };
        let v2 = version >= SCHEMA_VERSION;
        match self {
            Check::Range(c) => {
                bounds(c.min, c.max, &mut out);
                if v2 && c.aggregate.is_some() {
                    out.push("`aggregate` is schema 1: every configuration is checked now".into());
                }
            }
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
                if v2 && c.tolerance.is_some() {
                    out.push("`tolerance` is schema 1: state `min_effect` instead".into());
                }
                if v2 && c.min_effect.is_none() {
                    out.push("an ordering must state its `min_effect`".into());
                }
            }
            Check::Trend(c) => {
                if v2 && c.tolerance.is_some() {
                    out.push("`tolerance` is schema 1: state `min_effect` instead".into());
                }
                if v2 && c.min_effect.is_none() {
                    out.push("a trend must state its `min_effect`".into());
                }
            }
        }
        match self.min_effect() {
            Some(MinEffect::Value(x)) if x < 0.0 || !x.is_finite() => {
                out.push("`min_effect` must be a finite number ≥ 0".into())
            }
            Some(MinEffect::TestSet { standard_errors }) => {
                if !(standard_errors >= 0.0 && standard_errors.is_finite()) {
                    out.push("`standard_errors` must be a finite number ≥ 0".into());
                }
                if !matches!(self.metric(), "accuracy" | "accuracy_drop") {
                    out.push(format!(
                        "`min_effect: {{standard_errors: …}}` sizes the noise of an accuracy; `{}` needs a plain number",
                        self.metric()
                    ));
                }
                if matches!(self, Check::Ratio(_)) {
                    out.push("a ratio's `min_effect` is a plain number".into());
                }
            }
            _ => {}
        }
        out
    }

    /// The bounds of a range or ratio in words (`≤ 3.10 pp`, `1.4–7.0×`); an ordering or a
    /// trend in words.
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
            Check::Range(c) => format!(
                "{} {}",
                crate::metrics::label(&c.metric),
                bounds(&c.metric, c.min, c.max, false)
            ),
            Check::Ratio(c) => match &c.denominator_metric {
                Some(d) => format!(
                    "{} / {} {}",
                    crate::metrics::label(&c.metric),
                    crate::metrics::label(d),
                    bounds(&c.metric, c.min, c.max, true)
                ),
                None => format!(
                    "{} {}",
                    crate::metrics::label(&c.metric),
                    bounds(&c.metric, c.min, c.max, true)
                ),
            },
            Check::Ordering(c) => {
                let sym = match c.direction {
                    Direction::Ascending => " < ",
                    Direction::Descending => " > ",
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
