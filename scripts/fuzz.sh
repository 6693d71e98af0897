#!/usr/bin/env bash
# Fuzzing with cargo-fuzz (libFuzzer + AddressSanitizer); see docs/FUZZING.md.
#
#   scripts/fuzz.sh smoke                    build every target, run each briefly over its corpus,
#                                            and once over its kept crash inputs (fuzz/artifacts-found/)
#   scripts/fuzz.sh long SECONDS [TARGET...] run each target (default: all) for SECONDS, one at a time
#   scripts/fuzz.sh corpus                   rewrite the seed corpus (fuzz/corpus/) from the library
#   scripts/fuzz.sh merge TARGET             add to fuzz/corpus/TARGET what the runs found that adds coverage
#
# Everything built or found stays outside the clone, under
# ${AUTHLOCK_CACHE:-/var/cache/authlock}: fuzz-target/ (the build),
# fuzz-corpus/<target>/ (inputs the runs found), fuzz-artifacts/<target>/
# (crashing inputs), fuzz-logs/<target>/ (long runs' logs).
#
# The machine has only a stable toolchain. cargo-fuzz passes nightly-only
# flags (-Zsanitizer=address, -Cllvm-args for coverage); RUSTC_BOOTSTRAP=1
# lets the stable compiler accept them. Stable's rust-std ships the
# AddressSanitizer runtime, so nothing else is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

CARGO_FUZZ_VERSION=0.13.2
TARGETS=(policy snapshot history journal_open journal_after_snapshot journey_expr journey_step helpdesk scenario capi)
SMOKE_SECONDS=${SMOKE_SECONDS:-5}

export PATH="$HOME/.cargo/bin:$PATH"
export RUSTC_BOOTSTRAP=1
CACHE=${AUTHLOCK_CACHE:-/var/cache/authlock}
export CARGO_TARGET_DIR="$CACHE/fuzz-target"
BIN="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"
# The journal targets write a store per input: memory is faster than disk.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi

usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

install_cargo_fuzz() {
    if ! cargo fuzz --version 2>/dev/null | grep -q "cargo-fuzz $CARGO_FUZZ_VERSION\$"; then
        echo "installing cargo-fuzz $CARGO_FUZZ_VERSION"
        cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --quiet
    fi
}

build() {
    install_cargo_fuzz
    mkdir -p "$CACHE"
    echo "building fuzz targets in $CARGO_TARGET_DIR"
    cargo fuzz build --fuzz-dir fuzz --target-dir "$CARGO_TARGET_DIR" "$@"
}

check_target() {
    local t
    for t in "${TARGETS[@]}"; do [ "$t" = "$1" ] && return 0; done
    echo "unknown fuzz target: $1 (targets: ${TARGETS[*]})" >&2
    exit 2
}

# run TARGET LOG ARGS...: one libFuzzer run over the committed corpus, new
# inputs kept in the cache; prints its executions; returns its status.
run_target() {
    local t=$1 log=$2
    shift 2
    local work="$CACHE/fuzz-corpus/$t" art="$CACHE/fuzz-artifacts/$t"
    mkdir -p "$work" "$art"
    local status=0
    "$BIN/$t" "$work" "fuzz/corpus/$t" \
        -artifact_prefix="$art/" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        "$@" >"$log" 2>&1 || status=$?
    report "$t" "$log" "$status"
    return "$status"
}

# report TARGET LOG STATUS: one line of figures from libFuzzer's final stats.
report() {
    local t=$1 log=$2 status=$3
    local execs rate secs
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
    secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1 | grep -o 'in [0-9]*' | grep -o '[0-9]*' || true)
    if [ "$status" -eq 0 ]; then
        printf '%-24s ok     %10s execs  %7s execs/s  %4ss\n' "$t" "${execs:-?}" "${rate:-?}" "${secs:-?}"
    else
        printf '%-24s FAILED (status %s) after %s execs; log: %s\n' "$t" "$status" "${execs:-?}" "$log"
        grep -E 'panicked at|ERROR: |SUMMARY: |Test unit written to' "$log" | head -5 | sed 's/^/    /'
    fi
}

