#!/usr/bin/env bash
# compat-tests/ops/ensemble.sh [--capture] [--only zookeeper|ferrokeeper]
#
# The operations suite in ensemble roles (issue 12): for each target a 3-server ensemble of
# that kind (Java ZooKeeper 3.8 or Ferrokeeper) is started on loopback with its
# AdminServers; once it has formed, the leader's and a follower's answers to the
# role-dependent four-letter words (conf, isro, mntr, ruok, srvr, stat) and AdminServer
# commands (leader, voting_view, zabstate, is_read_only, server_stats, stats, monitor,
# observers, configuration, and their aliases) are compared with expectations captured
# from ZooKeeper 3.8 in the same role (expected/leader-4lw, expected/leader-admin,
# expected/follower-*): keys/lines, value classes, and the role's own values exactly
# (Mode, zk_server_state, zk_peer_state, zk_quorum_size, zk_learners, zk_synced_*,
# zk_pending_syncs, is_leader, voting, zabstate...). Before that, session.py writes through
# the follower, and the quorum counters and summaries that must have moved (proposal and
# commit counts, proposal sizes, quorum_ack_latency, proposal_latency, follower_sync_time,
# election_time) are compared by sign. See check.py (--role).
# Ferrokeeper's nodes also serve ZooKeeper's PrometheusMetricsProvider endpoint, checked
# for the quorum metrics' names, types and values (Java: skipped, Debian has no
# PrometheusMetricsProvider jar; the expectations come from ZooKeeper's source).
#
#   ensemble.sh --capture --only zookeeper   rewrite expected/{leader,follower}-* from Java
#
# Environment: FERROKEEPER_BIN (default lib.sh's), ENSEMBLE_FORM_TIMEOUT (default 60 s).
# Files: compat-tests/work/ops-ensemble/TARGET/{s1,s2,s3}/.
# Last line: "N passed, M failed, K skipped"; exit status 0 only when nothing failed.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../ensemble/node.sh
source "$HERE/../ensemble/node.sh"

CAPTURE=()
ONLY=""
while [ $# -gt 0 ]; do
    case "$1" in
        --capture) CAPTURE=(--capture); shift ;;
        --only) ONLY="${2:?--only zookeeper|ferrokeeper}"; shift 2 ;;
        --only=*) ONLY="${1#*=}"; shift ;;
        -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
case "$ONLY" in ""|zookeeper|ferrokeeper) ;; *) echo "unknown target: $ONLY" >&2; exit 2 ;; esac
if [ ${#CAPTURE[@]} -gt 0 ] && [ "$ONLY" != zookeeper ]; then
    echo "--capture needs --only zookeeper (expectations come from ZooKeeper 3.8)" >&2
    exit 2
fi

WORK="$COMPAT_WORK/ops-ensemble"
mkdir -p "$WORK"
OUT="$(mktemp)"
RUN_DIRS=()
cleanup() {
    ens_cleanup
    rm -f "$OUT"
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM
SKIPPED=0


# setup DIR KIND: 3 nodes with client, quorum, election, admin (and metrics) ports
setup() {
    local dir="$1" kind="$2" sid i servers=""
    rm -rf "$dir"
    mkdir -p "$dir"
    mapfile -t ports < <(free_ports 15)
    for sid in 1 2 3; do
        i=$(((sid - 1) * 5))
        servers+="server.$sid=127.0.0.1:${ports[$((i + 1))]}:${ports[$((i + 2))]}"$'\n'
    done
    for sid in 1 2 3; do
        local n="$dir/s$sid"
        i=$(((sid - 1) * 5))
        mkdir -p "$n/data"
        echo "$sid" >"$n/myid"
        cp "$n/myid" "$n/data/myid"
        echo "$kind" >"$n/kind"
        echo "${ports[$i]}" >"$n/client_port"
        echo "${ports[$((i + 3))]}" >"$n/admin_port"
        cat >"$n/zoo.cfg" <<CFG
tickTime=500
initLimit=20
syncLimit=10
dataDir=$n/data
clientPort=${ports[$i]}
clientPortAddress=127.0.0.1
maxClientCnxns=0
4lw.commands.whitelist=*
admin.enableServer=true
admin.serverAddress=127.0.0.1
admin.serverPort=${ports[$((i + 3))]}
CFG
        if [ "$kind" = ferrokeeper ]; then
            echo "${ports[$((i + 4))]}" >"$n/metrics_port"
            cat >>"$n/zoo.cfg" <<CFG
metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider
metricsProvider.httpHost=127.0.0.1
metricsProvider.httpPort=${ports[$((i + 4))]}
CFG
        fi
        printf '%s' "$servers" >>"$n/zoo.cfg"
    done
}

# formed DIR TIMEOUT: every node answers srvr with Mode leader|follower, and the leader
# counts two synced followers (its mntr).
formed() {
    local dir="$1" deadline=$((SECONDS + $2)) n m ok modes leader
    while :; do
        ok=1
        modes=""
        leader=""
        for n in "$dir"/s1 "$dir"/s2 "$dir"/s3; do
            m="$(node_mode "$n")"
            modes+=" ${n##*/}=${m:-none}"
            case "$m" in
                leader) leader="$n" ;;
                follower) ;;
                *) ok=0 ;;
            esac
        done
        if [ $ok = 1 ] && [ -n "$leader" ] &&
            four_lw "$(cat "$leader/client_port")" mntr | grep -q '^zk_synced_followers	2$'; then
            echo "formed:$modes"
            return 0
        fi
        [ $SECONDS -ge "$deadline" ] && { echo "not formed after $2 s:$modes"; return 1; }
        sleep 0.5
    done
}

