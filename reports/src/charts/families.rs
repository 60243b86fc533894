//! The cross-family Pareto charts of the survey: accuracy against energy per inference and
//! against area, one marker shape per method family (the results' `family` column), with the
//! Pareto front over every point (higher accuracy, lower energy or area).

use compbench_core::Family;

use super::efficiency::accuracy_point;
use super::scatter::{Front, Marker, Scatter, Series};
use super::{Figure, rows_with, wants_log};
use crate::error::ReportError;
use crate::metrics::{header, info, label, scale_for};
use crate::results::{ConfigTable, DERIVED_KEY};

/// The marker of each family, so a family looks the same in every report.
pub fn marker(family: Option<Family>) -> Marker {
    match family {
        Some(Family::Baseline) => Marker::Circle,
        Some(Family::ScalarQuantization) => Marker::Square,
        Some(Family::VectorQuantization) => Marker::Diamond,
        Some(Family::Pruning) => Marker::TriangleUp,
        Some(Family::Distillation) => Marker::TriangleDown,
        Some(Family::NonlinearApproximation) => Marker::Cross,
        Some(Family::HomomorphicEncryption) => Marker::Plus,
        None => Marker::Circle,
    }
}

/// Rows priced at the smallest `hw_batch` of `rows` (one inference), or all of them when the
/// table has no batch column.
fn one_inference(table: &ConfigTable, rows: Vec<usize>) -> (Vec<usize>, Option<u64>) {
    let batch = |r: usize| table.key(r, "hw_batch").and_then(|b| b.parse::<u64>().ok());
    match rows.iter().filter_map(|&r| batch(r)).min() {
        Some(b) => (
            rows.into_iter().filter(|&r| batch(r) == Some(b)).collect(),
            Some(b),
        ),
        None => (rows, None),
    }
}

