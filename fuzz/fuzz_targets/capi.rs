//! The C ABI (`authlock::capi`), called as C calls it: the fuzz input is
//! split at its NUL bytes into fields, the first a policy document for
//! `authlock_engine_new_with_clock` (the built-in policies if it is
//! refused), each later one an operation: its first byte picks the call,
//! the rest is the call's string argument, NUL-terminated (user, app,
//! device, ID text, reason, identifier, snapshot, request...).
//!
//! - Never a panic, and none caught at the boundary: no call returns
//!   `AUTHLOCK_STATUS_PANIC`; every status is one of the header's.
//! - After a failure, `authlock_last_error_message` is readable text.
//! - A refused restore changes nothing; a snapshot taken through the ABI
//!   restores through it.
//! - Run under AddressSanitizer, every read of a string argument stays
//!   within its bytes and NUL.
#![no_main]

use std::ffi::{CStr, CString, c_char, c_void};
use std::ptr;
use std::sync::atomic::{AtomicI64, Ordering};

use authlock::capi::*;
use authlock_fuzz::T0_MS;
use libfuzzer_sys::fuzz_target;

static NOW_MS: AtomicI64 = AtomicI64::new(T0_MS);

extern "C" fn clock(_user_data: *mut c_void) -> i64 {
    NOW_MS.load(Ordering::Relaxed)
}

fn checked(status: authlock_status) -> authlock_status {
    assert_ne!(
        status,
        authlock_status::Panic,
        "a panic was caught at the C boundary: {}",
        last_error()
    );
    assert_eq!(
        authlock_status::from_u32(status as u32),
        Some(status),
        "a status not in the header"
    );
    let message = authlock_status_message(status as u32);
    assert!(!message.is_null(), "no message for status {status:?}");
    if status != authlock_status::Ok {
        let _ = last_error();
    }
    status
}