run_target() { # KIND
    local kind="$1" dir="$WORK/$1" sid n leader="" follower="" start=$SECONDS f
    RUN_DIRS+=("$dir")
    setup "$dir" "$kind"
    echo "== $kind ensemble ($dir)"
    # Highest sid first: with equal (empty) histories sid 3 leads.
    for sid in 3 2 1; do
        if ! node_start "$dir/s$sid"; then
            echo "FAIL $kind-ensemble: sid $sid did not start: $(tail -1 "$dir/s$sid/server.log")" | tee -a "$OUT"
            return
        fi
    done
    if ! f="$(formed "$dir" "${ENSEMBLE_FORM_TIMEOUT:-60}")"; then
        echo "FAIL $kind-ensemble: $f" | tee -a "$OUT"
        for sid in 1 2 3; do tail -5 "$dir/s$sid/server.log" | sed "s/^/   s$sid: /"; done
        return
    fi
    echo "   $f after $((SECONDS - start)) s"
    for n in "$dir"/s1 "$dir"/s2 "$dir"/s3; do
        case "$(node_mode "$n")" in
            leader) leader="$n" ;;
            follower) [ -n "$follower" ] || follower="$n" ;;
        esac
    done
    # Writes through the follower (a session, a node, an ephemeral, watches, then the
    # close): proposals, commits and their latencies move on both roles.
    if ! echo | timeout 20 python3 "$HERE/session.py" "127.0.0.1:$(cat "$follower/client_port")" \
            /opsensemble >/dev/null; then
        echo "FAIL $kind-ensemble: writes through the follower ${follower##*/} failed" | tee -a "$OUT"
    fi
    sleep 1
    local role node rc mport
    for role in leader follower; do
        node="$leader"
        [ $role = follower ] && node="$follower"
        mport=""
        [ -f "$node/metrics_port" ] && mport="$(cat "$node/metrics_port")"
        echo "-- $kind $role: ${node##*/}"
        python3 "$HERE/check.py" "${CAPTURE[@]}" --role "$role" --metrics "$mport" \
            "127.0.0.1:$(cat "$node/client_port")" "$(cat "$node/admin_port")" 2>&1 \
            | sed "s/^\(PASS\|FAIL\) /\1 $kind:/" | tee -a "$OUT"
        rc=${PIPESTATUS[0]}
        if [ "$rc" -ne 0 ]; then
            echo "FAIL $kind:${role}_check_py: check.py exited with status $rc" | tee -a "$OUT"
        fi
        if [ -z "$mport" ]; then
            echo "SKIP $kind:${role}_prometheus: no PrometheusMetricsProvider jar for ZooKeeper here"
            SKIPPED=$((SKIPPED + 1))
        fi
    done
    for sid in 1 2 3; do node_stop "$dir/s$sid" 10; done
    echo "TIME $kind $((SECONDS - start)) s"
}

for t in zookeeper ferrokeeper; do
    if [ -z "$ONLY" ] || [ "$ONLY" = "$t" ]; then run_target "$t"; fi
done

PASSED=$(grep -c '^PASS ' "$OUT")
FAILED=$(grep -c '^FAIL ' "$OUT")
if [ -n "${COMPAT_RESULT_FILE:-}" ]; then
    sed -nE 's/^(PASS|FAIL) ([^: ]+:[^: ]+).*/\2 \1/p' "$OUT" | sort >"$COMPAT_RESULT_FILE"
fi
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
