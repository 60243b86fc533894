//! Suite parsing and validation never panic, whatever the bytes.
//!
//! From the repository root:
//! `cargo +nightly fuzz run suite_parse fuzz/corpus/suite_parse fuzz/seeds/suite_parse -- -max_total_time=600`
//! (the second directory holds seed suites; the first collects the corpus). The same property
//! runs on stable as harness/suite/tests/no_panic.rs.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../harness/suite/tests/common/mod.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let catalog = common::catalog();
    match compbench_suite::parse("fuzz.yaml", src, &catalog) {
        Ok(suite) => {
            let _ = suite.experiments(compbench_suite::Mode::Full, None);
            let _ = suite.experiments(compbench_suite::Mode::Quick, Some(1));
            let _ = suite.hw_configs(compbench_suite::Mode::Quick);
        }
        Err(errors) => {
            for d in errors.iter() {
                let _ = d.to_string();
            }
        }
    }
});
