#!/usr/bin/env bash
# The binding tests:
#   1. the committed generated sources in bindings/ are what
#      scripts/gen-bindings.sh generates now (any difference fails);
#   2. Python: the wheel is built with maturin and installed in .venv, and
#      pytest runs bindings/python/tests against the installed package;
#   3. Kotlin: bindings/kotlin/tests is compiled with the generated source
#      and run on the JVM with Debian's JNA;
#   4. Swift: `swift test` in bindings/swift, when `swift` is on the PATH.
# The tools come from scripts/install-binding-tools.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
VENV="$ROOT/.venv"
KC="$ROOT/.tools/node_modules/kotlin-compiler"
JNA=/usr/share/java/jna.jar
export PATH="$VENV/bin:$HOME/.cargo/bin:$PATH"

for tool in "$VENV/bin/maturin" "$VENV/bin/pytest" "$KC/bin/kotlinc" "$JNA"; do
    if [ ! -e "$tool" ]; then
        echo "missing $tool: run scripts/install-binding-tools.sh first" >&2
        exit 1
    fi
done

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
step() { printf -- '-- %s\n' "$*"; }

step "generated bindings match the library"
bash scripts/gen-bindings.sh "$TMP/gen"
stale=0
while IFS= read -r f; do
    if ! diff -u "bindings/$f" "$TMP/gen/$f" >"$TMP/diff" 2>&1; then
        echo "bindings/$f is not what scripts/gen-bindings.sh generates:"
        head -n 40 "$TMP/diff"
        stale=1
    fi
done < <(cd "$TMP/gen" && find . -type f | sed 's|^\./||' | sort)
if [ "$stale" -ne 0 ]; then
    echo "regenerate with scripts/gen-bindings.sh and commit the result" >&2
    exit 1
fi

step "Python: build and install the wheel, run pytest"
pip install --quiet --disable-pip-version-check --no-build-isolation \
    --force-reinstall --no-deps ./bindings/python
# From elsewhere, so that nothing in the source tree shadows the package.
(cd "$TMP" && PYTHONDONTWRITEBYTECODE=1 "$VENV/bin/pytest" -p no:cacheprovider "$ROOT/bindings/python/tests")

step "Kotlin: compile the tests and run them on the JVM"
"$KC/bin/kotlinc" -nowarn -cp "$JNA:$KC/lib/kotlin-test.jar" \
    bindings/kotlin/uniffi/authlock/authlock.kt bindings/kotlin/tests/*.kt -d "$TMP/kotlin"
java -Djna.library.path="${CARGO_TARGET_DIR:-$ROOT/target}/debug" \
    -cp "$TMP/kotlin:$KC/lib/kotlin-stdlib.jar:$KC/lib/kotlin-test.jar:$JNA" AuthlockTests

if command -v swift >/dev/null 2>&1; then
    step "Swift: swift test"
    AUTHLOCK_LIB_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/debug" swift test \
        --package-path bindings/swift --scratch-path "$ROOT/target/swift"
else
    echo "Swift tests not run: no swift on the PATH"
fi
