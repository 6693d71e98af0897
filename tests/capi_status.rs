//! The C interface's status codes: every value is distinct, sits in its
//! family's block, and has its own message through `authlock_status_message`.

use std::collections::HashSet;
use std::ffi::CStr;

use authlock::capi::{UNKNOWN_STATUS_MESSAGE, authlock_status, authlock_status_message};

fn message_of(n: u32) -> &'static CStr {
    let ptr = authlock_status_message(n);
    assert!(!ptr.is_null(), "authlock_status_message({n}) returned NULL");
    // The function's answer is one of the library's static strings; find
    // which without dereferencing the raw pointer.
    authlock_status::all()
        .into_iter()
        .map(authlock_status::message)
        .chain([UNKNOWN_STATUS_MESSAGE])
        .find(|m| m.as_ptr() == ptr)
        .unwrap_or_else(|| panic!("authlock_status_message({n}) is not a static message"))
}

#[test]
fn every_status_value_is_distinct() {
    let all = authlock_status::all();
    let values: HashSet<u32> = all.iter().map(|s| *s as u32).collect();
    assert_eq!(values.len(), all.len(), "two statuses share a number");
    let mut sorted = all.to_vec();
    sorted.sort_by_key(|s| *s as u32);
    assert_eq!(sorted, all, "all() lists the statuses in numeric order");
}

#[test]
fn every_status_has_its_own_message() {
    let mut messages = HashSet::new();
    for status in authlock_status::all() {
        let message = message_of(status as u32);
        assert_eq!(message, status.message());
        let text = message.to_str().expect("messages are UTF-8");
        assert!(!text.trim().is_empty(), "{status:?} has an empty message");
        assert_ne!(
            text, "unknown status",
            "{status:?} has no message of its own"
        );
        assert!(messages.insert(text), "{status:?} shares its message");
    }
}

#[test]
fn numbers_that_are_no_status_say_so_and_every_status_is_found_by_number() {
    let all: HashSet<u32> = authlock_status::all().iter().map(|s| *s as u32).collect();
    let mut known = HashSet::new();
    for n in (0..10_000).chain([u32::MAX, 65_535, 1_000_000]) {
        match authlock_status::from_u32(n) {
            Some(status) => {
                assert_eq!(status as u32, n, "from_u32({n}) gave {status:?}");
                assert_ne!(message_of(n).to_str().unwrap(), "unknown status");
                known.insert(n);
            }
            None => assert_eq!(message_of(n).to_str().unwrap(), "unknown status"),
        }
    }
    assert_eq!(
        known, all,
        "from_u32 and all() disagree on which statuses exist"
    );
}

#[test]
fn statuses_are_numbered_in_blocks_by_family() {
    use authlock_status as S;
    let families: [(u32, &[S]); 10] = [
        (0, &[S::Ok]),
        (
            1,
            &[
                S::NullParameter,
                S::InvalidUtf8,
                S::InvalidArgument,
                S::InvalidId,
                S::InvalidKind,
                S::InvalidRequest,
            ],
        ),
        (
            2,
            &[
                S::NotFound,
                S::Deleted,
                S::UnknownUser,
                S::AlreadyRegistered,
                S::UnknownReservation,
                S::HelpdeskNotFound,
                S::UnknownSession,
                S::AccountExists,
            ],
        ),
        (3, &[S::Unsupported]),
        (4, &[S::WrongApp]),
        (
            5,
            &[
                S::InvalidPolicy,
                S::InvalidStepConfig,
                S::InvalidHelpdeskConfig,
            ],
        ),
        (6, &[S::InvalidSnapshot, S::InvalidHistory]),
        (7, &[S::Internal, S::Panic]),
        (8, &[S::Storage]),
        (
            9,
            &[
                S::HelpdeskPermissionDenied,
                S::HelpdeskAuthenticationRequired,
                S::HelpdeskNotEnrolled,
                S::HelpdeskNotUnlockable,
                S::HelpdeskSessionOfAnotherOperator,
                S::HelpdeskLinkRefused,
            ],
        ),
    ];
    let mut listed = 0;
    for (block, members) in families {
        for status in members {
            assert_eq!(
                *status as u32 / 1000,
                block,
                "{status:?} is outside block {block}"
            );
            listed += 1;
        }
    }
    assert_eq!(
        listed,
        authlock_status::all().len(),
        "a status has no family here"
    );
    assert_eq!(S::Ok as u32, 0);
}

