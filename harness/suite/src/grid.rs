//! Parameter grids: fixed values, cartesian axes and zipped groups, and their expansion.

use std::collections::BTreeMap;

use compbench_core::Value;

/// The most points one entry may expand to; a typo like a 1000-element list times another
/// should be refused, not allocated.
pub const MAX_POINTS: u64 = 100_000;

/// One axis of a grid: a single parameter's list, or a `zip:` group whose lists vary together.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub names: Vec<String>,
    /// `rows[i][j]` is the value of `names[j]` at position `i` of the axis.
    pub rows: Vec<Vec<Value>>,
}

/// The parameters of one suite entry as written (values checked, defaults not yet filled).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Grid {
    pub fixed: Vec<(String, Value)>,
    /// Expanded as nested loops in written order: the last axis varies fastest.
    pub axes: Vec<Axis>,
}

impl Grid {
    /// Number of points, or `None` past [`MAX_POINTS`].
    pub fn len(&self) -> Option<u64> {
        let mut n: u64 = 1;
        for axis in &self.axes {
            n = n.checked_mul(axis.rows.len() as u64)?;
            if n > MAX_POINTS {
                return None;
            }
        }
        Some(n)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// Every point, in order. Call only when [`Grid::len`] is `Some`.
    pub fn expand(&self) -> Vec<BTreeMap<String, Value>> {
        let base: BTreeMap<String, Value> = self.fixed.iter().cloned().collect();
        let mut points = vec![base];
        for axis in &self.axes {
            let mut next = Vec::with_capacity(points.len() * axis.rows.len());
            for p in &points {
                for row in &axis.rows {
                    let mut q = p.clone();
                    for (name, v) in axis.names.iter().zip(row) {
                        q.insert(name.clone(), v.clone());
                    }
                    next.push(q);
                }
            }
            points = next;
        }
        points
    }

    /// Replace parameter `name` wherever it is (fixed, an axis, a zip group) by `values`:
    /// one value makes it fixed, several make it an axis. The `quick:` block uses this.
    pub fn set(&mut self, name: &str, values: Vec<Value>) {
        self.fixed.retain(|(n, _)| n != name);
        for axis in &mut self.axes {
            if let Some(j) = axis.names.iter().position(|n| n == name) {
                axis.names.remove(j);
                for row in &mut axis.rows {
                    row.remove(j);
                }
            }
        }
        self.axes.retain(|a| !a.names.is_empty());
        match values.len() {
            1 => self
                .fixed
                .push((name.to_string(), values.into_iter().next().expect("len 1"))),
            _ => self.axes.push(Axis {
                names: vec![name.to_string()],
                rows: values.into_iter().map(|v| vec![v]).collect(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(name: &str, vals: &[i64]) -> Axis {
        Axis {
            names: vec![name.into()],
            rows: vals.iter().map(|v| vec![Value::Int(*v)]).collect(),
        }
    }

    #[test]
    fn set_removes_from_zip_groups() {
        let mut g = Grid {
            fixed: vec![],
            axes: vec![Axis {
                names: vec!["a".into(), "b".into()],
                rows: vec![
                    vec![Value::Int(1), Value::Int(2)],
                    vec![Value::Int(3), Value::Int(4)],
                ],
            }],
        };
        g.set("a", vec![Value::Int(9)]);
        assert_eq!(g.len(), Some(2));
        let pts = g.expand();
        assert_eq!(pts[1]["a"], Value::Int(9));
        assert_eq!(pts[1]["b"], Value::Int(4));
    }

    #[test]
    fn len_refuses_huge_grids() {
        let big: Vec<i64> = (0..1000).collect();
        let g = Grid {
            fixed: vec![],
            axes: vec![axis("a", &big), axis("b", &big)],
        };
        assert_eq!(g.len(), None);
    }
}
