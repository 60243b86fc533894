//! The index page of `compbench reproduce all`: its links resolve to files that exist, and its
//! headline numbers are those of each paper's claims.json.

mod common;

use std::path::{Path, PathBuf};

use common::references_dir;
use compbench_reports::fixture::write_fixture;
use compbench_reports::{Format, IndexEntry, render, render_index};

/// `(holds, total)` of the claims and of the expectations in a claims.json, counted here
/// independently of the crate.
fn headline(claims_json: &Path) -> ((usize, usize), (usize, usize)) {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(claims_json).unwrap()).unwrap();
    let count = |section: &str| {
        let of: Vec<&serde_json::Value> = v
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["section"] == section)
            .collect();
        (of.iter().filter(|c| c["holds"] == true).count(), of.len())
    };
    (count("claim"), count("expectation"))
}

/// Every `open…close` delimited target in `text` (Markdown `](x)`, HTML `href="x"`), with the
/// HTML entities the escaper writes (`&#x2f;` for `/`) decoded.
fn targets(text: &str, open: &str, close: char) -> Vec<String> {
    text.match_indices(open)
        .map(|(i, _)| {
            let rest = &text[i + open.len()..];
            rest[..rest.find(close).unwrap()]
                .replace("&#x2f;", "/")
                .replace("&amp;", "&")
        })
        .collect()
}

fn rendered_papers(root: &Path) -> Vec<IndexEntry> {
    let dirs: Vec<PathBuf> = write_fixture(root).unwrap();
    let papers = [("lut-dla", "LUT-DLA"), ("survey", "The survey")];
    dirs.iter()
        .zip(papers)
        .map(|(dir, (paper, title))| {
            let out = render(dir, &[Format::Markdown, Format::Html], &references_dir()).unwrap();
            IndexEntry {
                paper: paper.into(),
                title: title.into(),
                report_dir: out.out_dir,
            }
        })
        .collect()
}

#[test]
fn index_links_resolve_and_headlines_equal_claims_json() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let entries = rendered_papers(root);
    let out = render_index(root, &entries, true).unwrap();
    assert_eq!(out.markdown, root.join("index.md"));
    assert_eq!(out.html, root.join("index.html"));
    let md = std::fs::read_to_string(&out.markdown).unwrap();
    let html = std::fs::read_to_string(&out.html).unwrap();

    // Links: relative to the index, every one an existing file; each paper's three files linked.
    let md_links = targets(&md, "](", ')');
    let html_links = targets(&html, "href=\"", '"');
    assert_eq!(md_links.len(), 3 * entries.len(), "{md_links:?}");
    assert_eq!(html_links.len(), 3 * entries.len(), "{html_links:?}");
    for link in md_links.iter().chain(&html_links) {
        assert!(
            !link.starts_with('/') && !link.contains("://"),
            "{link} is not relative"
        );
        assert!(root.join(link).is_file(), "{link} does not resolve");
    }
    for e in &entries {
        for file in ["report.md", "report.html", "claims.json"] {
            let rel = e
                .report_dir
                .join(file)
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            assert!(md_links.contains(&rel), "index.md lacks {rel}");
            assert!(html_links.contains(&rel), "index.html lacks {rel}");
        }
    }

    // Headlines: the numbers of each paper's claims.json, in the rows and on both pages.
    let (mut all_c, mut all_e) = ((0, 0), (0, 0));
    for (e, row) in entries.iter().zip(&out.rows) {
        let ((ch, ct), (eh, et)) = headline(&e.report_dir.join("claims.json"));
        assert_eq!(row.paper, e.paper);
        assert_eq!(
            (row.claims.holds, row.claims_total),
            (ch, ct),
            "{}",
            e.paper
        );
        assert_eq!(
            (row.expectations.holds, row.expectations_total),
            (eh, et),
            "{}",
            e.paper
        );
        assert!(ct + et > 0, "the fixture checks claims of {}", e.paper);
        let md_row = md
            .lines()
            .find(|l| l.starts_with(&format!("| **{}** |", e.paper)))
            .unwrap();
        assert!(
            md_row.contains(&format!("| {ch} / {ct} | {eh} / {et} |")),
            "{md_row}"
        );
        let html_row = html
            .lines()
            .find(|l| l.contains(&format!("data-paper=\"{}\"", e.paper)))
            .unwrap();
        assert!(
            html_row.contains(&format!(
                "class=\"num claims\" data-holds=\"{ch}\" data-total=\"{ct}\">{ch} / {ct}<"
            )) && html_row.contains(&format!(
                "class=\"num expectations\" data-holds=\"{eh}\" data-total=\"{et}\">{eh} / {et}<"
            )),
            "{html_row}"
        );
        all_c = (all_c.0 + ch, all_c.1 + ct);
        all_e = (all_e.0 + eh, all_e.1 + et);
    }
    assert!(md.contains(&format!(
        "| **all** | | **{} / {}** | **{} / {}** | |",
        all_c.0, all_c.1, all_e.0, all_e.1
    )));
    assert!(md.contains("Quick run") && html.contains("id=\"quick-banner\""));
    // Self-contained: the only references are the relative links above.
    assert!(!html.contains("http"), "no URL in the page");
}

#[test]
fn a_paper_without_claims_json_is_an_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let e = IndexEntry {
        paper: "lpvit".into(),
        title: "LPViT".into(),
        report_dir: tmp.path().join("nowhere"),
    };
    let err = render_index(tmp.path(), &[e], false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("nowhere/claims.json"), "{err}");
    assert!(render_index(tmp.path(), &[], false).is_err());
}
