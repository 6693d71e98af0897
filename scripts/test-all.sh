#!/usr/bin/env bash
# The test command: formatting, lints, docs, Rust tests (unit, behaviour,
# property, doc, the kill -9 crash test), benchmarks compiled, the C ABI
# tests, the binding tests, a fuzzing smoke run and Miri (where a toolchain
# with Miri is present). Prints each stage's time at the end.
#
# Build outputs live outside the clone, in $CARGO_TARGET_DIR (by default
# /var/cache/authlock/target, or target/ where that cannot be written), so
# that a fresh clone reuses an earlier run's builds.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

if [ -z "${CARGO_TARGET_DIR:-}" ]; then
    CACHE="${AUTHLOCK_CACHE:-/var/cache/authlock}"
    if mkdir -p "$CACHE/target" 2>/dev/null && [ -w "$CACHE/target" ]; then
        export CARGO_TARGET_DIR="$CACHE/target"
    else
        export CARGO_TARGET_DIR="$PWD/target"
    fi
fi
mkdir -p "$CARGO_TARGET_DIR"
echo "build outputs in $CARGO_TARGET_DIR"

STAGES=()
TIMES=()
stage() {
    local name="$1"
    shift
    printf '\n== %s\n' "$name"
    local start=$SECONDS
    "$@"
    STAGES+=("$name")
    TIMES+=($((SECONDS - start)))
}
summary() {
    local status=$?
    printf '\n== stage times\n'
    for i in "${!STAGES[@]}"; do
        printf '%6ss  %s\n' "${TIMES[$i]}" "${STAGES[$i]}"
    done
    printf '%6ss  total\n' "$SECONDS"
    [ "$status" -eq 0 ] || printf 'FAILED (exit %s) after the stages above\n' "$status"
}
trap summary EXIT

first_command() {
    cargo run --quiet -- simulate examples/scenarios/pin-throttle.toml > /dev/null
    cargo run --quiet --example quickstart > /dev/null
}

rust_tests() {
    cargo test --quiet 2>&1 | tee "$CARGO_TARGET_DIR/cargo-test.log"
    grep -q "test result: ok" "$CARGO_TARGET_DIR/cargo-test.log"
}

stage "cargo fmt --check" cargo fmt --all -- --check
stage "cargo clippy --all-targets -- -D warnings" cargo clippy --all-targets --quiet -- -D warnings
stage "cargo doc (warnings denied)" env RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet
stage "the README's first command, and the Rust example" first_command
if [ -d benches ]; then
    stage "cargo bench --no-run" cargo bench --no-run --quiet
fi
if [ -f scripts/test-c.sh ]; then
    stage "C ABI tests" bash scripts/test-c.sh
fi
if [ -f scripts/test-bindings.sh ]; then
    stage "binding tests (Python, Kotlin, Swift)" bash scripts/test-bindings.sh
fi
stage "cargo test" rust_tests
if [ -f scripts/fuzz.sh ]; then
    stage "fuzzing smoke run (every target, committed corpus)" bash scripts/fuzz.sh smoke
fi
if [ -f scripts/miri.sh ]; then
    stage "Miri" bash scripts/miri.sh
fi
