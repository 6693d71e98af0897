//! `check` through the C ABI beside the same call from Rust, on one hot
//! authenticator: with the ID as text (`authlock_engine_check`) and as a
//! 16-byte `authlock_id` (`authlock_engine_check_id`). `cargo bench --bench
//! ffi`; figures in docs/PERFORMANCE.md.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use authlock::*;
use criterion::{Criterion, criterion_group, criterion_main};

const POLICY: &str = r#"
[policies.password]
max_failures = 100
failure_window = "1ms"
lockout = { kind = "until_unlocked" }
"#;

/// An engine with one password in app "web".
fn engine_with_one() -> (Engine, AuthenticatorId) {
    let clock = FakeClock::at(Timestamp::from_secs(1_767_225_600));
    let engine = Engine::builder(PolicyDocument::parse(POLICY).unwrap())
        .clock(clock)
        .ids(SeededIds::new(1))
        .history(Arc::new(MemoryHistory::bounded(1 << 20)))
        .build();
    let id = engine
        .register(&Registration::new(
            "user-0",
            AuthenticatorType::Password,
            "web",
        ))
        .unwrap();
    (engine, id)
}

/// `check` on one hot authenticator of one engine, called from Rust and
/// through the C ABI the way a C caller reaches it: an indirect call through
/// a function pointer the compiler cannot see through, with the app as a
/// NUL-terminated string and the ID as one (`c_abi`) or as an `authlock_id`
/// (`c_abi_id`), each prepared once.
fn check_c_abi(c: &mut Criterion) {
    use authlock::capi::{
        authlock_decision, authlock_engine, authlock_engine_check, authlock_engine_check_id,
        authlock_id, authlock_reason, authlock_status, authlock_verdict,
    };
    use std::ffi::{CString, c_char};

    type CheckFn = extern "C" fn(
        *const authlock_engine,
        *const c_char,
        *const c_char,
        *mut authlock_decision,
    ) -> authlock_status;
    type CheckIdFn = extern "C" fn(
        *const authlock_engine,
        authlock_id,
        *const c_char,
        *mut authlock_decision,
    ) -> authlock_status;

    let mut g = c.benchmark_group("check_c_abi");
    let (engine, id) = engine_with_one();
    let handle = authlock_engine::wrap(engine);
    g.bench_function("rust", |b| {
        b.iter(|| {
            handle
                .engine()
                .check(black_box(&id), black_box("web"))
                .unwrap()
        })
    });

    let check: CheckFn = black_box(authlock_engine_check);
    let id_c = CString::new(id.to_string()).unwrap();
    let app_c = c"web";
    let mut decision = authlock_decision {
        verdict: authlock_verdict::Deleted,
        reason: authlock_reason::Deleted,
        has_retry_at: false,
        retry_at_ms: 0,
        has_lock_reason: false,
    };
    // The call measured is a successful check that allows.
    let status = check(&handle, id_c.as_ptr(), app_c.as_ptr(), &mut decision);
    assert_eq!(status, authlock_status::Ok);
    assert_eq!(decision.verdict, authlock_verdict::Allowed);
    g.bench_function("c_abi", |b| {
        b.iter(|| {
            let status = check(
                black_box(&handle),
                black_box(id_c.as_ptr()),
                black_box(app_c.as_ptr()),
                &mut decision,
            );
            (status == authlock_status::Ok, black_box(decision.verdict))
        })
    });

    let check_id: CheckIdFn = black_box(authlock_engine_check_id);
    let id_struct = authlock_id::from(id);
    decision.verdict = authlock_verdict::Deleted;
    let status = check_id(&handle, id_struct, app_c.as_ptr(), &mut decision);
    assert_eq!(status, authlock_status::Ok);
    assert_eq!(decision.verdict, authlock_verdict::Allowed);
    g.bench_function("c_abi_id", |b| {
        b.iter(|| {
            let status = check_id(
                black_box(&handle),
                black_box(id_struct),
                black_box(app_c.as_ptr()),
                &mut decision,
            );
            (status == authlock_status::Ok, black_box(decision.verdict))
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = check_c_abi
}
criterion_main!(benches);