mode=${1:-}
[ -n "$mode" ] || usage
shift

case "$mode" in
smoke)
    build
    logs="$CACHE/fuzz-logs/smoke"
    mkdir -p "$logs"
    failed=()
    for t in "${TARGETS[@]}"; do
        run_target "$t" "$logs/$t.log" -max_total_time="$SMOKE_SECONDS" || failed+=("$t")
        # The inputs kept from earlier crashes, once each.
        found=()
        if [ -d "fuzz/artifacts-found/$t" ]; then
            while IFS= read -r f; do found+=("$f"); done < <(find "fuzz/artifacts-found/$t" -type f | sort)
        fi
        if [ ${#found[@]} -gt 0 ]; then
            if "$BIN/$t" "${found[@]}" >"$logs/$t.found.log" 2>&1; then
                printf '%-24s ok     %10s kept crash input(s) pass\n' "$t" "${#found[@]}"
            else
                printf '%-24s FAILED a kept crash input under fuzz/artifacts-found/%s still crashes; log: %s\n' "$t" "$t" "$logs/$t.found.log"
                grep -E 'panicked at' -A1 "$logs/$t.found.log" | head -2 | sed 's/^/    /'
                failed+=("$t (kept input)")
            fi
        fi
    done
    if [ ${#failed[@]} -gt 0 ]; then
        echo "fuzz smoke: ${#failed[@]} target(s) crashed: ${failed[*]} (inputs under $CACHE/fuzz-artifacts/)"
        exit 1
    fi
    echo "fuzz smoke: ${#TARGETS[@]} targets ran ${SMOKE_SECONDS}s each without a crash"
    ;;
long)
    seconds=${1:-}
    [[ "$seconds" =~ ^[0-9]+$ ]] || usage
    shift
    chosen=("$@")
    [ ${#chosen[@]} -gt 0 ] || chosen=("${TARGETS[@]}")
    for t in "${chosen[@]}"; do check_target "$t"; done
    build
    failed=()
    for t in "${chosen[@]}"; do
        logs="$CACHE/fuzz-logs/$t"
        mkdir -p "$logs"
        # One worker, one job, at the lowest priority: the machine is shared.
        # With -jobs, libFuzzer writes the run's output to fuzz-0.log in the
        # working directory.
        mkdir -p "$CACHE/fuzz-corpus/$t" "$CACHE/fuzz-artifacts/$t"
        rm -f "$logs/fuzz-0.log"
        status=0
        (cd "$logs" &&
            nice -n 19 "$BIN/$t" "$CACHE/fuzz-corpus/$t" "$REPO/fuzz/corpus/$t" \
                -artifact_prefix="$CACHE/fuzz-artifacts/$t/" -print_final_stats=1 \
                -timeout=10 -rss_limit_mb=2048 -max_total_time="$seconds" \
                -workers=1 -jobs=1 >"$logs/driver.log" 2>&1) || status=$?
        # The job's own output; a crash is in it whatever the driver's status.
        if grep -q -E '^==[0-9]+== ERROR: |Test unit written to' "$logs/fuzz-0.log" 2>/dev/null; then
            [ "$status" -ne 0 ] || status=1
        fi
        report "$t" "$logs/fuzz-0.log" "$status"
        [ "$status" -eq 0 ] || failed+=("$t")
    done
    if [ ${#failed[@]} -gt 0 ]; then
        echo "fuzz long: crashes in ${failed[*]} (inputs under $CACHE/fuzz-artifacts/)"
        exit 1
    fi
    ;;
corpus)
    # A plain (uninstrumented) build of the generator.
    CARGO_TARGET_DIR="$CACHE/fuzz-gen-target" cargo run --quiet --manifest-path fuzz/Cargo.toml --example gen_corpus
    echo "seed corpus written under fuzz/corpus/"
    ;;
merge)
    t=${1:-}
    [ -n "$t" ] || usage
    check_target "$t"
    [ -x "$BIN/$t" ] || build
    "$BIN/$t" -merge=1 "fuzz/corpus/$t" "$CACHE/fuzz-corpus/$t"
    ;;
*)
    usage
    ;;
esac
