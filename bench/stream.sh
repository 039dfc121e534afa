#!/usr/bin/env bash
# bench/stream.sh - `ferrokeeper stream bench` vs Apache Flink 2.3.0 (local MiniCluster) on the
# same windowed job (compat-tests/stream/FlinkStreamBench.java; the job is described in
# compat-tests/stream/README.md), side by side.
#
#   bench/stream.sh                       N=20000000 events per run, both engines
#   N=2000000 bench/stream.sh --only flink|ferrokeeper   one engine alone (no ratios)
#
# For each window kind (tumbling, sliding, session) and parallelism 1 and 2, checkpoints off:
# one run of each engine (ferrokeeper first), its events/s (N / the job's execution time, from
# the engine's own JSON line), its peak RSS (VmHWM, via /usr/bin/time's maximum resident set
# size, or by polling /proc/PID/status when /usr/bin/time is missing), its result count and
# checksum; the two checksums must be equal. Start-up: the wall time of a whole run at N=1000
# (tumbling, p=1), the median of 3, for both engines.
# Prints a markdown table (also written to bench/STREAM.md when both engines ran) and appends
# one JSON line per run to bench/STREAM.jsonl.
# Targets (reported met / not met): ferrokeeper >= 5x Flink's events/s for every window kind
# and parallelism, ferrokeeper's peak RSS <= 1/10 of Flink's, ferrokeeper's start-up < 100 ms.
# Exit status non-zero when a run failed or the checksums differ (not for a missed target).
# Environment: N, FERROKEEPER_BIN, FLINK_XMX (1g), STREAM_TIMEOUT (600 s per run), WINDOWS,
# PARALLELISM ("1 2").
set -u
cd "$(dirname "$0")/.."
repo=$(pwd)
# shellcheck source=../compat-tests/stream/common.sh
source "$repo/compat-tests/stream/common.sh"

ENGINES=(ferrokeeper flink)
case "${1:-}" in
    --only)
        case "${2:-}" in
            flink) ENGINES=(flink) ;;
            ferrokeeper) ENGINES=(ferrokeeper) ;;
            *) echo "usage: $0 [--only flink|ferrokeeper]" >&2; exit 2 ;;
        esac ;;
    "") ;;
    *) echo "usage: $0 [--only flink|ferrokeeper]" >&2; exit 2 ;;
esac
N="${N:-20000000}"
WINDOWS="${WINDOWS:-tumbling sliding session}"
PARALLELISM="${PARALLELISM:-1 2}"
JSONL="$repo/bench/STREAM.jsonl"
WORK="$COMPAT_WORK/stream-bench"
rm -rf "$WORK"
mkdir -p "$WORK"
has() { local e; for e in "${ENGINES[@]}"; do [ "$e" = "$1" ] && return 0; done; return 1; }

die() { echo "error: $*" >&2; exit 1; }
if has flink; then
    fetch_flink || die "could not fetch Flink $FLINK_VERSION"
    compile_stream_job || die "FlinkStreamBench.java did not compile"
fi
if has ferrokeeper; then
    [ -x "$FERROKEEPER_BIN" ] || die "Ferrokeeper binary not found: $FERROKEEPER_BIN (set FERROKEEPER_BIN)"
    "$FERROKEEPER_BIN" stream bench --window tumbling --n 1000 --p 1 >"$WORK/probe.out" 2>&1 \
        && json_fields "$WORK/probe.out" checksum >/dev/null \
        || die "\`$FERROKEEPER_BIN stream bench\` is not available: $(head -c 300 "$WORK/probe.out")"
fi

