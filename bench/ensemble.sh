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
# and WORK/KIND-failover/sM/server.log).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

mode=full
out="$repo/bench/ENSEMBLE.md"
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) mode=smoke ;;
    --out) out="$2"; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "usage: $0 [--smoke] [--out FILE]" >&2; exit 2 ;;
  esac
  shift
done

FK_SRC=/var/tmp/ferrokeeper-target/release/ferrokeeper
if [ -n "${FERROKEEPER_BIN:-}" ]; then
  FK_BIN="$FERROKEEPER_BIN"
else
  # The lead rebuilds FK_SRC at times: run on a copy made now, so one binary serves the run.
  [ -x "$FK_SRC" ] || { echo "no ferrokeeper binary at $FK_SRC (set FERROKEEPER_BIN)" >&2; exit 1; }
  mkdir -p /var/tmp/fk-bench-bin
  cp "$FK_SRC" "/var/tmp/fk-bench-bin/ferrokeeper.$$"
  mv -f "/var/tmp/fk-bench-bin/ferrokeeper.$$" /var/tmp/fk-bench-bin/ferrokeeper
  FK_BIN=/var/tmp/fk-bench-bin/ferrokeeper
fi
[ -x "$FK_BIN" ] || { echo "no ferrokeeper binary at $FK_BIN" >&2; exit 1; }
fk_stamp="$(date -r "$FK_BIN" '+%F %T') $(sha256sum "$FK_BIN" | cut -c1-12)"
ZK_JAVA_DIR="${ZK_JAVA_DIR:-/usr/share/java}"
ZK_HEAP="${ZK_HEAP:-1000m}"
LOG_LEVEL="${LOG_LEVEL:-info}"
if [ "$mode" = smoke ]; then
  DURATION="${DURATION:-1s}" WARMUP="${WARMUP:-200ms}" RUNS="${RUNS:-1}" TRIALS="${TRIALS:-1}"
else
  DURATION="${DURATION:-5s}" WARMUP="${WARMUP:-2s}" RUNS="${RUNS:-3}" TRIALS="${TRIALS:-5}"
fi
FORM_TIMEOUT="${FORM_TIMEOUT:-120}"
CLK_TCK=$(getconf CLK_TCK)

cp=""
for j in zookeeper zookeeper-jute slf4j-api slf4j-simple netty-buffer netty-common netty-handler \
         netty-transport netty-transport-native-unix-common netty-transport-native-epoll \
         netty-resolver netty-codec commons-cli commons-io metrics-core snappy-java jline; do
  [ -f "$ZK_JAVA_DIR/$j.jar" ] && cp="$cp${cp:+:}$ZK_JAVA_DIR/$j.jar"
done
[ -f "$ZK_JAVA_DIR/zookeeper.jar" ] || { echo "no $ZK_JAVA_DIR/zookeeper.jar (apt-get install zookeeper)" >&2; exit 1; }

work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/fkens.XXXXXX")
results="$work/results.jsonl"
: >"$results"
declare -A npid    # sid -> pid of the running ensemble's servers
declare -A cport   # sid -> client port
kind=""            # the running ensemble's kind
dir=""             # its directory
loadpid=""

