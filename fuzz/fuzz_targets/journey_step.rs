//! Journey steps: `Step::from_toml`, `Step::from_json` and `run_step_json`
//! (the request the C and uniffi layers pass) against an engine holding a
//! few users.
//!
//! - Never a panic.
//! - A step configuration that loads writes JSON that loads to an equal
//!   configuration.
//! - A request refused with an error changes nothing in the engine.
//! - A response is JSON.
#![no_main]

use authlock::journey::{Step, run_step_json};
use authlock_fuzz::{engine, populate};
use libfuzzer_sys::fuzz_target;

fn config_round_trip(step: &Step) {
    let json = serde_json::to_string(step.config()).expect("a step configuration serialises");
    let again = Step::from_json(&json)
        .unwrap_or_else(|e| panic!("a loaded step's configuration does not load: {e}\n{json}"));
    assert_eq!(
        again.config(),
        step.config(),
        "step configuration does not round-trip"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(step) = Step::from_toml(text) {
        config_round_trip(&step);
    }
    if let Ok(step) = Step::from_json(text) {
        config_round_trip(&step);
    }
    let engine = engine();
    populate(&engine);
    let before = engine.snapshot_json();
    let events_before = engine.events().len();
    match run_step_json(&engine, text) {
        Ok(response) => {
            serde_json::from_str::<serde_json::Value>(&response)
                .unwrap_or_else(|e| panic!("a step response is not JSON: {e}\n{response}"));
        }
        Err(e) => {
            let _ = e.to_string();
            assert_eq!(
                engine.snapshot_json(),
                before,
                "a refused step changed the engine: {e}"
            );
            assert_eq!(
                engine.events().len(),
                events_before,
                "a refused step wrote events: {e}"
            );
        }
    }
});
