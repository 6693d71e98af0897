//! The `authlock` command line: golden outputs of every example scenario
//! (text with the timeline chart, and JSON), located errors for each class
//! of malformed scenario, `policy check`, and `replay` rebuilding the state
//! a simulation ended with.
//!
//! Golden files live in `tests/golden/`. After an intended change of the
//! output, re-bless them with `AUTHLOCK_BLESS=1 cargo test --test cli` and
//! review the diff (see docs/SIMULATOR.md).

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_authlock");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary from the crate root (so paths in outputs are relative).
fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(root())
        .args(args)
        .output()
        .expect("the authlock binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("stderr is UTF-8")
}

fn blessing() -> bool {
    std::env::var("AUTHLOCK_BLESS").is_ok_and(|v| v == "1")
}

/// Compares `actual` with `tests/golden/<name>`, or writes it when blessing.
fn golden(name: &str, actual: &str) -> Result<(), String> {
    let path = root().join("tests/golden").join(name);
    if blessing() {
        fs::create_dir_all(path.parent().expect("has a parent")).expect("create golden dir");
        fs::write(&path, actual).expect("write golden file");
        return Ok(());
    }
    let expected = fs::read_to_string(&path).map_err(|_| {
        format!(
            "{} is missing: run `AUTHLOCK_BLESS=1 cargo test --test cli` and review it",
            path.display()
        )
    })?;
    if expected == actual {
        return Ok(());
    }
    let (n, (e, a)) = expected
        .lines()
        .chain(std::iter::repeat("<end of output>"))
        .zip(actual.lines().chain(std::iter::repeat("<end of output>")))
        .enumerate()
        .find(|(_, (e, a))| e != a)
        .unwrap_or((0, ("<same lines, different line endings>", "")));
    Err(format!(
        "{name} differs from the output at line {}:\n  expected: {e}\n  actual:   {a}\n(re-bless with AUTHLOCK_BLESS=1 cargo test --test cli if the change is intended)",
        n + 1
    ))
}

fn toml_files(dir: &str) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(root().join(dir))
        .expect("the directory exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .map(|n| n.trim_end_matches(".toml").to_string())
        .collect();
    v.sort();
    v
}

fn scenarios() -> Vec<String> {
    toml_files("examples/scenarios")
}

// ----- golden outputs --------------------------------------------------------

