//! What each metric column means to a reader: display name, unit, which way is better, and how
//! to print its numbers (significant digits, SI prefixes chosen per column).

// The metric schema lives in compbench-core, so suite validation, the runner and the reports
// read one list; this module adds only how to print the numbers.
pub use compbench_core::metrics::{Better, Side, Unit};

/// Display facts about one metric column.
#[derive(Debug, Clone, Copy)]
pub struct MetricInfo {
    /// `None` for columns outside the catalog (they are labelled by their own name).
    pub label: Option<&'static str>,
    pub unit: Unit,
    pub better: Better,
    pub side: Side,
}

/// Looks up a metric column of docs/results-schema.md; unknown columns (`method_*`) get their
/// own name, no unit and no "better" direction, and count as model-side.
pub fn info(column: &str) -> MetricInfo {
    match compbench_core::metrics::describe(column) {
        Some(m) => MetricInfo {
            label: Some(m.label),
            unit: m.unit,
            better: m.better,
            side: m.side,
        },
        None => MetricInfo {
            label: None,
            unit: Unit::Plain,
            better: Better::Neither,
            side: Side::Model,
        },
    }
}

/// The label to print for `column`: the catalog's, or the column name itself.
pub fn label(column: &str) -> String {
    info(column).label.unwrap_or(column).to_string()
}

/// A chosen scale for one column: multiply stored values by `factor`, print `unit` after them.
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    pub factor: f64,
    pub unit: String,
    /// Fixed decimals (percentages) or `None` for three significant digits.
    pub decimals: Option<usize>,
}

const SI: [(i32, &str); 9] = [
    (-15, "f"),
    (-12, "p"),
    (-9, "n"),
    (-6, "µ"),
    (-3, "m"),
    (0, ""),
    (3, "k"),
    (6, "M"),
    (9, "G"),
];
const SI_BIG: [(i32, &str); 5] = [(0, ""), (3, "k"), (6, "M"), (9, "G"), (12, "T")];