# measure ENGINE OUTFILE ARGS... : one run; sets WALL_MS, RSS_KB (peak resident set size) and
# CPU_MS (user + system CPU of the whole process, start-up included; 0 without /usr/bin/time)
measure() {
    local eng="$1" out="$2" t0 pid hwm rc
    shift 2
    local cmd
    if [ "$eng" = flink ]; then cmd=("${FLINK_CMD[@]}" "$@"); else cmd=("$FERROKEEPER_BIN" stream bench "$@"); fi
    RSS_KB=0 CPU_MS=0
    t0=$(date +%s%N)
    if [ -x /usr/bin/time ]; then
        timeout "$STREAM_TIMEOUT" /usr/bin/time -f '%M %U %S' -o "$out.rss" "${cmd[@]}" >"$out" 2>"$out.err" </dev/null
        rc=$?
        read -r RSS_KB cpu_u cpu_s <<<"$(tail -1 "$out.rss" 2>/dev/null)"
        CPU_MS="$(python3 -c "print(round(($cpu_u + $cpu_s) * 1000))" 2>/dev/null || echo 0)"
    else
        "${cmd[@]}" >"$out" 2>"$out.err" </dev/null &
        pid=$!
        while kill -0 "$pid" 2>/dev/null; do
            hwm="$(sed -n 's/^VmHWM: *\([0-9]*\) kB/\1/p' "/proc/$pid/status" 2>/dev/null)"
            [ -n "$hwm" ] && [ "$hwm" -gt "$RSS_KB" ] && RSS_KB=$hwm
            sleep 0.05
        done
        wait "$pid"
        rc=$?
    fi
    WALL_MS=$((($(date +%s%N) - t0) / 1000000))
    [[ "$RSS_KB" =~ ^[0-9]+$ ]] || RSS_KB=0
    return "$rc"
}

commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
stamp="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
jsonl() { echo "$1" >>"$JSONL"; }
ERRORS=0

