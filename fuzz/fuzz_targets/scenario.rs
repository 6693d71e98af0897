//! Simulator scenario files, TOML and JSON: the command line's reader
//! (`scenario::load`: parsing, resolving every name, validating the
//! policies) and, for a scenario that loads, its run (`run::run`, with the
//! chart) and the text report.
//!
//! The reader lives in the `authlock` binary (src/bin/authlock/), not in
//! the library, so its modules are compiled into this target with
//! `#[path]`: the library's public API carries nothing for the fuzzer.
//!
//! - Never a panic: a bad scenario is a list of errors with their places;
//!   a scenario the library refuses while it runs is an error too.
//! - Every error renders (with its line, where it has one).
//! - A run's history, written as JSON, reads back.
#![no_main]
#![allow(dead_code)]

#[path = "../../src/bin/authlock/chart.rs"]
mod chart;
#[path = "../../src/bin/authlock/describe.rs"]
mod describe;
#[path = "../../src/bin/authlock/run.rs"]
mod run;
#[path = "../../src/bin/authlock/scenario.rs"]
mod scenario;
#[path = "../../src/bin/authlock/source.rs"]
mod source;
#[path = "../../src/bin/authlock/text.rs"]
mod text;

use authlock::{history_from_json, history_to_json};
use libfuzzer_sys::fuzz_target;
use source::{Format, Source};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The format as the command line picks it for a file not named .json.
    let format = if text.trim_start().starts_with('{') {
        Format::Json
    } else {
        Format::Toml
    };
    let source = Source {
        name: "fuzz.toml".into(),
        text: text.to_string(),
        format,
    };
    let plan = match scenario::load(&source, None) {
        Ok(plan) => plan,
        Err(errors) => {
            assert!(!errors.is_empty(), "a refused scenario has no error");
            for e in &errors {
                let _ = e.to_string();
                let _ = e.headline();
            }
            return;
        }
    };
    let report = match run::run(&plan, true) {
        Ok(report) => report,
        Err(e) => {
            let _ = (&e.place, &e.message);
            return;
        }
    };
    let _ = text::report(&report);
    let history = history_to_json(&report.tenant, &report.events);
    let (tenant, events) = history_from_json(&history)
        .unwrap_or_else(|e| panic!("a run's history does not read back: {e}"));
    assert_eq!(tenant, report.tenant);
    assert_eq!(events, report.events);
});
