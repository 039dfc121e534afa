#!/usr/bin/env bash
# compat-tests/stream/run.sh - `ferrokeeper stream bench` against Apache Flink 2.3.0 on the same
# windowed job (FlinkStreamBench.java, see README.md): equal result count and checksum for
# every window kind (tumbling 10 s, sliding 60 s/10 s, session gap 5 s), parallelism 1 and 2,
# checkpoints off and every 200 ms; plus the known answer (N=100000, tumbling, p=1: 1051
# results, checksum 4bd7edf5115d2fdd) for both.
#
#   compat-tests/stream/run.sh               # Flink and Ferrokeeper, side by side
#   compat-tests/stream/run.sh --only flink  # the Flink half alone (known answer, determinism)
#
# Environment: FERROKEEPER_BIN (default target/release/ferrokeeper), STREAM_N (events per run,
# 1000000), STREAM_CKPT_MS (200), STREAM_TIMEOUT (600 s per run), FLINK_XMX (1g), FLINK_CACHE.
# Flink comes from PyPI through compat-tests/flink/fetch.sh and runs in a local MiniCluster (one
# JVM per run). Outputs of every run in compat-tests/work/stream/.
# Last line: "N passed, M failed"; exit status non-zero when any failed (also when Ferrokeeper's
# binary or its `stream bench` subcommand is missing).
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$HERE/common.sh"

usage() { echo "usage: $0 [--only flink]" >&2; exit 2; }
ONLY=""
case "${1:-}" in
    --only) [ "${2:-}" = flink ] || usage; ONLY=flink ;;
    "") ;;
    *) usage ;;
esac

N="${STREAM_N:-1000000}"
CKPT_MS="${STREAM_CKPT_MS:-200}"
# Ferrokeeper runs the same N in a fraction of Flink's time: a shorter interval gives it
# several checkpoints mid-run, not just the final one.
FK_CKPT_MS="${STREAM_FK_CKPT_MS:-10}"
KNOWN_N=100000 KNOWN_RESULTS=1051 KNOWN_CHECKSUM=4bd7edf5115d2fdd
WORK="$COMPAT_WORK/stream"
rm -rf "$WORK"
mkdir -p "$WORK"

PASSES=0 FAILS=0
pass() { echo "PASS $1${2:+ ($2)}"; echo "$1 PASS" >>"${COMPAT_RESULT_FILE:-/dev/null}"; PASSES=$((PASSES + 1)); }
fail() { echo "FAIL $1: $2"; echo "$1 FAIL" >>"${COMPAT_RESULT_FILE:-/dev/null}"; FAILS=$((FAILS + 1)); }
fail_setup() { echo "FAIL setup: $*"; echo "0 passed, 1 failed"; exit 1; }

fetch_flink || fail_setup "could not fetch Flink $FLINK_VERSION from PyPI (pip download)"
command -v javac >/dev/null 2>&1 || fail_setup "javac not found"
command -v python3 >/dev/null 2>&1 || fail_setup "python3 not found"
compile_stream_job || fail_setup "FlinkStreamBench.java did not compile"

# run_engine ENGINE NAME ARGS... : one run, its stdout in $WORK/NAME.ENGINE.out (stderr .err);
# sets OUT (results checksum events_per_s checkpoints) and ERR (why it failed, empty if it did not)
run_engine() {
    local eng="$1" name="$2" rc
    shift 2
    local out="$WORK/$name.$eng.out" err="$WORK/$name.$eng.err"
    if [ "$eng" = flink ]; then flink_stream "$@" >"$out" 2>"$err" </dev/null; else fk_stream "$@" >"$out" 2>"$err" </dev/null; fi
    rc=$?
    OUT="" ERR=""
    if ! OUT="$(json_fields "$out" results checksum events_per_s checkpoints)"; then
        ERR="exit $rc, no JSON line ($(tail -c 300 "$err" | tr '\n' ' '))"
    elif [ "$rc" -ne 0 ]; then
        ERR="exit $rc ($(tail -c 300 "$err" | tr '\n' ' '))"
    elif ! [[ "$OUT" =~ ^[0-9]+\ [0-9a-f]{16}\  ]]; then
        ERR="unexpected results/checksum in '$OUT'"
    fi
    [ -z "$ERR" ]
}

if [ -z "$ONLY" ]; then
    [ -x "$FERROKEEPER_BIN" ] || fail_setup "Ferrokeeper binary not found: $FERROKEEPER_BIN (set FERROKEEPER_BIN)"
    run_engine ferrokeeper probe --window tumbling --n 1000 --p 1 \
        || fail_setup "\`$FERROKEEPER_BIN stream bench --window tumbling --n 1000 --p 1\` failed: $ERR"
fi

echo "INFO Flink $FLINK_VERSION (local MiniCluster, -Xmx$FLINK_XMX) vs ${ONLY:+(Flink only) }${FERROKEEPER_BIN#"$REPO_ROOT"/}; N=$N, checkpoints every $CKPT_MS ms when on"

