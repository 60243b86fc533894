//! ARCHITECTURE.md's code map names every workspace member, so the map cannot silently fall
//! behind the tree.

use std::path::Path;

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap()
}

/// The member paths of the root Cargo.toml, with `dir/*` globs expanded to the crates in `dir`.
fn members(root: &Path) -> Vec<String> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let start = manifest.find("members = [").expect("a members list");
    let end = start + manifest[start..].find(']').unwrap();
    let mut out = Vec::new();
    for entry in manifest[start..end].split('"').skip(1).step_by(2) {
        match entry.strip_suffix("/*") {
            Some(dir) => {
                let mut crates: Vec<String> = std::fs::read_dir(root.join(dir))
                    .unwrap()
                    .filter_map(|e| e.ok())
                    .filter(|e| e.path().join("Cargo.toml").is_file())
                    .map(|e| format!("{dir}/{}", e.file_name().to_string_lossy()))
                    .collect();
                crates.sort();
                out.extend(crates);
            }
            None => out.push(entry.to_string()),
        }
    }
    out
}

#[test]
fn every_workspace_member_is_in_the_code_map() {
    let root = workspace_root();
    let arch = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let members = members(root);
    assert!(members.len() >= 10, "parsed members: {members:?}");
    let missing: Vec<&String> = members
        .iter()
        .filter(|m| !arch.contains(&format!("| {m} |")))
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's code map lacks {missing:?} (a row `| crate | path | what |`)"
    );
}

#[test]
fn architecture_page_fits_on_a_few_screens() {
    let arch = std::fs::read_to_string(workspace_root().join("ARCHITECTURE.md")).unwrap();
    let lines = arch.lines().count();
    assert!(
        lines <= 200,
        "ARCHITECTURE.md has {lines} lines; per-crate detail belongs in the crate's ARCHITECTURE.md"
    );
}
