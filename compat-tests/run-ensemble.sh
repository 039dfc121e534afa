#!/usr/bin/env bash
# compat-tests/run-ensemble.sh - the client suites against 3-node ensembles (issue 12):
# for each target (zookeeper, ferrokeeper) and each suite (java, kazoo, rust-client),
# start a fresh 3-node ensemble of that target on loopback, wait for a leader and two
# followers, run the suite with the connect string of all three servers, stop the
# ensemble; then compare Ferrokeeper's ensemble with Java ZooKeeper's, per test.
#
#   compat-tests/run-ensemble.sh [--only zookeeper|ferrokeeper] [--suite NAME]...
#
# Builds nothing except the rust-client test binary (cargo, before the ensemble starts).
# See compat-tests/README.md ("Ensemble mode").
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The binary to test: $FERROKEEPER_BIN, else the shared release build, else lib.sh's
# default. It is copied first (FK_BIN_COPY) so a rebuild during the run cannot change it.
if [ -z "${FERROKEEPER_BIN:-}" ] && [ -x /var/tmp/ferrokeeper-target/release/ferrokeeper ]; then
    FERROKEEPER_BIN=/var/tmp/ferrokeeper-target/release/ferrokeeper
fi
# shellcheck source=ensemble/node.sh
source "$HERE/ensemble/node.sh"

ALL_SUITES=(java kazoo rust-client)
TARGETS=(zookeeper ferrokeeper)
SUITES=()

