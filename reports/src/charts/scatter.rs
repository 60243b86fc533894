//! A scatter plot with optional CI whiskers, optional log axes and Pareto fronts; shared by the
//! accuracy-vs-bits, accuracy-vs-efficiency and DSE charts.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use super::{FONT, HEIGHT, WIDTH, chart_error, color, padded_range, pareto_front};
use crate::error::ReportError;

/// One plotted point (already in display units).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    /// 95 % CI half-width on y, drawn as a whisker.
    pub y_ci: Option<f64>,
}

/// The shape a series' points are drawn with (all filled). The cross-family charts give each
/// survey family its own, so families stay apart without relying on colour alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Marker {
    #[default]
    Circle,
    Square,
    Diamond,
    TriangleUp,
    TriangleDown,
    Cross,
    Plus,
}

impl Marker {
    /// The outline of the marker around (0, 0), in px (`Circle` is drawn as a circle).
    fn outline(self) -> Vec<(i32, i32)> {
        match self {
            Marker::Circle | Marker::Square => vec![(-4, -4), (4, -4), (4, 4), (-4, 4)],
            Marker::Diamond => vec![(0, -6), (6, 0), (0, 6), (-6, 0)],
            Marker::TriangleUp => vec![(0, -6), (5, 4), (-5, 4)],
            Marker::TriangleDown => vec![(0, 6), (5, -4), (-5, -4)],
            Marker::Cross => vec![
                (-5, -3),
                (-3, -5),
                (0, -2),
                (3, -5),
                (5, -3),
                (2, 0),
                (5, 3),
                (3, 5),
                (0, 2),
                (-3, 5),
                (-5, 3),
                (-2, 0),
            ],
            Marker::Plus => vec![
                (-2, -6),
                (2, -6),
                (2, -2),
                (6, -2),
                (6, 2),
                (2, 2),
                (2, 6),
                (-2, 6),
                (-2, 2),
                (-6, 2),
                (-6, -2),
                (-2, -2),
            ],
        }
    }
}

/// A named, coloured group of points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
    pub marker: Marker,
}

/// Which Pareto front(s) to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    None,
    /// One front over all points.
    Overall {
        max_x: bool,
        max_y: bool,
    },
    /// One front per series, in the series' colour.
    PerSeries {
        max_x: bool,
        max_y: bool,
    },
}

/// Everything a scatter chart needs.
pub struct Scatter {
    pub name: String,
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    pub series: Vec<Series>,
    pub front: Front,
    pub log_x: bool,
    pub log_y: bool,
}

