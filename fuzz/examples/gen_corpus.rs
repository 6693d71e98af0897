//! Writes the seed corpus under `fuzz/corpus/<target>/`: real files from
//! `examples/scenarios`, and snapshots, histories and journals written by
//! the library itself. Deterministic (fixed clock, seeded IDs), so running
//! it again changes nothing unless the library's output changes.
//!
//! Run from the repository root: `scripts/fuzz.sh corpus`.

use std::fs;
use std::path::{Path, PathBuf};

use authlock::{PolicyDocument, history_to_json};
use authlock_fuzz::{
    builder, clear_dir, engine, open_options, populate, scratch_dir, store_template,
};

fn write(root: &Path, target: &str, name: &str, bytes: impl AsRef<[u8]>) {
    let dir = root.join(target);
    fs::create_dir_all(&dir).expect("create corpus directory");
    fs::write(dir.join(name), bytes).expect("write seed");
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .expect("list examples")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

fn name_of(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

fn main() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let root = repo.join("fuzz/corpus");
    let scenarios = repo.join("examples/scenarios");

    // policy: the example policy documents, and the built-in one as JSON.
    for p in files(&scenarios.join("policies"), "toml") {
        write(&root, "policy", &name_of(&p), fs::read(&p).unwrap());
    }
    write(
        &root,
        "policy",
        "builtin.json",
        PolicyDocument::new().to_json(),
    );
    write(
        &root,
        "policy",
        "app-override.toml",
        "tenant = \"acme\"\n\n[policies.password]\nmax_failures = 3\nfailure_window = \"none\"\nmax_temporary_lockouts = 2\nlockout = { kind = \"temporary\", duration = \"5m\" }\n\n[apps.bank.policies.pin]\nmax_failures = 3\nthrottle = [{ after = 1, delay = \"30s\" }]\nlockout = { kind = \"until_unlocked\" }\n",
    );

    // snapshot and history: an engine driven through a few of everything.
    let e = engine();
    write(&root, "snapshot", "empty.json", e.snapshot_json());
    populate(&e);
    write(&root, "snapshot", "populated.json", e.snapshot_json());
    write(
        &root,
        "history",
        "populated.json",
        history_to_json(e.tenant(), &e.events()),
    );
    write(
        &root,
        "history",
        "empty.json",
        history_to_json("default", &[]),
    );

    // journal_open: the journal open_store writes for a fresh store.
    let dir = scratch_dir("gen-corpus");
    clear_dir(&dir);
    let (store, _) = builder(PolicyDocument::new())
        .open_store(&dir, open_options())
        .expect("open a fresh store");
    populate(&store);
    drop(store);
    let mut journals: Vec<PathBuf> = files(&dir, "log");
    assert_eq!(journals.len(), 1, "a fresh store has one journal segment");
    let journal = journals.pop().unwrap();
    assert_eq!(name_of(&journal), "journal-00000000000000000001.log");
    let bytes = fs::read(&journal).unwrap();
    write(&root, "journal_open", "populated.log", &bytes);
    // A torn tail: the last record cut short.
    write(&root, "journal_open", "torn.log", &bytes[..bytes.len() - 5]);
    let _ = fs::remove_dir_all(&dir);

    // journal_after_snapshot: the segment after the template's snapshot.
    let t = store_template();
    write(
        &root,
        "journal_after_snapshot",
        "after-compaction.log",
        &t.journal,
    );
    write(&root, "journal_after_snapshot", "empty.log", b"");

    // journey_expr
    for (i, x) in [
        "risk.authenticator",
        "list[2].a[\"b\"][0]",
        "'a literal'",
        "\"double \\\" quoted\"",
        "[\"with space\"][\"quote\\\"d\"]",
        "x.y.z.w.v",
        "form.email",
    ]
    .iter()
    .enumerate()
    {
        write(&root, "journey_expr", &format!("expr-{i}"), x);
    }

    // journey_step: the steps of examples/scenarios/journeys.toml, each as
    // TOML and as a run request with variables.
    let scenario: toml::Table =
        toml::from_str(&fs::read_to_string(scenarios.join("journeys.toml")).unwrap()).unwrap();
    let steps = scenario["steps"]
        .as_array()
        .expect("journeys.toml has steps");
    for (i, step) in steps.iter().enumerate() {
        write(
            &root,
            "journey_step",
            &format!("step-{i}.toml"),
            toml::to_string(step).unwrap(),
        );
        let request = serde_json::json!({
            "step": step,
            "context": {
                "journey": "risk",
                "app": "web",
                "authenticated_user": "alice",
                "variables": {
                    "risk": { "rule": "geo", "authenticator": "00000000000000000000000000000000" },
                    "form": { "email": "bob@example.com", "authenticator": "00000000000000000000000000000000" }
                }
            }
        });
        write(
            &root,
            "journey_step",
            &format!("request-{i}.json"),
            request.to_string(),
        );
    }

    // helpdesk: a whole unlock flow, one request a line, and a configuration.
    let flow = [
        r#"{"op":"add_account","account":{"account":{"store":"corp","user":"alice"},"enrolled":["email"]}}"#,
        r#"{"op":"add_account","account":{"account":{"store":"partners","user":"alice.p"},"display_name":"Alice P"}}"#,
        r#"{"op":"enrol","account":{"store":"partners","user":"alice.p"},"method":"sms"}"#,
        r#"{"op":"link_accounts","a":{"store":"corp","user":"alice"},"b":{"store":"partners","user":"alice.p"}}"#,
        r#"{"op":"record_login_failure","account":{"store":"corp","user":"alice"}}"#,
        r#"{"op":"record_login_failure","account":{"store":"corp","user":"alice"}}"#,
        r#"{"op":"record_login_failure","account":{"store":"corp","user":"alice"}}"#,
        r#"{"op":"record_login_failure","account":{"store":"partners","user":"alice.p"}}"#,
        r#"{"op":"record_login_failure","account":{"store":"partners","user":"alice.p"}}"#,
        r#"{"op":"account_status","account":{"store":"corp","user":"alice"}}"#,
        r#"{"op":"begin_unlock","operator":"rita","account":{"store":"corp","user":"alice"}}"#,
        r#"{"op":"unlock_page","operator":"rita","session":1}"#,
        r#"{"op":"authenticate_user","operator":"rita","session":1,"method":"email"}"#,
        r#"{"op":"unlock_page","operator":"rita","session":1}"#,
        r#"{"op":"unlock","operator":"rita","session":1,"accounts":[{"store":"corp","user":"alice"}],"reason":"called in"}"#,
        r#"{"op":"change_password","account":{"store":"corp","user":"alice"}}"#,
        r#"{"op":"history","user":"rita"}"#,
        r#"{"op":"state"}"#,
    ];
    write(&root, "helpdesk", "flow.jsonl", flow.join("\n") + "\n");
    write(
        &root,
        "helpdesk",
        "config.toml",
        "[stores.corp]\naccount_lockout = { max_failures = 3, failure_window = \"none\", lockout = { kind = \"until_unlocked\" } }\n\n[roles.r]\npermissions = [\"unlock_account\"]\nmode = \"restricted\"\n\n[operators]\nrita = \"r\"\n",
    );

    // scenario: every example scenario.
    for p in files(&scenarios, "toml") {
        write(&root, "scenario", &name_of(&p), fs::read(&p).unwrap());
    }

    // capi: NUL-separated fields; the first is the policy document, each
    // later one an operation code and its argument (see fuzz_targets/capi.rs).
    let op = |code: u8, arg: &str| {
        let mut v = vec![code];
        v.extend_from_slice(arg.as_bytes());
        v
    };
    let mut flow: Vec<Vec<u8>> = vec![Vec::new()];
    flow.push(op(0, "alice")); // register (kind from the argument's first byte: 'a' % 15 = 7, SMS OTP: refused)
    flow.push(op(0, "")); // register with an empty user
    flow.push(op(1, "web")); // register alice's password in app "web" (kind 'w' % 15)
    flow.push(op(13, "alice@example.com"));
    flow.push(op(0, "bob"));
    flow.push(op(4, "fingerprint-1"));
    flow.push(op(4, "fingerprint-2"));
    flow.push(op(4, "fingerprint-3"));
    flow.push(op(2, ""));
    flow.push(op(7, "0123456789abcdef0123456789abcdef"));
    flow.push(op(9, "verified"));
    flow.push(op(17, ""));
    flow.push(op(16, "{\"format\":\"authlock-snapshot\"}"));
    flow.push(op(15, "alice"));
    flow.push(op(
        19,
        "sixty minutes have passed.....................................",
    ));
    flow.push(op(12, "bob"));
    write(&root, "capi", "flow", flow.join(&0u8));
    write(
        &root,
        "capi",
        "policy-toml",
        b"[policies.password]\nmax_failures = 2\n\0\0alice\0\x04x\0\x04y\0\x02\0\x11",
    );
}
