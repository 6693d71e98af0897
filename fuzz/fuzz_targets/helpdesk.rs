//! The helpdesk: configuration documents (`HelpdeskConfig::from_toml`,
//! `from_json`) and requests (`Helpdesk::handle_json`, one per input line,
//! in order, against one helpdesk with the identity stores, roles and
//! operators of `CONFIG`).
//!
//! - Never a panic.
//! - A configuration that loads writes JSON that loads to an equal one.
//! - A request refused with an error changes nothing: neither the engine's
//!   state and events nor the helpdesk's accounts, links, sessions and log.
//! - A response is JSON.
#![no_main]

use std::sync::{Arc, OnceLock};

use authlock::{Helpdesk, HelpdeskConfig, PolicyDocument};
use authlock_fuzz::builder;
use libfuzzer_sys::fuzz_target;

const CONFIG: &str = r#"
[stores.corp]
account_lockout = { max_failures = 3, failure_window = "none", lockout = { kind = "until_unlocked" } }

[stores.partners]
account_lockout = { max_failures = 2, failure_window = "none", lockout = { kind = "temporary", duration = "10m" } }

[stores.legacy]

[roles.none]
mode = "unrestricted"

[roles.basic_restricted]
permissions = ["unlock_account"]
mode = "restricted"

[roles.any_unrestricted]
permissions = ["unlock_any_account"]
mode = "unrestricted"

[roles.both_restricted]
permissions = ["unlock_account", "unlock_any_account"]
mode = "restricted"

[operators]
nobody = "none"
rita = "basic_restricted"
ana = "any_unrestricted"
bea = "both_restricted"
"#;

fn setup() -> &'static (HelpdeskConfig, PolicyDocument) {
    static S: OnceLock<(HelpdeskConfig, PolicyDocument)> = OnceLock::new();
    S.get_or_init(|| {
        let config = HelpdeskConfig::from_toml(CONFIG).expect("the fuzz configuration is valid");
        let mut policies = PolicyDocument::new();
        config
            .apply_policies(&mut policies)
            .expect("the fuzz configuration's policies apply");
        (config, policies)
    })
}

fn config_round_trip(config: &HelpdeskConfig) {
    let json = serde_json::to_string(config).expect("a configuration serialises");
    let again = HelpdeskConfig::from_json(&json)
        .unwrap_or_else(|e| panic!("a loaded configuration's JSON does not load: {e}\n{json}"));
    assert_eq!(&again, config, "helpdesk configuration does not round-trip");
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = HelpdeskConfig::from_toml(text) {
        config_round_trip(&c);
    }
    if let Ok(c) = HelpdeskConfig::from_json(text) {
        config_round_trip(&c);
    }

    let (config, policies) = setup();
    let engine = Arc::new(builder(policies.clone()).build());
    let desk = Helpdesk::new(config, engine.clone()).expect("the fuzz helpdesk starts");
    for line in text.lines().take(64) {
        let before = (engine.snapshot_json(), engine.events().len(), desk.state());
        match desk.handle_json(line) {
            Ok(response) => {
                serde_json::from_str::<serde_json::Value>(&response)
                    .unwrap_or_else(|e| panic!("a response is not JSON: {e}\n{response}"));
            }
            Err(e) => {
                let _ = e.to_string();
                let after = (engine.snapshot_json(), engine.events().len(), desk.state());
                assert_eq!(
                    after, before,
                    "a refused request changed something: {e}\n{line}"
                );
            }
        }
    }
});
