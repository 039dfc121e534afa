#!/usr/bin/env bash
# compat-tests/ensemble/run.sh [--topology NAME]... [--only zookeeper|ferrokeeper] [--check NAME]...
#
# The ensemble compatibility suite (issue 12): 3-server ensembles of Java ZooKeeper 3.8,
# Ferrokeeper, and both mixed, on loopback; each scenario is also run on an all-Java
# ensemble of the same shape as the reference. See README.md.
#
# Topologies (default: all):
#   java3              3 Java servers (the reference of fk3)
#   fk3                3 Ferrokeeper servers
#   mixed-fk-follower  Ferrokeeper sid 1 + Java sids 2, 3 (sid 3 leads, Ferrokeeper follows)
#   mixed-fk-leader    Java sids 1, 2 + Ferrokeeper sid 3 (Ferrokeeper leads)
#   rolling            3 Java under write load, each replaced in turn by a Ferrokeeper node
# Targets: `zookeeper` runs the reference of each topology (mixed-*: the same shape with
# three Java servers; rolling: each Java node replaced by a fresh Java node; fk3: java3),
# `ferrokeeper` runs the topology itself. --only picks one target; default both.
#
# Output: `PASS TOPOLOGY/TARGET CHECK (Ns) info` or `FAIL TOPOLOGY/TARGET CHECK: reason`
# per check, `TIME TOPOLOGY/TARGET Ns` per run, a table, and last `N passed, M failed`.
# Exit status 0 only when nothing failed.
#
# Files: compat-tests/work/ensemble/TOPOLOGY-TARGET/{s1,s2,s3}/ (zoo.cfg, data/, server.log),
# checker.log (the checker's stderr), out.log. Results per check also in
# compat-tests/work/ensemble/results (and $COMPAT_RESULT_FILE if set).
#
# Environment: FERROKEEPER_BIN (default /var/tmp/ferrokeeper-target/release/ferrokeeper if
# it exists, else lib.sh's target/release/ferrokeeper), ENSEMBLE_FORM_TIMEOUT (seconds to
# wait for an ensemble to form, default 60), ENSEMBLE_RUN_TIMEOUT (seconds per topology
# run, default 420), ENSEMBLE_PYTHON (a python with kazoo), ENSEMBLE_EXTRA_CFG (lines every
# server's zoo.cfg gets, e.g. quorum-tls/run.sh's sslQuorum lines).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -z "${FERROKEEPER_BIN:-}" ] && [ -x /var/tmp/ferrokeeper-target/release/ferrokeeper ]; then
    FERROKEEPER_BIN=/var/tmp/ferrokeeper-target/release/ferrokeeper
fi
# shellcheck source=node.sh
source "$HERE/node.sh"
export FERROKEEPER_BIN

ALL_TOPOLOGIES=(java3 fk3 mixed-fk-follower mixed-fk-leader rolling)
ALL_CHECKS=(elect replicate catchup-diff catchup-difflog catchup-snap catchup-trunc session-move
            leader-kill read-only)
TOPOLOGIES=()
CHECKS=()
ONLY=""
while [ $# -gt 0 ]; do
    case "$1" in
        --topology) TOPOLOGIES+=("${2:?--topology NAME}"); shift 2 ;;
        --topology=*) TOPOLOGIES+=("${1#*=}"); shift ;;
        --only) ONLY="${2:?--only zookeeper|ferrokeeper}"; shift 2 ;;
        --only=*) ONLY="${1#*=}"; shift ;;
        --check) CHECKS+=("${2:?--check NAME}"); shift 2 ;;
        --check=*) CHECKS+=("${1#*=}"); shift ;;
        -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
[ ${#TOPOLOGIES[@]} -gt 0 ] || TOPOLOGIES=("${ALL_TOPOLOGIES[@]}")
[ ${#CHECKS[@]} -gt 0 ] || CHECKS=("${ALL_CHECKS[@]}")
case "$ONLY" in ""|zookeeper|ferrokeeper) ;; *) echo "--only zookeeper|ferrokeeper" >&2; exit 2 ;; esac
for t in "${TOPOLOGIES[@]}"; do
    case " ${ALL_TOPOLOGIES[*]} " in *" $t "*) ;; *) echo "unknown topology: $t" >&2; exit 2 ;; esac
done
for c in "${CHECKS[@]}"; do
    case " ${ALL_CHECKS[*]} " in *" $c "*) ;; *) echo "unknown check: $c" >&2; exit 2 ;; esac
done
want_target() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }

WORK="$COMPAT_WORK/ensemble"
mkdir -p "$WORK"
RESULTS="$WORK/results"
: >"$RESULTS"

