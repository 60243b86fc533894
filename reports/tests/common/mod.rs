//! Shared test helpers: snapshot comparison and a tiny XML well-formedness checker (written
//! here instead of pulling an XML crate: SVG from plotters needs only elements, attributes,
//! text, entities, comments and a declaration).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots")
}

pub fn references_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites/references")
}

/// Compares `actual` with `tests/snapshots/<name>` byte for byte; with `UPDATE_SNAPSHOTS=1`
/// rewrites the file instead.
pub fn assert_snapshot(name: &str, actual: &str) {
    let path = snapshot_dir().join(name);
    if std::env::var("UPDATE_SNAPSHOTS").as_deref() == Ok("1") {
        std::fs::create_dir_all(snapshot_dir()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "snapshot {} is missing; run with UPDATE_SNAPSHOTS=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "snapshot {} differs at line {}:\n expected: {:?}\n   actual: {:?}\n\
             (run with UPDATE_SNAPSHOTS=1 to accept the new output)",
            path.display(),
            line + 1,
            expected.lines().nth(line).unwrap_or("<end>"),
            actual.lines().nth(line).unwrap_or("<end>")
        );
    }
}

/// Checks that `text` is one well-formed XML element (optionally after an XML declaration and
/// comments): tags nest and match, attributes are quoted and unique, `&` starts a known entity,
/// `<` only opens markup. Returns the root element's name.
pub fn check_xml(text: &str) -> Result<String, String> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut stack: Vec<String> = Vec::new();
    let mut root: Option<String> = None;
    let err = |i: usize, m: &str| Err(format!("byte {i}: {m}"));
    let name_char = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b':' | b'.');
    let check_entities = |s: &str, at: usize| -> Result<(), String> {
        let mut rest = s;
        while let Some(p) = rest.find('&') {
            let tail = &rest[p + 1..];
            let end = tail
                .find(';')
                .ok_or(format!("byte {at}: `&` without `;`"))?;
            let ent = &tail[..end];
            let ok = matches!(ent, "lt" | "gt" | "amp" | "quot" | "apos")
                || (ent.starts_with("#x") && u32::from_str_radix(&ent[2..], 16).is_ok())
                || (ent.starts_with('#') && ent[1..].parse::<u32>().is_ok());
            if !ok {
                return Err(format!("byte {at}: unknown entity &{ent};"));
            }
            rest = &tail[end + 1..];
        }
        Ok(())
    };
    while i < b.len() {
        if b[i] != b'<' {
            let end = text[i..].find('<').map_or(b.len(), |p| i + p);
            let chunk = &text[i..end];
            if stack.is_empty() && !chunk.trim().is_empty() {
                return err(i, "text outside the root element");
            }
            check_entities(chunk, i)?;
            i = end;
            continue;
        }
        if text[i..].starts_with("<!--") {
            i += text[i..].find("-->").ok_or("unterminated comment")? + 3;
            continue;
        }
        if text[i..].starts_with("<?") {
            i += text[i..].find("?>").ok_or("unterminated declaration")? + 2;
            continue;
        }
        if text[i..].starts_with("</") {
            let end = i + text[i..].find('>').ok_or("unterminated end tag")?;
            let name = text[i + 2..end].trim();
            match stack.pop() {
                Some(open) if open == name => {}
                Some(open) => return err(i, &format!("</{name}> closes <{open}>")),
                None => return err(i, &format!("</{name}> without an open tag")),
            }
            i = end + 1;
            continue;
        }
        // start tag
        let mut j = i + 1;
        while j < b.len() && name_char(b[j]) {
            j += 1;
        }
        let name = text[i + 1..j].to_string();
        if name.is_empty() {
            return err(i, "`<` that opens no tag");
        }
        if stack.is_empty() {
            if root.is_some() {
                return err(i, "a second root element");
            }
            root = Some(name.clone());
        }
        let mut attrs: Vec<String> = Vec::new();
        loop {
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            if j >= b.len() {
                return err(i, "unterminated start tag");
            }
            if b[j] == b'>' {
                stack.push(name.clone());
                j += 1;
                break;
            }
            if text[j..].starts_with("/>") {
                j += 2;
                break;
            }
            let a0 = j;
            while j < b.len() && name_char(b[j]) {
                j += 1;
            }
            let attr = &text[a0..j];
            if attr.is_empty() || j >= b.len() || b[j] != b'=' {
                return err(j, &format!("malformed attribute in <{name}>"));
            }
            if attrs.iter().any(|a| a == attr) {
                return err(j, &format!("duplicate attribute {attr}"));
            }
            attrs.push(attr.to_string());
            j += 1;
            let q = b.get(j).copied().ok_or("unterminated attribute")?;
            if q != b'"' && q != b'\'' {
                return err(j, "unquoted attribute value");
            }
            let close = j + 1 + text[j + 1..].find(q as char).ok_or("unterminated value")?;
            let value = &text[j + 1..close];
            if value.contains('<') {
                return err(j, "`<` in an attribute value");
            }
            check_entities(value, j)?;
            j = close + 1;
        }
        i = j;
    }
    if let Some(open) = stack.pop() {
        return Err(format!("<{open}> is never closed"));
    }
    root.ok_or_else(|| "no element".to_string())
}

#[test]
fn xml_checker_accepts_and_rejects() {
    assert_eq!(
        check_xml(r#"<svg a="1"><text x='2'>a &amp; b</text><g/></svg>"#).unwrap(),
        "svg"
    );
    for bad in [
        "<svg><g></svg>",
        "<svg a=1></svg>",
        "<svg>a & b</svg>",
        "<svg></svg><svg></svg>",
        "<svg a=\"1\" a=\"2\"></svg>",
        "<svg>",
        "<svg><script>1 < 2</script></svg>",
    ] {
        assert!(check_xml(bad).is_err(), "accepted {bad}");
    }
}