# start-up: a whole run at N=1000, median of 3, timed around the process alone (no timeout
# or /usr/bin/time wrapper, whose own start-up would be counted)
wall_ms() { # OUTFILE CMD... : runs CMD, sets WALL_MS
    local out="$1"
    shift
    WALL_MS="$(python3 - "$out" "$@" <<'PY'
import subprocess, sys, time
t = time.perf_counter()
with open(sys.argv[1], "w") as out, open(sys.argv[1] + ".err", "w") as err:
    r = subprocess.run(sys.argv[2:], stdout=out, stderr=err, stdin=subprocess.DEVNULL, timeout=600)
print(round((time.perf_counter() - t) * 1000, 1) if r.returncode == 0 else "failed")
PY
)"
    [ "$WALL_MS" != failed ] && [ -n "$WALL_MS" ]
}
declare -A STARTUP
for eng in "${ENGINES[@]}"; do
    ts=()
    for k in 1 2 3; do
        if [ "$eng" = flink ]; then cmd=("${FLINK_CMD[@]}"); else cmd=("$FERROKEEPER_BIN" stream bench); fi
        if wall_ms "$WORK/startup.$eng.$k.out" "${cmd[@]}" --window tumbling --n 1000 --p 1; then
            ts+=("$WALL_MS")
        else
            echo "error: $eng start-up run failed: $(tail -c 300 "$WORK/startup.$eng.$k.out.err")" >&2
            ERRORS=$((ERRORS + 1))
        fi
    done
    if [ ${#ts[@]} -gt 0 ]; then
        STARTUP[$eng]="$(printf '%s\n' "${ts[@]}" | sort -n | sed -n "$(((${#ts[@]} + 1) / 2))p")"
        echo "start-up $eng: ${STARTUP[$eng]} ms (runs: ${ts[*]} ms)"
        jsonl "{\"kind\":\"startup\",\"engine\":\"$eng\",\"n\":1000,\"wall_ms\":${STARTUP[$eng]},\"runs_ms\":[$(IFS=,; echo "${ts[*]}")],\"commit\":\"$commit\",\"at\":\"$stamp\"}"
    fi
done

# throughput and RSS
declare -A EPS RSS RES SUM CPU
for W in $WINDOWS; do
    for P in $PARALLELISM; do
        for eng in "${ENGINES[@]}"; do
            out="$WORK/$W.p$P.$eng.out"
            echo "running $eng --window $W --n $N --p $P ..." >&2
            if measure "$eng" "$out" --window "$W" --n "$N" --p "$P" && f="$(json_fields "$out" results checksum events_per_s)"; then
                read -r r c e <<<"$f"
                RES[$W.$P.$eng]=$r SUM[$W.$P.$eng]=$c EPS[$W.$P.$eng]=$e RSS[$W.$P.$eng]=$RSS_KB CPU[$W.$P.$eng]=$CPU_MS
                jsonl "{\"kind\":\"run\",\"engine\":\"$eng\",\"window\":\"$W\",\"n\":$N,\"p\":$P,\"results\":$r,\"checksum\":\"$c\",\"events_per_s\":$e,\"peak_rss_kb\":$RSS_KB,\"cpu_ms\":$CPU_MS,\"wall_ms\":$WALL_MS,\"commit\":\"$commit\",\"at\":\"$stamp\"}"
            else
                echo "error: $eng $W p=$P failed: $(tail -c 300 "$out.err")" >&2
                ERRORS=$((ERRORS + 1))
            fi
        done
    done
done

# the report
report="$WORK/report.md"
python3 - "$N" "${ENGINES[*]}" "${STARTUP[ferrokeeper]:--}" "${STARTUP[flink]:--}" >"$report" <<PY
import sys
n, engines, su_fk, su_fl = sys.argv[1], sys.argv[2].split(), sys.argv[3], sys.argv[4]
rows = """$(for W in $WINDOWS; do for P in $PARALLELISM; do
    echo "$W $P ${EPS[$W.$P.ferrokeeper]:--} ${EPS[$W.$P.flink]:--} ${RSS[$W.$P.ferrokeeper]:--} ${RSS[$W.$P.flink]:--} ${RES[$W.$P.ferrokeeper]:--} ${SUM[$W.$P.ferrokeeper]:--} ${RES[$W.$P.flink]:--} ${SUM[$W.$P.flink]:--} ${CPU[$W.$P.ferrokeeper]:--} ${CPU[$W.$P.flink]:--}"
done; done)""".split("\n")
def num(s):
    try: return float(s)
    except ValueError: return None
def fmt(v, d=0):
    return "-" if v is None else f"{v:,.{d}f}"
both = "ferrokeeper" in engines and "flink" in engines
print(f"## ferrokeeper stream bench vs Flink 2.3.0, N={int(n):,} events per run\n")
print("| window | p | ferrokeeper ev/s | Flink ev/s | ev/s ratio | ferrokeeper CPU ns/event | Flink CPU ns/event | CPU ratio | ferrokeeper RSS MB | Flink RSS MB | RSS ratio | results | checksum | equal |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
thr_ok = rss_ok = eq_ok = True
for line in rows:
    if not line.strip(): continue
    w, p, efk, efl, rfk, rfl, nfk, cfk, nfl, cfl, ufk, ufl = line.split()
    efk, efl, rfk, rfl = num(efk), num(efl), num(rfk), num(rfl)
    # CPU of the whole process (start-up included) per event
    ufk = num(ufk) * 1e6 / int(n) if num(ufk) else None
    ufl = num(ufl) * 1e6 / int(n) if num(ufl) else None
    ur = ufk / ufl if ufk and ufl else None
    tr = efk / efl if efk and efl else None
    rr = rfk / rfl if rfk and rfl else None
    if both:
        eq = cfk != "-" and (nfk, cfk) == (nfl, cfl)
        eq_ok &= eq
        thr_ok &= tr is not None and tr >= 5
        rss_ok &= rr is not None and rr <= 0.1
        eqs = "yes" if eq else f"NO (Flink {nfl} {cfl})"
    else:
        eqs = "-"
    res, cs = (nfk, cfk) if cfk != "-" else (nfl, cfl)
    print(f"| {w} | {p} | {fmt(efk)} | {fmt(efl)} | {fmt(tr, 2)} | {fmt(ufk, 1)} | {fmt(ufl, 1)} | {fmt(ur, 3)} | {fmt(rfk and rfk / 1024, 1)} | {fmt(rfl and rfl / 1024, 1)} | {fmt(rr, 3)} | {res} | {cs} | {eqs} |")
print(f"\nStart-up (whole run at N=1000, median of 3): ferrokeeper {su_fk} ms, Flink {su_fl} ms\n")
if both:
    s = num(su_fk)
    met = lambda b: "met" if b else "NOT met"
    print(f"- ferrokeeper >= 5x Flink's events/s for every window kind and p: {met(thr_ok)}")
    print(f"- ferrokeeper peak RSS <= 1/10 of Flink's: {met(rss_ok)}")
    print(f"- ferrokeeper start-up < 100 ms: {met(s is not None and s < 100)}")
    print(f"- equal results and checksums: {met(eq_ok)}")
    sys.exit(0 if eq_ok else 3)
PY
rc=$?
cat "$report"
if [ ${#ENGINES[@]} -eq 2 ]; then
    { echo "<!-- bench/stream.sh, commit $commit, $stamp, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) -->"; cat "$report"; } >"$repo/bench/STREAM.md"
fi
[ "$rc" -ne 0 ] && echo "error: the checksums differ" >&2 && exit 1
[ "$ERRORS" -ne 0 ] && echo "error: $ERRORS run(s) failed" >&2 && exit 1
exit 0
