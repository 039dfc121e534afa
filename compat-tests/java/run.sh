#!/usr/bin/env bash
# compat-tests/java/run.sh HOST:PORT[,HOST:PORT...] [check-name-filter...]
# Compiles CompatSuite.java (into compat-tests/work/java-classes, only when the
# source is newer) and runs it. Last output line: "N passed, M failed";
# exit status 0 only when M == 0.
# With several servers (an ensemble) the Java client is given all of them; the raw
# wire client and the four-letter words use the first.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
COMPAT_DIR="$(cd "$HERE/.." && pwd)"
# shellcheck source=../lib.sh
source "$COMPAT_DIR/lib.sh"

if [ $# -lt 1 ]; then
    echo "usage: $0 HOST:PORT[,HOST:PORT...] [check-name-filter...]" >&2
    exit 2
fi
ADDR="$1"; shift

CLASSES="$COMPAT_WORK/java-classes"
mkdir -p "$CLASSES"
SRC="$HERE/CompatSuite.java"
if [ ! -f "$CLASSES/CompatSuite.class" ] || [ "$SRC" -nt "$CLASSES/CompatSuite.class" ]; then
    if ! javac -nowarn -J-Xmx256m -d "$CLASSES" -cp "$ZK_CLASSPATH" "$SRC" >"$COMPAT_WORK/java-javac.log" 2>&1; then
        cat "$COMPAT_WORK/java-javac.log" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
fi

# Client logging goes to stderr at WARN level; stdout carries PASS/FAIL lines.
exec "$JAVA_BIN" -Xmx192m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=error \
    -Dzookeeper.request.timeout=30000 \
    -cp "$CLASSES:$ZK_CLASSPATH" CompatSuite "$ADDR" "$@"
