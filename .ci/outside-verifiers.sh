#!/usr/bin/env bash
# Install the outside verifiers that tests/outside/ runs against the blueprint,
# each in its own cached environment under .cache/outside-verifiers/ (they
# conflict with pact-python 4 and with each other). Idempotent: an installed
# one is left alone. A verifier that cannot be installed is reported and its
# tests skip, saying why. Nothing here is needed by the package itself.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
CACHE=".cache/outside-verifiers"
mkdir -p "$CACHE"

log() { echo "outside-verifiers: $*" >&2; }

venv_with() {  # venv_with NAME PACKAGE...
    local dir="$CACHE/$1"; shift
    [ -f "$dir/.installed" ] && return 0
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir" \
        && "$dir/bin/python" -m pip install --quiet "$@" \
        && touch "$dir/.installed" \
        || { log "could not install $*"; rm -rf "$dir"; return 1; }
}

# The consolidated Pact CLI (`pact verifier ...`, the Rust verifier).
venv_with pact-cli "pact-python-cli==1!0.10.9"
# pactman's verifier (`pactman-verifier`).
venv_with pactman "pactman==2.31.0"
# The Ruby pact-provider-verifier bundled in the pact-python 2.3.1 wheel.
if [ ! -f "$CACHE/ruby/.installed" ]; then
    rm -rf "$CACHE/ruby" && mkdir -p "$CACHE/ruby"
    if "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: \
            -d "$CACHE/ruby" "pact-python==2.3.1" \
        && "$PYTHON" -m zipfile -e "$CACHE"/ruby/pact_python-2.3.1-*.whl "$CACHE/ruby/wheel"; then
        chmod -R u+x "$CACHE/ruby/wheel/pact" && touch "$CACHE/ruby/.installed"
    else
        log "could not install the Ruby verifier (pact-python 2.3.1 wheel)"
    fi
fi
# pact-js 17 (its pact-core ships the native verifier in the package).
if [ ! -f "$CACHE/pact-js/.installed" ] && command -v npm >/dev/null; then
    mkdir -p "$CACHE/pact-js"
    if npm install --silent --no-audit --no-fund --prefix "$CACHE/pact-js" \
            "@pact-foundation/pact@17" >&2; then
        touch "$CACHE/pact-js/.installed"
    else
        log "could not install pact-js"
    fi
fi
exit 0
