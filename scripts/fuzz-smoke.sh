#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time (FUZZ_SECONDS per target,
# default 60) on stable Rust, without sanitizers. Fails on the first crash; the crashing
# input is left in fuzz/artifacts/<target>/. Corpora start from the golden frames.
#
#   FUZZ_SECONDS=30 scripts/fuzz-smoke.sh            # all targets
#   scripts/fuzz-smoke.sh request_decode             # some targets
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    TARGETS=(frame_decoder request_decode request_handling)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

cd "$ROOT/fuzz"

# Seeds: golden payloads as they are (request_decode), framed (frame_decoder), and as
# request_handling records ([conn][len][payload], for payloads under 256 bytes).
seed() {
    local t="$1" dir="corpus/$1"
    mkdir -p "$dir"
    [ -n "$(ls -A "$dir" 2>/dev/null)" ] && return 0
    python3 - "$t" "$dir" "$ROOT/tests/golden" <<'PY'
import os, struct, sys
t, out, golden = sys.argv[1:]
names = sorted(f for f in os.listdir(golden) if f.endswith(".bin"))
frames = {n: open(os.path.join(golden, n), "rb").read() for n in names}
connect = frames["connect.request.bin"]
for n, b in frames.items():
    if t == "request_decode":
        data = b
    elif t == "frame_decoder":
        data = bytes([4]) + struct.pack(">i", len(connect)) + connect + struct.pack(">i", len(b)) + b
    else:
        if len(b) > 255 or not n.endswith(".request.bin") or n.startswith(("connect", "reconnect")):
            continue
        # conn 1 connects (an odd first byte also turns extended types on), then sends b.
        data = bytes([1, len(connect)]) + connect + bytes([1, len(b)]) + b
    with open(os.path.join(out, n), "wb") as f:
        f.write(data)
PY
}

for t in "${TARGETS[@]}"; do
    seed "$t"
    echo "fuzz-smoke: $t for ${FUZZ_SECONDS}s" >&2
    if ! cargo fuzz run "$t" --sanitizer none -- \
        -max_total_time="$FUZZ_SECONDS" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1; then
        echo "fuzz-smoke: $t FAILED; see fuzz/artifacts/$t/" >&2
        exit 1
    fi
done
echo "fuzz-smoke: all targets ran clean" >&2
