#!/usr/bin/env bash
# Installs the tools the test command needs, skipping what is present:
# cbindgen (pinned), gcc and valgrind for the C tests, and the binding
# toolchains (JNA, the Kotlin compiler, a Python venv) when the binding
# tests are part of the tree.
set -euo pipefail
cd "$(dirname "$0")/.."

CBINDGEN_VERSION=0.29.4
export PATH="$HOME/.cargo/bin:$PATH"

if ! cbindgen --version 2>/dev/null | grep -q "$CBINDGEN_VERSION"; then
    echo "installing cbindgen $CBINDGEN_VERSION"
    cargo install cbindgen --version "$CBINDGEN_VERSION" --locked --quiet
fi

need_apt=()
command -v gcc >/dev/null || need_apt+=(gcc)
command -v valgrind >/dev/null || need_apt+=(valgrind)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "installing ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

if [ -f scripts/install-binding-tools.sh ]; then
    bash scripts/install-binding-tools.sh
fi