PYTHON="$(ens_python)" || { echo "no python with kazoo (see README.md)" >&2; exit 3; }

# ------------------------------------------------------------------ cleanup
RUN_DIRS=()
trap ens_cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

# ------------------------------------------------------------------ ensemble setup

# setup_ensemble DIR KIND1 KIND2 KIND3 : write zoo.cfg, myid, kind for sids 1..3
setup_ensemble() {
    local dir="$1" sid i
    shift
    local kinds=("$@")
    rm -rf "$dir"
    mkdir -p "$dir"
    mapfile -t ports < <(free_ports 9)
    local servers=""
    for sid in 1 2 3; do
        i=$(((sid - 1) * 3))
        servers+="server.$sid=127.0.0.1:${ports[$((i + 1))]}:${ports[$((i + 2))]}"$'\n'
    done
    for sid in 1 2 3; do
        local n="$dir/s$sid"
        mkdir -p "$n/data"
        echo "$sid" >"$n/myid"
        cp "$n/myid" "$n/data/myid"
        echo "${kinds[$((sid - 1))]}" >"$n/kind"
        echo "${ports[$(((sid - 1) * 3))]}" >"$n/client_port"
        cat >"$n/zoo.cfg" <<EOF
tickTime=500
initLimit=20
syncLimit=10
dataDir=$n/data
clientPort=${ports[$(((sid - 1) * 3))]}
clientPortAddress=127.0.0.1
maxClientCnxns=0
4lw.commands.whitelist=*
admin.enableServer=false
${servers}
${ENSEMBLE_EXTRA_CFG:-}
EOF
    done
}

# wait_formed DIR TIMEOUT : every node answers srvr with Mode leader|follower
wait_formed() {
    local dir="$1" t="$2" deadline=$((SECONDS + $2)) n m ok modes
    while :; do
        ok=1
        modes=""
        for n in "$dir"/s1 "$dir"/s2 "$dir"/s3; do
            m="$(node_mode "$n")"
            modes+=" ${n##*/}=${m:-none}"
            case "$m" in leader|follower) ;; *) ok=0 ;; esac
            if ! node_running "$n"; then modes+="(dead)"; fi
        done
        [ $ok = 1 ] && { echo "formed:$modes"; return 0; }
        [ $SECONDS -ge $deadline ] && { echo "not formed after ${t}s:$modes"; return 1; }
        sleep 0.5
    done
}

# ------------------------------------------------------------------ one run
declare -A RESULT   # "topology|target|check" -> "PASS 1.2s" / "FAIL"
declare -A TOOK
PASSED=0
FAILED=0

record() { # LINE (a PASS/FAIL line of the checker, or ours)
    local line="$1" st label check
    st="${line%% *}"
    label="$(echo "$line" | awk '{print $2}')"
    check="$(echo "$line" | awk '{print $3}')"
    check="${check%:}"
    local secs
    secs="$(echo "$line" | grep -oE '\([0-9.]+s\)' | tail -1 | tr -d '()')"
    RESULT["${label%/*}|${label#*/}|$check"]="$st${secs:+ $secs}"
    echo "$label.$check $st" >>"$RESULTS"
    if [ "$st" = PASS ]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fi
}