pub fn figures(table: &ConfigTable) -> Result<Vec<Figure>, ReportError> {
    let mut out = Vec::new();
    if table.key_index(DERIVED_KEY).is_none() {
        return Ok(out);
    }
    for (metric, name, what) in [
        (
            "energy_pj",
            "accuracy-vs-energy-by-family",
            "energy per inference",
        ),
        ("area_um2", "accuracy-vs-area-by-family", "area"),
    ] {
        let rows: Vec<usize> = rows_with(table, &["accuracy", metric])
            .into_iter()
            .filter(|&r| table.key(r, DERIVED_KEY).is_some_and(|f| !f.is_empty()))
            .collect();
        let (rows, batch) = one_inference(table, rows);
        // Families in the taxonomy's order, then ids this build does not know.
        let mut families: Vec<String> = Family::ALL.iter().map(|f| f.id().to_string()).collect();
        for &r in &rows {
            let f = table.key(r, DERIVED_KEY).expect("filtered").to_string();
            if !families.contains(&f) {
                families.push(f);
            }
        }
        families.retain(|f| rows.iter().any(|&r| table.key(r, DERIVED_KEY) == Some(f)));
        let compressed = families
            .iter()
            .filter(|f| Family::from_id(f) != Some(Family::Baseline))
            .count();
        if compressed < 2 {
            continue; // not a comparison across families
        }
        let mean = |r: usize, m: &str| table.stat(r, m).map(|s| s.mean).unwrap_or(f64::NAN);
        let xs_raw: Vec<f64> = rows.iter().map(|&r| mean(r, metric)).collect();
        let acc: Vec<f64> = rows.iter().map(|&r| mean(r, "accuracy")).collect();
        let xs = scale_for(info(metric).unit, &xs_raw);
        let ys = scale_for(info("accuracy").unit, &acc);
        let series: Vec<Series> = families
            .iter()
            .map(|fid| {
                let known = Family::from_id(fid);
                Series {
                    name: known.map_or(fid.clone(), |f| f.name().to_string()),
                    points: rows
                        .iter()
                        .filter(|&&r| table.key(r, DERIVED_KEY) == Some(fid.as_str()))
                        .map(|&r| accuracy_point(table, r, mean(r, metric) * xs.factor, ys.factor))
                        .collect(),
                    marker: marker(known),
                }
            })
            .collect();
        let scaled: Vec<f64> = xs_raw.iter().map(|x| x * xs.factor).collect();
        let chart = Scatter {
            name: name.into(),
            title: format!("Accuracy vs {what}, by method family"),
            x_desc: header(metric, &xs),
            y_desc: header("accuracy", &ys),
            series,
            front: Front::Overall {
                max_x: false,
                max_y: true,
            },
            log_x: wants_log(&scaled, 30.0),
            log_y: false,
        };
        // Families with results but no cost on any design (no hardware model prices ciphertext
        // operations, so encrypted rows have none): named, not silently missing.
        let mut undrawn: Vec<String> = Vec::new();
        for r in rows_with(table, &["accuracy"]) {
            let Some(f) = table.key(r, DERIVED_KEY).filter(|f| !f.is_empty()) else {
                continue;
            };
            let name = Family::from_id(f).map_or(f.to_string(), |k| k.name().to_string());
            if !families.iter().any(|g| g == f) && !undrawn.contains(&name) {
                undrawn.push(name);
            }
        }
        let undrawn = if undrawn.is_empty() {
            String::new()
        } else {
            format!(
                " Not drawn, as no hardware model gives them a cost: {}.",
                undrawn.join(", ")
            )
        };
        let at = batch.map_or(String::new(), |b| format!(" at batch {b}"));
        out.push(Figure {
            svg: chart.render()?,
            name: chart.name,
            caption: format!(
                "Each point is one configuration priced on one hardware design{at} (mean over \
                 seeds; whiskers: 95 % CI); the marker shape says the method's family in the \
                 survey's taxonomy. The black line joins the Pareto-optimal points: none has \
                 both higher accuracy and lower {}.{undrawn}",
                label(metric)
            ),
            title: chart.title,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::pareto_front;
    use crate::results::aggregate;
    use polars::prelude::*;

    /// The front of a hand-made point set, in the chart's orientation (lower x, higher y).
    #[test]
    fn pareto_front_lower_cost_higher_accuracy() {
        // (energy, accuracy)
        let pts = [
            (10.0, 0.90), // 0: front (cheapest)
            (20.0, 0.95), // 1: front
            (25.0, 0.93), // 2: dominated by 1
            (40.0, 0.97), // 3: front (most accurate)
            (50.0, 0.97), // 4: dominated by 3 (same accuracy, more energy)
            (15.0, 0.85), // 5: dominated by 0
            (10.0, 0.90), // 6: a duplicate of 0: drawn once
        ];
        assert_eq!(pareto_front(&pts, false, true), vec![0, 1, 3]);
    }

    fn table(families: &[&str]) -> ConfigTable {
        let n = families.len();
        let methods: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
        let df = df![
            "method" => methods,
            "family" => families,
            "hw_batch" => vec![1i64; n],
            "accuracy" => (0..n).map(|i| 0.8 + 0.01 * i as f64).collect::<Vec<_>>(),
            "energy_pj" => (0..n).map(|i| 1e6 * (1 + i) as f64).collect::<Vec<_>>(),
            "area_um2" => (0..n).map(|i| 1e6 * (1 + i) as f64).collect::<Vec<_>>(),
        ]
        .unwrap();
        aggregate(&df).unwrap()
    }

    #[test]
    fn drawn_only_across_families_with_one_marker_each() {
        assert!(
            figures(&table(&["baseline", "pruning", "pruning"]))
                .unwrap()
                .is_empty()
        );
        let figs = figures(&table(&[
            "baseline",
            "scalar-quantization",
            "pruning",
            "homomorphic-encryption",
        ]))
        .unwrap();
        let names: Vec<&str> = figs.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["accuracy-vs-energy-by-family", "accuracy-vs-area-by-family"]
        );
        let svg = &figs[0].svg;
        for family in [
            "baseline",
            "scalar quantization",
            "pruning",
            "homomorphic encryption",
        ] {
            assert!(svg.contains(family), "legend lacks {family}");
        }
        assert!(svg.contains("Pareto front"));
        assert!(svg.contains("<polygon"), "non-circle markers are polygons");
    }

    #[test]
    fn families_without_a_cost_are_named_in_the_caption() {
        let df = df![
            "method" => ["a", "b", "he"],
            "family" => ["pruning", "scalar-quantization", "homomorphic-encryption"],
            "hw_batch" => [1i64, 1, 1],
            "accuracy" => [0.8, 0.9, 0.85],
            "energy_pj" => [Some(1.0), Some(2.0), None],
            "area_um2" => [Some(1.0), Some(1.0), None],
        ]
        .unwrap();
        let figs = figures(&aggregate(&df).unwrap()).unwrap();
        assert_eq!(figs.len(), 2);
        assert!(
            figs[0].caption.ends_with(
                "Not drawn, as no hardware model gives them a cost: homomorphic encryption."
            ),
            "{}",
            figs[0].caption
        );
        assert!(!figs[0].svg.contains("homomorphic"));
    }

    #[test]
    fn one_inference_keeps_the_smallest_batch() {
        let df = df![
            "method" => ["a", "a", "b", "b"],
            "family" => ["pruning", "pruning", "scalar-quantization", "scalar-quantization"],
            "hw_batch" => [1i64, 16, 1, 16],
            "accuracy" => [0.8, 0.8, 0.9, 0.9],
            "energy_pj" => [1.0, 16.0, 2.0, 32.0],
        ]
        .unwrap();
        let t = aggregate(&df).unwrap();
        let (rows, b) = one_inference(&t, (0..4).collect());
        assert_eq!(b, Some(1));
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|&r| t.key(r, "hw_batch") == Some("1")));
    }
}