cleanup() {
  local s
  [ -n "$loadpid" ] && kill "$loadpid" 2>/dev/null
  for s in 1 2 3; do
    if [ -n "${npid[$s]:-}" ]; then kill -KILL "${npid[$s]}" 2>/dev/null || true; fi
  done
  wait 2>/dev/null || true
  if [ "${KEEP_WORK:-0}" = 1 ] || [ "${failed:-0}" = 1 ]; then
    echo "work directory kept: $work (node logs in */s?/server.log)" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

free_ports() { # N -> N free loopback ports, one per line
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print("\n".join(str(s.getsockname()[1]) for s in socks))
PY
}

four_lw() { # PORT CMD : the answer of a four-letter word (empty on failure)
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf '%s' "$2" >&3
    timeout 3 cat <&3
  ) 2>/dev/null || true
}
node_mode() { four_lw "${cport[$1]}" srvr | sed -n 's/^Mode: //p'; }
alive() { # PID : exists and is not a zombie
  local st
  [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
fsync_stat() { # SID : "COUNT SUM_MS" of the txn log's syncs so far (mntr's zk_cnt/zk_sum_fsynctime)
  four_lw "${cport[$1]}" mntr | awk '$1 == "zk_cnt_fsynctime" { c = $2 } $1 == "zk_sum_fsynctime" { s = $2 }
    END { printf "%s %s", (c == "" ? "-" : c), (s == "" ? "-" : s) }'
}
connect_all() { echo "127.0.0.1:${cport[1]},127.0.0.1:${cport[2]},127.0.0.1:${cport[3]}"; }
load_avg() { cut -d' ' -f1-3 /proc/loadavg; }

setup_ensemble() { # KIND TAG : fresh directory WORK/KIND-TAG, zoo.cfg and myid for sids 1..3
  kind="$1"
  dir="$work/$kind-$2"
  rm -rf "$dir"
  local ports servers="" s
  mapfile -t ports < <(free_ports 9)
  for s in 1 2 3; do
    servers+="server.$s=127.0.0.1:${ports[$((s * 3 - 2))]}:${ports[$((s * 3 - 1))]}"$'\n'
    cport[$s]=${ports[$((s * 3 - 3))]}
  done
  for s in 1 2 3; do
    mkdir -p "$dir/s$s/data"
    echo "$s" >"$dir/s$s/data/myid"
    cat >"$dir/s$s/zoo.cfg" <<EOF
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$dir/s$s/data
clientPort=${cport[$s]}
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=*
${servers}
EOF
  done
}

start_node() { # SID : start one server of the current ensemble in the background
  local s="$1" n="$dir/s$1"
  printf '==== start %s %s\n' "$kind" "$(date '+%F %T.%N')" >>"$n/server.log"
  if [ "$kind" = zookeeper ]; then
    java "-Xmx$ZK_HEAP" -XX:+UseG1GC -cp "$cp" -Dorg.slf4j.simpleLogger.defaultLogLevel="$LOG_LEVEL" \
      -Dorg.slf4j.simpleLogger.showDateTime=true \
      org.apache.zookeeper.server.quorum.QuorumPeerMain "$n/zoo.cfg" >>"$n/server.log" 2>&1 &
  else
    "$FK_BIN" server "$n/zoo.cfg" --log-level "$LOG_LEVEL" >>"$n/server.log" 2>&1 &
  fi
  npid[$s]=$!
}

wait_formed() { # until every node answers srvr as leader or follower; prints the modes
  local deadline=$((SECONDS + FORM_TIMEOUT)) s m ok modes
  while :; do
    ok=1 modes=""
    for s in 1 2 3; do
      m=$(node_mode "$s")
      modes+=" s$s=${m:-none}"
      case "$m" in leader|follower) ;; *) ok=0 ;; esac
      alive "${npid[$s]:-}" || { modes+="(dead)"; ok=0; }
    done
    if [ $ok = 1 ]; then echo "$modes"; return 0; fi
    if [ $SECONDS -ge $deadline ]; then
      echo "$kind: not formed after ${FORM_TIMEOUT}s:$modes" >&2
      for s in 1 2 3; do echo "--- s$s server.log (last 15 lines)" >&2; tail -15 "$dir/s$s/server.log" >&2; done
      return 1
    fi
    sleep 0.2
  done
}

leader_sid() { # the sid whose srvr says leader (empty if none)
  local s
  for s in 1 2 3; do [ "$(node_mode "$s")" = leader ] && { echo "$s"; return; }; done
}

start_ensemble() { # KIND TAG : a fresh ensemble, formed and serving; sets formed_ms
  setup_ensemble "$1" "$2"
  local t0 s modes
  t0=$(date +%s%N)
  # Highest sid first, so sid 3 is up when the others vote and leads (as run.sh does).
  for s in 3 2 1; do start_node "$s"; done
  modes=$(wait_formed) || { failed=1; exit 1; }
  "$FK_BIN" bench --connect "$(connect_all)" -w ready -d 120s --json >/dev/null \
    || { echo "$kind: ensemble formed but does not serve" >&2; failed=1; exit 1; }
  formed_ms=$((($(date +%s%N) - t0) / 1000000))
  echo "$kind ensemble up in ${formed_ms} ms:$modes (load $(load_avg))"
}