usage() {
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
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

# Ensemble config: the suites' expectations assume tickTime=2000 (session timeout
# negotiation 4000..40000 ms, session expiry timings), as in lib.sh's standalone config.
ENS_TICK="${ENSEMBLE_TICK_TIME:-2000}"
ENS_INIT="${ENSEMBLE_INIT_LIMIT:-10}"
ENS_SYNC="${ENSEMBLE_SYNC_LIMIT:-5}"
ENS_FORM_TIMEOUT="${ENSEMBLE_FORM_TIMEOUT:-90}"

mkdir -p "$COMPAT_WORK"

for t in "${TARGETS[@]}"; do
    if [ "$t" = ferrokeeper ]; then
        if [ ! -x "$FERROKEEPER_BIN" ]; then
            echo "ERROR: Ferrokeeper binary not found: $FERROKEEPER_BIN (set FERROKEEPER_BIN)" >&2
            exit 1
        fi
        copy="${FK_BIN_COPY:-/var/tmp/fk-suites-bin/ferrokeeper}"
        if [ "$copy" != "$FERROKEEPER_BIN" ]; then
            mkdir -p "$(dirname "$copy")"
            cp "$FERROKEEPER_BIN" "$copy.tmp.$$" && mv -f "$copy.tmp.$$" "$copy" || exit 1
            echo "ferrokeeper: $FERROKEEPER_BIN copied to $copy"
            FERROKEEPER_BIN="$copy"
        fi
        export FERROKEEPER_BIN
    fi
done

# ------------------------------------------------------------------ cleanup
RUN_DIRS=()
cleanup() {
    local d n pid
    for d in "${RUN_DIRS[@]}"; do
        for n in "$d"/s1 "$d"/s2 "$d"/s3; do [ -d "$n" ] && node_stop "$n" 5 2>/dev/null; done
        if [ -f "$d/pids" ]; then
            while read -r pid; do
                node_pid_alive "$pid" && kill -9 "$pid" 2>/dev/null
            done <"$d/pids"
        fi
    done
    RUN_DIRS=()
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

# ------------------------------------------------------------------ ensembles

# ens_setup, ens_wait_formed, ens_connect_string: node.sh (ENS_TICK, ENS_INIT, ENS_SYNC above).

# ------------------------------------------------------------------ one run
declare -A ST PASSED FAILED SECS FORMED

run_suite() { # TARGET SUITE
    local target="$1" suite="$2" key="$1/$2" dir log res rc start line formed sid
    dir="$COMPAT_WORK/ens-$target-$suite"
    log="$COMPAT_WORK/ens-$target-$suite.log"
    res="$COMPAT_WORK/ens-$target-$suite.result"
    rm -f "$log" "$res" "$COMPAT_WORK/ens-$target-$suite.summary"
    if [ "$suite" = rust-client ]; then
        # Build the test binary before the ensemble starts (not inside its run time).
        echo "== building the zk_client test binary (cargo test --release --no-run)"
        if ! (cd "$REPO_ROOT" && cargo test --release --test zk_client --no-run) >>"$log.build" 2>&1; then
            echo "   build failed: see $log.build"
        fi
    fi
    ens_setup "$dir" "$target"
    RUN_DIRS+=("$dir")
    local addr
    addr="$(ens_connect_string "$dir")"
    echo "== $suite against a 3-node $target ensemble ($addr), log: ${log#"$REPO_ROOT"/}"
    start=$SECONDS
    local fail=""
    # Highest sid first: with equal (empty) histories sid 3 leads, as in the ensemble suite.
    for sid in 3 2 1; do
        if ! node_start "$dir/s$sid" 2>>"$log"; then
            fail="sid $sid did not start"
            break
        fi
    done
    if [ -z "$fail" ]; then
        if formed="$(ens_wait_formed "$dir" "$ENS_FORM_TIMEOUT")"; then
            echo "   $formed after $((SECONDS - start))s"
            FORMED[$key]="${formed#formed: }"
        else
            fail="ensemble $formed"
        fi
    fi
    if [ -n "$fail" ]; then
        echo "   $fail"
        for sid in 1 2 3; do
            echo "   --- sid$sid server.log (last 5 lines) ---"
            tail -5 "$dir/s$sid/server.log" | sed 's/^/   /'
        done
        ST[$key]="nostart"
        for sid in 1 2 3; do node_stop "$dir/s$sid" 10; done
        return
    fi
    start=$(date +%s)
    COMPAT_TARGET="$target" COMPAT_RESULT_FILE="$res" \
        timeout -k 20 "${SUITE_TIMEOUT:-2400}" "$HERE/$suite/run.sh" "$addr" >>"$log" 2>&1 </dev/null
    rc=$?
    SECS[$key]=$(( $(date +%s) - start ))
    # The ensemble after the run (a node that died or left the quorum shows here).
    local after=""
    for sid in 1 2 3; do
        after+=" s$sid=$(node_mode "$dir/s$sid")"
        node_running "$dir/s$sid" || after+="(dead)"
    done
    echo "   after the run:$after"
    for sid in 1 2 3; do node_stop "$dir/s$sid" 10; done
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
            if [ "$rc" -eq 0 ]; then ST[$key]="ran"; else ST[$key]="error"; fi
        elif [ "$rc" -eq 0 ] && [ "${FAILED[$key]}" -eq 0 ]; then
            ST[$key]="ok"
        else
            ST[$key]="fail"
        fi
    fi
    if [ ! -s "$res" ]; then
        local p1
        p1="$(cat "$dir/s1/client_port")"
        if [ "$suite" = kazoo ] && [ -s "$COMPAT_WORK/kazoo-$p1.results" ]; then
            cp "$COMPAT_WORK/kazoo-$p1.results" "$res"
        else
            sed -nE 's/^(PASS|FAIL) ([^: ]+).*/\2 \1/p' "$log" | sort >"$res"
            [ -s "$res" ] || rm -f "$res"
        fi
    fi
    printf '%s %s %s %s\n' "${ST[$key]}" "${PASSED[$key]:-0}" "${FAILED[$key]:-0}" "${SECS[$key]:-0}" \
        >"$COMPAT_WORK/ens-$target-$suite.summary"
    echo "   ${ST[$key]}: ${line:-no summary line} (rc=$rc, ${SECS[$key]}s)"
    if [ "${ST[$key]}" != ok ]; then
        if [ -s "$res" ]; then
            awk '$2 != "PASS" && $2 != "PASSED" && $2 != "SKIPPED" && $2 != "XFAIL" {print "   not passed: " $1 " " $2}' \
                "$res" | head -20
        fi
    fi
}

RUN_START=$SECONDS
for target in "${TARGETS[@]}"; do
    for suite in "${SUITES[@]}"; do
        run_suite "$target" "$suite"
        cleanup
    done
done

# ------------------------------------------------------------------ comparison
# Earlier results (ensemble runs not repeated now, standalone runs of run-all.sh).
load_summary() { # KEY FILE -> ST/PASSED/FAILED/SECS[KEY] from a .summary file
    local a b c d
    [ -s "$2" ] || return 1
    read -r a b c d <"$2"
    ST[$1]="$a"; PASSED[$1]="$b"; FAILED[$1]="$c"; SECS[$1]="$d"
}
for target in zookeeper ferrokeeper; do
    for suite in "${SUITES[@]}"; do
        [ -n "${ST[$target/$suite]:-}" ] ||
            { load_summary "$target/$suite" "$COMPAT_WORK/ens-$target-$suite.summary" &&
              ST[$target/$suite]="${ST[$target/$suite]}, earlier run"; }
        load_summary "standalone-$target/$suite" "$COMPAT_WORK/$target-$suite.summary" || true
    done
done

result_diff() { # A_RESULT_FILE B_RESULT_FILE -> "name a b" where they differ
    join -a1 -a2 -e MISSING -o 0,1.2,2.2 \
        <(awk '{print $1, $2}' "$1" | sort -k1,1) <(awk '{print $1, $2}' "$2" | sort -k1,1) \
        | awk '$2 != $3'
}
not_passed() { # RESULT_FILE
    awk '$2 != "PASS" && $2 != "PASSED" && $2 != "SKIPPED" && $2 != "XFAIL" {print $1}' "$1"
}
some() { head -3 | sed 's#^kazoo/tests/##' | paste -sd' ' -; }
cell() { # KEY
    case "${ST[$1]:-}" in
        "") echo "-" ;;
        nostart) echo "ENSEMBLE DID NOT FORM" ;;
        nosummary) echo "NO SUMMARY" ;;
        *) echo "${PASSED[$1]} passed, ${FAILED[$1]} failed [${ST[$1]}, ${SECS[$1]}s]" ;;
    esac
}

