//! Policy documents, TOML and JSON: `PolicyDocument::parse`, `from_toml`,
//! `from_json`. Never a panic; a document that loads writes JSON
//! (`to_json`) that loads back to an equal document.
#![no_main]

use authlock::PolicyDocument;
use libfuzzer_sys::fuzz_target;

fn check_round_trip(doc: &PolicyDocument) {
    let json = doc.to_json();
    let again = PolicyDocument::parse(&json)
        .unwrap_or_else(|e| panic!("to_json of a valid document does not parse: {e}\n{json}"));
    assert_eq!(&again, doc, "to_json does not round-trip:\n{json}");
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match PolicyDocument::parse(text) {
        Ok(doc) => check_round_trip(&doc),
        Err(e) => {
            let _ = e.to_string();
        }
    }
    // Both readers directly, whatever the first character.
    if let Ok(doc) = PolicyDocument::from_toml(text) {
        check_round_trip(&doc);
    }
    if let Ok(doc) = PolicyDocument::from_json(text) {
        check_round_trip(&doc);
    }
});
