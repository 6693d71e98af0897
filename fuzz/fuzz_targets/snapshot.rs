//! Snapshots: `Snapshot::from_json` and `Engine::restore_json`.
//!
//! - Never a panic.
//! - A refused restore changes nothing (the engine restored into already
//!   holds a state).
//! - `restore_json(text)` and `restore(&Snapshot::from_json(text))` agree.
//! - A snapshot that restores re-snapshots to a text that restores, into a
//!   fresh engine, to the same state.
#![no_main]

use authlock::Snapshot;
use authlock_fuzz::{builder, engine, policies_for, populate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A fresh engine of the default tenant, straight from the text.
    let fresh = engine();
    match fresh.restore_json(text) {
        Ok(()) => {}
        Err(e) => {
            let _ = e.to_string();
            assert_eq!(
                fresh.snapshot_json(),
                engine().snapshot_json(),
                "a refused restore changed the engine: {e}"
            );
        }
    }

    let parsed = Snapshot::from_json(text);
    let Ok(snap) = parsed else { return };
    // An engine of the snapshot's own tenant, holding a state already.
    let Some(policies) = policies_for(&snap.tenant) else {
        return;
    };
    let target = builder(policies.clone()).build();
    populate(&target);
    let before = target.snapshot_json();
    let via_struct = target.restore(&snap);
    if let Err(e) = &via_struct {
        let _ = e.to_string();
        assert_eq!(
            target.snapshot_json(),
            before,
            "a refused restore changed the engine: {e}"
        );
    }
    let other = builder(policies.clone()).build();
    populate(&other);
    let via_text = other.restore_json(text);
    assert_eq!(
        via_struct.is_ok(),
        via_text.is_ok(),
        "restore and restore_json disagree: {via_struct:?} / {via_text:?}"
    );
    if via_struct.is_err() {
        return;
    }

    let first = target.snapshot_json();
    assert_eq!(
        other.snapshot_json(),
        first,
        "restore and restore_json differ"
    );
    let again = builder(policies).build();
    again
        .restore_json(&first)
        .unwrap_or_else(|e| panic!("a restored state's snapshot does not restore: {e}\n{first}"));
    assert_eq!(again.snapshot_json(), first, "snapshot does not round-trip");
    assert_eq!(
        again.snapshot(),
        target.snapshot(),
        "snapshot structs differ"
    );
});
