//! Opening a store holding a valid snapshot written by the library (from
//! `store_template`: a few users, compacted) and the fuzz input as the
//! journal segment after it.
//!
//! - Never a panic.
//! - A store that opens opens again to the same state, and its state
//!   snapshots and restores (see `open_and_check`).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use authlock_fuzz::{clear_dir, open_and_check, scratch_dir, store_template};
use libfuzzer_sys::fuzz_target;

fn dir() -> &'static PathBuf {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| scratch_dir("journal-after-snapshot"))
}

fuzz_target!(|data: &[u8]| {
    let template = store_template();
    let dir = dir();
    clear_dir(dir);
    for (name, bytes) in &template.snapshot_files {
        std::fs::write(dir.join(name), bytes).expect("write the snapshot");
    }
    std::fs::write(dir.join(&template.journal_name), data).expect("write the journal");
    open_and_check(dir);
    clear_dir(dir);
});
