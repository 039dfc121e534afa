#!/usr/bin/env bash
# compat-tests/observers/run.sh [--topology NAME]... [--check NAME]...
#
# Observers in mixed ensembles (issue 15): three participants and one observer (server.4
# `:observer`, `peerType=observer`) on loopback, Java ZooKeeper 3.8 and Ferrokeeper side by
# side. Every topology runs the same checks (check.py); the all-Java one is the reference.
#
# Topologies (default: all):
#   java            3 Java participants + a Java observer (the reference)
#   fk-observer     3 Java participants + a Ferrokeeper observer
#   java-observer   3 Ferrokeeper participants + a Java observer
#   fk              3 Ferrokeeper participants + a Ferrokeeper observer
#
# Output: `PASS TOPOLOGY CHECK (Ns) info` / `FAIL TOPOLOGY CHECK: reason` per check, a
# table, last `N passed, M failed`; exit status 0 only when nothing failed and every
# topology passed as many checks as the reference.
# Files: compat-tests/work/observers/TOPOLOGY/s1..s4 (zoo.cfg, data/, server.log).
# Environment: FERROKEEPER_BIN, ENSEMBLE_PYTHON (a python with kazoo).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -z "${FERROKEEPER_BIN:-}" ] && [ -x /var/tmp/ferrokeeper-target/release/ferrokeeper ]; then
    FERROKEEPER_BIN=/var/tmp/ferrokeeper-target/release/ferrokeeper
fi
# shellcheck source=../ensemble/node.sh
source "$HERE/../ensemble/node.sh"
export FERROKEEPER_BIN

ALL_TOPOLOGIES=(java fk-observer java-observer fk)
ALL_CHECKS=(formed reads writes admin catchup leader-kill)
TOPOLOGIES=()
CHECKS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --topology) TOPOLOGIES+=("${2:?--topology NAME}"); shift 2 ;;
        --topology=*) TOPOLOGIES+=("${1#*=}"); shift ;;
        --check) CHECKS+=("${2:?--check NAME}"); shift 2 ;;
        --check=*) CHECKS+=("${1#*=}"); shift ;;
        -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
[ ${#TOPOLOGIES[@]} -gt 0 ] || TOPOLOGIES=("${ALL_TOPOLOGIES[@]}")
[ ${#CHECKS[@]} -gt 0 ] || CHECKS=("${ALL_CHECKS[@]}")
for t in "${TOPOLOGIES[@]}"; do
    case " ${ALL_TOPOLOGIES[*]} " in *" $t "*) ;; *) echo "unknown topology: $t" >&2; exit 2 ;; esac
done
for c in "${CHECKS[@]}"; do
    case " ${ALL_CHECKS[*]} " in *" $c "*) ;; *) echo "unknown check: $c" >&2; exit 2 ;; esac
done

WORK="$COMPAT_WORK/observers"
mkdir -p "$WORK"
RESULTS="$WORK/results"
: >"$RESULTS"

PYTHON="$(ens_python)" || { echo "no python with kazoo" >&2; exit 3; }
RUN_DIRS=()
trap ens_cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

# setup DIR KIND1 KIND2 KIND3 OBSERVER_KIND : s1..s3 participants, s4 the observer.
setup() {
    local dir="$1" sid i n servers="" role
    shift
    local kinds=("$@")
    rm -rf "$dir"
    mkdir -p "$dir"
    mapfile -t ports < <(free_ports 16)
    for sid in 1 2 3 4; do
        i=$(((sid - 1) * 3))
        role=participant
        [ "$sid" = 4 ] && role=observer
        servers+="server.$sid=127.0.0.1:${ports[$((i + 1))]}:${ports[$((i + 2))]}:$role"$'\n'
    done
    for sid in 1 2 3 4; do
        n="$dir/s$sid"
        mkdir -p "$n/data"
        echo "$sid" >"$n/myid"
        cp "$n/myid" "$n/data/myid"
        echo "${kinds[$((sid - 1))]}" >"$n/kind"
        echo "${ports[$(((sid - 1) * 3))]}" >"$n/client_port"
        echo "${ports[$((11 + sid))]}" >"$n/admin_port"
        role=participant
        [ "$sid" = 4 ] && role=observer
        cat >"$n/zoo.cfg" <<EOF
tickTime=500
initLimit=20
syncLimit=10
dataDir=$n/data
clientPort=${ports[$(((sid - 1) * 3))]}
clientPortAddress=127.0.0.1
maxClientCnxns=0
4lw.commands.whitelist=*
admin.enableServer=true
admin.serverAddress=127.0.0.1
admin.serverPort=${ports[$((11 + sid))]}
peerType=$role
${servers}
EOF
    done
}

