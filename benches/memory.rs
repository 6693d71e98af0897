//! Memory per registered authenticator (a counting global allocator), per
//! authenticator restored from a snapshot, and the history's memory per
//! event. `cargo bench --bench memory`; prints one line per figure.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

use authlock::*;

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator and only counts bytes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

const N: usize = 1_000_000;

fn engine(history: Arc<dyn EventSink>) -> Engine {
    Engine::builder(PolicyDocument::new())
        .clock(FakeClock::at(Timestamp::from_secs(1_767_225_600)))
        .ids(SeededIds::new(3))
        .history(history)
        .build()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // 1M users, one password each, in one app.
    let before = live();
    let e = engine(Arc::new(NoHistory));
    for i in 0..N {
        e.register(&Registration::new(
            &format!("user-{i:07}"),
            AuthenticatorType::Password,
            "web",
        ))
        .unwrap();
    }
    let per_auth = (live() - before) as f64 / N as f64;
    println!(
        "memory/1M users x 1 password, one app: {per_auth:.0} bytes per authenticator (history excluded)"
    );

    // Save and restore are timed in `benches/snapshot.rs`, without this
    // file's counting allocator.
    let snap = e.snapshot_json();
    let before = live();
    let fresh = engine(Arc::new(NoHistory));
    fresh.restore_json(&snap).unwrap();
    // What the restored engine holds, once the reader's buffers are freed:
    // the same layout as the engine that wrote the snapshot.
    let per_restored = (live() - before) as f64 / N as f64;
    println!(
        "memory/1M restored from a snapshot: {per_restored:.0} bytes per authenticator (history excluded)"
    );
    drop(fresh);
    drop(snap);
    drop(e);

    // 250K users, a PIN on each of 4 devices, one app.
    let before = live();
    let e = engine(Arc::new(NoHistory));
    for i in 0..N / 4 {
        for d in 0..4 {
            e.register(
                &Registration::new(&format!("user-{i:07}"), AuthenticatorType::Pin, "bank")
                    .on_device(&format!("device-{d}")),
            )
            .unwrap();
        }
    }
    let per_pin = (live() - before) as f64 / N as f64;
    println!(
        "memory/250K users x 4 device PINs, one app: {per_pin:.0} bytes per authenticator (history excluded)"
    );
    drop(e);

    // The in-memory history, reported separately: bytes per event.
    let history = Arc::new(MemoryHistory::new());
    let e = engine(history.clone());
    let ids: Vec<_> = (0..10_000)
        .map(|i| {
            e.register(&Registration::new(
                &format!("u{i}"),
                AuthenticatorType::Password,
                "web",
            ))
            .unwrap()
        })
        .collect();
    let before = live();
    let events_before = history.len();
    for id in &ids {
        for _ in 0..4 {
            e.record_failure(id, &Attempt::in_app("web")).unwrap();
        }
    }
    let per_event = (live() - before) as f64 / (history.len() - events_before) as f64;
    println!("memory/history: {per_event:.0} bytes per event in MemoryHistory");
}
