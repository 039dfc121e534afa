#!/usr/bin/env bash
# A 3-node Ferrokeeper ensemble vs a 3-node Apache ZooKeeper 3.8 ensemble (Debian's jars), side
# by side in one run, with `ferrokeeper bench` (issue 12, acceptance point 4).
#
#   bench/ensemble.sh            full comparison; writes bench/ENSEMBLE.md and bench/ENSEMBLE.jsonl
#   bench/ensemble.sh --smoke    every workload and one failover briefly against both; fails on any error
#   bench/ensemble.sh --out FILE the report elsewhere (FILE.jsonl beside it)
#
# Each ensemble is three servers on loopback (server.N lines, myid, clientPortAddress=127.0.0.1),
# each with its own data directory under $BENCH_DIR (/var/tmp) on the same disk, fsync on (both
# default to forceSync=yes), tickTime=2000 initLimit=10 syncLimit=5 (ZooKeeper's sample
# config), maxClientCnxns=0, admin server off. ZooKeeper runs QuorumPeerMain on G1 with
# -Xmx$ZK_HEAP (1000m, zkEnv.sh's default).
#
# Throughput: RUNS (3) times, one ensemble at a time, the order alternating: start a fresh
# ensemble, wait until it has formed (srvr: one leader, two followers) and serves, run every
# workload, record each server's RSS after the write workloads, stop it; then the other. The
# bench client connects to all three (`--connect a,b,c`; the client picks a shuffled server
# per session, so its sessions spread over the nodes; followers forward writes to the leader).
# Each workload runs WARMUP unmeasured (a bench invocation of its own) and then DURATION (5 s)
# measured. CPU per operation: the bench client's over the measured window (getrusage, from
# the bench's JSON), the three servers' summed over the whole measured invocation (from
# /proc/PID/stat before and after it; that also counts the invocation's 32 session connects,
# its setup and its closes, well under 1% of a 5 s run), and the leader's alone over the window
# (the bench's --server-pid). Between runs the script waits until all servers are idle.
#
# Failover: TRIALS (5) times per ensemble, on a fresh ensemble of its own (so both hold the same
# small data set): a light write load (`bench -w set -s 2 -o 1`, all three nodes), then
# bench/election_probe.py kills the leader with SIGKILL and times until the first write
# succeeds on a survivor (a fresh session and a create, attempts alternating over the two
# survivors, 5 ms apart; its resolution is reported per trial); then the killed node is
# restarted and the script waits until the ensemble has formed again.
#
# A run with errors, or that measured nothing, fails its target and the script. The report
# (bench/ensemble_report.py) gives medians of the runs with their range, ratios, goals
# (writes >= 3x ZooKeeper's, failover no slower than ZooKeeper's) and the load average.
#
# Environment: FERROKEEPER_BIN (used as is; default: a copy of
# /var/tmp/ferrokeeper-target/release/ferrokeeper made at the start in /var/tmp/fk-bench-bin/),
# ZK_JAVA_DIR, ZK_HEAP, DURATION, WARMUP, RUNS, TRIALS (full: 5s, 2s, 3, 5; smoke: 1s, 200ms,
# 1, 1), BENCH_DIR, LOG_LEVEL (both servers' log level, default info), KEEP_WORK=1 (keep the
# work directory, also kept when something failed: node logs in WORK/KIND-runN/sM/server.log
# and WORK/KIND-failover/sM/server.log). The ensemble machinery is bench/ensemble_lib.sh (shared
# with bench/observers.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

# shellcheck source=bench/ensemble_lib.sh
source "$repo/bench/ensemble_lib.sh"
bench_args "$repo/bench/ENSEMBLE.md" "$@"
if [ "$mode" = smoke ]; then
  DURATION="${DURATION:-1s}" WARMUP="${WARMUP:-200ms}" RUNS="${RUNS:-1}" TRIALS="${TRIALS:-1}"