EXIT=0
declare -A VERDICT
for suite in "${SUITES[@]}"; do
    zk="zookeeper/$suite"; fk="ferrokeeper/$suite"
    zres="$COMPAT_WORK/ens-zookeeper-$suite.result"; fres="$COMPAT_WORK/ens-ferrokeeper-$suite.result"
    v=ok
    fails() { if [ "$v" = ok ]; then v="$1"; else v="$v; $1"; fi; EXIT=1; }
    case "${ST[$zk]:-}" in
        ""|nostart*|nosummary*|timeout*|error*) fails "REFERENCE DID NOT RUN (${ST[$zk]:-no run})" ;;
    esac
    case "${ST[$fk]:-}" in
        "") fails "no ferrokeeper run" ;;
        nostart*|nosummary*|timeout*|error*) fails "FERROKEEPER DID NOT RUN (${ST[$fk]})" ;;
    esac
    if [ "$v" = ok ]; then
        if [ "${PASSED[$fk]}" -ne "${PASSED[$zk]}" ] || [ "${FAILED[$fk]}" -ne "${FAILED[$zk]}" ]; then
            fails "DIFFERS (${PASSED[$fk]}/${FAILED[$fk]} vs ${PASSED[$zk]}/${FAILED[$zk]} passed/failed)"
        fi
        if [ -s "$zres" ] && [ -s "$fres" ]; then
            d="$(result_diff "$zres" "$fres")"
            [ -n "$d" ] && fails "DIFFERS ($(wc -l <<<"$d") tests: $(awk '{print $1}' <<<"$d" | some))"
        elif [ -s "$zres" ] || [ -s "$fres" ]; then
            fails "per-test results on one side only"
        fi
        # Not a failure of the verdict, but worth seeing: tests the reference fails too.
        if [ "$v" = ok ] && [ -s "$zres" ]; then
            bad="$(not_passed "$zres")"
            [ -n "$bad" ] && v="ok (both fail $(wc -l <<<"$bad"): $(some <<<"$bad"))"
        fi
    fi
    VERDICT[$suite]="$v"
