//! Small printing helpers shared by the commands.

use std::fmt;
use std::io::IsTerminal;

/// An error caused by the user's input (exit code 2).
#[derive(Debug)]
pub struct InvalidInput(pub String);

impl fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidInput {}

/// `Err(InvalidInput)` as an anyhow error.
pub fn invalid<T>(message: impl Into<String>) -> anyhow::Result<T> {
    Err(InvalidInput(message.into()).into())
}

/// True when stderr is a terminal and we are not in CI: progress bars and colours are on.
pub fn interactive() -> bool {
    std::io::stderr().is_terminal() && std::env::var("CI").map_or(true, |v| v != "true" && v != "1")
}

pub fn error(message: &str) {
    if interactive() {
        eprintln!("\x1b[1;31merror\x1b[0m: {message}");
    } else {
        eprintln!("error: {message}");
    }
}

pub fn warn(message: &str) {
    if interactive() {
        eprintln!("\x1b[1;33mwarning\x1b[0m: {message}");
    } else {
        eprintln!("warning: {message}");
    }
}

/// A left-aligned text table (no borders), columns padded to their widest cell.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `12.3 s`, `2 min 05 s`.
pub fn duration(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.1} s")
    } else {
        format!("{} min {:02} s", (s / 60.0) as u64, (s % 60.0) as u64)
    }
}

pub fn percent(x: Option<f64>) -> String {
    x.map_or("—".to_string(), |x| format!("{:.2} %", 100.0 * x))
}
