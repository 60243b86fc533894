//! Per-layer allocations (e.g. sparsity per layer) from columns named
//! `method_layer<index>_<quantity>`: one chart per quantity, one bar colour per configuration.

use super::Figure;
use super::bars::{Bar, Bars};
use crate::error::ReportError;
use crate::metrics::{header, info, scale_for};
use crate::results::ConfigTable;

/// At most this many configurations per chart (the first ones, in table order).
const MAX_SERIES: usize = 8;

/// `method_layer3_sparsity` → `(3, "sparsity")`.
pub fn parse_layer_column(column: &str) -> Option<(usize, &str)> {
    let rest = column.strip_prefix("method_layer")?;
    let (idx, quantity) = rest.split_once('_')?;
    if quantity.is_empty() {
        return None;
    }
    Some((idx.parse().ok()?, quantity))
}

pub fn figures(table: &ConfigTable) -> Result<Vec<Figure>, ReportError> {
    // quantity -> [(layer index, metric index)]
    let mut quantities: Vec<(String, Vec<(usize, usize)>)> = Vec::new();
    for (m, column) in table.metrics.iter().enumerate() {
        if let Some((layer, q)) = parse_layer_column(column) {
            match quantities.iter_mut().find(|(name, _)| name == q) {
                Some((_, v)) => v.push((layer, m)),
                None => quantities.push((q.to_string(), vec![(layer, m)])),
            }
        }
    }
    let mut out = Vec::new();
    for (q, mut layers) in quantities {
        layers.sort();
        let rows: Vec<usize> = (0..table.rows.len())
            .filter(|&r| {
                layers
                    .iter()
                    .any(|&(_, m)| table.rows[r].stats[m].is_some())
            })
            .take(MAX_SERIES)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let raw: Vec<f64> = rows
            .iter()
            .flat_map(|&r| {
                layers
                    .iter()
                    .filter_map(move |&(_, m)| table.rows[r].stats[m])
            })
            .map(|s| s.mean)
            .collect();
        let scale = scale_for(info(&q).unit, &raw);
        let values = layers
            .iter()
            .map(|&(_, m)| {
                rows.iter()
                    .map(|&r| {
                        table.rows[r].stats[m].map(|s| Bar {
                            value: s.mean * scale.factor,
                            ci: s.ci95.map(|c| c * scale.factor),
                        })
                    })
                    .collect()
            })
            .collect();
        let chart = Bars {
            name: format!("per-layer-{q}"),
            title: format!("Per-layer {q}"),
            y_desc: header(&q, &scale),
            categories: layers.iter().map(|(l, _)| format!("layer {l}")).collect(),
            series: table.describe(&rows, &[]),
            values,
        };
        out.push(Figure {
            svg: chart.render()?,
            name: chart.name,
            title: chart.title,
            caption: format!(
                "{q} allocated to each layer by each configuration (mean over seeds; whiskers: \
                 95 % CI)."
            ),
        });
    }
    Ok(out)
}