done

echo
fmt='%-11s | %-44s | %-44s | %s\n'
# shellcheck disable=SC2059
printf "$fmt" "suite" "zookeeper 3.8 ensemble" "ferrokeeper ensemble" "verdict"
printf '%s\n' "------------+----------------------------------------------+----------------------------------------------+------------------"
for suite in "${SUITES[@]}"; do
    # shellcheck disable=SC2059
    printf "$fmt" "$suite" "$(cell "zookeeper/$suite")" "$(cell "ferrokeeper/$suite")" "${VERDICT[$suite]}"
done

echo
echo "standalone (earlier run-all.sh results in ${COMPAT_WORK#"$REPO_ROOT"/}) vs ensemble:"
# shellcheck disable=SC2059
printf "$fmt" "suite" "zookeeper: standalone -> ensemble" "ferrokeeper: standalone -> ensemble" "ensemble-only differences"
printf '%s\n' "------------+----------------------------------------------+----------------------------------------------+------------------"
pc() { # KEY -> "P/F" or "-"
    if [ -n "${ST[$1]:-}" ] && [ "${ST[$1]}" != nostart ]; then echo "${PASSED[$1]}/${FAILED[$1]}"; else echo "-"; fi
}
for suite in "${SUITES[@]}"; do
    n=""
    for t in zookeeper ferrokeeper; do
        a="$COMPAT_WORK/$t-$suite.result"; b="$COMPAT_WORK/ens-$t-$suite.result"
        if [ -s "$a" ] && [ -s "$b" ]; then
            c="$(result_diff "$a" "$b" | wc -l)"
            n+="${n:+, }$t $c"
        fi
    done
    # shellcheck disable=SC2059
    printf "$fmt" "$suite" \
        "$(pc "standalone-zookeeper/$suite") -> $(pc "zookeeper/$suite") passed/failed" \
        "$(pc "standalone-ferrokeeper/$suite") -> $(pc "ferrokeeper/$suite") passed/failed" \
        "${n:-no standalone results}"
done

# Per-test differences.
for suite in "${SUITES[@]}"; do
    a="$COMPAT_WORK/ens-zookeeper-$suite.result"; b="$COMPAT_WORK/ens-ferrokeeper-$suite.result"
    if [ -s "$a" ] && [ -s "$b" ]; then
        d="$(result_diff "$a" "$b")"
        if [ -n "$d" ]; then
            echo
            echo "$suite: $(wc -l <<<"$d") tests differ between the ensembles (name: zookeeper -> ferrokeeper):"
            head -60 <<<"$d" | awk '{printf "  %s: %s -> %s\n", $1, $2, $3}'
        fi
    fi
    for t in zookeeper ferrokeeper; do
        a="$COMPAT_WORK/$t-$suite.result"; b="$COMPAT_WORK/ens-$t-$suite.result"
        if [ -s "$a" ] && [ -s "$b" ]; then
            d="$(result_diff "$a" "$b")"
            if [ -n "$d" ]; then
                echo
                echo "$suite on $t: $(wc -l <<<"$d") tests differ (name: standalone -> ensemble):"
                head -60 <<<"$d" | awk '{printf "  %s: %s -> %s\n", $1, $2, $3}'
            fi
        fi
    done
done

echo
echo "total $((SECONDS - RUN_START))s"
if [ $EXIT -eq 0 ]; then echo "run-ensemble: OK"; else echo "run-ensemble: FAILED"; fi
exit $EXIT
