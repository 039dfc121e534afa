#!/usr/bin/env bash
# compat-tests/reconfig/run.sh [--topology NAME]...
#
# ZooKeeper 3.8 dynamic reconfiguration (issue 15) on loopback: s1..s3 form an ensemble
# with reconfigEnabled=true and a dynamicConfigFile; under a continuous write load the
# joiners s4..s6 are added, the leader removed, and the membership replaced by s4..s6
# (check.py has the checks). The all-Java topology is the reference.
#
# Topologies (default: all):
#   java         s1..s6 Java (the reference)
#   fk-joiners   s1..s3 Java, the joiners s4..s6 Ferrokeeper (skipped without the binary)
#   fk-initial   s1..s3 Ferrokeeper (a Ferrokeeper leader runs the reconfigs), the joiners
#                s4..s6 Java
#   fk           all six Ferrokeeper
#
# Output: `PASS TOPOLOGY CHECK (Ns) info` / `FAIL TOPOLOGY CHECK: reason` per check, a
# table, last `N passed, M failed`; exit status 0 only when nothing failed and every
# topology that ran passed as many checks as the reference.
# Files: compat-tests/work/reconfig/TOPOLOGY/s1..s6 (zoo.cfg, zoo.cfg.dynamic*, data/,
# server.log), out.log, checker.log.
# Environment: FERROKEEPER_BIN, ENSEMBLE_PYTHON (a python with kazoo), RECONFIG_RUN_TIMEOUT.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -z "${FERROKEEPER_BIN:-}" ] && [ -x /var/tmp/ferrokeeper-target/release/ferrokeeper ]; then
    FERROKEEPER_BIN=/var/tmp/ferrokeeper-target/release/ferrokeeper
fi
# shellcheck source=../ensemble/node.sh
source "$HERE/../ensemble/node.sh"
export FERROKEEPER_BIN

ALL_TOPOLOGIES=(java fk-joiners fk-initial fk)
# The checks run in this order, each from the state the previous one left.
CHECKS=(formed add remove members durable errors observer cli)
TOPOLOGIES=()
while [ $# -gt 0 ]; do
    case "$1" in
        --topology) TOPOLOGIES+=("${2:?--topology NAME}"); shift 2 ;;
        --topology=*) TOPOLOGIES+=("${1#*=}"); shift ;;
        -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
[ ${#TOPOLOGIES[@]} -gt 0 ] || TOPOLOGIES=("${ALL_TOPOLOGIES[@]}")
for t in "${TOPOLOGIES[@]}"; do
    case " ${ALL_TOPOLOGIES[*]} " in *" $t "*) ;; *) echo "unknown topology: $t" >&2; exit 2 ;; esac
done

WORK="$COMPAT_WORK/reconfig"
mkdir -p "$WORK"
RESULTS="$WORK/results"
: >"$RESULTS"

PYTHON="$(ens_python)" || { echo "no python with kazoo" >&2; exit 3; }
RUN_DIRS=()
trap ens_cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

# setup DIR KIND1 .. KIND6 : node directories s1..s6 on free loopback ports. Each has a
# static zoo.cfg pointing at NODE/zoo.cfg.dynamic and its own `server_line`
# (server.N=127.0.0.1:Q:E:participant;127.0.0.1:C). s1..s3 get their dynamic file here;
# a joiner's is written by check.py when it joins (the config current then + itself).
setup() {
    local dir="$1" sid n i c q e
    shift
    local kinds=("$@")
    rm -rf "$dir"
    mkdir -p "$dir"
    mapfile -t ports < <(free_ports 18)
    for sid in 1 2 3 4 5 6; do
        n="$dir/s$sid"
        i=$(((sid - 1) * 3))
        c=${ports[$i]} q=${ports[$((i + 1))]} e=${ports[$((i + 2))]}
        mkdir -p "$n/data"
        echo "$sid" >"$n/myid"
        cp "$n/myid" "$n/data/myid"
        echo "${kinds[$((sid - 1))]}" >"$n/kind"
        echo "$c" >"$n/client_port"
        echo "server.$sid=127.0.0.1:$q:$e:participant;127.0.0.1:$c" >"$n/server_line"
        # clientPort stays in the static file too (Java accepts it when it equals the
        # dynamic line's); superDigest also reaches both kinds as SERVER_PROPS' -D.
        cat >"$n/zoo.cfg" <<EOF
tickTime=500
initLimit=20
syncLimit=10
dataDir=$n/data
clientPort=$c
clientPortAddress=127.0.0.1
maxClientCnxns=0
4lw.commands.whitelist=*
admin.enableServer=false
reconfigEnabled=true
standaloneEnabled=false
DigestAuthenticationProvider.superDigest=$SUPER_DIGEST
dynamicConfigFile=$n/zoo.cfg.dynamic
EOF
    done
    for sid in 1 2 3; do cat "$dir"/s{1,2,3}/server_line >"$dir/s$sid/zoo.cfg.dynamic"; done
}

