# shellcheck shell=bash
# compat-tests/flink/fetch.sh - Apache Flink 2.3.0 from PyPI, shared by compat-tests/flink/run.sh
# and compat-tests/stream/run.sh (and bench/stream.sh). Source it, then call fetch_flink.
#
# The wheels apache-flink==2.3.0 and apache-flink-libraries==2.3.0 (`pip download --no-deps`,
# checked by sha256) are kept in FLINK_CACHE (default /var/tmp/ferrokeeper-flink) and unpacked
# there (pyflink/ = FLINK_HOME: bin/, conf/, lib/flink-dist-2.3.0.jar ...); later runs work offline.
# Sets FLINK_VERSION, FLINK_CACHE, FLINK_HOME.

FLINK_VERSION=2.3.0
FLINK_CACHE="${FLINK_CACHE:-/var/tmp/ferrokeeper-flink}"
WHEEL_LIB="apache_flink_libraries-$FLINK_VERSION-py2.py3-none-any.whl"
WHEEL_LIB_SHA256=38ece876553286b3a285cf344c2d2038f8a7ca10da5df54d5107250386d64151
WHEEL_BIN_SHA256=0e5f612704de1610b153e919c0564b62ad513cddfcf4960f5a021658cdf41a13
FLINK_HOME="$FLINK_CACHE/unpack/pyflink"

fetch_flink() {
    [ -f "$FLINK_HOME/lib/flink-dist-$FLINK_VERSION.jar" ] && [ -x "$FLINK_HOME/bin/jobmanager.sh" ] && return 0
    mkdir -p "$FLINK_CACHE/wheels"
    if ! ls "$FLINK_CACHE"/wheels/apache_flink-"$FLINK_VERSION"-*.whl >/dev/null 2>&1 \
        || [ ! -f "$FLINK_CACHE/wheels/$WHEEL_LIB" ]; then
        echo "fetching Flink $FLINK_VERSION: pip download --no-deps apache-flink apache-flink-libraries -> $FLINK_CACHE/wheels"
        python3 -m pip download -q --no-deps -d "$FLINK_CACHE/wheels" \
            "apache-flink==$FLINK_VERSION" "apache-flink-libraries==$FLINK_VERSION" || return 1
    fi
    local bin_whl
    bin_whl="$(ls "$FLINK_CACHE"/wheels/apache_flink-"$FLINK_VERSION"-*.whl | head -1)"
    [ "$(sha256sum "$FLINK_CACHE/wheels/$WHEEL_LIB" | cut -d' ' -f1)" = "$WHEEL_LIB_SHA256" ] \
        || { echo "unexpected checksum of $WHEEL_LIB" >&2; return 1; }
    # apache-flink (bin/ scripts, conf/) is a platform wheel; its JVM side is the same on
    # every platform, so only warn when the checksum is not the one of the cp311 manylinux one.
    [ "$(sha256sum "$bin_whl" | cut -d' ' -f1)" = "$WHEEL_BIN_SHA256" ] || echo "INFO other build of apache-flink: $bin_whl"
    rm -rf "$FLINK_CACHE/unpack.tmp"
    mkdir -p "$FLINK_CACHE/unpack.tmp"
    python3 -m zipfile -e "$FLINK_CACHE/wheels/$WHEEL_LIB" "$FLINK_CACHE/unpack.tmp" &&
        python3 -m zipfile -e "$bin_whl" "$FLINK_CACHE/unpack.tmp" || return 1
    chmod +x "$FLINK_CACHE"/unpack.tmp/pyflink/bin/*.sh "$FLINK_CACHE/unpack.tmp/pyflink/bin/flink"
    rm -rf "$FLINK_CACHE/unpack" && mv "$FLINK_CACHE/unpack.tmp" "$FLINK_CACHE/unpack"
    [ -f "$FLINK_HOME/lib/flink-dist-$FLINK_VERSION.jar" ]
}
