#!/usr/bin/env bash
# Builds the cdylib and regenerates the Kotlin, Swift and Python bindings
# from it (uniffi library mode), into bindings/ or into the directory given:
#
#   kotlin/uniffi/authlock/authlock.kt        package uniffi.authlock
#   swift/Sources/authlock/authlock.swift     the Swift module
#   swift/Sources/authlockFFI/authlockFFI.h   the C declarations it calls
#   swift/Sources/authlockFFI/module.modulemap  (generated as authlockFFI.modulemap)
#   python/generated/authlock.py              what the wheel ships as authlock/authlock.py
#
# Usage: scripts/gen-bindings.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-bindings}"
export PATH="$HOME/.cargo/bin:$PATH"

case "$(uname -s)" in
    Darwin) LIB="${CARGO_TARGET_DIR:-target}"/debug/libauthlock.dylib ;;
    *) LIB="${CARGO_TARGET_DIR:-target}"/debug/libauthlock.so ;;
esac

# The generator is built with the `bindgen-cli` feature; the library it reads
# is built without it, as users build it.
cargo build --quiet --features bindgen-cli --bin uniffi-bindgen
cargo build --quiet --lib

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
for lang in kotlin swift python; do
    "${CARGO_TARGET_DIR:-target}"/debug/uniffi-bindgen generate --library "$LIB" --language "$lang" \
        --no-format --out-dir "$TMP/$lang" >/dev/null
done

put() { install -D -m 644 "$TMP/$1" "$OUT/$2"; }
put kotlin/uniffi/authlock/authlock.kt kotlin/uniffi/authlock/authlock.kt
put swift/authlock.swift swift/Sources/authlock/authlock.swift
put swift/authlockFFI.h swift/Sources/authlockFFI/authlockFFI.h
put swift/authlockFFI.modulemap swift/Sources/authlockFFI/module.modulemap
put python/authlock.py python/generated/authlock.py
