//! Opening a store whose only file is the fuzz input, as the journal
//! segment `journal-00000000000000000001.log` (no snapshot), with
//! `create: false`.
//!
//! - Never a panic: a corrupt journal is an error, a torn tail is dropped.
//! - A store that opens opens again, after the first engine is closed, to
//!   the same state, dropping nothing more; its state snapshots and
//!   restores (see `open_and_check`).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use authlock_fuzz::{clear_dir, open_and_check, scratch_dir};
use libfuzzer_sys::fuzz_target;

fn dir() -> &'static PathBuf {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| scratch_dir("journal-open"))
}

fuzz_target!(|data: &[u8]| {
    let dir = dir();
    clear_dir(dir);
    std::fs::write(dir.join("journal-00000000000000000001.log"), data).expect("write the journal");
    open_and_check(dir);
    clear_dir(dir);
});
