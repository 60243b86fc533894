//! Renders report.html from the fixture and opens it in headless Chromium: the screenshot must
//! not be blank and the DOM must hold the expected tables and SVGs.
//!
//! Skipped (with a message) when /usr/bin/chromium is absent, unless `CI=true`, where that is a
//! failure: CI installs chromium.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use compbench_reports::fixture::write_fixture;
use compbench_reports::{Format, render_many};

const CHROMIUM: &str = "/usr/bin/chromium";
const TIMEOUT: Duration = Duration::from_secs(120);

/// Runs chromium headless with `extra` arguments on `url`; returns stdout.
fn chromium(profile: &Path, extra: &[String], url: &str) -> String {
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1200,2000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    // Drain both pipes while chromium runs: a full pipe (the DOM is ~200 kB) would block it.
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait on chromium") {
            break status;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            panic!("chromium did not finish within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = out_reader.join().expect("stdout reader");
    let err = err_reader.join().expect("stderr reader");
    assert!(
        status.success(),
        "chromium failed ({status}): {}",
        String::from_utf8_lossy(&err)
    );
    String::from_utf8_lossy(&out).into_owned()
}

/// PNG signature and IHDR width/height.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 24, "PNG too short");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

fn screenshot(dir: &Path, name: &str, url: &str) -> Vec<u8> {
    let png: PathBuf = dir.join(format!("{name}.png"));
    let profile = tempfile::tempdir().unwrap();
    chromium(
        profile.path(),
        &[format!("--screenshot={}", png.display())],
        url,
    );
    std::fs::read(&png).expect("chromium wrote the screenshot")
}

#[test]
fn report_html_renders_in_chromium() {
    if !Path::new(CHROMIUM).exists() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "{CHROMIUM} is missing and CI=true: install chromium (apt-get install chromium)"
            );
        }
        eprintln!("SKIP browser test: {CHROMIUM} not found (apt-get install chromium to run it)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dirs = write_fixture(&tmp.path().join("results")).unwrap();
    let out = render_many(
        &dirs,
        &tmp.path().join("report"),
        &[Format::Html],
        &common::references_dir(),
    )
    .unwrap();
    let html = out.html.unwrap();
    let url = format!("file://{}", html.display());

    // A blank page rendered the same way is the "nothing drawn" baseline.
    let blank = tmp.path().join("blank.html");
    std::fs::write(&blank, "<!DOCTYPE html><html><body></body></html>").unwrap();
    let blank_png = screenshot(tmp.path(), "blank", &format!("file://{}", blank.display()));
    let report_png = screenshot(tmp.path(), "report", &url);
    assert_eq!(png_size(&report_png), (1200, 2000));
    assert_eq!(png_size(&blank_png), png_size(&report_png));
    assert!(
        report_png.len() > 5 * blank_png.len(),
        "screenshot looks blank: {} bytes vs {} for a blank page",
        report_png.len(),
        blank_png.len()
    );

    let profile = tempfile::tempdir().unwrap();
    let dom = chromium(profile.path(), &["--dump-dom".to_string()], &url);
    // The page must show the verdicts the library computed (the fixture's claims are checked
    // against suites/references, so the counts follow that file).
    let s = out.summary;
    assert!(s.claims.holds > 0 && s.claims.holds < s.claims.total());
    let headline = format!("Paper vs reproduced: {s}");
    assert!(dom.contains(&headline), "missing `{headline}` in {dom}");
    assert!(dom.contains(r#"id="quick-banner""#));
    // A published-claims table and an expectations table per paper with a reference file
    // (lut-dla and survey).
    assert_eq!(
        dom.matches("<table class=\"claims claims sortable\"")
            .count(),
        2
    );
    assert_eq!(
        dom.matches("<table class=\"claims expectations sortable\"")
            .count(),
        2
    );
    // lut-dla-fixture: accuracy table + hardware table; survey-fixture: one table.
    assert_eq!(dom.matches("<table class=\"results sortable\"").count(), 3);
    assert_eq!(dom.matches("<svg").count(), out.figures.len());
    assert_eq!(
        dom.matches("<tr class=\"holds\"").count(),
        s.claims.holds + s.expectations.holds
    );
    assert!(dom.contains("<figcaption>"));
}