#[test]
fn every_example_scenario_matches_its_golden_text_and_json() {
    let names = scenarios();
    assert!(
        names.len() >= 9,
        "the examples cover the issue's list: {names:?}"
    );
    let mut failures = Vec::new();
    for name in &names {
        let file = format!("examples/scenarios/{name}.toml");
        let text = run(&["simulate", &file, "--timeline"]);
        assert!(text.status.success(), "{file} failed: {}", stderr(&text));
        assert!(stderr(&text).is_empty(), "{file} wrote to stderr");
        if let Err(e) = golden(&format!("{name}.txt"), &stdout(&text)) {
            failures.push(e);
        }
        let json = run(&["simulate", &file, "--format", "json"]);
        assert!(json.status.success(), "{file} --format json failed");
        let out = stdout(&json);
        let v: Value = serde_json::from_str(&out).expect("the JSON output parses");
        assert_eq!(v["scenario"]["name"], name.as_str());
        if let Err(e) = golden(&format!("{name}.json"), &out) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn golden_files_belong_to_existing_examples() {
    let names = scenarios();
    let policies = toml_files("examples/scenarios/policies");
    for entry in fs::read_dir(root().join("tests/golden")).expect("tests/golden exists") {
        let entry = entry.expect("entry");
        let file = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() {
            assert_eq!(
                file, "policy-check",
                "unexpected directory tests/golden/{file}"
            );
            continue;
        }
        let stem = file
            .strip_suffix(".txt")
            .or_else(|| file.strip_suffix(".json"))
            .unwrap_or_else(|| panic!("tests/golden/{file}: neither .txt nor .json"));
        assert!(
            names.iter().any(|n| n == stem),
            "tests/golden/{file} has no scenario examples/scenarios/{stem}.toml: delete it"
        );
    }
    for entry in fs::read_dir(root().join("tests/golden/policy-check")).expect("exists") {
        let file = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let stem = file.trim_end_matches(".txt");
        assert!(
            policies.iter().any(|n| n == stem),
            "tests/golden/policy-check/{file} has no examples/scenarios/policies/{stem}.toml"
        );
    }
}

#[test]
fn example_policy_documents_match_their_golden_check_output() {
    let names = toml_files("examples/scenarios/policies");
    assert!(names.iter().any(|n| n == "totp-max-temporary-lockouts"));
    let mut failures = Vec::new();
    for name in names {
        let file = format!("examples/scenarios/policies/{name}.toml");
        let o = run(&["policy", "check", &file]);
        let got = format!(
            "exit status: {}\n--- stdout\n{}--- stderr\n{}",
            o.status.code().unwrap_or(-1),
            stdout(&o),
            stderr(&o)
        );
        if let Err(e) = golden(&format!("policy-check/{name}.txt"), &got) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn text_output_keeps_to_100_columns() {
    for name in scenarios() {
        let o = run(&[
            "simulate",
            &format!("examples/scenarios/{name}.toml"),
            "--timeline",
        ]);
        for (i, line) in stdout(&o).lines().enumerate() {
            assert!(
                line.chars().count() <= 100,
                "{name} line {}: {} columns: {line}",
                i + 1,
                line.chars().count()
            );
        }
    }
}

// ----- what the examples show ------------------------------------------------

fn simulate_json(name: &str) -> Value {
    let o = run(&[
        "simulate",
        &format!("examples/scenarios/{name}.toml"),
        "--format",
        "json",
        "--timeline",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).expect("JSON")
}

fn entry(report: &Value, n: usize) -> &Value {
    let e = &report["entries"][n - 1];
    assert_eq!(e["entry"], n);
    e
}

#[test]
fn pin_throttle_on_one_device_never_touches_other_devices_or_apps() {
    let r = simulate_json("pin-throttle");
    // The fifth failure throttles; the attempt 10 s later is refused, not counted.
    assert_eq!(entry(&r, 5)["result"]["decision"]["decision"], "throttled");
    assert_eq!(entry(&r, 6)["result"]["accepted"], false);
    assert_eq!(entry(&r, 6)["result"]["failures"], 5);
    assert!(entry(&r, 6)["events"].as_array().unwrap().is_empty());
    // Meanwhile the other phone and the other app are allowed.
    assert_eq!(entry(&r, 7)["result"]["decision"]["decision"], "allowed");
    assert_eq!(entry(&r, 8)["result"]["decision"]["decision"], "allowed");
    // The hard lock at the twelfth.
    let locked = &entry(&r, 16)["result"]["decision"];
    assert_eq!(locked["decision"], "locked");
    assert_eq!(locked["until"], Value::Null);
    // The final view: only pin-phone1 is locked.
    let auths = r["users"][0]["authenticators"].as_array().unwrap();
    let status = |label: &str| {
        auths
            .iter()
            .find(|a| a["labels"][0] == label)
            .map(|a| a["status"].clone())
            .unwrap()
    };
    assert_eq!(status("pin-phone1"), "locked");
    assert_eq!(status("pin-phone2"), "active");
    assert_eq!(status("wallet-pin"), "registered");
    // The chart's pin-phone1 row shows throttle spans and the lock.
    let rows = r["chart"]["rows"].as_array().unwrap();
    let row = rows.iter().find(|x| x["label"] == "pin-phone1").unwrap();
    let cells = row["cells"].as_str().unwrap();
    assert!(cells.contains('~') && cells.ends_with('U'), "{cells}");
}

#[test]
fn email_otp_failures_in_two_apps_make_one_global_lock() {
    let r = simulate_json("email-otp-global-lock");
    let lock = &entry(&r, 5)["result"];
    assert_eq!(lock["failures"], 5);
    assert_eq!(lock["decision"]["decision"], "locked");
    // Seen from the other app, and refused there.
    assert_eq!(entry(&r, 6)["result"]["decision"]["decision"], "locked");
    assert_eq!(entry(&r, 7)["result"]["accepted"], false);
    // OTP cannot be unlocked by hand.
    assert_eq!(entry(&r, 8)["result"]["kind"], "error");
    let view = &r["users"][0]["authenticators"][0];
    assert_eq!(view["kind"], "email_otp");
    assert_eq!(view["multiple_apps"], true);
}

#[test]
fn passkey_unlock_fans_out_in_one_app_only() {
    let r = simulate_json("passkey-unlock-fan-out");
    let unlock = &entry(&r, 10)["result"];
    let changed: Vec<&str> = unlock["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert_eq!(changed, ["pk-laptop", "pk-phone"]);
    assert_eq!(entry(&r, 11)["result"]["decision"]["decision"], "locked");
    assert_eq!(entry(&r, 14)["result"]["kind"], "error");
}

#[test]
fn totp_lockouts_grow_to_their_cap_and_the_password_limit_locks_until_unlocked() {
    let r = simulate_json("totp-growing-lockouts");
    let until = |n: usize| {
        let e = entry(&r, n);
        let at = e["at"].as_i64().unwrap();
        (e["result"]["decision"]["until"].as_i64().unwrap() - at) / 60_000
    };
    assert_eq!([until(3), until(6), until(9), until(12)], [5, 10, 20, 20]);
    assert_eq!(until(17), 5, "a success resets the growth");
    assert_eq!(entry(&r, 26)["result"]["decision"]["until"], Value::Null);
}

#[test]
fn repeated_wrong_pin_is_counted_once() {
    let r = simulate_json("repeated-wrong-pin");
    let counted: Vec<bool> = (1..=4)
        .map(|n| entry(&r, n)["result"]["counted"].as_bool().unwrap())
        .collect();
    assert_eq!(counted, [true, false, false, true]);
    assert_eq!(entry(&r, 3)["result"]["failures"], 1);
}

#[test]
fn clock_going_back_then_forward_neither_ends_nor_restarts_the_wait() {
    let r = simulate_json("clock-backwards");
    let until = |n: usize| entry(&r, n)["result"]["decision"]["until"].clone();
    let lock_end = until(3);
    assert!(entry(&r, 5)["clock_back_ms"].as_i64().unwrap() > 0);
    // An hour back, then forward again: the lock still ends when it would
    // have, and the check with the clock behind recorded nothing.
    assert_eq!(until(6), lock_end);
    assert_eq!(entry(&r, 6)["events"], Value::Array(Vec::new()));
    assert_eq!(entry(&r, 8)["result"]["accepted"], false);
    assert_eq!(until(8), lock_end);
    assert_eq!(entry(&r, 9)["at"], lock_end);
    assert_eq!(entry(&r, 9)["result"]["accepted"], true);
    // A change with the clock behind: a clock_rewound event at the clock's
    // reading, then the failure at the pin's latest time.
    let e16 = entry(&r, 16);
    let events = e16["events"].as_array().unwrap();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["action"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["clock_rewound", "failure"]);
    assert_eq!(events[0]["time"], e16["at"]);
    assert_eq!(events[1]["time"], entry(&r, 15)["at"]);
}

#[test]
fn journeys_take_the_failure_branch_or_abort() {
    let r = simulate_json("journeys");
    let outcomes: Vec<&str> = r["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "journey")
        .map(|e| e["result"]["outcome"].as_str().unwrap())
        .collect();
    assert!(outcomes.contains(&"failure_branch"), "{outcomes:?}");
    assert!(outcomes.contains(&"abort"), "{outcomes:?}");
    assert!(outcomes.contains(&"continue"), "{outcomes:?}");
}

#[test]
fn helpdesk_modes_and_the_unenrolled_user() {
    let r = simulate_json("helpdesk-unlock");
    let stages = |n: usize| -> Vec<(String, bool)> {
        entry(&r, n)["result"]["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["stage"].as_str().unwrap().to_string(),
                    s["ok"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    // Restricted mode without authenticating: refused at the Unlock page.
    assert_eq!(
        stages(10).last().unwrap(),
        &("unlock page".to_string(), false)
    );
    // With an enrolled type: unlocked, with the linked account.
    assert_eq!(stages(12).last().unwrap(), &("unlock".to_string(), true));
    assert_eq!(
        entry(&r, 12)["result"]["changes"].as_array().unwrap().len(),
        2
    );
    // The unenrolled user: refused to olga, unlocked by sam.
    assert_eq!(stages(14), [("open dialog".to_string(), false)]);
    assert_eq!(stages(15).last().unwrap(), &("unlock".to_string(), true));
    let log = r["helpdesk_log"].as_array().unwrap();
    assert!(
        log.iter()
            .any(|e| e["action"]["type"] == "authentication_skipped")
    );
}

// ----- malformed scenarios -----------------------------------------------------

/// Writes `text` to a scratch file named `name`, simulates it, and returns
/// stderr after checking it failed with status 1 and printed nothing.
fn scenario_error(name: &str, text: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("authlock-cli");
    fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join(name);
    fs::write(&path, text).expect("write scenario");
    let o = run(&["simulate", path.to_str().expect("UTF-8 path")]);
    assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
    assert!(
        o.stdout.is_empty(),
        "{name}: a malformed scenario printed output as if it had run:\n{}",
        stdout(&o)
    );
    let err = stderr(&o);
    assert!(err.contains("the scenario was not run"), "{err}");
    err
}

const BASE: &str = r#"
[apps.bank]

[users.alice]
devices = ["phone"]

[[authenticators]]
name = "pin"
user = "alice"
type = "pin"
app = "bank"
device = "phone"
"#;

#[test]
fn unknown_field_in_a_timeline_entry_is_located() {
    let err = scenario_error(
        "unknown-field.toml",
        &format!(
            "{BASE}\n[timeline]\nentries = [\n  {{ at = \"+5s\", do = \"failure\", auth = \"pin\", fingerprnt = \"x\" }},\n]\n"
        ),
    );
    assert!(
        err.contains("unknown-field.toml:16:47: unknown field `fingerprnt`"),
        "{err}"
    );
    assert!(err.contains("^"), "the line is shown with a caret: {err}");
}

#[test]
fn unknown_top_level_field_is_located() {
    let err = scenario_error("unknown-top.toml", "strat = \"2026-01-05T09:00:00Z\"\n");
    assert!(
        err.contains("unknown-top.toml:1:1: unknown field `strat`"),
        "{err}"
    );
}

#[test]
fn unknown_field_in_a_json_scenario_is_located() {
    let err = scenario_error(
        "unknown-field.json",
        "{\n  \"apps\": {\"bank\": {}},\n  \"timeline\": [\n    {\"at\": \"+5s\", \"do\": \"check\", \"extra\": 1}\n  ]\n}\n",
    );
    assert!(
        err.contains("unknown-field.json:4:") && err.contains("unknown field `extra`"),
        "{err}"
    );
}

#[test]
fn json_syntax_error_names_its_line() {
    let err = scenario_error("syntax.json", "{\n  \"apps\": {\"bank\": {}},\n  oops\n}\n");
    assert!(err.contains("syntax.json:3:"), "{err}");
}

#[test]
fn unknown_user_is_located() {
    let text = BASE.replace("user = \"alice\"", "user = \"alise\"");
    let err = scenario_error("unknown-user.toml", &text);
    assert!(
        err.contains(
            "unknown-user.toml:9:8: authenticator 1, field `user`: user `alise` is not declared (declared: alice)"
        ),
        "{err}"
    );
    let err = scenario_error(
        "unknown-user-entry.toml",
        &format!("{BASE}\n[timeline]\nentries = [\n  {{ do = \"suspend\", user = \"bob\" }},\n]\n"),
    );
    assert!(
        err.contains("unknown-user-entry.toml:16:28: timeline entry 1, field `user`: user `bob` is not declared"),
        "{err}"
    );
}

#[test]
fn unknown_authenticator_is_located() {
    let err = scenario_error(
        "unknown-auth.toml",
        &format!(
            "{BASE}\n[timeline]\nentries = [\n  {{ at = \"+5s\", do = \"failure\", auth = \"pin\" }},\n  {{ at = \"+5s\", do = \"failure\", auth = \"pni\" }},\n]\n"
        ),
    );
    assert!(
        err.contains(
            "unknown-auth.toml:17:40: timeline entry 2, field `auth`: no authenticator is labelled `pni` (labels: pin)"
        ),
        "{err}"
    );
}

#[test]
fn errors_in_a_json_scenario_are_located_too() {
    let err = scenario_error(
        "semantic.json",
        "{\n  \"apps\": {\"bank\": {}},\n  \"users\": {\"alice\": {}},\n  \"timeline\": [\n    {\"at\": \"+5s\", \"do\": \"suspend\", \"user\": \"alice\"},\n    {\"at\": \"soon\", \"do\": \"check\", \"auth\": \"pw\"}\n  ]\n}\n",
    );
    assert!(
        err.contains("semantic.json:6:12: timeline entry 2, field `at`: `soon` is not a time"),
        "{err}"
    );
    assert!(
        err.contains(
            "semantic.json:6:43: timeline entry 2, field `auth`: no authenticator is labelled `pw`"
        ),
        "{err}"
    );
}

#[test]
fn authenticator_used_before_its_registration_is_refused() {
    let err = scenario_error(
        "too-early.toml",
        &format!(
            "{BASE}\n[timeline]\nentries = [\n  {{ do = \"check\", auth = \"pw\" }},\n  {{ do = \"register\", name = \"pw\", user = \"alice\", type = \"password\", app = \"bank\" }},\n]\n"
        ),
    );
    assert!(
        err.contains("timeline entry 1, field `auth`: `pw` is registered only by timeline entry 2"),
        "{err}"
    );
}

#[test]
fn unknown_app_and_device_are_located() {
    let text = BASE
        .replace("app = \"bank\"", "app = \"bnak\"")
        .replace("device = \"phone\"\n", "device = \"tablet\"\n");
    let err = scenario_error("unknown-app.toml", &text);
    assert!(
        err.contains("unknown-app.toml:11:7: authenticator 1, field `app`: app `bnak` is not declared (declared: bank)"),
        "{err}"
    );
    assert!(
        err.contains("unknown-app.toml:12:10: authenticator 1, field `device`: device `tablet` is not one of alice's devices"),
        "{err}"
    );
    assert!(err.contains("(2 problems)"), "{err}");
}

#[test]
fn bad_times_are_located() {
    let err = scenario_error(
        "bad-time.toml",
        &format!(
            "start = \"Monday 9am\"\n{BASE}\n[timeline]\nentries = [\n  {{ at = \"yesterday\", do = \"check\", auth = \"pin\" }},\n  {{ at = \"+5 minutes\", do = \"check\", auth = \"pin\" }},\n]\n"
        ),
    );
    assert!(
        err.contains("bad-time.toml:1:9: `start`: `Monday 9am` is not a time"),
        "{err}"
    );
    assert!(
        err.contains(
            "bad-time.toml:17:10: timeline entry 1, field `at`: `yesterday` is not a time"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "bad-time.toml:18:10: timeline entry 2, field `at`: `+5 minutes` is not a time"
        ),
        "{err}"
    );
}

#[test]
fn bad_policies_are_located_by_field_and_line() {
    let err = scenario_error(
        "bad-policy.toml",
        &format!(
            "[policies.pin]\nmax_failures = 0\nthrottle = [{{ after = 3, wait = \"soon\" }}]\n\n[policies.totp]\nmax_temporary_lockouts = 3\n{BASE}"
        ),
    );
    assert!(
        err.contains("bad-policy.toml:2:16: `policies.pin.max_failures`: 0 is out of range"),
        "{err}"
    );
    assert!(
        err.contains(
            "bad-policy.toml:3:33: `policies.pin.throttle[0].wait`: `soon` is not a duration"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "bad-policy.toml:6:26: `policies.totp.max_temporary_lockouts`: refused for totp"
        ) && err.contains("cannot be unlocked manually"),
        "{err}"
    );
    let err = scenario_error(
        "bad-override.toml",
        "[apps.web.policies.sms_otp]\nmax_failures = 3\n[users.a]\n",
    );
    assert!(
        err.contains("bad-override.toml:1:1: `apps.web.policies.sms_otp`: sms_otp is global-user"),
        "{err}"
    );
}

#[test]
fn unknown_field_in_a_policy_is_located() {
    let err = scenario_error("policy-field.toml", "[policies.pin]\nmax_failure = 3\n");
    assert!(
        err.contains("policy-field.toml:2:1: unknown field `max_failure`"),
        "{err}"
    );
}

#[test]
fn entries_with_wrong_shape_are_located() {
    let err = scenario_error(
        "shape.toml",
        &format!(
            "{BASE}\n[timeline]\nentries = [\n  {{ do = \"fail\", auth = \"pin\" }},\n  {{ do = \"success\", auth = \"pin\", fingerprint = \"x\" }},\n  {{ do = \"unlock_type\", user = \"alice\", type = \"pin\" }},\n  {{ auth = \"pin\" }},\n]\n"
        ),
    );
    assert!(
        err.contains("shape.toml:16:10: timeline entry 1, field `do`: `fail` is not something a timeline entry does"),
        "{err}"
    );
    assert!(
        err.contains("timeline entry 2, field `fingerprint`: `fingerprint` does not apply to `success` (it takes: auth, app, device)"),
        "{err}"
    );
    assert!(
        err.contains("shape.toml:18:3: timeline entry 3: `unlock_type` needs `app`"),
        "{err}"
    );
    assert!(err.contains("timeline entry 4: missing `do`"), "{err}");
    assert!(err.contains("(4 problems)"), "{err}");
}

#[test]
fn journey_and_helpdesk_mistakes_are_located() {
    let err = scenario_error(
        "journey.toml",
        &format!(
            "{BASE}\n[[steps]]\nname = \"lock\"\ntype = \"lock_authenticator\"\nauthenticator_id = \"risk..id\"\n\n[[steps]]\nname = \"list\"\ntype = \"user_authenticators\"\noutput_variable = \"all\"\n\n[timeline]\nentries = [\n  {{ do = \"journey\", journey = \"j\", step = \"lokc\", app = \"bank\" }},\n  {{ do = \"journey\", journey = \"k\", step = \"list\" }},\n  {{ do = \"helpdesk_unlock\", operator = \"olga\", account = \"alice@corp\" }},\n  {{ do = \"journey\", journey = \"j\", step = \"lock\", app = \"bank\" }},\n]\n"
        ),
    );
    assert!(
        err.contains("journey.toml:17:20: step 1, field `authenticator_id`: invalid expression `risk..id` at column 6"),
        "{err}"
    );
    assert!(
        err.contains("timeline entry 1, field `step`: no step is named `lokc` (steps: list)"),
        "{err}"
    );
    assert!(
        err.contains("timeline entry 2: journey `k` starts here: say in which `app` it runs"),
        "{err}"
    );
    assert!(
        err.contains("timeline entry 3: `helpdesk_unlock` needs a [helpdesk] section"),
        "{err}"
    );
    // Entry 4 names the invalid step: that was reported once, at the step.
    assert!(err.contains("(4 problems)"), "{err}");
}

#[test]
fn helpdesk_configuration_mistakes_are_located() {
    let err = scenario_error(
        "helpdesk.toml",
        "[users.jane]\n\n[helpdesk.stores.corp]\naccount_lockout = { max_failures = 300 }\n\n[helpdesk.operators]\nolga = \"tier9\"\n\n[[accounts]]\nstore = \"crop\"\nuser = \"jane\"\n",
    );
    assert!(
        err.contains("helpdesk.toml:7:8: `helpdesk.operators.olga`: role `tier9` is not defined"),
        "{err}"
    );
    assert!(
        err.contains("`helpdesk.stores.corp.account_lockout.max_failures`: 300 is out of range"),
        "{err}"
    );
    assert!(
        err.contains("helpdesk.toml:10:9: account 1, field `store`: identity store `crop` is not configured (configured: corp)"),
        "{err}"
    );
}

#[test]
fn a_policy_override_file_with_errors_is_reported_with_its_lines() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("authlock-cli");
    fs::create_dir_all(&dir).expect("scratch dir");
    let policies = dir.join("override-bad.toml");
    fs::write(&policies, "[policies.pin]\n\nmax_failures = 101\n").expect("write");
    let o = run(&[
        "simulate",
        "examples/scenarios/pin-throttle.toml",
        "--policies",
        policies.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let err = stderr(&o);
    assert!(
        err.contains("override-bad.toml:3:1: `policies.pin.max_failures`: 101 is out of range"),
        "{err}"
    );
}

#[test]
fn a_policy_override_file_replaces_the_scenarios_policies() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("authlock-cli");
    fs::create_dir_all(&dir).expect("scratch dir");
    let policies = dir.join("override-ok.toml");
    fs::write(
        &policies,
        "[policies.pin]\nmax_failures = 3\nthrottle = []\nlockout = { kind = \"temporary\", duration = \"1m\" }\n",
    )
    .expect("write");
    let o = run(&[
        "simulate",
        "examples/scenarios/pin-throttle.toml",
        "--policies",
        policies.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(entry(&r, 3)["result"]["max_failures"], 3);
    assert_eq!(entry(&r, 3)["result"]["decision"]["decision"], "locked");
    assert!(entry(&r, 3)["result"]["decision"]["until"].is_i64());
}

#[test]
fn a_missing_scenario_file_is_an_error() {
    let o = run(&["simulate", "examples/scenarios/no-such-file.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert!(stderr(&o).contains("no-such-file.toml: cannot read"));
}

#[test]
fn usage_errors_exit_with_status_2() {
    let o = run(&["simulate"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["simulate", "x.toml", "--format", "yaml"]);
    assert_eq!(o.status.code(), Some(2));
}

// ----- policy check -------------------------------------------------------------

fn scratch(name: &str, text: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("authlock-cli");
    fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join(name);
    fs::write(&path, text).expect("write");
    path.to_str().expect("UTF-8").to_string()
}

#[test]
fn policy_check_lists_the_policies_of_a_valid_document() {
    let f = scratch(
        "valid.toml",
        "tenant = \"acme\"\n[policies.pin]\nmax_failures = 6\nthrottle = [{ after = 3, wait = \"30s\" }]\nlockout = { kind = \"until_unlocked\" }\n[apps.bank.policies.pin]\nmax_failures = 4\nthrottle = []\n",
    );
    let o = run(&["policy", "check", &f]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("valid policy document for tenant acme"),
        "{out}"
    );
    assert!(
        out.contains(
            "pin                   6 failures -> locked until unlocked; throttle after 3: 30s\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("pin in bank           4 failures -> locked until unlocked"),
        "{out}"
    );
    assert!(out.contains("(default)"), "{out}");
}

#[test]
fn policy_check_prints_every_error_with_field_and_line() {
    let f = scratch(
        "invalid.toml",
        "[policies.password]\nmax_failures = 0\n\n[policies.totp]\nlockout = { kind = \"until_unlocked\" }\n",
    );
    let o = run(&["policy", "check", &f]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let err = stderr(&o);
    assert!(
        err.contains("invalid.toml:2:1: policies.password.max_failures: 0 is out of range"),
        "{err}"
    );
    assert!(
        err.contains(
            "invalid.toml:5:1: policies.totp.lockout.kind: until_unlocked is refused for totp"
        ),
        "{err}"
    );
    assert!(err.contains("invalid policy document (2 errors)"), "{err}");
}

#[test]
fn policy_check_reports_toml_syntax_errors_with_their_line() {
    let f = scratch("syntax.toml", "[policies.pin]\nmax_failures = \n");
    let o = run(&["policy", "check", &f]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("syntax.toml:2:1:"), "{}", stderr(&o));
}

#[test]
fn policy_check_reads_json_and_names_the_field() {
    let f = scratch(
        "invalid.json",
        "{\"policies\": {\"password\": {\"max_failures\": 500}}}",
    );
    let o = run(&["policy", "check", &f]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("invalid.json: policies.password.max_failures: 500 is out of range"),
        "{}",
        stderr(&o)
    );
    let f = scratch(
        "broken.json",
        "{\n\"policies\": {\n\"pin\": {\"max_failures\": 3,}\n}}",
    );
    let o = run(&["policy", "check", &f]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("broken.json:3:"), "{}", stderr(&o));
}

#[test]
fn policy_check_json_output_for_scripts() {
    let f = scratch(
        "for-script.toml",
        "[policies.pin]\nmax_failures = 0\nthrottle = [{ after = 0, wait = \"1s\" }]\n",
    );
    let o = run(&["policy", "check", &f, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    assert_eq!(v["valid"], false);
    let fields: Vec<(&str, i64)> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["line"].as_i64().unwrap()))
        .collect();
    assert!(
        fields.contains(&("policies.pin.max_failures", 2)),
        "{fields:?}"
    );
    assert!(
        fields.contains(&("policies.pin.throttle[0].after", 3)),
        "{fields:?}"
    );

    let f = scratch("ok.json", "{\"tenant\": \"t1\"}");
    let o = run(&["policy", "check", &f, "--format", "json"]);
    assert!(o.status.success());
    let v: Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    assert_eq!(v["valid"], true);
    assert_eq!(v["tenant"], "t1");
    assert_eq!(v["policies"].as_array().unwrap().len(), 13);
}

// ----- replay ---------------------------------------------------------------------

/// The users of a report with the labels taken out of the views.
fn users_without_labels(v: &Value) -> Vec<Value> {
    v["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| !u["history"]["on_user"].as_array().unwrap().is_empty())
        .map(|u| {
            let mut u = u.clone();
            for a in u["authenticators"].as_array_mut().unwrap() {
                a.as_object_mut().unwrap().remove("labels");
            }
            u
        })
        .collect()
}

/// The same, for the replay's users (which carry no labels).
fn replayed_users(v: &Value) -> Vec<Value> {
    let users = v["users"].as_array().unwrap().clone();
    for u in &users {
        for a in u["authenticators"].as_array().unwrap() {
            assert!(a.get("labels").is_none(), "a replay knows no labels");
        }
    }
    users
}

#[test]
fn replaying_a_simulations_history_rebuilds_its_final_state() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("authlock-cli");
    fs::create_dir_all(&dir).expect("scratch dir");
    for name in scenarios() {
        let file = format!("examples/scenarios/{name}.toml");
        let history = dir.join(format!("{name}.history.json"));
        let history = history.to_str().unwrap();
        let o = run(&[
            "simulate",
            &file,
            "--format",
            "json",
            "--history-out",
            history,
        ]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let sim: Value = serde_json::from_str(&stdout(&o)).unwrap();
        let end = authlock::Timestamp::from_millis(sim["end"].as_i64().unwrap()).to_string();
        let o = run(&[
            "replay",
            history,
            "--scenario",
            &file,
            "--at",
            &end,
            "--format",
            "json",
        ]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let rep: Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(
            users_without_labels(&sim),
            replayed_users(&rep),
            "{name}: the replayed state differs from the simulated one"
        );
        let o = run(&["replay", history, "--scenario", &file, "--at", &end]);
        assert!(o.status.success());
        assert!(stdout(&o).starts_with("Replayed "), "{}", stdout(&o));
    }
}

#[test]
fn replay_refuses_a_history_the_policies_did_not_produce() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("authlock-cli");
    fs::create_dir_all(&dir).expect("scratch dir");
    let history = dir.join("pin.history.json");
    let history = history.to_str().unwrap();
    let o = run(&[
        "simulate",
        "examples/scenarios/pin-throttle.toml",
        "--history-out",
        history,
    ]);
    assert!(o.status.success());
    // The built-in PIN policy locks at 10 failures, not 12.
    let o = run(&["replay", history]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert!(stderr(&o).contains("history refused"), "{}", stderr(&o));

    let broken = scratch("broken.history.json", "{\"format\": \"authlock-history\"");
    let o = run(&["replay", &broken]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not a valid history document"),
        "{}",
        stderr(&o)
    );
}

// ----- JSON scenarios ----------------------------------------------------------------

/// Drops what depends on the file itself: its name and the entries' lines.
fn without_file(mut v: Value) -> Value {
    v["scenario"]["file"] = Value::Null;
    for e in v["entries"].as_array_mut().unwrap() {
        e.as_object_mut().unwrap().remove("line");
    }
    v
}

#[test]
fn a_json_scenario_runs_like_the_same_toml_scenario() {
    for name in ["pin-throttle", "helpdesk-unlock", "journeys"] {
        let file = format!("examples/scenarios/{name}.toml");
        let text = fs::read_to_string(root().join(&file)).unwrap();
        let doc: Value = toml::from_str(&text).expect("the example is TOML");
        let json_file = scratch(
            &format!("{name}.json"),
            &serde_json::to_string_pretty(&doc).unwrap(),
        );
        let from_toml = run(&["simulate", &file, "--format", "json"]);
        let from_json = run(&["simulate", &json_file, "--format", "json"]);
        assert!(from_json.status.success(), "{name}: {}", stderr(&from_json));
        let a: Value = serde_json::from_str(&stdout(&from_toml)).unwrap();
        let b: Value = serde_json::from_str(&stdout(&from_json)).unwrap();
        assert_eq!(
            a["entries"][0]["line"].is_u64(),
            b["entries"][0]["line"].is_u64()
        );
        assert_eq!(without_file(a), without_file(b), "{name}");
    }
}