else
  DURATION="${DURATION:-5s}" WARMUP="${WARMUP:-2s}" RUNS="${RUNS:-3}" TRIALS="${TRIALS:-5}"
fi
bench_init fkens

workloads=(
  "create -s 32 -o 8"
  "set -s 32 -o 8"
  "get -s 32 -o 8"
  "mixed -s 32 -o 8 --read-pct 80"
)

bench_start ensemble

for run in $(seq 1 "$RUNS"); do
  order=(zookeeper ferrokeeper)
  [ $((run % 2)) = 0 ] && order=(ferrokeeper zookeeper)
  for k in "${order[@]}"; do
    echo "== run $run: $k"
    start_ensemble "$k" "run$run"
    printf '{"workload":"formed","server":"%s","run":%s,"formed_ms":%s,"load":"%s"}\n' \
      "$k" "$run" "$formed_ms" "$(load_avg)" >>"$results"
    for spec in "${workloads[@]}"; do
      read -r -a a <<<"$spec"
      [ "$mode" = smoke ] || settle
      bench -w "${a[@]}" || { echo "FAIL: $k ${a[*]}" >&2; failed=1; }
      if [ "${a[0]}" = set ]; then
        # RSS of each server after the write workloads (create, then set).
        rss_record
      fi
    done
    stop_ensemble
  done
done

# Failover: a fresh ensemble per kind, TRIALS kills of the leader under a light write load.
probe="$repo/bench/election_probe.py"
for k in zookeeper ferrokeeper; do
  echo "== failover: $k"
  start_ensemble "$k" failover
  for trial in $(seq 1 "$TRIALS"); do
    "$FK_BIN" bench --connect "$(connect_all)" --label "$k-load" --json --no-progress -w set -s 2 -o 1 \
      -d 600s --warmup 0s >"$dir/load-$trial.json" 2>&1 &
    loadpid=$!
    sleep 2
    l=$(leader_sid)
    if [ -z "$l" ]; then
      echo "FAIL: $k failover trial $trial: no leader" >&2; failed=1
    else
      survivors=""
      for s in 1 2 3; do [ "$s" = "$l" ] || survivors+="${survivors:+,}127.0.0.1:${cport[$s]}"; done
      load0=$(load_avg)
      res=$(python3 "$probe" --kill "${npid[$l]}" --servers "$survivors" --timeout 60 --label "$k") || true
      [ -n "$res" ] || res='{"errors":1,"last_error":"the probe printed nothing"}'
      wait "${npid[$l]}" 2>/dev/null || true
      # Who leads now (after the first write, the new leader is established).
      nl=$(leader_sid)
      kill "$loadpid" 2>/dev/null || true; wait "$loadpid" 2>/dev/null || true; loadpid=""
      echo "$res" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
out = {"workload": "election", "server": sys.argv[1], "run": int(sys.argv[2]), "killed_sid": int(sys.argv[3]),
       "new_leader_sid": int(sys.argv[4]) if sys.argv[4] else None, "load": sys.argv[5]}
out.update({k: v for k, v in r.items() if k != "label"})
print(json.dumps(out, separators=(",", ":")))' "$k" "$trial" "$l" "$nl" "$load0" | tee -a "$results"
      echo "$res" | grep -q '"errors": 0' || { echo "FAIL: $k failover trial $trial" >&2; failed=1; }
      # Bring the killed node back and wait until the ensemble has formed again.
      start_node "$l"
      wait_formed >/dev/null || { failed=1; break; }
      sleep 2
    fi
  done
  stop_ensemble
done

flag=""
[ "$mode" = smoke ] && flag=" --smoke"
finish "$repo/bench/ensemble_report.py" ensemble-bench "$out" \
  "bench/ensemble.sh$flag (DURATION=$DURATION WARMUP=$WARMUP RUNS=$RUNS TRIALS=$TRIALS ZK_HEAP=$ZK_HEAP)"