/// Compact tick label with three significant digits.
fn tick(v: &f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.1e}")
    } else {
        let d = (2 - a.log10().floor() as i32).clamp(0, 6) as usize;
        let s = format!("{v:.d$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

impl Scatter {
    /// Draws the chart into an SVG string.
    pub fn render(&self) -> Result<String, ReportError> {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| chart_error(&self.name, e))?;
            let xs = self
                .series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.x));
            let ys = self.series.iter().flat_map(|s| {
                s.points.iter().flat_map(|p| {
                    let ci = p.y_ci.unwrap_or(0.0);
                    [p.y - ci, p.y + ci]
                })
            });
            let (x0, x1) = padded_range(xs, self.log_x);
            let (y0, y1) = padded_range(ys, self.log_y);
            let legend_at = self.emptiest_corner((x0, x1), (y0, y1));
            let r = match (self.log_x, self.log_y) {
                (false, false) => self.draw(&root, x0..x1, y0..y1, legend_at),
                (true, false) => self.draw(&root, (x0..x1).log_scale(), y0..y1, legend_at),
                (false, true) => self.draw(&root, x0..x1, (y0..y1).log_scale(), legend_at),
                (true, true) => {
                    self.draw(&root, (x0..x1).log_scale(), (y0..y1).log_scale(), legend_at)
                }
            };
            r.map_err(|e| chart_error(&self.name, e))?;
            root.present().map_err(|e| chart_error(&self.name, e))?;
        }
        Ok(svg)
    }

    /// The corner whose legend-sized box (40 % × 35 % of the plot) covers the fewest points.
    fn emptiest_corner(&self, xr: (f64, f64), yr: (f64, f64)) -> SeriesLabelPosition {
        let norm = |v: f64, (lo, hi): (f64, f64), log: bool| {
            if log {
                (v.ln() - lo.ln()) / (hi.ln() - lo.ln())
            } else {
                (v - lo) / (hi - lo)
            }
        };
        let pts: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter())
            .map(|p| (norm(p.x, xr, self.log_x), norm(p.y, yr, self.log_y)))
            .collect();
        let count = |right: bool, top: bool| {
            pts.iter()
                .filter(|(x, y)| {
                    (if right { *x > 0.6 } else { *x < 0.4 })
                        && (if top { *y > 0.65 } else { *y < 0.35 })
                })
                .count()
        };
        [
            (SeriesLabelPosition::LowerRight, count(true, false)),
            (SeriesLabelPosition::UpperRight, count(true, true)),
            (SeriesLabelPosition::LowerLeft, count(false, false)),
            (SeriesLabelPosition::UpperLeft, count(false, true)),
        ]
        .into_iter()
        .min_by_key(|(_, n)| *n)
        .map(|(p, _)| p)
        .unwrap_or(SeriesLabelPosition::UpperRight)
    }

    fn draw<X, Y>(
        &self,
        root: &DrawingArea<SVGBackend<'_>, Shift>,
        x: X,
        y: Y,
        legend_at: SeriesLabelPosition,
    ) -> Result<(), Box<dyn std::error::Error + '_>>
    where
        X: AsRangedCoord<Value = f64>,
        Y: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT, 22))
            .margin(16)
            .x_label_area_size(52)
            .y_label_area_size(72)
            .build_cartesian_2d(x, y)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_desc)
            .y_desc(&self.y_desc)
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()?;

        let overall: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| (p.x, p.y)))
            .collect();
        if let Front::Overall { max_x, max_y } = self.front {
            let front: Vec<(f64, f64)> = pareto_front(&overall, max_x, max_y)
                .into_iter()
                .map(|i| overall[i])
                .collect();
            chart
                .draw_series(LineSeries::new(
                    front.clone(),
                    ShapeStyle::from(&BLACK).stroke_width(2),
                ))?
                .label("Pareto front")
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], BLACK.stroke_width(2))
                });
            chart.draw_series(
                front
                    .iter()
                    .map(|&p| Circle::new(p, 8, BLACK.stroke_width(2))),
            )?;
        }

        for (i, s) in self.series.iter().enumerate() {
            let c = color(i);
            chart.draw_series(s.points.iter().filter_map(|p| {
                let ci = p.y_ci.filter(|ci| *ci > 0.0)?;
                Some(PathElement::new(
                    vec![(p.x, p.y - ci), (p.x, p.y + ci)],
                    c.stroke_width(1),
                ))
            }))?;
            if s.marker == Marker::Circle {
                chart
                    .draw_series(
                        s.points
                            .iter()
                            .map(|p| Circle::new((p.x, p.y), 4, c.filled())),
                    )?
                    .label(&s.name)
                    .legend(move |(x, y)| Circle::new((x + 8, y), 4, c.filled()));
            } else {
                let shape = s.marker.outline();
                let legend_shape = shape.clone();
                chart
                    .draw_series(s.points.iter().map(|p| {
                        EmptyElement::at((p.x, p.y)) + Polygon::new(shape.clone(), c.filled())
                    }))?
                    .label(&s.name)
                    .legend(move |(x, y)| {
                        EmptyElement::at((x + 8, y))
                            + Polygon::new(legend_shape.clone(), c.filled())
                    });
            }
            if let Front::PerSeries { max_x, max_y } = self.front {
                let pts: Vec<(f64, f64)> = s.points.iter().map(|p| (p.x, p.y)).collect();
                let front: Vec<(f64, f64)> = pareto_front(&pts, max_x, max_y)
                    .into_iter()
                    .map(|i| pts[i])
                    .collect();
                chart.draw_series(LineSeries::new(front, c.stroke_width(2)))?;
            }
        }
        chart
            .configure_series_labels()
            .position(legend_at)
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .draw()?;
        Ok(())
    }
}
