#!/usr/bin/env bash
# Observer read scaling: 3 participants vs 3 participants + 2 observers, on Apache ZooKeeper 3.8
# (Debian's jars) and on Ferrokeeper, side by side in one run, with `ferrokeeper bench`
# (issue 15, acceptance point 4).
#
#   bench/observers.sh            full comparison; writes bench/OBSERVERS.md and bench/OBSERVERS.jsonl
#   bench/observers.sh --smoke    both servers, both topologies, every workload 1 s; fails on any error
#   bench/observers.sh --out FILE the report elsewhere (FILE.jsonl beside it)
#
# Topologies, on loopback, configured as bench/ensemble.sh's ensembles (bench/ensemble_lib.sh:
# one data directory per node on the same disk, fsync on, tickTime=2000 initLimit=10
# syncLimit=5, ZooKeeper's QuorumPeerMain on G1 with -Xmx$ZK_HEAP):
#   "3"    server.1-3, participants;
#   "3+2"  the same and server.4, server.5 as observers: `:observer` on their server lines in
#          every node's zoo.cfg, `peerType=observer` in the observers' own.
#
# RUNS (5) times, one ensemble at a time, in the order ZooKeeper 3, Ferrokeeper 3, ZooKeeper 3+2,
# Ferrokeeper 3+2, reversed every other run: start a fresh ensemble, wait until it has formed
# (srvr Mode: one leader, followers, observers; the leader's mntr counts 2 synced followers and
# the observers as synced observers) and serves, run every workload, record each
# server's RSS, stop it. The bench client connects to every server of the topology
# (`--connect`, a shuffled server per session, so its 32 sessions spread over 3 or 5 nodes):
# get (each session reads its own znode; reads are served by the node the session is on) and
# mixed (80% get, 20% set; writes are forwarded to the leader and reach the observers as
# INFORM). Each workload runs WARMUP unmeasured and then DURATION (5 s) measured, after the
# servers have gone idle. CPU per operation: all servers' summed (/proc/PID/stat over the
# measured invocation), the leader's and the client's over the window (from the bench's JSON);
# each node's received packets (mntr's zk_packets_received) show where the requests went.
#
# This machine's cores are shared by every server and the bench client: observers add no CPU,
# only processes. The report says so; see bench/OBSERVERS-NOTES.md for what the figures show.
#
# Environment: FERROKEEPER_BIN, ZK_JAVA_DIR, ZK_HEAP, BENCH_DIR, LOG_LEVEL, KEEP_WORK=1 (as in
# bench/ensemble.sh: node logs in WORK/KIND-TOPO-runN/sM/server.log), DURATION, WARMUP, RUNS
# (full: 5s, 2s, 5; smoke: 1s, 200ms, 1).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

# shellcheck source=bench/ensemble_lib.sh
source "$repo/bench/ensemble_lib.sh"
bench_args "$repo/bench/OBSERVERS.md" "$@"
if [ "$mode" = smoke ]; then
  DURATION="${DURATION:-1s}" WARMUP="${WARMUP:-200ms}" RUNS="${RUNS:-1}"
else
  DURATION="${DURATION:-5s}" WARMUP="${WARMUP:-2s}" RUNS="${RUNS:-5}"
fi
bench_init fkobs

workloads=(
  "get -s 32 -o 8"
  "mixed -s 32 -o 8 --read-pct 80"
)
# (kind observers) in the order of odd runs; even runs take it backwards.
ensembles=("zookeeper 0" "ferrokeeper 0" "zookeeper 2" "ferrokeeper 2")

bench_start observer

for run in $(seq 1 "$RUNS"); do
  order=("${ensembles[@]}")
  [ $((run % 2)) = 0 ] && order=("${ensembles[3]}" "${ensembles[2]}" "${ensembles[1]}" "${ensembles[0]}")
  for e in "${order[@]}"; do
    read -r k o <<<"$e"
    topo=3
    [ "$o" = 0 ] || topo="3+$o"
    echo "== run $run: $k $topo"
    start_ensemble "$k" "$topo-run$run" "$o"
    # The leader must count two voters and the observers as such (mntr zk_synced_followers,
    # zk_synced_observers), not the observers as followers; polled, as it follows the syncs.
    synced=""
    for _ in $(seq 1 50); do
      l=$(leader_sid)
      [ -n "$l" ] && synced=$(four_lw "${cport[$l]}" mntr \
        | awk '$1 == "zk_synced_followers" { f = $2 } $1 == "zk_synced_observers" { o = $2 } END { print (f == "" ? "null" : f) "," (o == "" ? "null" : o) }')
      [ "$synced" = "2,$o" ] && break
      sleep 0.2
    done
    [ "$synced" = "2,$o" ] || { echo "FAIL: $k $topo: the leader's synced followers,observers: ${synced:-none}" >&2; failed=1; }
    printf '{"workload":"formed","server":"%s","observers":%s,"run":%s,"formed_ms":%s,"load":"%s","synced":[%s]}\n' \
      "$k" "$o" "$run" "$formed_ms" "$(load_avg)" "${synced:-null,null}" >>"$results"
    for spec in "${workloads[@]}"; do
      read -r -a a <<<"$spec"
      [ "$mode" = smoke ] || settle
      bench -w "${a[@]}" || { echo "FAIL: $k $topo ${a[*]}" >&2; failed=1; }
      # With observers, some of the 32 sessions must have been theirs (all 32 on the three
      # participants: 0.6^32), else this measured no observer.
      if [ "$o" != 0 ] && ! tail -1 "$results" | python3 -c '
import json, sys
p, n = json.loads(sys.stdin.read()).get("packets") or [], int(sys.argv[1])
sys.exit(0 if len(p) == 3 + n and None not in p and sum(p[-n:]) > 0 else 1)' "$o"; then
        echo "FAIL: $k $topo ${a[*]}: the observers received no request" >&2; failed=1
      fi
    done
    rss_record "\"observers\":$o"
    stop_ensemble
  done
done

flag=""
[ "$mode" = smoke ] && flag=" --smoke"
finish "$repo/bench/observers_report.py" observer-bench "$out" \
  "bench/observers.sh$flag (DURATION=$DURATION WARMUP=$WARMUP RUNS=$RUNS ZK_HEAP=$ZK_HEAP)"