# run_topology NAME TARGET KIND1 KIND2 KIND3 [rolling KIND]
run_topology() {
    local topo="$1" target="$2" k1="$3" k2="$4" k3="$5" rolling="${7:-}"
    local label="$topo/$target" dir="$WORK/$topo-$target" start=$SECONDS
    local checks=("${CHECKS[@]}") c line formed
    [ -n "$rolling" ] && checks=(rolling)
    RUN_DIRS+=("$dir")
    setup_ensemble "$dir" "$k1" "$k2" "$k3"
    echo "== $label: sid1=$k1 sid2=$k2 sid3=$k3${rolling:+, replaced by $rolling} ($dir)"
    local fail_all=""
    # Highest sid first, so that with equal (empty) histories sid 3 is up when the
    # others vote and leads.
    for sid in 3 2 1; do
        if ! node_start "$dir/s$sid" 2>>"$dir/out.log"; then
            fail_all="sid $sid ($(cat "$dir/s$sid/kind")) did not start: $(tail -1 "$dir/s$sid/server.log")"
            break
        fi
    done
    if [ -z "$fail_all" ]; then
        if formed="$(wait_formed "$dir" "${ENSEMBLE_FORM_TIMEOUT:-60}")"; then
            echo "   $formed after $((SECONDS - start))s"
        else
            fail_all="ensemble $formed"
        fi
    fi
    if [ -n "$fail_all" ]; then
        for c in "${checks[@]}"; do
            line="FAIL $label $c: $fail_all"
            echo "$line" | tee -a "$dir/out.log"
            record "$line"
        done
        for sid in 1 2 3; do
            echo "   --- $label sid$sid server.log (last 5 lines) ---"
            tail -5 "$dir/s$sid/server.log" | sed 's/^/   /'
        done
    else
        local args=(--label "$label" --run-dir "$dir")
        if [ -n "$rolling" ]; then args+=(--rolling "$rolling")
        else args+=(--checks "$(IFS=,; echo "${checks[*]}")"); fi
        # A check comparing with the all-Java reference (catchup-difflog) reads what the
        # reference run of this topology left (fk3's reference is java3).
        if [ "$target" = "$F" ]; then
            local ref_topo="$topo"
            [ "$topo" = fk3 ] && ref_topo=java3
            [ -d "$WORK/$ref_topo-$Z" ] && args+=(--reference-dir "$WORK/$ref_topo-$Z")
        fi
        timeout -k 10 "${ENSEMBLE_RUN_TIMEOUT:-420}" \
            "$PYTHON" -u "$HERE/checker.py" "${args[@]}" 2>"$dir/checker.log" \
            | tee -a "$dir/out.log"
        local rc=${PIPESTATUS[0]}
        for c in "${checks[@]}"; do
            line="$(grep -E "^(PASS|FAIL) $label $c( |:)" "$dir/out.log" | tail -1)"
            if [ -z "$line" ]; then
                line="FAIL $label $c: no result (checker exit status $rc; see $dir/checker.log)"
                echo "$line" | tee -a "$dir/out.log"
            fi
            record "$line"
        done
    fi
    for sid in 1 2 3; do node_stop "$dir/s$sid" 10; done
    TOOK["$topo|$target"]=$((SECONDS - start))
    echo "TIME $label $((SECONDS - start))s"
}

Z=zookeeper
F=ferrokeeper
echo "ensemble suite: topologies ${TOPOLOGIES[*]}; checks ${CHECKS[*]}; ${ONLY:-both targets}"
[ "$ONLY" != zookeeper ] && echo "ferrokeeper: $FERROKEEPER_BIN"
RAN_JAVA3=0
for topo in "${TOPOLOGIES[@]}"; do
    case "$topo" in
        java3|fk3)
            # fk3's reference is java3: run it once.
            if want_target $Z && [ $RAN_JAVA3 = 0 ]; then
                run_topology java3 $Z $Z $Z $Z
                RAN_JAVA3=1
            fi
            if [ "$topo" = fk3 ] && want_target $F; then run_topology fk3 $F $F $F $F; fi
            ;;
        mixed-fk-follower)
            want_target $Z && run_topology "$topo" $Z $Z $Z $Z
            want_target $F && run_topology "$topo" $F $F $Z $Z
            ;;
        mixed-fk-leader)
            want_target $Z && run_topology "$topo" $Z $Z $Z $Z
            want_target $F && run_topology "$topo" $F $Z $Z $F
            ;;
        rolling)
            want_target $Z && run_topology "$topo" $Z $Z $Z $Z rolling $Z
            want_target $F && run_topology "$topo" $F $Z $Z $Z rolling $F
            ;;
    esac
done

# ------------------------------------------------------------------ table
echo
printf '%-18s %-13s %-16s %-16s\n' topology check "zookeeper (ref)" ferrokeeper
ROWS=()
for topo in "${TOPOLOGIES[@]}"; do
    # java3 is fk3's reference column; without the ferrokeeper target it is its own row
    if [ "$topo" = fk3 ] && ! want_target $F; then topo=java3; fi
    if [ "$topo" = java3 ] && want_target $F && [[ " ${TOPOLOGIES[*]} " = *" fk3 "* ]]; then
        continue
    fi
    [[ " ${ROWS[*]} " = *" $topo "* ]] || ROWS+=("$topo")
done
for topo in "${ROWS[@]}"; do
    cs=("${CHECKS[@]}")
    [ "$topo" = rolling ] && cs=(rolling)
    ref="$topo"
    [ "$topo" = fk3 ] && ref=java3
    for c in "${cs[@]}"; do
        printf '%-18s %-13s %-16s %-16s\n' "$topo" "$c" \
            "${RESULT["$ref|$Z|$c"]:--}" "${RESULT["$topo|$F|$c"]:--}"
    done
done
for k in "${!TOOK[@]}"; do echo "${k%|*}/${k#*|} ${TOOK[$k]}s"; done | sort | sed 's/^/time /'
if [ -n "${COMPAT_RESULT_FILE:-}" ]; then sort "$RESULTS" >"$COMPAT_RESULT_FILE"; fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
