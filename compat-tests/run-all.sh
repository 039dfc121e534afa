#!/usr/bin/env bash
# compat-tests/run-all.sh - run every compatibility suite against the reference
# Apache ZooKeeper 3.8 and against Ferrokeeper, and compare.
#
#   compat-tests/run-all.sh [--only zookeeper|ferrokeeper] [--suite NAME]...
#
# Builds nothing: the Ferrokeeper binary is $FERROKEEPER_BIN
# (default target/release/ferrokeeper). See compat-tests/README.md for the
# suite contract. A fresh server (fresh data dir) is started for every suite.
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

ALL_SUITES=(java kazoo cli cli-shell rust-client ops golden)
TARGETS=(zookeeper ferrokeeper)
SUITES=()

usage() {
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
        --only)
            [ $# -ge 2 ] || usage
            case "$2" in
                zookeeper|zk) TARGETS=(zookeeper) ;;
                ferrokeeper|fk) TARGETS=(ferrokeeper) ;;
                *) echo "unknown target: $2" >&2; usage ;;
            esac
            shift 2 ;;
        --only=*) set -- --only "${1#--only=}" "${@:2}" ;;
        --suite)
            [ $# -ge 2 ] || usage
            SUITES+=("$2"); shift 2 ;;
        --suite=*) set -- --suite "${1#--suite=}" "${@:2}" ;;
        -h|--help) usage ;;
        *) echo "unknown argument: $1" >&2; usage ;;
    esac
done
[ ${#SUITES[@]} -gt 0 ] || SUITES=("${ALL_SUITES[@]}")
for s in "${SUITES[@]}"; do
    case " ${ALL_SUITES[*]} " in
        *" $s "*) ;;
        *) echo "unknown suite: $s (known: ${ALL_SUITES[*]})" >&2; exit 2 ;;
    esac
done

mkdir -p "$COMPAT_WORK"
trap 'stop_all' EXIT
trap 'stop_all; exit 130' INT TERM

for t in "${TARGETS[@]}"; do
    if [ "$t" = ferrokeeper ] && [ ! -x "$FERROKEEPER_BIN" ]; then
        echo "ERROR: Ferrokeeper binary not found: $FERROKEEPER_BIN" >&2
        echo "       build it (cargo build --release) or set FERROKEEPER_BIN, or use --only zookeeper" >&2
        exit 1
    fi
done

port_of() { if [ "$1" = zookeeper ]; then echo "$ZK_PORT"; else echo "$FK_PORT"; fi; }

# Per (target, suite): status word, passed, failed, seconds.
declare -A ST PASSED FAILED SECS

run_suite() { # TARGET SUITE
    local target="$1" suite="$2" port dir log res rc start line
    port="$(port_of "$target")"
    dir="$COMPAT_WORK/server-$target-$suite"
    log="$COMPAT_WORK/$target-$suite.log"
    res="$COMPAT_WORK/$target-$suite.result"
    local key="$target/$suite"
    rm -f "$log" "$res" "$COMPAT_WORK/$target-$suite.summary"
    if [ ! -x "$HERE/$suite/run.sh" ]; then
        ST[$key]="absent"
        return
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    echo "== $suite against $target (127.0.0.1:$port), log: ${log#"$REPO_ROOT"/}"
    # The ops suite checks AdminServer commands: each target gets its own admin port.
    local admin_port=""
    if [ "$suite" = ops ]; then
        admin_port=$((port + 2))
    fi
    if ! COMPAT_ADMIN_PORT="$admin_port" start_server "$target" "$port" "$dir" 2>>"$log"; then
        echo "   server failed to start (see $dir/server.log)"
        ST[$key]="nostart"
        return
    fi
    local args=("127.0.0.1:$port")
    case "$suite" in cli|cli-shell|ops) args+=("$target") ;; esac
    start=$(date +%s)
    ADMIN_PORT="$admin_port" COMPAT_TARGET="$target" COMPAT_RESULT_FILE="$res" \
        timeout -k 20 "${SUITE_TIMEOUT:-2400}" "$HERE/$suite/run.sh" "${args[@]}" >"$log" 2>&1 </dev/null
    rc=$?
    SECS[$key]=$(( $(date +%s) - start ))
    stop_server "$dir"
    # Summary: the last line of the form "N passed, M failed" (extra fields allowed).
    line="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)"
    if [ -z "$line" ]; then
        ST[$key]="nosummary"
        PASSED[$key]=0; FAILED[$key]=0
    else
        PASSED[$key]="$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")"
        FAILED[$key]="$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")"
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            ST[$key]="timeout"
        elif [ "$suite" = kazoo ]; then
            # kazoo's run.sh exits 0 whenever pytest ran; only counts matter
            if [ "$rc" -eq 0 ]; then ST[$key]="ran"; else ST[$key]="error"; fi
        elif [ "$rc" -eq 0 ] && [ "${FAILED[$key]}" -eq 0 ]; then
            ST[$key]="ok"
        else
            ST[$key]="fail"
        fi
    fi
    # Per-test results: a suite may write $COMPAT_RESULT_FILE itself; otherwise
    # derive it from "PASS name"/"FAIL name" lines; kazoo keeps kazoo-PORT.results.
    if [ ! -s "$res" ]; then
        if [ "$suite" = kazoo ] && [ -s "$COMPAT_WORK/kazoo-$port.results" ]; then
            cp "$COMPAT_WORK/kazoo-$port.results" "$res"
        else
            sed -nE 's/^(PASS|FAIL) ([^: ]+).*/\2 \1/p' "$log" | sort >"$res"
            [ -s "$res" ] || rm -f "$res"
        fi
    fi
    printf '%s %s %s %s\n' "${ST[$key]}" "${PASSED[$key]:-0}" "${FAILED[$key]:-0}" "${SECS[$key]:-0}" \
        >"$COMPAT_WORK/$target-$suite.summary"
    echo "   ${ST[$key]}: ${line:-no summary line} (rc=$rc, ${SECS[$key]}s)"
    if [ "${ST[$key]}" != ok ] && [ "${ST[$key]}" != ran ]; then
        grep -E '^FAIL ' "$log" | head -20 | sed 's/^/   /'
    fi
}

