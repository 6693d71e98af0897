#!/usr/bin/env bash
# Installs what the binding tests need, skipping whatever is already there:
#   - Debian's JNA (/usr/share/java/jna.jar and its native dispatcher), and a
#     Java runtime, npm and python3-venv where they are missing;
#   - the Kotlin compiler from npm (kotlin-compiler, pinned) in .tools/;
#   - a Python venv in .venv/ with pytest and maturin (pinned) from PyPI.
# A Swift toolchain is not installed: the Swift tests run where `swift` is
# already on the PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

KOTLIN_VERSION=2.4.20
MATURIN_VERSION=1.16.0
PYTEST_VERSION=9.2.0
TOOLS="$PWD/.tools"
VENV="$PWD/.venv"

need_apt=()
[ -f /usr/share/java/jna.jar ] || need_apt+=(libjna-java)
command -v java >/dev/null 2>&1 || need_apt+=(default-jre-headless)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
python3 -c 'import ensurepip, venv' 2>/dev/null || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "installing ${need_apt[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "${need_apt[@]}" >/dev/null
fi

KC="$TOOLS/node_modules/kotlin-compiler"
if ! grep -qs "\"version\": \"$KOTLIN_VERSION\"" "$KC/package.json" || [ ! -x "$KC/bin/kotlinc" ]; then
    echo "installing kotlin-compiler $KOTLIN_VERSION"
    mkdir -p "$TOOLS"
    npm install --prefix "$TOOLS" --no-audit --no-fund --silent "kotlin-compiler@$KOTLIN_VERSION"
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "creating $VENV"
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -m pytest --version 2>/dev/null | grep -q "$PYTEST_VERSION" ||
    ! "$VENV/bin/maturin" --version 2>/dev/null | grep -q "$MATURIN_VERSION"; then
    echo "installing pytest $PYTEST_VERSION and maturin $MATURIN_VERSION"
    "$VENV/bin/pip" install -q --disable-pip-version-check \
        "pytest==$PYTEST_VERSION" "maturin==$MATURIN_VERSION"
fi
