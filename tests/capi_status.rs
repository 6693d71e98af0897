//! The C interface's status codes: every value is distinct, sits in its
//! family's block, and has its own message through `authlock_status_message`.

use std::collections::HashSet;
use std::ffi::CStr;

use authlock::capi::{authlock_status, authlock_status_message};

fn message_of(n: u32) -> &'static CStr {
    let ptr = authlock_status_message(n);
    assert!(!ptr.is_null(), "authlock_status_message({n}) returned NULL");
    // The function's answer is one of the library's static strings; find
    // which without dereferencing the raw pointer.
    authlock_status::all()
        .into_iter()
        .map(authlock_status::message)
        .chain([c"unknown status"])
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
    let families: [(u32, &[S]); 9] = [
        (0, &[S::Ok]),
        (
            1,
            &[
                S::NullParameter,
                S::InvalidUtf8,
                S::InvalidArgument,
                S::InvalidId,
                S::InvalidKind,
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
            ],
        ),
        (3, &[S::Unsupported]),
        (4, &[S::WrongApp]),
        (5, &[S::InvalidPolicy]),
        (6, &[S::InvalidSnapshot, S::InvalidHistory]),
        (7, &[S::Internal, S::Panic]),
        (8, &[S::Storage]),
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
