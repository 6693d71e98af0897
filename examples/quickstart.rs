//! A mobile banking PIN on two phones, a password in two apps, and what
//! authlock decides as attempts come in. Run: `cargo run --example quickstart`.

use std::time::Duration;

use authlock::*;

fn main() -> Result<()> {
    let clock = FakeClock::at(
        Timestamp::parse_rfc3339("2026-01-01T09:00:00Z")
            .map_err(|why| Error::InvalidArgument { what: "time", why })?,
    );
    let policies = PolicyDocument::parse(
        r#"
        tenant = "acme"

        [policies.pin]                      # Gatekeeper-style delays, then a hard lock
        max_failures = 6
        throttle = [ { after = 3, wait = "30s" }, { after = 5, wait = "5m" } ]
        lockout = { kind = "until_unlocked" }

        [policies.password]
        max_failures = 3
        lockout = { kind = "temporary", duration = "10m", factor = 2, max_duration = "2h" }
        "#,
    )?;
    let engine = Engine::builder(policies).clock(clock.clone()).build();

    let pin_phone1 = engine.register(
        &Registration::new("alice", AuthenticatorType::Pin, "bank").on_device("phone-1"),
    )?;
    let pin_phone2 = engine.register(
        &Registration::new("alice", AuthenticatorType::Pin, "bank").on_device("phone-2"),
    )?;
    let password = engine.register(&Registration::new(
        "alice",
        AuthenticatorType::Password,
        "web",
    ))?;
    engine.register(&Registration::new(
        "alice",
        AuthenticatorType::Password,
        "support",
    ))?;

    println!("Wrong PINs on phone-1:");
    for n in 1..=4 {
        let wrong = format!("hmac-of-wrong-pin-{n}");
        let out = engine.record_failure(
            &pin_phone1,
            &Attempt::in_app("bank").with_fingerprint(wrong.as_bytes()),
        )?;
        println!(
            "  failure {n}: counted={} failures={} -> {}",
            out.counted,
            out.failures,
            describe(&out.decision)
        );
        clock.advance(Duration::from_secs(30));
    }
    println!(
        "phone-2's PIN is untouched: {}",
        describe(&engine.check(&pin_phone2, "bank")?)
    );

    println!("\nWrong passwords in the web app:");
    for _ in 0..3 {
        let out = engine.record_failure(&password, &Attempt::in_app("web"))?;
        println!("  -> {}", describe(&out.decision));
    }
    println!(
        "same password in the support app: {}",
        describe(&engine.check(&password, "support")?)
    );

    println!("\nalice's authenticators:");
    for v in engine.authenticators("alice")? {
        let apps: Vec<String> = v
            .apps
            .iter()
            .map(|a| format!("{}={}", a.app, a.status))
            .collect();
        println!(
            "  {} {:<9} {:?}{} [{}]",
            v.id,
            v.kind.to_string(),
            v.status,
            if v.multiple_apps {
                " (multiple apps)"
            } else {
                ""
            },
            apps.join(", ")
        );
    }

    println!(
        "\nhistory of alice: {} events on her",
        engine.history("alice").on_user.len()
    );
    Ok(())
}

fn describe(d: &Decision) -> String {
    match d {
        Decision::Allowed => "allowed".into(),
        Decision::Throttled { retry_at } => format!("throttled until {retry_at}"),
        Decision::Locked { until: Some(t), .. } => format!("locked until {t}"),
        Decision::Locked { until: None, .. } => "locked until unlocked".into(),
        Decision::Deactivated => "deactivated".into(),
        Decision::Deleted => "deleted".into(),
    }
}
