# shellcheck shell=bash
# bench/ensemble_lib.sh - what bench/ensemble.sh and bench/observers.sh share: the binaries,
# one ensemble on loopback at a time (participants, optionally observers), its readiness,
# measured `ferrokeeper bench` invocations with the servers' CPU from /proc, cleanup.
#
#   source bench/ensemble_lib.sh   # with repo (the checkout) set
#   bench_args DEFAULT_OUT "$@"    # --smoke, --out FILE, --help (the script's header); sets mode, out
#   bench_init PREFIX              # binaries; work directory $BENCH_DIR/PREFIX.XXXXXX, results.jsonl, traps
#   bench_start WHAT               # the run's start (time, load, binary) in results
#   start_ensemble KIND TAG [OBS]  # KIND zookeeper|ferrokeeper; 3 participants (sids 1-3) and OBS
#                                  # observers (sids 4..); returns once every node is serving
#   bench ARGS...                  # one workload: warm-up, then measured; a JSON line to results
#   rss_record [EXTRA_JSON]        # every server's RSS now, a JSON line to results
#   stop_ensemble
#   finish REPORT_PY NAME OUT CMD  # fails on errors; the report (a smoke run's stays in the work directory)
#
# Environment: FERROKEEPER_BIN (used as is; default: a copy of
# /var/tmp/ferrokeeper-target/release/ferrokeeper made at the start in /var/tmp/fk-bench-bin/),
# ZK_JAVA_DIR, ZK_HEAP (1000m), LOG_LEVEL (info), FORM_TIMEOUT (120 s), BENCH_DIR (/var/tmp),
# KEEP_WORK=1; DURATION and WARMUP (set by the script).

declare -A npid    # sid -> pid of the running ensemble's servers
declare -A cport   # sid -> client port
sids=()            # the running ensemble's sids, participants first
nobs=0             # how many of them are observers (the last ones)
kind=""            # the running ensemble's kind
dir=""             # its directory
loadpid=""         # a background load the script started (killed on exit)
failed=0
run=0

bench_args() { # DEFAULT_OUT ARGS... : sets mode (full|smoke) and out; --help prints the script's header
  out="$1"
  mode=full
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --smoke) mode=smoke ;;
      --out) out="$2"; shift ;;
      -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
      *) echo "usage: $0 [--smoke] [--out FILE]" >&2; exit 2 ;;
    esac
    shift
  done
}

bench_init() { # PREFIX : the binaries, the work directory and the results file; cleanup on exit
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
  FORM_TIMEOUT="${FORM_TIMEOUT:-120}"
  CLK_TCK=$(getconf CLK_TCK)

  cp=""
  for j in zookeeper zookeeper-jute slf4j-api slf4j-simple netty-buffer netty-common netty-handler \
           netty-transport netty-transport-native-unix-common netty-transport-native-epoll \
           netty-resolver netty-codec commons-cli commons-io metrics-core snappy-java jline; do
    [ -f "$ZK_JAVA_DIR/$j.jar" ] && cp="$cp${cp:+:}$ZK_JAVA_DIR/$j.jar"
  done
  [ -f "$ZK_JAVA_DIR/zookeeper.jar" ] || { echo "no $ZK_JAVA_DIR/zookeeper.jar (apt-get install zookeeper)" >&2; exit 1; }
  work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/$1.XXXXXX")
  results="$work/results.jsonl"
  : >"$results"
  trap cleanup EXIT
  trap 'echo "interrupted" >&2; exit 130' INT TERM
}

bench_start() { # WHAT : the run's first line and its start in results (load, binary, cores)
  echo "== $mode $1 comparison in $work; ferrokeeper $FK_BIN ($fk_stamp); load $(load_avg)"
  t_start=$SECONDS
  printf '{"workload":"meta","phase":"start","load":"%s","ferrokeeper_bin":"%s","ferrokeeper_stamp":"%s","nproc":%s}\n' \
    "$(load_avg)" "$FK_BIN" "$fk_stamp" "$(nproc)" >>"$results"
}

cleanup() {
  local s
  [ -n "$loadpid" ] && kill "$loadpid" 2>/dev/null
  for s in "${!npid[@]}"; do
    if [ -n "${npid[$s]:-}" ]; then kill -KILL "${npid[$s]}" 2>/dev/null || true; fi
  done
  wait 2>/dev/null || true
  if [ "${KEEP_WORK:-0}" = 1 ] || [ "${failed:-0}" = 1 ]; then
    echo "work directory kept: $work (node logs in */s?/server.log)" >&2
  else
    rm -rf "$work"
  fi
}