fn last_error() -> String {
    let p = authlock_last_error_message();
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the library hands out a NUL-terminated thread-local string.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Takes a string the library handed out, checks it is UTF-8 and frees it.
fn take_string(p: *mut c_char) -> String {
    assert!(
        !p.is_null(),
        "an OK call left its string out-parameter NULL"
    );
    // SAFETY: the library hands out NUL-terminated strings it allocated.
    let s = unsafe { CStr::from_ptr(p) }
        .to_str()
        .expect("the library's strings are UTF-8")
        .to_string();
    authlock_string_free(p);
    s
}

fn snapshot(engine: *const authlock_engine) -> String {
    let mut out = ptr::null_mut();
    assert_eq!(
        checked(authlock_engine_snapshot_json(engine, &mut out)),
        authlock_status::Ok
    );
    take_string(out)
}

const TYPES_WITH_DEVICE: [u32; 3] = [
    AUTHLOCK_TYPE_PIN,
    AUTHLOCK_TYPE_PASSKEY,
    AUTHLOCK_TYPE_MOBILE_BIOMETRICS,
];

struct Session {
    engine: *mut authlock_engine,
    /// IDs registered so far, as C strings.
    ids: Vec<CString>,
    /// The last app named, for calls that take one besides their argument.
    app: CString,
}

impl Session {
    /// An ID: one registered (picked by `pick`) or, with no registered ID
    /// or when `pick`'s high bit is set, the argument itself.
    fn id<'a>(&'a self, pick: u8, arg: &'a CString) -> &'a CString {
        if pick & 0x80 != 0 || self.ids.is_empty() {
            arg
        } else {
            &self.ids[pick as usize % self.ids.len()]
        }
    }

    fn op(&mut self, code: u8, arg: &[u8]) {
        let e = self.engine.cast_const();
        let s = CString::new(arg).expect("fields hold no NUL");
        let pick = arg.first().copied().unwrap_or(0);
        let kind = u32::from(pick % 15); // 13 and 14 are no type
        let user_actor = authlock_actor {
            kind: u32::from(pick % 6), // 5 is no actor kind
            id: s.as_ptr(),
            step: s.as_ptr(),
        };
        let admin = authlock_actor {
            kind: AUTHLOCK_ACTOR_ADMIN,
            id: c"ops".as_ptr(),
            step: ptr::null(),
        };
        let mut outcome = std::mem::MaybeUninit::<authlock_outcome>::uninit();
        let mut decision = std::mem::MaybeUninit::<authlock_decision>::uninit();
        let mut id_buf = [0 as c_char; AUTHLOCK_ID_SIZE];
        let mut json = ptr::null_mut();
        match code % 20 {
            0 => {
                // register: the argument is the user
                let device = if TYPES_WITH_DEVICE.contains(&kind) {
                    c"phone".as_ptr()
                } else {
                    ptr::null()
                };
                let st = checked(authlock_engine_register(
                    e,
                    s.as_ptr(),
                    kind,
                    self.app.as_ptr(),
                    device,
                    ptr::null(),
                    ptr::null(),
                    id_buf.as_mut_ptr(),
                ));
                if st == authlock_status::Ok {
                    // SAFETY: an OK register writes the ID and its NUL.
                    let id = unsafe { CStr::from_ptr(id_buf.as_ptr()) }.to_owned();
                    assert_eq!(id.as_bytes().len(), AUTHLOCK_ID_SIZE - 1);
                    if self.ids.len() < 16 {
                        self.ids.push(id);
                    }
                }
            }
            1 => {
                // register with the argument as app and device
                let st = checked(authlock_engine_register(
                    e,
                    c"alice".as_ptr(),
                    kind,
                    s.as_ptr(),
                    s.as_ptr(),
                    s.as_ptr(),
                    &user_actor,
                    id_buf.as_mut_ptr(),
                ));
                if st == authlock_status::Ok {
                    self.app = s.clone();
                }
            }
            2 => {
                checked(authlock_engine_check(
                    e,
                    self.id(pick, &s).as_ptr(),
                    self.app.as_ptr(),
                    decision.as_mut_ptr(),
                ));
            }
            3 => {
                // check with the argument as the app
                checked(authlock_engine_check(
                    e,
                    self.id(0, &s).as_ptr(),
                    s.as_ptr(),
                    decision.as_mut_ptr(),
                ));
            }
            4 => {
                // failure with the argument as the fingerprint (may be over the limit)
                checked(authlock_engine_record_failure(
                    e,
                    self.id(pick, &s).as_ptr(),
                    self.app.as_ptr(),
                    ptr::null(),
                    arg.as_ptr(),
                    arg.len(),
                    outcome.as_mut_ptr(),
                ));
            }
            5 => {
                // failure with the argument as app and device
                checked(authlock_engine_record_failure(
                    e,
                    self.id(0, &s).as_ptr(),
                    s.as_ptr(),
                    s.as_ptr(),
                    ptr::null(),
                    0,
                    outcome.as_mut_ptr(),
                ));
            }
            6 => {
                checked(authlock_engine_record_success(
                    e,
                    self.id(pick, &s).as_ptr(),
                    self.app.as_ptr(),
                    ptr::null(),
                    outcome.as_mut_ptr(),
                ));
            }
            7 => {
                let mut id = authlock_id { bytes: [0; 16] };
                if checked(authlock_id_parse(s.as_ptr(), &mut id)) == authlock_status::Ok {
                    assert_eq!(
                        checked(authlock_id_format(id, id_buf.as_mut_ptr())),
                        authlock_status::Ok
                    );
                    // SAFETY: an OK format writes the text and its NUL.
                    let back = unsafe { CStr::from_ptr(id_buf.as_ptr()) };
                    assert_eq!(back, s.as_c_str(), "ID text does not round-trip");
                }
                checked(authlock_engine_check_id(
                    e,
                    id,
                    self.app.as_ptr(),
                    decision.as_mut_ptr(),
                ));
                checked(authlock_engine_record_failure_id(
                    e,
                    id,
                    self.app.as_ptr(),
                    ptr::null(),
                    ptr::null(),
                    0,
                    outcome.as_mut_ptr(),
                ));
            }
            8 => {
                checked(authlock_engine_lock(
                    e,
                    self.id(pick, &s).as_ptr(),
                    self.app.as_ptr(),
                    &user_actor,
                    s.as_ptr(),
                ));
            }
            9 => {
                checked(authlock_engine_unlock(
                    e,
                    self.id(pick, &s).as_ptr(),
                    self.app.as_ptr(),
                    &admin,
                    s.as_ptr(),
                ));
            }
            10 => {
                checked(authlock_engine_unlock_type(
                    e,
                    s.as_ptr(),
                    kind,
                    self.app.as_ptr(),
                    &admin,
                    ptr::null(),
                ));
            }
            11 => {
                let f = [
                    authlock_engine_delete,
                    authlock_engine_deactivate,
                    authlock_engine_reactivate,
                ][pick as usize % 3];
                checked(f(
                    e,
                    self.id(pick, &s).as_ptr(),
                    self.app.as_ptr(),
                    &admin,
                    ptr::null(),
                ));
            }
            12 => {
                let f = [authlock_engine_suspend_user, authlock_engine_unsuspend_user]
                    [pick as usize % 2];
                checked(f(e, s.as_ptr(), &user_actor, s.as_ptr()));
            }
            13 => {
                let kind = u32::from(pick % 6);
                let custom = if kind == AUTHLOCK_IDENTIFIER_CUSTOM {
                    c"badge".as_ptr()
                } else {
                    ptr::null()
                };
                if checked(authlock_engine_add_identifier(
                    e,
                    c"alice".as_ptr(),
                    kind,
                    custom,
                    s.as_ptr(),
                    ptr::null(),
                    &mut json,
                )) == authlock_status::Ok
                {
                    let ids = take_string(json);
                    serde_json::from_str::<Vec<String>>(&ids)
                        .expect("the IDs are a JSON array of strings");
                }
            }
            14 => {
                let mut first_use = std::mem::MaybeUninit::<authlock_outcome>::uninit();
                checked(authlock_engine_record_first_use(
                    e,
                    c"alice".as_ptr(),
                    kind,
                    s.as_ptr(),
                    self.app.as_ptr(),
                    ptr::null(),
                    id_buf.as_mut_ptr(),
                    first_use.as_mut_ptr(),
                ));
            }
            15 => {
                for f in [
                    authlock_engine_authenticators_json,
                    authlock_engine_history_json,
                ] {
                    if checked(f(e, s.as_ptr(), &mut json)) == authlock_status::Ok {
                        let text = take_string(json);
                        serde_json::from_str::<serde_json::Value>(&text).expect("views are JSON");
                    }
                }
                if checked(authlock_engine_authenticator_json(
                    e,
                    self.id(pick, &s).as_ptr(),
                    &mut json,
                )) == authlock_status::Ok
                {
                    take_string(json);
                }
            }
            16 => {
                // restore: a refused one changes nothing
                let before = snapshot(e);
                if checked(authlock_engine_restore_json(e, s.as_ptr())) != authlock_status::Ok {
                    assert_eq!(snapshot(e), before, "a refused restore changed the engine");
                }
            }
            17 => {
                // a snapshot taken through the ABI restores through it
                let text = snapshot(e);
                let c = CString::new(text.clone()).expect("a snapshot holds no NUL");
                assert_eq!(
                    checked(authlock_engine_restore_json(e, c.as_ptr())),
                    authlock_status::Ok,
                    "{}",
                    last_error()
                );
                assert_eq!(snapshot(e), text);
            }
            18 => {
                checked(authlock_policy_validate(s.as_ptr()));
                if checked(authlock_journey_run_step(e, s.as_ptr(), &mut json))
                    == authlock_status::Ok
                {
                    take_string(json);
                }
            }
            _ => {
                // time passes: the argument's length in minutes
                NOW_MS.fetch_add(arg.len() as i64 * 60_000, Ordering::Relaxed);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    NOW_MS.store(T0_MS, Ordering::Relaxed);
    let mut fields = data.split(|b| *b == 0);
    let document = CString::new(fields.next().unwrap_or_default()).expect("no NUL in a field");
    let mut engine = ptr::null_mut();
    if checked(authlock_engine_new_with_clock(
        document.as_ptr(),
        Some(clock),
        ptr::null_mut(),
        &mut engine,
    )) != authlock_status::Ok
    {
        assert_eq!(
            checked(authlock_engine_new_with_clock(
                c"".as_ptr(),
                Some(clock),
                ptr::null_mut(),
                &mut engine
            )),
            authlock_status::Ok
        );
    }
    assert!(!engine.is_null());
    let mut session = Session {
        engine,
        ids: Vec::new(),
        app: CString::from(c"web"),
    };
    for field in fields.take(128) {
        let Some((&code, arg)) = field.split_first() else {
            continue;
        };
        session.op(code, arg);
    }
    authlock_engine_free(engine);
});
