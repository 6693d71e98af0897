//! Histories: `history_from_json`, then a replay from empty
//! (`EngineBuilder::replay`) with the built-in policies of the history's
//! tenant.
//!
//! - Never a panic.
//! - A history that reads writes (`history_to_json`) a text that reads
//!   back to the same events.
//! - A replay that succeeds holds exactly the history's events, and its
//!   state snapshots and restores to the same state.
#![no_main]

use authlock::{history_from_json, history_to_json};
use authlock_fuzz::{builder, policies_for};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (tenant, events) = match history_from_json(text) {
        Ok(h) => h,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let written = history_to_json(&tenant, &events);
    let (tenant2, events2) = history_from_json(&written)
        .unwrap_or_else(|e| panic!("history_to_json output does not read: {e}\n{written}"));
    assert_eq!(tenant2, tenant);
    assert_eq!(events2, events, "history does not round-trip");

    let Some(policies) = policies_for(&tenant) else {
        return;
    };
    let engine = match builder(policies.clone()).replay(&events) {
        Ok(engine) => engine,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    assert_eq!(
        engine.events(),
        events,
        "a replay holds other events than its history"
    );
    assert_eq!(engine.last_seq(), events.len() as u64);
    let state = engine.snapshot_json();
    let fresh = builder(policies).build();
    fresh
        .restore_json(&state)
        .unwrap_or_else(|e| panic!("a replayed state's snapshot does not restore: {e}\n{state}"));
    assert_eq!(fresh.snapshot_json(), state);
});
