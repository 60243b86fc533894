//! The minijinja environment: `templates/report.md.j2` (no auto-escape; cells pass through the
//! `md` filter) and `templates/report.html.j2` (HTML auto-escape by file name; only the charts'
//! SVG is marked safe, in `view.rs`).

use minijinja::Environment;

use crate::Format;
use crate::error::ReportError;
use crate::view::ReportView;

const MARKDOWN: &str = include_str!("../templates/report.md.j2");
const HTML: &str = include_str!("../templates/report.html.j2");
const INDEX_MARKDOWN: &str = include_str!("../templates/index.md.j2");
const INDEX_HTML: &str = include_str!("../templates/index.html.j2");

/// Escapes text for a Markdown table cell or paragraph: backslash-escapes the characters that
/// would start markup or end a cell (`\ | * ` < > [ ]`) and turns newlines into spaces.
pub fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '|' | '*' | '`' | '<' | '>' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

fn environment() -> Result<Environment<'static>, ReportError> {
    let mut env = Environment::new();
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("default delimiters are valid"),
    );
    env.add_filter("md", |s: String| md_escape(&s));
    for (name, source) in [
        ("report.md.j2", MARKDOWN),
        ("report.html.j2", HTML),
        ("index.md.j2", INDEX_MARKDOWN),
        ("index.html.j2", INDEX_HTML),
    ] {
        env.add_template(name, source)
            .map_err(|source| ReportError::Template {
                name: name.into(),
                source,
            })?;
    }
    Ok(env)
}

/// Renders the report in `format`.
pub fn render(format: Format, report: &ReportView) -> Result<String, ReportError> {
    let name = match format {
        Format::Markdown => "report.md.j2",
        Format::Html => "report.html.j2",
    };
    render_named(name, report)
}

/// Renders template `name` (its extension picks the escaping) with `context`.
pub fn render_named(name: &str, context: &impl serde::Serialize) -> Result<String, ReportError> {
    let env = environment()?;
    let err = |source| ReportError::Template {
        name: name.into(),
        source,
    };
    env.get_template(name)
        .map_err(err)?
        .render(minijinja::Value::from(minijinja::value::Serde(context)))
        .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_cells_are_escaped() {
        assert_eq!(md_escape("a|b"), "a\\|b");
        assert_eq!(
            md_escape("<script>alert(1)</script>"),
            "\\<script\\>alert(1)\\</script\\>"
        );
        assert_eq!(md_escape("x\ny"), "x y");
    }
}
