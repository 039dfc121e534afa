#!/usr/bin/env bash
# compat-tests/golden/run.sh HOST:PORT - golden replies.
#
# Replays the conversation captured between the official ZooKeeper 3.8 Java client and
# ZooKeeper 3.8.0 (tests/golden/capture/capture.jsonl, the source of tests/golden/*.bin)
# against the server at HOST:PORT, which must be fresh, and compares every reply,
# notification and ConnectResponse with the captured bytes; only ids, passwords, zxids and
# times are masked, by their field position (see replay.py). A frame that differs fails
# with a hex dump of both. Last line: "N passed, M failed"; exit 0 only when M == 0 and
# replay.py exited 0.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ADDR="${1:?usage: run.sh HOST:PORT}"
OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT

python3 "$HERE/replay.py" "$ADDR" 2>&1 | tee "$OUT"
rc=$?
if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$OUT"; then
    echo "FAIL replay: replay.py exited with status $rc" | tee -a "$OUT"
fi
PASSED=$(grep -c '^PASS ' "$OUT")
FAILED=$(grep -c '^FAIL ' "$OUT")
if [ -n "${COMPAT_RESULT_FILE:-}" ]; then
    sed -nE 's/^(PASS|FAIL) ([^: ]+).*/\2 \1/p' "$OUT" | sort >"$COMPAT_RESULT_FILE"
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$rc" -eq 0 ]