declare -A RESULT
declare -A COUNT
PASSED=0
FAILED=0

run_topology() { # NAME KIND1 .. KIND6
    local topo="$1" dir="$WORK/$1" start=$SECONDS sid line rc
    shift
    RUN_DIRS+=("$dir")
    setup "$dir" "$@"
    echo "== $topo: s1..s3 $1 $2 $3, joiners s4..s6 $4 $5 $6 ($dir)"
    COUNT[$topo]=0
    for sid in 3 2 1; do
        node_start "$dir/s$sid" 2>>"$dir/out.log" || echo "sid $sid did not start" >>"$dir/out.log"
    done
    timeout -k 10 "${RECONFIG_RUN_TIMEOUT:-600}" \
        "$PYTHON" -u "$HERE/check.py" --label "$topo" --run-dir "$dir" \
        2>"$dir/checker.log" | tee -a "$dir/out.log"
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
        fi
    done
    if [ "${COUNT[$topo]}" != ${#CHECKS[@]} ]; then
        for sid in 1 2 3 4 5 6; do
            echo "   --- $topo sid$sid ($(cat "$dir/s$sid/kind")) server.log, last 6 lines ---"
            tail -6 "$dir/s$sid/server.log" 2>/dev/null | sed 's/^/   /'
        done
    fi
    for sid in 1 2 3 4 5 6; do node_stop "$dir/s$sid" 10; done
    echo "TIME $topo $((SECONDS - start))s"
}

Z=zookeeper
F=ferrokeeper
RAN=()
echo "reconfig suite: topologies ${TOPOLOGIES[*]}; checks ${CHECKS[*]}"
for t in "${TOPOLOGIES[@]}"; do
    case "$t" in
        java) run_topology java $Z $Z $Z $Z $Z $Z ;;
        fk-joiners | fk-initial | fk)
            if [ ! -x "${FERROKEEPER_BIN:-}" ]; then
                echo "SKIP $t: no Ferrokeeper binary at '${FERROKEEPER_BIN:-}'" \
                     "(set FERROKEEPER_BIN)"
                continue
            fi
            case "$t" in
                fk-joiners) run_topology fk-joiners $Z $Z $Z $F $F $F ;;
                fk-initial) run_topology fk-initial $F $F $F $Z $Z $Z ;;
                fk) run_topology fk $F $F $F $F $F $F ;;
            esac ;;
    esac
    RAN+=("$t")
done

printf '\n%-12s' ""
for c in "${CHECKS[@]}"; do printf ' %-8s' "$c"; done
echo
for t in "${RAN[@]}"; do
    printf '%-12s' "$t"
    for c in "${CHECKS[@]}"; do printf ' %-8s' "${RESULT[$t|$c]:-}"; done
    printf '  (%s passed)\n' "${COUNT[$t]:-0}"
done
# Each topology must pass what the reference passes (all, when the reference ran).
if [ -n "${COUNT[java]:-}" ]; then
    for t in "${RAN[@]}"; do
        if [ "${COUNT[$t]:-0}" != "${COUNT[java]}" ]; then
            echo "$t passed ${COUNT[$t]:-0} checks, the all-Java reference ${COUNT[java]}"
            FAILED=$((FAILED + 1))
        fi
    done
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