for target in "${TARGETS[@]}"; do
    for suite in "${SUITES[@]}"; do
        run_suite "$target" "$suite"
    done
done

cell() { # KEY
    local k="$1"
    case "${ST[$k]:-}" in
        "") echo "-" ;;
        absent) echo "(no run.sh)" ;;
        nostart) echo "SERVER DID NOT START" ;;
        nosummary) echo "NO SUMMARY" ;;
        *) echo "${PASSED[$k]} passed, ${FAILED[$k]} failed [${ST[$k]}, ${SECS[$k]}s]" ;;
    esac
}

# Baseline for a comparison when only ferrokeeper ran: the last zookeeper summary.
load_previous_zk() { # SUITE
    local f="$COMPAT_WORK/zookeeper-$1.summary" k="zookeeper/$1"
    if [ -z "${ST[$k]:-}" ] && [ -s "$f" ]; then
        local a b c d
        read -r a b c d <"$f"
        ST[$k]="$a"; PASSED[$k]="$b"; FAILED[$k]="$c"; SECS[$k]="$d"
        PREVIOUS_ZK=1
    fi
}

# "name zkResult fkResult" for every test whose result differs between two result files
# (MISSING where a test ran on one side only).
result_diff() { # ZK_RESULT_FILE FK_RESULT_FILE
    join -a1 -a2 -e MISSING -o 0,1.2,2.2 \
        <(awk '{print $1, $2}' "$1" | sort -k1,1) <(awk '{print $1, $2}' "$2" | sort -k1,1) \
        | awk '$2 != $3'
}
# The tests of a result file whose result is not a pass (pytest: PASSED, SKIPPED, XFAIL).
failing_tests() { # RESULT_FILE
    awk '$2 != "PASS" && $2 != "PASSED" && $2 != "SKIPPED" && $2 != "XFAIL" {print $1}' "$1"
}
# A few names of a list, for a verdict cell.
some() { head -3 | sed 's#^kazoo/tests/##' | paste -sd' ' -; }