stop_ensemble() {
  local s i
  for s in 1 2 3; do [ -n "${npid[$s]:-}" ] && kill -TERM "${npid[$s]}" 2>/dev/null; done
  for s in 1 2 3; do
    [ -n "${npid[$s]:-}" ] || continue
    for i in $(seq 1 300); do alive "${npid[$s]}" || break; sleep 0.1; done
    kill -KILL "${npid[$s]}" 2>/dev/null || true
    wait "${npid[$s]}" 2>/dev/null || true
    npid[$s]=""
  done
  # The data (ZooKeeper preallocates 64 MB logs) goes; the logs stay with the work directory.
  [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$dir"/s?/data
}

settle() { # waits (at most 15 s) until the servers are idle: no leftover work in the next run
  local s t0 t1 busy
  for _ in $(seq 1 20); do
    busy=0
    for s in 1 2 3; do
      t0=$(cpu_ticks "${npid[$s]}"); sleep 0.25; t1=$(cpu_ticks "${npid[$s]}")
      [ $((t1 - t0)) -gt 2 ] && busy=1
    done
    [ "$busy" = 0 ] && return
  done
}

# One workload against the running ensemble: an unmeasured warm-up invocation, then the
# measured one, its JSON line completed with the three servers' CPU and tagged with the run.
bench() { # ARGS...
  local conn leader s t0 t1 w0 line tick_sum=0 lead
  conn=$(connect_all)
  leader=$(leader_sid)
  lead="${npid[${leader:-1}]}"
  "$FK_BIN" bench --connect "$conn" --label "$kind" --json --no-progress -d "$WARMUP" --warmup 0s \
    --value-size 100 "$@" >/dev/null || echo "warning: $kind warm-up of $* failed" >&2
  declare -A before fs0
  for s in 1 2 3; do fs0[$s]=$(fsync_stat "$s"); done
  for s in 1 2 3; do before[$s]=$(cpu_ticks "${npid[$s]}"); done
  w0=$(date +%s%N)
  line=$("$FK_BIN" bench --connect "$conn" --label "$kind" --json --no-progress -d "$DURATION" --warmup 0s \
    --value-size 100 --server-pid "$lead" "$@") || true
  t1=$(date +%s%N)
  for s in 1 2 3; do tick_sum=$((tick_sum + $(cpu_ticks "${npid[$s]}") - ${before[$s]})); done
  local fs=""
  for s in 1 2 3; do fs+="${fs0[$s]} $(fsync_stat "$s");"; done
  if [ -z "$line" ]; then
    line="{\"workload\":\"$1\",\"server\":\"$kind\",\"ops\":0,\"errors\":1,\"first_error\":\"bench printed nothing\"}"
  fi
  python3 - "$line" "$tick_sum" "$CLK_TCK" "$(((t1 - w0) / 1000000))" "$run" "$leader" "$*" "$fs" <<'PY' | tee -a "$results"
import json, sys
r = json.loads(sys.argv[1])
# Per node: txn log syncs and the ms they took over the invocation (mntr's fsynctime summary).
fsyncs, fsync_ms = [], []
for node in sys.argv[8].split(";")[:3]:
    c0, s0, c1, s1 = (node.split() + ["", "", "", ""])[:4]
    ok = all(x.isdigit() for x in (c0, s0, c1, s1))
    fsyncs.append(int(c1) - int(c0) if ok else None)
    fsync_ms.append(int(s1) - int(s0) if ok else None)
ticks, hz, ms, run, leader, spec = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7]
cpu = ticks / hz
r2 = {"run": run, "spec": spec, "ensemble": 3}
r2.update(r)
# The bench's server_* fields are the leader's alone (--server-pid), over the measured window.
for k in ("server_cpu_s", "server_cpu_us_per_op"):
    if k in r2:
        r2["leader_" + k[len("server_"):]] = r2.pop(k)
r2["leader_sid"] = int(leader) if leader else None
r2["servers_cpu_s"] = round(cpu, 3)
r2["invocation_ms"] = ms
r2["servers_cpu_us_per_op"] = round(cpu * 1e6 / r["ops"], 3) if r.get("ops") else None
r2["fsyncs"], r2["fsync_ms"] = fsyncs, fsync_ms
print(json.dumps(r2, separators=(",", ":")))
PY
}

workloads=(
  "create -s 32 -o 8"
  "set -s 32 -o 8"
  "get -s 32 -o 8"
  "mixed -s 32 -o 8 --read-pct 80"
)

failed=0
echo "== $mode ensemble comparison in $work; ferrokeeper $FK_BIN ($fk_stamp); load $(load_avg)"
t_start=$SECONDS
printf '{"workload":"meta","phase":"start","load":"%s","ferrokeeper_bin":"%s","ferrokeeper_stamp":"%s","nproc":%s}\n' \
  "$(load_avg)" "$FK_BIN" "$fk_stamp" "$(nproc)" >>"$results"

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
        l=$(leader_sid)
        printf '{"workload":"rss","server":"%s","run":%s,"errors":0,"rss_kb":[%s,%s,%s],"leader_sid":%s}\n' \
          "$k" "$run" "$(rss_kb "${npid[1]}")" "$(rss_kb "${npid[2]}")" "$(rss_kb "${npid[3]}")" \
          "${l:-null}" | tee -a "$results"
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
printf '{"workload":"meta","phase":"end","load":"%s","secs":%s}\n' "$(load_avg)" "$((SECONDS - t_start))" >>"$results"

# A run with errors, or one that measured nothing, fails the comparison (and its target).
if grep -v '"workload":"election"' "$results" | grep -q '"errors":[1-9]'; then failed=1; fi
if grep -q '"ops":0,' "$results"; then echo "FAIL: a run measured no successful op" >&2; failed=1; fi
flag=""
[ "$mode" = smoke ] && flag=" --smoke"
cmd="bench/ensemble.sh$flag (DURATION=$DURATION WARMUP=$WARMUP RUNS=$RUNS TRIALS=$TRIALS ZK_HEAP=$ZK_HEAP)"
if [ "$mode" = smoke ]; then
  python3 "$repo/bench/ensemble_report.py" --smoke "$results" "$cmd" >"$work/ENSEMBLE.md" || failed=1
  n=$(grep -vc '"workload":"meta"\|"workload":"formed"' "$results")
  if [ "$failed" = 0 ]; then
    echo "ensemble-bench-smoke: $n passed, 0 failed ($((SECONDS - t_start)) s)"
  else
    echo "ensemble-bench-smoke: FAILED (see errors above)"; exit 1
  fi
else
  python3 "$repo/bench/ensemble_report.py" "$results" "$cmd" >"$out"
  cp -p "$results" "${out%.md}.jsonl"
  cat "$out"
  [ "$failed" = 0 ] || { echo "some workloads failed" >&2; exit 1; }
fi
