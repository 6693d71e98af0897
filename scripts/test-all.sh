#!/usr/bin/env bash
# The test command: formatting, lints, docs, Rust tests (unit, behaviour,
# property, doc), benchmarks compiled, the C ABI tests and the binding tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

step "cargo doc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet

step "the README's first command, and the Rust example"
cargo run --quiet -- simulate examples/scenarios/pin-throttle.toml > /dev/null
cargo run --quiet --example quickstart > /dev/null

if [ -d benches ]; then
    step "cargo bench --no-run"
    cargo bench --no-run --quiet
fi

if [ -f scripts/test-c.sh ]; then
    step "C ABI tests"
    bash scripts/test-c.sh
fi

if [ -f scripts/test-bindings.sh ]; then
    step "binding tests (Python, Kotlin, Swift)"
    bash scripts/test-bindings.sh
fi

step "cargo test"
cargo test --quiet 2>&1 | tee target/cargo-test.log
grep -q "test result: ok" target/cargo-test.log
