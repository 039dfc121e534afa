#!/usr/bin/env bash
# Ferrokeeper vs Apache ZooKeeper 3.8 (Debian's), side by side in one run, with `ferrokeeper bench`.
#
#   bench/compare.sh            full comparison; writes bench/RESULTS.md (or --out FILE)
#   bench/compare.sh --smoke    every workload briefly against both; fails on any error
#
# A full comparison runs every workload RUNS (3) times against each server, each run at least
# DURATION (5 s) long or, for the count-bound workloads (delete, session), 10000 ops; the
# report takes the median of the runs, and a target whose runs had errors or no successful op
# is not met (bench/report.py; its rules are unit-tested by bench/test_report.py, which the
# smoke run runs).
# Both servers are standalone, on the same disk (a directory under $BENCH_DIR, /var/tmp by
# default), fsync on (both default to forceSync=yes), maxClientCnxns=0, admin server off.
# Each workload runs against one server and then the other, the order alternating.
# Environment: FERROKEEPER_BIN, ZK_PORT, FK_PORT, ZK_HEAP (default 1000m, zkEnv.sh's default),
# DURATION, WARMUP, ZNODES, RUNS (full run: 5s, 2s, 1000000, 3), LAYOUTS (full run: "shared pinned").
# watch-java is watch fan-out through the official Java client: bench/WatchFanOut.java, compiled
# with javac at run time against the jars in ZK_JAVA_DIR, 1000 sessions in one JVM.
#
# Layouts: "shared" lets the servers and the bench client share every core, as they do on
# this machine by default; "pinned" puts the server on CPU 0 and the client on CPU 1
# (taskset), as if the client ran on a machine of its own. The client takes as much CPU per
# operation as a fast server does, so on two shared cores a throughput ratio is as much the
# client's share as the server's speed; each bench line also reports both processes' CPU
# time per operation over its measured window.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

mode=full
out="$repo/bench/RESULTS.md"
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) mode=smoke ;;
    --out) out="$2"; shift ;;
    *) echo "usage: $0 [--smoke] [--out FILE]" >&2; exit 2 ;;
  esac
  shift
done

FK_BIN="${FERROKEEPER_BIN:-/var/tmp/ferrokeeper-target/release/ferrokeeper}"
ZK_JAVA_DIR="${ZK_JAVA_DIR:-/usr/share/java}"
ZK_HEAP="${ZK_HEAP:-1000m}"
ZK_PORT="${ZK_PORT:-23581}"
FK_PORT="${FK_PORT:-23582}"
if [ "$mode" = smoke ]; then
  DURATION="${DURATION:-1s}" WARMUP="${WARMUP:-200ms}" ZNODES="${ZNODES:-5000}" RUNS="${RUNS:-1}"
  WATCHERS=50 SESSIONS_N=50 CHILDREN=100 LAYOUTS="${LAYOUTS:-shared}"
  JAVA_WATCHERS=100 JAVA_ROUNDS=3 JAVA_SECS=0 JAVA_WARM=1
else
  DURATION="${DURATION:-5s}" WARMUP="${WARMUP:-2s}" ZNODES="${ZNODES:-1000000}" RUNS="${RUNS:-3}"
  WATCHERS=1000 SESSIONS_N=10000 CHILDREN=1000 LAYOUTS="${LAYOUTS:-shared pinned}"
  JAVA_WATCHERS=1000 JAVA_ROUNDS=5 JAVA_SECS="${DURATION%s}" JAVA_WARM=5
fi
if [ "$(nproc)" -lt 2 ]; then LAYOUTS=shared; fi
layout=shared
# The command prefix that puts a server or the client on its CPU in the pinned layout
# (taskset execs the command, so a server started in the background keeps its $! pid).
pin() { # server|client
  if [ "$layout" != pinned ]; then return; fi
  if [ "$1" = server ]; then echo "taskset -c 0"; else echo "taskset -c 1"; fi
}

[ -x "$FK_BIN" ] || { echo "no ferrokeeper binary at $FK_BIN (set FERROKEEPER_BIN)" >&2; exit 1; }
cp=""
for j in zookeeper zookeeper-jute slf4j-api slf4j-simple netty-buffer netty-common netty-handler \
         netty-transport netty-transport-native-unix-common netty-transport-native-epoll \
         netty-resolver netty-codec commons-cli commons-io metrics-core snappy-java; do
  [ -f "$ZK_JAVA_DIR/$j.jar" ] && cp="$cp${cp:+:}$ZK_JAVA_DIR/$j.jar"
done
[ -f "$ZK_JAVA_DIR/zookeeper.jar" ] || { echo "no $ZK_JAVA_DIR/zookeeper.jar (apt-get install zookeeper)" >&2; exit 1; }