EXIT=0
declare -A VERDICT
# Records a failed verdict (a suite can fail on both servers: both reasons are shown).
fails() {
    if [ "$v" = ok ]; then v="$1"; else v="$v; $1"; fi
    EXIT=1
}
PREVIOUS_ZK=0
for suite in "${SUITES[@]}"; do
    zk="zookeeper/$suite"; fk="ferrokeeper/$suite"
    zres="$COMPAT_WORK/zookeeper-$suite.result"; fres="$COMPAT_WORK/ferrokeeper-$suite.result"
    v="ok"
    ran_zk=0; ran_fk=0
    case " ${TARGETS[*]} " in *" zookeeper "*) ran_zk=1 ;; esac
    case " ${TARGETS[*]} " in *" ferrokeeper "*) ran_fk=1 ;; esac
    [ $ran_zk -eq 0 ] && load_previous_zk "$suite"
    if [ "${ST[$zk]:-}" = absent ] || [ "${ST[$fk]:-}" = absent ]; then
        VERDICT[$suite]="skipped (no run.sh)"
        continue
    fi
    if [ $ran_zk -eq 1 ]; then
        case "${ST[$zk]}" in
            ok) ;;
            ran)
                # kazoo: every test that ran must pass on the reference; one that cannot
                # belongs in kazoo/excluded.txt with its reason, not in a tolerated count.
                if [ ! -s "$zres" ]; then
                    fails "REFERENCE BROKEN (no per-test results)"
                else
                    bad="$(failing_tests "$zres")"
                    if [ -n "$bad" ]; then
                        fails "REFERENCE BROKEN ($(wc -l <<<"$bad") tests fail: $(some <<<"$bad"))"
                    fi
                fi ;;
            *) fails "REFERENCE BROKEN" ;;
        esac
    fi
    if [ $ran_fk -eq 1 ]; then
        if [ "$suite" = kazoo ]; then
            if [ "${ST[$fk]}" != ran ] || [ ! -s "$fres" ]; then
                fails "FERROKEEPER FAILED (${ST[$fk]}$([ -s "$fres" ] || echo ', no per-test results'))"
            elif bad="$(failing_tests "$fres")" && [ -n "$bad" ]; then
                fails "FERROKEEPER FAILED ($(wc -l <<<"$bad") tests fail: $(some <<<"$bad"))"
            elif [ -z "${ST[$zk]:-}" ] || [ ! -s "$zres" ]; then
                fails "no zookeeper baseline"
            elif d="$(result_diff "$zres" "$fres")" && [ -n "$d" ]; then
                fails "DIFFERS ($(wc -l <<<"$d") tests: $(awk '{print $1}' <<<"$d" | some))"
            fi
        else
            if [ "${ST[$fk]}" != ok ]; then
                fails "FERROKEEPER FAILED"
            elif [ -n "${ST[$zk]:-}" ] && [ "${ST[$zk]}" = ok ] && [ "${PASSED[$fk]}" -ne "${PASSED[$zk]}" ]; then
                fails "DIFFERS (passed ${PASSED[$fk]} vs ${PASSED[$zk]})"
            elif [ -s "$zres" ] && [ -s "$fres" ] && d="$(result_diff "$zres" "$fres")" && [ -n "$d" ]; then
                fails "DIFFERS ($(wc -l <<<"$d") checks: $(awk '{print $1}' <<<"$d" | some))"
            fi
        fi
    fi
    VERDICT[$suite]="$v"
done

echo
fmt='%-7s | %-48s | %-48s | %s\n'
# shellcheck disable=SC2059
printf "$fmt" "suite" "zookeeper 3.8" "ferrokeeper" "verdict"
printf '%s\n' "--------+--------------------------------------------------+--------------------------------------------------+------------------"
for suite in "${SUITES[@]}"; do
    zc="$(cell "zookeeper/$suite")"
    [ $PREVIOUS_ZK -eq 1 ] && [ "$zc" != "-" ] && zc="$zc (earlier run)"
    # shellcheck disable=SC2059
    printf "$fmt" "$suite" "$zc" "$(cell "ferrokeeper/$suite")" "${VERDICT[$suite]}"
done

# Per-test differences where both result files exist.
for suite in "${SUITES[@]}"; do
    a="$COMPAT_WORK/zookeeper-$suite.result"; b="$COMPAT_WORK/ferrokeeper-$suite.result"
    if [ -s "$a" ] && [ -s "$b" ] && [ -n "${ST[ferrokeeper/$suite]:-}" ]; then
        # "name zkResult fkResult" for every test whose result differs
        d="$(result_diff "$a" "$b")"
        if [ -n "$d" ]; then
            echo
            echo "$suite: $(wc -l <<<"$d") tests differ (name: zookeeper -> ferrokeeper):"
            head -60 <<<"$d" | awk '{printf "  %s: %s -> %s\n", $1, $2, $3}'
        fi
    fi
done

echo
if [ $EXIT -eq 0 ]; then echo "run-all: OK"; else echo "run-all: FAILED"; fi
exit $EXIT
