//! Journey expressions (`authlock::journey::expr::Expression`): parsing and
//! evaluation over a fixed set of variables.
//!
//! - Never a panic.
//! - An expression that parses parses again from its source to an equal
//!   expression.
//! - Where a path stops, the part it reports as found is itself an
//!   expression that names a value in the same variables.
#![no_main]

use std::sync::OnceLock;

use authlock::journey::expr::Expression;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fn variables() -> &'static Value {
    static V: OnceLock<Value> = OnceLock::new();
    V.get_or_init(|| {
        json!({
            "risk": { "authenticator": "0123456789abcdef0123456789abcdef", "rule": "new-country", "score": 95 },
            "form": { "email": "ivy@example.com", "authenticator": null },
            "list": [1, [2, 3], { "a": { "b": ["c"] } }],
            "with space": { "quote\"d": { "é": true }, "": 0 },
            "_": [],
            "x": { "y": { "z": { "w": "deep" } } }
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let expr = match Expression::parse(text) {
        Ok(e) => e,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let again = Expression::parse(expr.source())
        .unwrap_or_else(|e| panic!("an expression's source does not parse: {e}"));
    assert_eq!(again, expr);
    let vars = variables();
    match expr.evaluate(vars) {
        Ok(_) => {}
        Err(missing) => {
            let _ = missing.to_string();
            if !missing.found.is_empty() {
                let prefix = Expression::parse(&missing.found).unwrap_or_else(|e| {
                    panic!(
                        "the found part `{}` of `{text}` does not parse: {e}",
                        missing.found
                    )
                });
                assert!(
                    prefix.evaluate(vars).is_ok(),
                    "the found part `{}` of `{text}` names nothing",
                    missing.found
                );
            }
        }
    }
});
