//! The journal finding (fuzz/artifacts-found/README.md) without a store:
//! a history cut inside a user's suspension (after event 18, the user's and
//! one authenticator's events of four) replays without complaint to a state
//! whose snapshot the library refuses.
use authlock::*;
use authlock_fuzz::*;
fn main() {
    let e = engine();
    populate(&e);
    let events: Vec<Event> = e.events().into_iter().filter(|ev| ev.seq <= 18).collect();
    let replayed = builder(PolicyDocument::new())
        .replay(&events)
        .expect("replay");
    let s = replayed.snapshot_json();
    println!("replayed snapshot: {s}");
    println!(
        "restore of the replayed state: {:?}",
        engine().restore_json(&s)
    );
}
