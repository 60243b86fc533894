//! The metric schema: every fixed results column, once.
//!
//! Suite validation (which names a suite's `metrics:` may list), the runner (which columns it
//! writes, in which order) and the reports (labels, units, which way is better, model or hardware
//! side) all read [`METRICS`]. A method's own metrics are `method_<name>` columns and need no
//! entry; [`method_metric`] describes the few that reports label specially.

/// Which direction of a metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
    /// Neither (the baseline's accuracy, sparsity, bit widths).
    Neither,
}

/// What a metric measures: the compressed model itself (the same on every hardware model an
/// experiment is priced on) or its cost on one hardware design.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Model,
    Hardware,
}

/// The unit a metric is stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A 0-1 fraction shown as a percentage.
    Percent,
    /// Percentage points.
    PercentagePoints,
    Seconds,
    PicoJoules,
    Watts,
    SquareMicrons,
    OpsPerJoule,
    OpsPerSecondPerMm2,
    /// A count (cycles).
    Count,
    Bits,
    /// A 0-1 fraction shown as is.
    Fraction,
    /// No unit.
    Plain,
}

/// One metric column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    /// Column name (snake_case, as in docs/results-schema.md).
    pub name: &'static str,
    /// Short label for tables and charts.
    pub label: &'static str,
    pub unit: Unit,
    pub better: Better,
    pub side: Side,
    pub description: &'static str,
}

const fn def(
    name: &'static str,
    label: &'static str,
    unit: Unit,
    better: Better,
    side: Side,
    description: &'static str,
) -> MetricDef {
    MetricDef {
        name,
        label,
        unit,
        better,
        side,
        description,
    }
}

use Better::{Higher, Lower, Neither};
use Side::{Hardware, Model};

/// Every fixed metric column, in results-schema order. The runner writes the `method_*` columns
/// between the second-to-last entry and the last (`train_s`).
pub const METRICS: &[MetricDef] = &[
    def(
        "accuracy",
        "accuracy",
        Unit::Percent,
        Higher,
        Model,
        "top-1 accuracy on the test split, through the deployed kernels",
    ),
    def(
        "baseline_accuracy",
        "baseline accuracy",
        Unit::Percent,
        Neither,
        Model,
        "top-1 accuracy of the float baseline the method started from",
    ),
    def(
        "accuracy_drop",
        "accuracy drop",
        Unit::PercentagePoints,
        Lower,
        Model,
        "baseline accuracy minus accuracy, in percentage points",
    ),
    def(
        "measured_latency_s",
        "CPU latency",
        Unit::Seconds,
        Lower,
        Model,
        "measured CPU time per image of the deployed model, end to end",
    ),
    def(
        "cycles",
        "cycles",
        Unit::Count,
        Lower,
        Hardware,
        "accelerator cycles per inference at the pricing batch",
    ),
    def(
        "latency_s",
        "HW latency",
        Unit::Seconds,
        Lower,
        Hardware,
        "accelerator latency per inference",
    ),
    def(
        "energy_pj",
        "energy",
        Unit::PicoJoules,
        Lower,
        Hardware,
        "accelerator energy per inference, leakage included",
    ),
    def(
        "power_w",
        "power",
        Unit::Watts,
        Lower,
        Hardware,
        "average accelerator power while running",
    ),
    def(
        "area_um2",
        "area",
        Unit::SquareMicrons,
        Lower,
        Hardware,
        "silicon area of the design",
    ),
    def(
        "utilization",
        "utilization",
        Unit::Fraction,
        Higher,
        Hardware,
        "achieved ÷ peak MAC throughput",
    ),
    def(
        "ops_per_joule",
        "power efficiency",
        Unit::OpsPerJoule,
        Higher,
        Hardware,
        "dense-equivalent operations per joule",
    ),
    def(
        "ops_per_s_per_mm2",
        "area efficiency",
        Unit::OpsPerSecondPerMm2,
        Higher,
        Hardware,
        "dense-equivalent operations per second per mm²",
    ),
    def(
        "bits_per_weight",
        "bits/weight",
        Unit::Bits,
        Neither,
        Model,
        "stored bits per weight of the GEMM layers, as the deployed kernels store them",
    ),
    def(
        "sparsity",
        "sparsity",
        Unit::Fraction,
        Neither,
        Model,
        "fraction of GEMM weights that are zero",
    ),
    def(
        "train_s",
        "train time",
        Unit::Seconds,
        Lower,
        Model,
        "wall time the method spent (fine-tuning included)",
    ),
];

/// Method metrics (`method_<name>` columns) that reports label specially.
const METHOD_METRICS: &[MetricDef] = &[def(
    "method_bits_per_activation",
    "bits/activation",
    Unit::Bits,
    Neither,
    Model,
    "bits per GEMM input element as the deployed encoder stores it",
)];

/// The definition of a fixed metric column.
pub fn metric(name: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|m| m.name == name)
}

/// The definition of a known `method_*` column.
pub fn method_metric(name: &str) -> Option<&'static MetricDef> {
    METHOD_METRICS.iter().find(|m| m.name == name)
}

/// A fixed metric or a known method metric.
pub fn describe(name: &str) -> Option<&'static MetricDef> {
    metric(name).or_else(|| method_metric(name))
}

/// The names of [`METRICS`], in order.
pub fn names() -> impl Iterator<Item = &'static str> {
    METRICS.iter().map(|m| m.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_train_s_is_last() {
        let mut seen = std::collections::BTreeSet::new();
        for m in METRICS.iter().chain(METHOD_METRICS) {
            assert!(seen.insert(m.name), "duplicate metric {}", m.name);
            assert!(
                m.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{} is not snake_case",
                m.name
            );
            assert!(!m.label.is_empty() && !m.description.is_empty());
        }
        assert_eq!(METRICS.last().map(|m| m.name), Some("train_s"));
        assert!(METHOD_METRICS.iter().all(|m| m.name.starts_with("method_")));
    }
}
