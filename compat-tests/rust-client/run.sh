#!/usr/bin/env bash
# compat-tests/rust-client/run.sh HOST:PORT[,HOST:PORT...] [test-name-filter...]
# Runs the zookeeper-client (Rust) integration suite, tests/zk_client.rs,
# against the server at HOST:PORT (or the ensemble at HOST:PORT,HOST:PORT,...):
#     ZK_TEST_ADDR=HOST:PORT cargo test --release --test zk_client
# from the repository root (whatever the cwd; CARGO_TARGET_DIR is honoured).
# The server needs zookeeper.extendedTypesEnabled=true, tickTime=2000 and a
# short znode.container.checkIntervalMs (<= a few seconds).
# Prints "PASS name" / "FAIL name" per test; the last line is exactly
# "N passed, M failed" (from cargo's "test result:" line); exits 0 only when
# M == 0. A build failure counts as "0 passed, 1 failed".
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"

if [ $# -lt 1 ] || [ -z "$1" ]; then
    echo "usage: $0 HOST:PORT[,HOST:PORT...] [test-name-filter...]" >&2
    exit 2
fi
ADDR="$1"; shift

OUT="$(mktemp "${TMPDIR:-/tmp}/zk_client.XXXXXX")"
trap 'rm -f "$OUT"' EXIT

cd "$REPO_ROOT" || exit 1
ZK_TEST_ADDR="$ADDR" RUST_BACKTRACE="${RUST_BACKTRACE:-0}" \
    cargo test --release --test zk_client -- "$@" 2>&1 | tee "$OUT"
rc=${PIPESTATUS[0]}

echo
# "test name ... ok" / "test name ... FAILED" -> PASS/FAIL lines.
sed -nE 's/^test ([^ ]+) \.\.\. ok$/PASS \1/p; s/^test ([^ ]+) \.\.\. FAILED$/FAIL \1/p' "$OUT"

line="$(grep -E '^test result: ' "$OUT" | tail -1)"
if [ -z "$line" ]; then
    echo "no test result from cargo (build failure?), exit status $rc" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
passed="$(sed -nE 's/.* ([0-9]+) passed;.*/\1/p' <<<"$line")"
failed="$(sed -nE 's/.* ([0-9]+) failed;.*/\1/p' <<<"$line")"
passed="${passed:-0}"; failed="${failed:-0}"
if [ "$failed" -eq 0 ] && [ "$rc" -ne 0 ]; then
    # cargo failed after the tests (should not happen): count it.
    failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
