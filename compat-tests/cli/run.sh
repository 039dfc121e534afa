#!/usr/bin/env bash
# compat-tests/cli/run.sh ADDR TARGETNAME
#
# Runs two scripted CLI sessions against the already running server at ADDR
# (127.0.0.1:PORT, fresh data):
#   zkcli.script  through Debian's /usr/share/zookeeper/bin/zkCli.sh (Java)
#   climt.script  through /usr/lib/zookeeper/bin/cli_mt (C client)
# driver.py feeds the commands one at a time; normalize.py strips what
# legitimately differs between servers/runs (times, zxids, session ids, log
# noise, the address) and writes
#   compat-tests/work/cli-TARGETNAME-zkcli.txt, cli-TARGETNAME-climt.txt
# (raw transcripts: cli-TARGETNAME-*.raw.txt).
#
# Checks: each `### section` of each script is one check.  It passes iff the
# normalized section equals
#   * the committed transcript cli/expected-{zkcli,climt}.txt (generated from
#     Apache ZooKeeper 3.8.0; see README.md), and
#   * if TARGETNAME is not `zookeeper` and work/cli-zookeeper-*.txt exist
#     (the reference run of the same run-all), that transcript too,
# so the number of checks is the same for every target.  One line
# `PASS kind/section` or `FAIL kind/section` (plus diffs) per check.
# Last line: `N passed, M failed`.  Exit 0 only when M == 0 (the suite contract).
#
# To regenerate the expected files from a real ZooKeeper:
#   CLI_UPDATE_EXPECTED=1 compat-tests/cli/run.sh 127.0.0.1:PORT zookeeper
set -uo pipefail

ADDR="${1:-}"
TARGET="${2:-}"
if [ -z "$ADDR" ] || [ -z "$TARGET" ] || [[ "$ADDR" != *:* ]]; then
    echo "usage: $0 HOST:PORT TARGETNAME" >&2
    exit 2
fi
case "$TARGET" in
    */*|.*) echo "bad TARGETNAME: $TARGET" >&2; exit 2 ;;
esac

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
COMPAT_DIR="$(cd "$HERE/.." && pwd)"
WORK="${COMPAT_WORK:-$COMPAT_DIR/work}"
PYTHON="${PYTHON:-python3}"
ZKCLI="${ZKCLI:-/usr/share/zookeeper/bin/zkCli.sh}"
CLIMT="${CLIMT:-/usr/lib/zookeeper/bin/cli_mt}"
export ZKCLI CLIMT
mkdir -p "$WORK"

for tool in "$ZKCLI" "$CLIMT"; do
    if [ ! -x "$tool" ]; then
        echo "cli: $tool not found (apt-get install zookeeper libzookeeper-mt2 / zookeeper-bin)" >&2
        exit 3
    fi
done

passed=0
failed=0
start=$(date +%s)

for kind in zkcli climt; do
    raw="$WORK/cli-$TARGET-$kind.raw.txt"
    norm="$WORK/cli-$TARGET-$kind.txt"
    rm -f "$raw" "$norm"
    t0=$(date +%s)
    # zkCli.sh takes ~1 s per JVM start; the whole session ~10 s.
    timeout -k 10 "${CLI_SESSION_TIMEOUT:-300}" \
        "$PYTHON" "$HERE/driver.py" "$kind" "$ADDR" "$HERE/$kind.script" "$raw" \
        </dev/null
    rc=$?
    [ "$rc" -eq 0 ] || echo "cli: driver for $kind failed (exit $rc)"
    if [ -s "$raw" ]; then
        "$PYTHON" "$HERE/normalize.py" normalize "$kind" "$ADDR" "$raw" "$norm"
    else
        : >"$norm"
    fi
    echo "cli: $kind session against $ADDR ($TARGET): $(( $(date +%s) - t0 ))s, transcript $norm"

    if [ "${CLI_UPDATE_EXPECTED:-0}" = 1 ]; then
        if [ "$TARGET" != zookeeper ]; then
            echo "cli: CLI_UPDATE_EXPECTED=1 only with TARGETNAME zookeeper" >&2
            exit 2
        fi
        cp "$norm" "$HERE/expected-$kind.txt"
        echo "cli: updated $HERE/expected-$kind.txt"
    fi

    # One check per script section: it passes iff the section equals the
    # committed expected transcript and (other targets) the reference run's.
    refs=()
    if [ -f "$HERE/expected-$kind.txt" ]; then
        refs+=("$HERE/expected-$kind.txt")
    else
        echo "cli: no $HERE/expected-$kind.txt"
    fi
    ref="$WORK/cli-zookeeper-$kind.txt"
    if [ "$TARGET" != zookeeper ] && [ -s "$ref" ]; then
        refs+=("$ref")
    fi
    if [ "${#refs[@]}" -eq 0 ]; then
        echo "FAIL $kind/(no-reference-transcript)"
        failed=$((failed + 1))
        continue
    fi
    echo "cli: comparing $kind with: ${refs[*]}"
    out="$("$PYTHON" "$HERE/normalize.py" compare "$norm" "$kind" "${refs[@]}")"
    printf '%s\n' "$out" | sed '$d'
    read -r p _ f _ <<<"$(printf '%s\n' "$out" | tail -1)"
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-1}))
    echo "cli: $kind: ${p:-0} passed, ${f:-?} failed"
done

echo "cli: total $(( $(date +%s) - start ))s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
