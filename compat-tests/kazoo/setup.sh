#!/usr/bin/env bash
# compat-tests/kazoo/setup.sh - prepare the kazoo 2.11.0 test suite.
#
#  * creates (or reuses) the virtualenv compat-tests/.venv
#  * installs kazoo==2.11.0, pytest, pytest-timeout and what kazoo's tests
#    import (objgraph; gevent and eventlet for the handler tests; pyopenssl/pyjks for kazoo.testing.common, which
#    external_cluster.py stubs out if they cannot be installed)
#  * downloads the kazoo 2.11.0 sdist from PyPI and unpacks it into
#    compat-tests/work/kazoo-src (kazoo/ package + kazoo/tests)
#
# Idempotent: a stamp file records what has been installed; a second run
# only checks the stamp.  Set KAZOO_SETUP_FORCE=1 to redo everything.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
COMPAT_DIR="$(cd "$HERE/.." && pwd)"
VENV="${COMPAT_VENV:-$COMPAT_DIR/.venv}"
WORK="${COMPAT_WORK:-$COMPAT_DIR/work}"
SRC="$WORK/kazoo-src"
KAZOO_VERSION=2.11.0
PYTHON="${PYTHON:-python3}"

# Pinned so that runs are comparable over time.
REQS=(
    "kazoo==$KAZOO_VERSION"
    "pytest==8.3.5"
    "pytest-timeout==2.4.0"
    "objgraph==3.6.2"
    "pyopenssl==25.0.0"
    # kazoo's SASL tests (run by compat-tests/sasl/run.sh) log in with DIGEST-MD5 through it.
    "pure-sasl==0.6.2"
    # kazoo's gevent/eventlet handler tests re-run the client, lock and
    # semaphore tests through those handlers: cheap wheels, so include them.
    "gevent==26.9.0"
    "eventlet==0.41.3"
)
# Optional: pyjks needs a C compiler for its twofish dependency on some
# platforms; the plugin stubs it out when it is missing (TLS tests are
# excluded anyway).
OPTIONAL_REQS=("pyjks==20.0.0")

STAMP_CONTENT="v1 ${REQS[*]} ${OPTIONAL_REQS[*]}"
STAMP="$VENV/.kazoo-setup-stamp"

log() { echo "[kazoo-setup] $*" >&2; }

if [ "${KAZOO_SETUP_FORCE:-0}" != 1 ] && [ -f "$STAMP" ] \
    && [ "$(cat "$STAMP")" = "$STAMP_CONTENT" ] \
    && [ -f "$SRC/kazoo/tests/test_client.py" ] \
    && "$VENV/bin/python" -c 'import kazoo, pytest' >/dev/null 2>&1; then
    log "already set up ($VENV, $SRC)"
    exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
    log "creating venv $VENV"
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

log "installing ${REQS[*]}"
"${PIP[@]}" install "${REQS[@]}"
for r in "${OPTIONAL_REQS[@]}"; do
    if ! "${PIP[@]}" install "$r" >/dev/null 2>&1; then
        log "optional $r could not be installed (will be stubbed)"
    fi
done

log "fetching kazoo $KAZOO_VERSION sdist"
mkdir -p "$WORK"
DL="$WORK/kazoo-sdist"
rm -rf "$DL"
mkdir -p "$DL"
"${PIP[@]}" download --no-binary :all: --no-deps "kazoo==$KAZOO_VERSION" -d "$DL"
TARBALL="$(ls "$DL"/kazoo-"$KAZOO_VERSION".tar.gz)"
rm -rf "$SRC" "$SRC.tmp"
mkdir -p "$SRC.tmp"
tar -xzf "$TARBALL" -C "$SRC.tmp"
mv "$SRC.tmp/kazoo-$KAZOO_VERSION" "$SRC"
rmdir "$SRC.tmp"
[ -f "$SRC/kazoo/tests/test_client.py" ] || { log "sdist has no kazoo/tests?"; exit 1; }

echo "$STAMP_CONTENT" >"$STAMP"
log "done: venv $VENV, tests in $SRC/kazoo/tests"