declare -A RESULT
declare -A COUNT
PASSED=0
FAILED=0

run_topology() { # NAME KIND1 KIND2 KIND3 OBSERVER_KIND
    local topo="$1" dir="$WORK/$1" start=$SECONDS sid line rc
    shift
    RUN_DIRS+=("$dir")
    setup "$dir" "$@"
    echo "== $topo: participants $1 $2 $3, observer $4 ($dir)"
    COUNT[$topo]=0
    for sid in 3 2 1 4; do
        node_start "$dir/s$sid" 2>>"$dir/out.log" || echo "sid $sid did not start" >>"$dir/out.log"
    done
    timeout -k 10 "${OBSERVERS_RUN_TIMEOUT:-420}" \
        "$PYTHON" -u "$HERE/check.py" --label "$topo" --run-dir "$dir" \
        --checks "$(IFS=,; echo "${CHECKS[*]}")" 2>"$dir/checker.log" | tee -a "$dir/out.log"
    rc=${PIPESTATUS[0]}
    for c in "${CHECKS[@]}"; do
        line="$(grep -E "^(PASS|FAIL) $topo $c( |:)" "$dir/out.log" | tail -1)"
        if [ -z "$line" ]; then
            line="FAIL $topo $c: no result (checker exit status $rc; see $dir/checker.log)"
            echo "$line" | tee -a "$dir/out.log"
        fi
        echo "$topo.$c ${line%% *}" >>"$RESULTS"
        RESULT["$topo|$c"]="${line%% *}"
        if [ "${line%% *}" = PASS ]; then
            PASSED=$((PASSED + 1))
            COUNT[$topo]=$((COUNT[$topo] + 1))
        else
            FAILED=$((FAILED + 1))
            for sid in 1 2 3 4; do
                echo "   --- $topo sid$sid ($(cat "$dir/s$sid/kind")) server.log, last 8 lines ---"
                tail -8 "$dir/s$sid/server.log" | sed 's/^/   /'
            done
        fi
    done
    for sid in 1 2 3 4; do node_stop "$dir/s$sid" 10; done
    echo "TIME $topo $((SECONDS - start))s"
}

Z=zookeeper
F=ferrokeeper
echo "observers suite: topologies ${TOPOLOGIES[*]}; checks ${CHECKS[*]}"
for t in "${TOPOLOGIES[@]}"; do
    case "$t" in
        java) run_topology java $Z $Z $Z $Z ;;
        fk-observer) run_topology fk-observer $Z $Z $Z $F ;;
        java-observer) run_topology java-observer $F $F $F $Z ;;
        fk) run_topology fk $F $F $F $F ;;
    esac
done

printf '\n%-15s' ""
for c in "${CHECKS[@]}"; do printf ' %-12s' "$c"; done
echo
for t in "${TOPOLOGIES[@]}"; do
    printf '%-15s' "$t"
    for c in "${CHECKS[@]}"; do printf ' %-12s' "${RESULT[$t|$c]:-}"; done
    printf '  (%s passed)\n' "${COUNT[$t]:-0}"
done
# Each topology must pass what the reference passes (all, when the reference ran).
if [ -n "${COUNT[java]:-}" ]; then
    for t in "${TOPOLOGIES[@]}"; do
        if [ "${COUNT[$t]:-0}" != "${COUNT[java]}" ]; then
            echo "$t passed ${COUNT[$t]:-0} checks, the all-Java reference ${COUNT[java]}"
            FAILED=$((FAILED + 1))
        fi
    done
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