# 1. the known answer
ENGINES=(flink)
[ -z "$ONLY" ] && ENGINES+=(ferrokeeper)
for eng in "${ENGINES[@]}"; do
    if ! run_engine "$eng" known --window tumbling --n "$KNOWN_N" --p 1; then
        fail "$eng.known_answer" "$ERR"
    else
        read -r r c _ _ <<<"$OUT"
        if [ "$r" = "$KNOWN_RESULTS" ] && [ "$c" = "$KNOWN_CHECKSUM" ]; then
            pass "$eng.known_answer" "N=$KNOWN_N tumbling p=1: $r results, checksum $c"
        else
            fail "$eng.known_answer" "N=$KNOWN_N tumbling p=1: $r results, checksum $c; expected $KNOWN_RESULTS, $KNOWN_CHECKSUM"
        fi
    fi
done

# 2. every window kind x parallelism x checkpoints off/on
ROWS=()
declare -A FIRST # window -> Flink's "results checksum" of its first run
declare -A SAME  # window -> 1 while every Flink run of the window agrees
for W in tumbling sliding session; do
    SAME[$W]=1
    for P in 1 2; do
        for C in 0 "$CKPT_MS"; do
            name="${W}_p${P}_ckpt$C"
            args=(--window "$W" --n "$N" --p "$P")
            [ "$C" != 0 ] && args+=(--checkpoint-ms "$C")
            fr=- fc=- fe=- fk=- kr=- kc=- ke=- kk=- verdict=""
            if run_engine flink "$name" "${args[@]}"; then
                read -r fr fc fe fk <<<"$OUT"
                if [ -z "${FIRST[$W]:-}" ]; then FIRST[$W]="$fr $fc"; elif [ "${FIRST[$W]}" != "$fr $fc" ]; then SAME[$W]=0; fi
                [ "$C" != 0 ] && [ "$fk" = 0 ] && echo "INFO $name: no checkpoint completed in Flink (raise STREAM_N)"
            else
                SAME[$W]=0
                fail "flink.$name" "$ERR"
                verdict="FAIL"
            fi
            if [ -z "$ONLY" ]; then
                fk_args=("${args[@]}")
                [ "$C" != 0 ] && fk_args=(--window "$W" --n "$N" --p "$P" --checkpoint-ms "$FK_CKPT_MS")
                if ! run_engine ferrokeeper "$name" "${fk_args[@]}"; then
                    fail "$name" "ferrokeeper: $ERR"
                    verdict="FAIL"
                else
                    read -r kr kc ke kk <<<"$OUT"
                    if [ -n "$verdict" ]; then
                        :
                    elif [ "$C" != 0 ] && [ "$kk" -lt 2 ]; then
                        fail "$name" "ferrokeeper committed $kk checkpoints every $FK_CKPT_MS ms; at least 2 expected"
                        verdict="FAIL"
                    elif [ "$kr" = "$fr" ] && [ "$kc" = "$fc" ]; then
                        pass "$name" "$fr results, checksum $fc on both"
                        verdict="ok"
                    else
                        fail "$name" "flink $fr results, checksum $fc; ferrokeeper $kr results, checksum $kc"
                        verdict="FAIL"
                    fi
                fi
            elif [ -z "$verdict" ]; then
                pass "flink.$name" "$fr results, checksum $fc, $fk checkpoints"
                verdict="ok"
            fi
            ROWS+=("$W $P $C/$fk/$kk $fr $fc $fe $kr $kc $ke $verdict")
        done
    done
    # The results do not depend on parallelism or checkpoints (no event is late): Flink agrees with itself.
    if [ "${SAME[$W]}" = 1 ]; then
        pass "flink.${W}_deterministic" "p=1,2, checkpoints off/on: ${FIRST[$W]}"
    else
        fail "flink.${W}_deterministic" "Flink's runs of $W differ across p/checkpoints (see $WORK/${W}_*.flink.out)"
    fi
done

echo
printf '%-9s %2s %-16s | %8s %-16s %12s | %8s %-16s %12s | %s\n' window p "ckpt ms/fl/fk" \
    "flink" "checksum" "ev/s" "ferrok." "checksum" "ev/s" verdict
for row in "${ROWS[@]}"; do
    read -r w p c fr fc fe kr kc ke v <<<"$row"
    printf '%-9s %2s %-16s | %8s %-16s %12s | %8s %-16s %12s | %s\n' "$w" "$p" "$c" "$fr" "$fc" "${fe%.*}" "$kr" "$kc" "${ke%.*}" "$v"
done
echo "(ckpt: Flink interval/completed in Flink/in Ferrokeeper at $FK_CKPT_MS ms; ev/s: events per second of the job's execution)"
echo "$PASSES passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