free_ports() { # N -> N free loopback ports, one per line (bound together, so distinct)
  python3 -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in socks))' "$1"
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
node_stats() { # SID : "FSYNCS FSYNC_MS PACKETS_RECEIVED" so far, from mntr ("-" when missing)
  four_lw "${cport[$1]}" mntr | awk '$1 == "zk_cnt_fsynctime" { c = $2 } $1 == "zk_sum_fsynctime" { s = $2 }
    $1 == "zk_packets_received" { p = $2 }
    END { printf "%s %s %s", (c == "" ? "-" : c), (s == "" ? "-" : s), (p == "" ? "-" : p) }'
}
connect_all() { # every node of the running ensemble, for --connect
  local s c=""
  for s in "${sids[@]}"; do c+="${c:+,}127.0.0.1:${cport[$s]}"; done
  echo "$c"
}
load_avg() { cut -d' ' -f1-3 /proc/loadavg; }
is_observer() { [ "$1" -gt $((${#sids[@]} - nobs)) ]; }

setup_ensemble() { # KIND TAG [OBS] : fresh directory WORK/KIND-TAG, zoo.cfg and myid per node
  kind="$1"
  dir="$work/$kind-$2"
  nobs="${3:-0}"
  rm -rf "$dir"
  sids=()
  local ports servers="" s n=$((3 + nobs)) role
  for s in $(seq 1 "$n"); do sids+=("$s"); done
  mapfile -t ports < <(free_ports $((n * 3)))
  for s in "${sids[@]}"; do
    role=""
    is_observer "$s" && role=":observer"
    servers+="server.$s=127.0.0.1:${ports[$((s * 3 - 2))]}:${ports[$((s * 3 - 1))]}$role"$'\n'
    cport[$s]=${ports[$((s * 3 - 3))]}
  done
  for s in "${sids[@]}"; do
    mkdir -p "$dir/s$s/data"
    echo "$s" >"$dir/s$s/data/myid"
    role=""
    is_observer "$s" && role="peerType=observer"
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
${role}
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

wait_formed() { # until every participant answers srvr as leader or follower and every observer
  # as observer, one leader among them; prints the modes
  local deadline=$((SECONDS + FORM_TIMEOUT)) s m ok modes leaders
  while :; do
    ok=1 modes="" leaders=0
    for s in "${sids[@]}"; do
      m=$(node_mode "$s")
      modes+=" s$s=${m:-none}"
      [ "$m" = leader ] && leaders=$((leaders + 1))
      if is_observer "$s"; then
        [ "$m" = observer ] || ok=0
      else
        case "$m" in leader|follower) ;; *) ok=0 ;; esac
      fi
      alive "${npid[$s]:-}" || { modes+="(dead)"; ok=0; }
    done
    [ "$leaders" = 1 ] || ok=0
    if [ $ok = 1 ]; then echo "$modes"; return 0; fi
    if [ $SECONDS -ge $deadline ]; then
      echo "$kind: not formed after ${FORM_TIMEOUT}s:$modes" >&2
      for s in "${sids[@]}"; do echo "--- s$s server.log (last 15 lines)" >&2; tail -15 "$dir/s$s/server.log" >&2; done
      return 1
    fi
    sleep 0.2
  done
}

leader_sid() { # the sid whose srvr says leader (empty if none)
  local s
  for s in "${sids[@]}"; do [ "$(node_mode "$s")" = leader ] && { echo "$s"; return; }; done
}

start_ensemble() { # KIND TAG [OBS] : a fresh ensemble, formed and serving; sets formed_ms
  setup_ensemble "$@"
  local t0 i modes
  t0=$(date +%s%N)
  # Highest sid first, so sid 3 is up when the others vote and leads (as run.sh does); observers
  # (the highest sids) do not vote and wait for the leader.
  for ((i = ${#sids[@]} - 1; i >= 0; i--)); do start_node "${sids[$i]}"; done
  modes=$(wait_formed) || { failed=1; exit 1; }
  "$FK_BIN" bench --connect "$(connect_all)" -w ready -d 120s --json >/dev/null \
    || { echo "$kind: ensemble formed but does not serve" >&2; failed=1; exit 1; }
  formed_ms=$((($(date +%s%N) - t0) / 1000000))
  echo "$kind ensemble up in ${formed_ms} ms:$modes (load $(load_avg))"
}

stop_ensemble() {
  local s i
  for s in "${sids[@]}"; do [ -n "${npid[$s]:-}" ] && kill -TERM "${npid[$s]}" 2>/dev/null; done
  for s in "${sids[@]}"; do
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
    for s in "${sids[@]}"; do
      t0=$(cpu_ticks "${npid[$s]}"); sleep 0.25; t1=$(cpu_ticks "${npid[$s]}")
      [ $((t1 - t0)) -gt 2 ] && busy=1
    done
    [ "$busy" = 0 ] && return
  done
}

# One workload against the running ensemble: an unmeasured warm-up invocation, then the
# measured one, its JSON line completed with the servers' CPU (summed and per node), each
# node's txn log syncs and received packets, and tagged with the run (global `run`).
bench() { # ARGS...
  local conn leader s t1 w0 line lead load0 ticks="" stats=""
  conn=$(connect_all)
  leader=$(leader_sid)
  lead="${npid[${leader:-1}]}"
  "$FK_BIN" bench --connect "$conn" --label "$kind" --json --no-progress -d "$WARMUP" --warmup 0s \
    --value-size 100 "$@" >>"$dir/warmup.log" 2>&1 || echo "warning: $kind warm-up of $* failed ($dir/warmup.log)" >&2
  declare -A before st0
  for s in "${sids[@]}"; do st0[$s]=$(node_stats "$s"); done
  for s in "${sids[@]}"; do before[$s]=$(cpu_ticks "${npid[$s]}"); done
  load0=$(load_avg)
  w0=$(date +%s%N)
  line=$("$FK_BIN" bench --connect "$conn" --label "$kind" --json --no-progress -d "$DURATION" --warmup 0s \
    --value-size 100 --server-pid "$lead" "$@") || true
  t1=$(date +%s%N)
  for s in "${sids[@]}"; do ticks+="$(($(cpu_ticks "${npid[$s]}") - ${before[$s]})) "; done
  for s in "${sids[@]}"; do stats+="${st0[$s]} $(node_stats "$s");"; done
  if [ -z "$line" ]; then
    line="{\"workload\":\"$1\",\"server\":\"$kind\",\"ops\":0,\"errors\":1,\"first_error\":\"bench printed nothing\"}"
  fi
  python3 - "$line" "$ticks" "$CLK_TCK" "$(((t1 - w0) / 1000000))" "$run" "$leader" "$*" "$stats" \
    "$nobs" "$load0" <<'PY' | tee -a "$results"
import json, sys
r = json.loads(sys.argv[1])
node_ticks = [int(t) for t in sys.argv[2].split()]
hz, ms, run, leader, spec = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7]
nobs = int(sys.argv[9])
# Per node: txn log syncs and the ms they took, and the packets it received, over the invocation.
fsyncs, fsync_ms, packets = [], [], []
for node in sys.argv[8].split(";")[:len(node_ticks)]:
    v = (node.split() + [""] * 6)[:6]
    for i, out in enumerate((fsyncs, fsync_ms, packets)):
        a, b = v[i], v[i + 3]
        out.append(int(b) - int(a) if a.isdigit() and b.isdigit() else None)
cpu = sum(node_ticks) / hz
r2 = {"run": run, "spec": spec, "ensemble": len(node_ticks) - nobs}
if nobs:
    r2["observers"] = nobs
r2.update(r)
# The bench's server_* fields are the leader's alone (--server-pid), over the measured window.
for k in ("server_cpu_s", "server_cpu_us_per_op"):
    if k in r2:
        r2["leader_" + k[len("server_"):]] = r2.pop(k)
r2["leader_sid"] = int(leader) if leader else None
r2["servers_cpu_s"] = round(cpu, 3)
r2["node_cpu_s"] = [round(t / hz, 3) for t in node_ticks]
r2["invocation_ms"] = ms
r2["servers_cpu_us_per_op"] = round(cpu * 1e6 / r["ops"], 3) if r.get("ops") else None
r2["fsyncs"], r2["fsync_ms"], r2["packets"] = fsyncs, fsync_ms, packets
r2["load"] = sys.argv[10]
print(json.dumps(r2, separators=(",", ":")))
PY
}

rss_record() { # [EXTRA_JSON] : every server's RSS now (kB), a JSON line to results
  local s kb="" l
  for s in "${sids[@]}"; do kb+="${kb:+,}$(rss_kb "${npid[$s]}")"; done
  l=$(leader_sid)
  printf '{"workload":"rss","server":"%s","run":%s,"errors":0,"rss_kb":[%s],"leader_sid":%s%s}\n' \
    "$kind" "$run" "$kb" "${l:-null}" "${1:+,$1}" | tee -a "$results"
}

# The end of a run (in results), then: fails when any measurement had errors (election lines excepted: their
# failed attempts are the measure) or measured nothing; writes the report with REPORT_PY
# (a smoke run's to the work directory only). Args: REPORT_PY NAME OUT CMD.
finish() {
  local report_py="$1" name="$2" out="$3" cmd="$4" n
  printf '{"workload":"meta","phase":"end","load":"%s","secs":%s}\n' "$(load_avg)" "$((SECONDS - t_start))" >>"$results"
  if grep -v '"workload":"election"' "$results" | grep -q '"errors":[1-9]'; then failed=1; fi
  if grep -q '"ops":0,' "$results"; then echo "FAIL: a run measured no successful op" >&2; failed=1; fi
  if [ "$mode" = smoke ]; then
    python3 "$report_py" --smoke "$results" "$cmd" >"$work/$(basename "$out")" || failed=1
    n=$(grep -vc '"workload":"meta"\|"workload":"formed"' "$results")
    if [ "$failed" = 0 ]; then
      echo "$name-smoke: $n passed, 0 failed ($((SECONDS - t_start)) s)"
    else
      echo "$name-smoke: FAILED (see errors above)"; exit 1
    fi
  else
    python3 "$report_py" "$results" "$cmd" >"$out"
    cp -p "$results" "${out%.md}.jsonl"
    cat "$out"
    [ "$failed" = 0 ] || { echo "some workloads failed" >&2; exit 1; }
  fi
}
