//! Find the field path of a source position, so serde's errors (which know a line and column
//! but not the field) can name the field too.
//!
//! Walks the YAML event stream once and remembers the path of the last node that starts at or
//! before the position. Parse errors simply end the walk: the best path so far is the answer.

use serde_saphyr::granit_parser::{Event, Parser};

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, index: usize },
}

/// The dotted path (`methods[1].params.bits`) of the node at or just before `line:col`
/// (1-based), or an empty string for the document root.
pub fn path_at(src: &str, line: u64, col: u64) -> String {
    let mut parser = Parser::new_from_str(src);
    let mut stack: Vec<Frame> = Vec::new();
    let mut best = String::new();
    // Bounded: a suite is small, and a malformed stream must not loop forever.
    for _ in 0..1_000_000 {
        let Some(Ok((event, span))) = parser.next_event() else {
            break;
        };
        let pos = (span.start.line() as u64, span.start.col() as u64 + 1);
        if pos > (line, col) {
            break;
        }
        let is_node = matches!(
            event,
            Event::Scalar(..)
                | Event::SequenceStart(..)
                | Event::MappingStart(..)
                | Event::Alias(..)
        );
        if is_node {
            // The path of this node, and whether it is a mapping key.
            let (path, as_key) = match stack.last_mut() {
                None => (String::new(), None),
                Some(Frame::Seq { path, index }) => {
                    let p = format!("{path}[{index}]");
                    *index += 1;
                    (p, None)
                }
                Some(Frame::Map { path, key }) => match key.take() {
                    None => {
                        let name = match &event {
                            Event::Scalar(s, ..) => s.to_string(),
                            _ => "?".to_string(),
                        };
                        let p = join(path, &name);
                        (p, Some(name))
                    }
                    Some(k) => (join(path, &k), None),
                },
            };
            best = path.clone();
            if let Some(name) = as_key {
                // Remember the key; its value comes next.
                if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                    *key = Some(name);
                }
                // A key that is a collection: not meaningful for suites; keep walking.
                push_if_collection(&event, &mut stack, path);
                continue;
            }
            push_if_collection(&event, &mut stack, path);
        } else if matches!(event, Event::SequenceEnd | Event::MappingEnd) {
            stack.pop();
        }
    }
    best
}

/// The path one level up: `methods[1].params` → `methods[1]`, `methods[1]` → `methods`.
pub fn parent(path: &str) -> &str {
    match path.rfind(['.', '[']) {
        Some(i) => &path[..i],
        None => "",
    }
}

/// Where the node at `path` starts (1-based line and column), if it exists.
pub fn location_of(src: &str, path: &str) -> Option<(u64, u64)> {
    if path.is_empty() {
        return Some((1, 1));
    }
    let mut parser = Parser::new_from_str(src);
    let mut stack: Vec<Frame> = Vec::new();
    for _ in 0..1_000_000 {
        let Some(Ok((event, span))) = parser.next_event() else {
            return None;
        };
        let pos = (span.start.line() as u64, span.start.col() as u64 + 1);
        match &event {
            Event::Scalar(..)
            | Event::SequenceStart(..)
            | Event::MappingStart(..)
            | Event::Alias(..) => {
                let (p, is_key) = match stack.last_mut() {
                    None => (String::new(), false),
                    Some(Frame::Seq { path, index }) => {
                        let p = format!("{path}[{index}]");
                        *index += 1;
                        (p, false)
                    }
                    Some(Frame::Map { path, key }) => match key.take() {
                        None => {
                            let name = match &event {
                                Event::Scalar(s, ..) => s.to_string(),
                                _ => "?".to_string(),
                            };
                            let p = join(path, &name);
                            *key = Some(name);
                            (p, true)
                        }
                        Some(k) => (join(path, &k), false),
                    },
                };
                if !is_key && p == path {
                    return Some(pos);
                }
                if !is_key {
                    push_if_collection(&event, &mut stack, p);
                }
            }
            Event::SequenceEnd | Event::MappingEnd => {
                stack.pop();
            }
            _ => {}
        }
    }
    None
}

fn push_if_collection(event: &Event, stack: &mut Vec<Frame>, path: String) {
    match event {
        Event::SequenceStart(..) => stack.push(Frame::Seq { path, index: 0 }),
        Event::MappingStart(..) => stack.push(Frame::Map { path, key: None }),
        _ => {}
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::path_at;

    #[test]
    fn finds_nested_fields() {
        let src = "name: a\nmethods:\n  - id: ptq\n    params:\n      bits: [8, 4]\n";
        assert_eq!(path_at(src, 1, 7), "name");
        assert_eq!(path_at(src, 3, 5), "methods[0].id");
        assert_eq!(path_at(src, 5, 7), "methods[0].params.bits");
        assert_eq!(path_at(src, 5, 17), "methods[0].params.bits[1]");
    }
}