work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/fkbench.XXXXXX")
results="$work/results.jsonl"
: >"$results"
declare -A pid port
port[zookeeper]=$ZK_PORT
port[ferrokeeper]=$FK_PORT

cleanup() {
  for k in zookeeper ferrokeeper; do
    if [ -n "${pid[$k]:-}" ]; then kill "${pid[$k]}" 2>/dev/null || true; fi
  done
  wait 2>/dev/null || true
  [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for k in zookeeper ferrokeeper; do
  port_free "${port[$k]}" || { echo "port ${port[$k]} is busy (set ZK_PORT/FK_PORT)" >&2; exit 1; }
done

tag() { sed "s/^{/{\"layout\":\"$layout\",\"run\":$run,/" | tee -a "$results"; }

bench() { # KIND ARGS... : one bench run, JSON lines (tagged with the layout and run) appended to results
  local k="$1"; shift
  $(pin client) "$FK_BIN" bench --connect "127.0.0.1:${port[$k]}" --label "$k" --json --no-progress \
    --server-pid "${pid[$k]}" "$@" | tag
}

java_classes="$work/java-classes"
mkdir -p "$java_classes"
javac -nowarn -J-Xmx256m -d "$java_classes" -cp "$cp" "$repo/bench/WatchFanOut.java" \
  || { echo "cannot compile bench/WatchFanOut.java" >&2; exit 1; }

watch_java() { # KIND : watch fan-out through the Java client, one JVM of JAVA_WATCHERS sessions
  local k="$1" rc=0
  # JAVA_WARM unmeasured rounds (the JIT's C2 threads still took a third of the JVM's CPU
  # samples four rounds in), then at least JAVA_ROUNDS rounds and JAVA_SECS seconds.
  $(pin client) java -Xmx512m -cp "$java_classes:$cp" -Dorg.slf4j.simpleLogger.defaultLogLevel=error \
    WatchFanOut "127.0.0.1:${port[$k]}" "$k" "$JAVA_WATCHERS" "$JAVA_ROUNDS" "$JAVA_SECS" "$JAVA_WARM" "${pid[$k]}" \
    | tag || rc=1
  # The JVM leaves its sessions to expire (6 s; WatchFanOut.java says why): wait them out, so
  # their expiry lands in no other measurement.
  sleep 9
  return $rc
}

start() { # KIND [fresh] : start a server, wait until it serves; sets started_ms
  local k="$1" dir="$work/$1"
  if [ "${2:-}" = fresh ]; then rm -rf "$dir"; fi
  mkdir -p "$dir/data"
  cat >"$dir/zoo.cfg" <<EOF
tickTime=2000
dataDir=$dir/data
clientPort=${port[$k]}
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=*
EOF
  local t0
  t0=$(date +%s%N)
  if [ "$k" = zookeeper ]; then
    # G1, the JVM's choice on this machine: pinned to one CPU it would pick the serial GC.
    $(pin server) java "-Xmx$ZK_HEAP" -XX:+UseG1GC -cp "$cp" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
      org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg" >>"$dir/server.log" 2>&1 &
  else
    $(pin server) "$FK_BIN" server "$dir/zoo.cfg" --log-level warn >>"$dir/server.log" 2>&1 &
  fi
  pid[$k]=$!
  if ! "$FK_BIN" bench --connect "127.0.0.1:${port[$k]}" -w ready -d 600s --json >/dev/null; then
    echo "$k did not start; log:" >&2; tail -20 "$dir/server.log" >&2; exit 1
  fi
  started_ms=$((($(date +%s%N) - t0) / 1000000))
}

stop() { # KIND
  local k="$1"
  kill -TERM "${pid[$k]}" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "${pid[$k]}" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "${pid[$k]}" 2>/dev/null || true
  wait "${pid[$k]}" 2>/dev/null || true
  pid[$k]=""
}

cpu_ticks() { # PID: user + system clock ticks so far (0 when gone)
  awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

settle() { # waits (at most 15 s) until both servers are idle, so neither's leftover work
  # (closing sessions, a snapshot, the JVM's collector) lands in the other's measurement
  local k t0 t1 busy
  for _ in $(seq 1 30); do
    busy=0
    for k in zookeeper ferrokeeper; do
      [ -n "${pid[$k]:-}" ] || continue
      t0=$(cpu_ticks "${pid[$k]}"); sleep 0.25; t1=$(cpu_ticks "${pid[$k]}")
      # More than 2 ticks (20 ms) in 250 ms: still working.
      [ $((t1 - t0)) -gt 2 ] && busy=1
    done
    [ "$busy" = 0 ] && return
  done
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/${pid[$1]}/status"; }

std=(-d "$DURATION" --warmup "$WARMUP" --value-size 100)
workloads=(
  "create -s 32 -o 8"
  "set -s 32 -o 8"
  "get -s 32 -o 8"
  "get -s 8 -o 1"
  "exists -s 32 -o 8"
  "delete -s 32 -o 8"
  "children -s 32 -o 8 --children $CHILDREN"
  "mixed -s 32 -o 8 --read-pct 80"
  "multi -s 32 -o 8 --multi-ops 10"
  "session -s 32 -n $SESSIONS_N"
  "watch --watchers $WATCHERS"
  "watch-java"
)

echo "== $mode comparison in $work"
failed=0
for layout in $LAYOUTS; do
  echo "== layout: $layout"
  for k in zookeeper ferrokeeper; do start "$k" fresh; echo "$k up in ${started_ms} ms"; done
  i=0
  for spec in "${workloads[@]}"; do
    read -r -a a <<<"$spec"
    for run in $(seq 1 "$RUNS"); do
      order=(zookeeper ferrokeeper)
      [ $(((i + run) % 2)) = 0 ] && order=(ferrokeeper zookeeper)
      for k in "${order[@]}"; do
        [ "$mode" = smoke ] || settle
        if [ "${a[0]}" = watch-java ]; then
          watch_java "$k" || { echo "FAIL: $k watch-java" >&2; failed=1; }
        else
          bench "$k" -w "${a[@]}" "${std[@]}" || { echo "FAIL: $k ${a[*]}" >&2; failed=1; }
        fi
      done
    done
    i=$((i + 1))
  done
  for k in zookeeper ferrokeeper; do stop "$k"; done
done

# Memory and restart: fresh servers, one loaded at a time, on shared cores, RUNS times.
layout=shared
for run in $(seq 1 "$RUNS"); do
  for k in zookeeper ferrokeeper; do
    errors=0
    start "$k" fresh
    sleep 1
    base_rss=$(rss_kb "$k")
    bench "$k" -w load --znodes "$ZNODES" -s 32 -o 8 --value-size 100 || { echo "FAIL: $k load" >&2; errors=1; }
    sleep 2
    load_rss=$(rss_kb "$k")
    stop "$k"
    # The data directory as the stopped server left it (txn log, snapshots, RocksDB files).
    disk_kb=$(du -sk "$work/$k/data" | cut -f1)
    start "$k"
    restart_ms=$started_ms
    "$FK_BIN" bench --connect "127.0.0.1:${port[$k]}" -w get -s 1 -o 1 -n 1 --warmup 0s --json >/dev/null \
      || { echo "FAIL: $k after restart" >&2; errors=$((errors + 1)); }
    stop "$k"
    echo "$k: RSS $base_rss kB empty, $load_rss kB with $ZNODES znodes; data dir $disk_kb kB; restart $restart_ms ms"
    printf '{"workload":"memory","server":"%s","run":%s,"errors":%s,"znodes":%s,"rss_empty_kb":%s,"rss_kb":%s,"restart_ms":%s,"data_dir_kb":%s}\n' \
      "$k" "$run" "$errors" "$ZNODES" "$base_rss" "$load_rss" "$restart_ms" "$disk_kb" >>"$results"
  done
done

# A run with errors, or one that measured nothing, fails the comparison (and its target).
if grep -q '"errors":[1-9]' "$results"; then failed=1; fi
if grep -q '"ops":0,' "$results"; then echo "FAIL: a run measured no successful op" >&2; failed=1; fi
flag=""
[ "$mode" = smoke ] && flag=" --smoke"
cmd="bench/compare.sh$flag (DURATION=$DURATION WARMUP=$WARMUP ZNODES=$ZNODES RUNS=$RUNS ZK_HEAP=$ZK_HEAP LAYOUTS=\"$LAYOUTS\")"
if [ "$mode" = smoke ]; then
  # The report's medians and verdicts, unit-tested, then the report made from this run.
  python3 "$repo/bench/test_report.py" || failed=1
  python3 "$repo/bench/report.py" --smoke "$results" "$cmd" >/dev/null || failed=1
  n=$(wc -l <"$results")
  if [ "$failed" = 0 ]; then
    echo "bench-smoke: $n passed, 0 failed"
  else
    echo "bench-smoke: FAILED (see errors above)"; exit 1
  fi
else
  python3 "$repo/bench/report.py" "$results" "$cmd" >"$out"
  cp "$results" "${out%.md}.jsonl"
  cat "$out"
  [ "$failed" = 0 ] || { echo "some workloads failed" >&2; exit 1; }
fi