/// Picks the SI prefix (from `table`) that puts `magnitude` (in base units) into 1..1000.
fn prefix(magnitude: f64, table: &[(i32, &'static str)]) -> (f64, &'static str) {
    let exp = if magnitude > 0.0 && magnitude.is_finite() {
        (magnitude.log10() / 3.0).floor() as i32 * 3
    } else {
        0
    };
    let (e, p) = table
        .iter()
        .rev()
        .find(|(e, _)| *e <= exp)
        .copied()
        .unwrap_or(table[0]);
    (10f64.powi(-e), p)
}

/// Chooses one scale for all `values` of a metric (by their largest magnitude), so a column or
/// an axis reads in one unit.
pub fn scale_for(unit: Unit, values: &[f64]) -> Scale {
    let mag = values
        .iter()
        .filter(|v| v.is_finite())
        .fold(0f64, |m, v| m.max(v.abs()));
    let si = |base: f64, table: &[(i32, &'static str)], suffix: &str| {
        let (f, p) = prefix(mag * base, table);
        Scale {
            factor: f * base,
            unit: format!("{p}{suffix}"),
            decimals: None,
        }
    };
    match unit {
        Unit::Percent => Scale {
            factor: 100.0,
            unit: "%".into(),
            decimals: Some(2),
        },
        Unit::PercentagePoints => Scale {
            factor: 1.0,
            unit: "pp".into(),
            decimals: Some(2),
        },
        Unit::Seconds => si(1.0, &SI[..6], "s"),
        Unit::PicoJoules => si(1e-12, &SI[..6], "J"),
        Unit::Watts => si(1.0, &SI[..6], "W"),
        Unit::SquareMicrons => {
            if mag >= 1e5 {
                Scale {
                    factor: 1e-6,
                    unit: "mm²".into(),
                    decimals: None,
                }
            } else {
                Scale {
                    factor: 1.0,
                    unit: "µm²".into(),
                    decimals: None,
                }
            }
        }
        Unit::OpsPerJoule => si(1.0, &SI_BIG, "op/J"),
        Unit::OpsPerSecondPerMm2 => si(1.0, &SI_BIG, "op/s/mm²"),
        Unit::Count => {
            let (f, p) = prefix(mag, &SI_BIG);
            Scale {
                factor: f,
                unit: p.to_string(),
                decimals: None,
            }
        }
        Unit::Bits => Scale {
            factor: 1.0,
            unit: "bits".into(),
            decimals: None,
        },
        Unit::Fraction | Unit::Plain => Scale {
            factor: 1.0,
            unit: String::new(),
            decimals: None,
        },
    }
}

/// Number of decimals that prints `x` with three significant digits.
fn sig_decimals(x: f64) -> usize {
    if x == 0.0 || !x.is_finite() {
        return 0;
    }
    (2 - x.abs().log10().floor() as i32).clamp(0, 12) as usize
}

impl Scale {
    /// Decimals used for `x` (already scaled).
    fn decimals_for(&self, x: f64) -> usize {
        self.decimals.unwrap_or_else(|| sig_decimals(x))
    }

    /// `x` scaled, without unit: `91.23`, `1.05`, `0.0312`.
    pub fn number(&self, x: f64) -> String {
        let v = x * self.factor;
        if !v.is_finite() {
            return "—".into();
        }
        let d = self.decimals_for(v);
        let s = format!("{v:.d$}");
        if s.starts_with('-') && s.trim_start_matches(['-', '0', '.']).is_empty() {
            s[1..].to_string()
        } else {
            s
        }
    }

    /// `mean ± ci` scaled, the CI printed to the mean's decimals; no `±` when `ci` is zero or
    /// not known (one seed).
    pub fn mean_ci(&self, mean: f64, ci: Option<f64>) -> String {
        let m = self.number(mean);
        match ci {
            Some(c) if c > 0.0 && c.is_finite() => {
                let d = self.decimals_for(mean * self.factor);
                format!("{m} ± {:.d$}", c * self.factor)
            }
            _ => m,
        }
    }

    /// `x` scaled with its unit: `91.23 %`, `1.20 Gop/J`.
    pub fn with_unit(&self, x: f64) -> String {
        let n = self.number(x);
        if self.unit.is_empty() {
            n
        } else {
            format!("{n} {}", self.unit)
        }
    }
}

/// `x` with three significant digits and no unit.
pub fn sig3(x: f64) -> String {
    Scale {
        factor: 1.0,
        unit: String::new(),
        decimals: None,
    }
    .number(x)
}

/// Formats one value of `column` with its own unit and scale (for claim outcomes).
pub fn format_value(column: &str, x: f64) -> String {
    scale_for(info(column).unit, &[x]).with_unit(x)
}

/// `label (unit)` or `label`, for table headers and axis descriptions.
pub fn header(column: &str, scale: &Scale) -> String {
    if scale.unit.is_empty() {
        label(column)
    } else {
        format!("{} ({})", label(column), scale.unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_digits_and_prefixes() {
        let s = scale_for(Unit::OpsPerJoule, &[1.2e12, 3.0e11]);
        assert_eq!(s.unit, "Top/J");
        assert_eq!(s.number(1.2e12), "1.20");
        assert_eq!(s.number(3.0e11), "0.300");
        let s = scale_for(Unit::Seconds, &[0.00123]);
        assert_eq!(s.with_unit(0.00123), "1.23 ms");
        let s = scale_for(Unit::Percent, &[0.91234]);
        assert_eq!(s.mean_ci(0.91234, Some(0.0021)), "91.23 ± 0.21");
        assert_eq!(s.mean_ci(0.91234, None), "91.23");
        let s = scale_for(Unit::PicoJoules, &[2.5e6]);
        assert_eq!(s.with_unit(2.5e6), "2.50 µJ");
        let s = scale_for(Unit::Count, &[1.5e9]);
        assert_eq!(s.unit, "G");
        assert_eq!(format_value("accuracy_drop", -0.001), "0.00 pp");
        assert_eq!(format_value("area_um2", 2.0e6), "2.00 mm²");
    }

    #[test]
    fn metric_sides() {
        for m in [
            "cycles",
            "latency_s",
            "energy_pj",
            "ops_per_joule",
            "utilization",
        ] {
            assert_eq!(info(m).side, Side::Hardware, "{m}");
        }
        for m in [
            "accuracy",
            "measured_latency_s",
            "bits_per_weight",
            "train_s",
            "method_bits_per_activation",
            "method_whatever",
        ] {
            assert_eq!(info(m).side, Side::Model, "{m}");
        }
    }
}