#[test]
fn status_numbers_are_stable() {
    use authlock_status as S;
    // Hosts compare these numbers: once given, a number keeps its meaning.
    let numbers = [
        (S::Ok, 0),
        (S::NullParameter, 1000),
        (S::InvalidUtf8, 1001),
        (S::InvalidArgument, 1002),
        (S::InvalidId, 1003),
        (S::InvalidKind, 1004),
        (S::InvalidRequest, 1005),
        (S::NotFound, 2000),
        (S::Deleted, 2001),
        (S::UnknownUser, 2002),
        (S::AlreadyRegistered, 2003),
        (S::UnknownReservation, 2004),
        (S::HelpdeskNotFound, 2005),
        (S::UnknownSession, 2006),
        (S::AccountExists, 2007),
        (S::Unsupported, 3000),
        (S::WrongApp, 4000),
        (S::InvalidPolicy, 5000),
        (S::InvalidStepConfig, 5001),
        (S::InvalidHelpdeskConfig, 5002),
        (S::InvalidSnapshot, 6000),
        (S::InvalidHistory, 6001),
        (S::Internal, 7000),
        (S::Panic, 7001),
        (S::Storage, 8000),
        (S::HelpdeskPermissionDenied, 9000),
        (S::HelpdeskAuthenticationRequired, 9001),
        (S::HelpdeskNotEnrolled, 9002),
        (S::HelpdeskNotUnlockable, 9003),
        (S::HelpdeskSessionOfAnotherOperator, 9004),
        (S::HelpdeskLinkRefused, 9005),
    ];
    assert_eq!(numbers.len(), authlock_status::all().len());
    for (status, n) in numbers {
        assert_eq!(status as u32, n, "{status:?} changed its number");
    }
}

/// The thread's last error message, as text.
fn last_error() -> String {
    let ptr = authlock::capi::authlock_last_error_message();
    // SAFETY: the library returns a NUL-terminated string it owns, valid
    // until this thread's next failing call.
    unsafe { CStr::from_ptr(ptr) }
        .to_str()
        .expect("messages are UTF-8")
        .to_string()
}

#[test]
fn the_storage_family_is_returned_by_store_failures() {
    use authlock::capi::*;
    use std::ptr::null_mut;

    let policy = c"[policies.password]\nmax_failures = 3\n";
    let mut engine: *mut authlock_engine = null_mut();
    assert_eq!(
        authlock_engine_new(policy.as_ptr(), &mut engine),
        authlock_status::Ok
    );
    // Compacting an engine that has no store.
    let mut seq = 0u64;
    assert_eq!(
        authlock_engine_compact(engine, &mut seq),
        authlock_status::Storage
    );
    assert!(
        last_error().contains("not backed by a store"),
        "{}",
        last_error()
    );
    authlock_engine_free(engine);

    // Opening a directory that does not exist, without create.
    let dir = std::env::temp_dir().join(format!("authlock-capi-status-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_c = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
    let options = authlock_store_options {
        durability: AUTHLOCK_DURABILITY_SYNC,
        batch_max_delay_ms: 0,
        batch_max_events: 0,
        create: false,
        recovery: AUTHLOCK_RECOVERY_STRICT,
        compact_every: 0,
    };
    let mut report = authlock_open_report {
        snapshot_seq: 9,
        replayed_events: 9,
        dropped_tail_bytes: 9,
        used_previous_snapshot: true,
    };
    let before = report;
    engine = null_mut();
    let status = authlock_engine_open_store(
        dir_c.as_ptr(),
        policy.as_ptr(),
        None,
        null_mut(),
        &options,
        &mut engine,
        &mut report,
    );
    assert_eq!(status, authlock_status::Storage);
    assert_eq!(status as u32 / 1000, 8);
    assert!(last_error().contains("does not exist"), "{}", last_error());
    assert!(engine.is_null());
    assert_eq!(report, before);
    assert!(!dir.exists());
}
