#!/usr/bin/env bash
# compat-tests/flink/run.sh - a Flink 2.3.0 standalone session cluster with ZooKeeper high
# availability on Apache ZooKeeper 3.8 and on Ferrokeeper, in the same run: two jobmanagers
# (a leader and a standby), one taskmanager, a keyed job with checkpoints (FlinkHaJob.java),
# kill -9 of the leading jobmanager, the standby wins leadership through ZooKeeper and the job
# is restored from its latest checkpoint with its keyed state.
#
#   compat-tests/flink/run.sh                 # both servers, each fresh; equal counts required
#   compat-tests/flink/run.sh --only zookeeper|ferrokeeper
#   compat-tests/flink/run.sh HOST:PORT       # against a server you started (suite contract)
#   compat-tests/flink/run.sh --ensemble [--only zookeeper|ferrokeeper]
#                                             # 3-node ensembles (all-Java reference, then
#                                             # Ferrokeeper), kill -9 of the ZooKeeper leader
#                                             # while the job runs (see README.md)
#
# Flink comes from PyPI: the wheels apache-flink==2.3.0 and apache-flink-libraries==2.3.0
# (`pip download --no-deps`, checked by sha256) are kept in FLINK_CACHE (default
# /var/tmp/ferrokeeper-flink) and unpacked there (pyflink/ = FLINK_HOME: bin/, lib/flink-dist
# with the shaded ZooKeeper 3.8 client and Curator 5); later runs work offline (flink/fetch.sh).
# Java 17 (Flink 2.x runs on 11, 17 or 21). Scratch and logs in compat-tests/work/flink-TARGET/.
# Last line: "N passed, M failed" (both targets summed, plus one failure if their pass counts
# differ).
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../ensemble/node.sh
source "$HERE/../ensemble/node.sh" # lib.sh, free_ports, ens_setup, node_start ...

# shellcheck source=fetch.sh
source "$HERE/fetch.sh" # FLINK_VERSION, FLINK_CACHE, FLINK_HOME, fetch_flink
CLASSES="$COMPAT_WORK/flink-classes"
JOB_JAR="$CLASSES/flink-ha-job.jar"
CLUSTER_ID=ferrokeeper-ha
STEP_TIMEOUT="${FLINK_STEP_TIMEOUT:-90}"

compile_job() {
    if [ ! -f "$JOB_JAR" ] || [ "$HERE/FlinkHaJob.java" -nt "$JOB_JAR" ]; then
        rm -rf "$CLASSES"
        mkdir -p "$CLASSES/c"
        javac -nowarn -d "$CLASSES/c" -cp "$FLINK_HOME/lib/flink-dist-$FLINK_VERSION.jar" \
            "$HERE/FlinkHaJob.java" 2>&1 | grep -v '^Note:'
        (cd "$CLASSES/c" && jar cfe "$JOB_JAR" FlinkHaJob ./*.class) || return 1
    fi
    [ -f "$JOB_JAR" ]
}

# ZooKeeper's own CLI (Debian's 3.8 jars) reads the tree: zkcli ADDR CMD ARGS...
zkcli() {
    local addr="$1"
    shift
    timeout 30 java -Xmx64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$ZK_CLASSPATH" \
        -Dorg.slf4j.simpleLogger.defaultLogLevel=error -Dzookeeper.jline=false \
        org.apache.zookeeper.ZooKeeperMain -server "$addr" "$@" 2>/dev/null </dev/null |
        grep -av '^WATCHER::\|^WatchedEvent\|^$'
}

KILL_PIDS=()
kill_flink() { # every Flink JVM this script started
    local p
    for p in "${KILL_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    for p in "${KILL_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    KILL_PIDS=()
}
ENS_DIRS=()
stop_ensembles() { # every ensemble node started here (node.sh records each pid in DIR/pids)
    local d n pid
    for d in "${ENS_DIRS[@]}"; do
        for n in "$d"/s1 "$d"/s2 "$d"/s3; do [ -d "$n" ] && node_stop "$n" 5 2>/dev/null; done
        if [ -f "$d/pids" ]; then
            while read -r pid; do node_pid_alive "$pid" && kill -9 "$pid" 2>/dev/null; done <"$d/pids"
        fi
    done
    ENS_DIRS=()
}
trap 'kill_flink; stop_all; stop_ensembles' EXIT
trap 'kill_flink; stop_all; stop_ensembles; exit 130' INT TERM

PASSES=0 FAILS=0
pass() { echo "PASS $1${2:+ ($2)}"; echo "$1 PASS" >>"${COMPAT_RESULT_FILE:-/dev/null}"; PASSES=$((PASSES + 1)); }
fail() { echo "FAIL $1: $2"; echo "$1 FAIL" >>"${COMPAT_RESULT_FILE:-/dev/null}"; FAILS=$((FAILS + 1)); }

rest() { curl -s --max-time 5 "http://127.0.0.1:$1$2"; }
json() { python3 -c "import json,sys
try: d=json.load(sys.stdin)
except Exception: sys.exit(1)
print(eval(sys.argv[1], {'d': d}))" "$1" 2>/dev/null; }

# wait_for SECONDS CMD... : run CMD every second until it succeeds
wait_for() {
    local t="$1" deadline
    shift
    deadline=$((SECONDS + t))
    while [ "$SECONDS" -lt "$deadline" ]; do
        "$@" && return 0
        sleep 1
    done
    return 1
}

write_conf() { # DIR ZKADDR
    local dir="$1" addr="$2" opts
    mkdir -p "$dir/conf"
    cp "$FLINK_HOME"/conf/log4j*.properties "$dir/conf/"
    opts="$(sed -n 's/^ *all: //p' "$FLINK_HOME/conf/config.yaml" | head -1)"
    cat >"$dir/conf/config.yaml" <<YAML
env.java.opts.all: -XX:+UseSerialGC -XX:TieredStopAtLevel=1 $opts
jobmanager.rpc.address: localhost
jobmanager.bind-host: localhost
jobmanager.memory.process.size: 768m
jobmanager.memory.jvm-metaspace.size: 192m
taskmanager.host: localhost
taskmanager.bind-host: localhost
taskmanager.numberOfTaskSlots: 1
taskmanager.memory.process.size: 1024m
taskmanager.memory.jvm-metaspace.size: 192m
taskmanager.memory.managed.size: 64m
rest.address: localhost
rest.bind-address: localhost
parallelism.default: 1
high-availability.type: zookeeper
high-availability.zookeeper.quorum: $addr
high-availability.zookeeper.path.root: /flink
high-availability.cluster-id: /$CLUSTER_ID
high-availability.storageDir: file://$dir/ha
high-availability.zookeeper.client.session-timeout: 6000 ms
high-availability.zookeeper.client.connection-timeout: 5000 ms
high-availability.zookeeper.client.retry-wait: 1000 ms
zookeeper.sasl.disable: true
${ENS_DIR:+high-availability.zookeeper.client.tolerate-suspended-connections: true}
execution.checkpointing.dir: file://$dir/checkpoints
execution.checkpointing.num-retained: 3
restart-strategy.type: fixed-delay
restart-strategy.fixed-delay.attempts: 100
restart-strategy.fixed-delay.delay: 1 s
heartbeat.interval: 2000 ms
heartbeat.timeout: 10000 ms
YAML
}

# start_flink NAME KIND [ARGS...] : jobmanager.sh/taskmanager.sh start-foreground, its java pid
# in DIR/NAME.pid, logs in DIR/NAME/
start_flink() {
    local name="$1" kind="$2"
    shift 2
    mkdir -p "$DIR/$name"
    FLINK_CONF_DIR="$DIR/conf" FLINK_LOG_DIR="$DIR/$name" FLINK_PID_DIR="$DIR/$name" \
        "$FLINK_HOME/bin/$kind.sh" start-foreground "$@" >"$DIR/$name/console.out" 2>&1 </dev/null &
    echo $! >"$DIR/$name.pid"
    KILL_PIDS+=("$!")
}

# the leader's REST address as ZooKeeper holds it (connection_info of the rest_server leader)
zk_rest_leader() {
    local node
    node="$(zkcli "$ADDR" ls -R "/flink/$CLUSTER_ID" | grep 'rest_server/connection_info$' | head -1)"
    [ -n "$node" ] || return 1
    zkcli "$ADDR" get "$node" | grep -aio 'http://[a-z0-9.]*:[0-9]*' | head -1
}

job_gone_from_zk() {
    local t
    t="$(zkcli "$ADDR" ls -R "/flink/$CLUSTER_ID")" && grep -q '/leader/latch' <<<"$t" && ! grep -q "$JOB" <<<"$t"
}
jm2_up() { cat "$DIR"/jm2/*.log 2>/dev/null | grep -q 'Rest endpoint listening at'; }
jm_ready() { [ "$(rest "$1" /jobs | json 'type(d["jobs"]).__name__')" = list ]; }
job_state() { rest "$1" "/jobs/$JOB" | json 'd["state"]'; }
ckpt() { rest "$1" "/jobs/$JOB/checkpoints" | json "$2"; }
completed_at_least() { local c; c="$(ckpt "$1" 'd["counts"]["completed"]')" && [ "${c:-0}" -ge "$2" ]; }
restored_ok() {
    [ "$(job_state "$1")" = RUNNING ] || return 1
    RESTORED="$(ckpt "$1" 'd["latest"]["restored"]["id"]')" && [ -n "$RESTORED" ] && [ "$RESTORED" != None ]
}
max_n() { awk 'BEGIN{m=-1} $1>m{m=$1} END{print m}' "$DIR/job.out" 2>/dev/null; }
out_grows() { [ "$(max_n)" -gt "$1" ]; }

# Ensemble mode (ENS_DIR = the ensemble's directory, s1..s3): which node leads, the two others
# formed again, the latch children, the /flink listing of one node alone.
ens_leader() { local sid; for sid in 1 2 3; do [ "$(node_mode "$ENS_DIR/s$sid")" = leader ] && echo "$sid"; done; }
ens_others_formed() { # KILLED_SID
    local sid m l=0 f=0
    for sid in 1 2 3; do
        [ "$sid" = "$1" ] && continue
        m="$(node_mode "$ENS_DIR/s$sid")"
        [ "$m" = leader ] && l=$((l + 1))
        [ "$m" = follower ] && f=$((f + 1))
    done
    [ $l = 1 ] && [ $f = 1 ]
}
ens_node_back() { case "$(node_mode "$ENS_DIR/s$1")" in leader|follower) return 0 ;; esac; return 1; }
latches() { zkcli "$ADDR" ls -R "/flink/$CLUSTER_ID" | grep '/leader/latch/' | sed 's|.*/||' | sort | tr '\n' ' '; }
trees_identical() { # every node alone lists the same /flink
    local sid
    for sid in 1 2 3; do
        zkcli "127.0.0.1:$(cat "$ENS_DIR/s$sid/client_port")" ls -R /flink | grep '^/' >"$DIR/zk-tree-s$sid.txt" || return 1
    done
    [ -s "$DIR/zk-tree-s1.txt" ] && cmp -s "$DIR/zk-tree-s1.txt" "$DIR/zk-tree-s2.txt" && cmp -s "$DIR/zk-tree-s1.txt" "$DIR/zk-tree-s3.txt"
}

# zk_leader_kill R1 : kill -9 of the ZooKeeper ensemble's leader while the job runs: the two
# others elect a leader, jobmanager 1 stays leader (same latch node: its session survived), the
# job is not restored (no failover), checkpoints keep completing (their pointers are written to
# ZooKeeper); the killed node restarted rejoins.
zk_leader_kill() {
    local r1="$1" L c0 lat0 lat1 t0 telected leader msg=""
    L="$(ens_leader)"
    if [ -z "$L" ]; then fail zk_leader_kill_keeps_leadership "no leader in the ensemble"; return; fi
    c0="$(ckpt "$r1" 'd["counts"]["completed"]')"
    lat0="$(latches)"
    t0=$SECONDS
    node_kill "$ENS_DIR/s$L"
    # ZooKeeperMain (zkcli) gives up when the node it picks first is the dead one: the survivors only
    local all="$ADDR" sid
    ADDR=""
    for sid in 1 2 3; do [ "$sid" = "$L" ] || ADDR+="${ADDR:+,}127.0.0.1:$(cat "$ENS_DIR/s$sid/client_port")"; done
    echo "INFO ZooKeeper leader s$L killed with SIGKILL; $c0 checkpoints completed, latch $lat0"
    if ! wait_for 60 ens_others_formed "$L"; then
        msg="the two other nodes did not elect a leader"
    else
        telected=$((SECONDS - t0))
        wait_for 60 completed_at_least "$r1" "$((${c0:-0} + 3))" || msg="fewer than 3 checkpoints completed after the kill ($(ckpt "$r1" 'd["counts"]["completed"]') vs $c0)"
        while [ $((SECONDS - t0)) -lt 9 ]; do sleep 1; done # past the 6 s session timeout
        lat1="$(latches)"
        leader="$(zk_rest_leader)"
        if [ -z "$msg" ] && [ "$lat1" != "$lat0" ]; then msg="latch $lat0-> $lat1(the leader's session did not survive)"; fi
        if [ -z "$msg" ] && [ "${leader##*:}" != "$r1" ]; then msg="rest leader now '$leader'"; fi
        if [ -z "$msg" ] && [ "$(job_state "$r1")" != RUNNING ]; then msg="job $(job_state "$r1")"; fi
        if [ -z "$msg" ] && [ "$(ckpt "$r1" 'd["latest"]["restored"]')" != None ]; then msg="the job was restored (a failover happened)"; fi
    fi
    node_start "$ENS_DIR/s$L" 2>>"$DIR/ensemble-nodes.log"
    if [ -z "$msg" ] && ! wait_for 60 ens_node_back "$L"; then msg="s$L restarted did not rejoin"; fi
    ADDR="$all"
    if [ -z "$msg" ]; then
        pass zk_leader_kill_keeps_leadership "new ZooKeeper leader after ${telected}s, jobmanager 1 still leader, latch $lat1, $(ckpt "$r1" 'd["counts"]["completed"]') checkpoints, s$L back as $(node_mode "$ENS_DIR/s$L")"
    else
        fail zk_leader_kill_keeps_leadership "$msg"
    fi
}

# run_checks ZKADDR WORKDIR
run_checks() {
    ADDR="$1" DIR="$2"
    trap 'kill_flink' EXIT
    local r1 r2 pid1 t0 leader1 leader2 last before tree
    mkdir -p "$DIR"
    write_conf "$DIR" "$ADDR"
    { read -r r1; read -r r2; } < <(free_ports 2)
    echo "INFO Flink $FLINK_VERSION, ZooKeeper HA on $ADDR under /flink/$CLUSTER_ID, jobmanagers' REST ports $r1 (first) and $r2 (standby)"

    # 1. cluster up with ZooKeeper HA: the first jobmanager is leader, its address in ZooKeeper
    start_flink jm1 jobmanager -D "rest.port=$r1"
    start_flink tm taskmanager
    if wait_for "$STEP_TIMEOUT" jm_ready "$r1" && leader1="$(wait_for 30 zk_rest_leader >/dev/null && zk_rest_leader)" \
        && [ "${leader1##*:}" = "$r1" ]; then
        pass cluster_up_with_zk_ha "leader $leader1 in /flink/$CLUSTER_ID"
    else
        fail cluster_up_with_zk_ha "no jobmanager leader with REST port $r1 in ZooKeeper (got '${leader1:-}'; see $DIR/jm1)"
    fi

    # 2. the job runs, checkpoints complete, their pointers are in ZooKeeper
    JOB="$(FLINK_CONF_DIR="$DIR/conf" FLINK_LOG_DIR="$DIR/client" timeout 120 "$FLINK_HOME/bin/flink" run -d \
        "$JOB_JAR" "$DIR/job.out" 50 2>&1 | tee "$DIR/submit.out" | sed -n 's/.*JobID \([0-9a-f]\{32\}\).*/\1/p' | head -1)"
    if [ -z "$JOB" ]; then
        fail job_running_with_checkpoints "submission failed (see $DIR/submit.out)"
    elif ! wait_for "$STEP_TIMEOUT" completed_at_least "$r1" 3; then
        fail job_running_with_checkpoints "job $JOB: state $(job_state "$r1"), fewer than 3 completed checkpoints"
    else
        tree="$(zkcli "$ADDR" ls -R "/flink/$CLUSTER_ID")"
        echo "$tree" >"$DIR/zk-tree-before.txt"
        if grep -q "jobs/$JOB/checkpoints/" <<<"$tree" || grep -q "checkpoints/$JOB/" <<<"$tree"; then
            pass job_running_with_checkpoints "job $JOB, $(ckpt "$r1" 'd["counts"]["completed"]') checkpoints completed, pointer in ZooKeeper"
        else
            fail job_running_with_checkpoints "no checkpoint node for $JOB in ZooKeeper (see $DIR/zk-tree-before.txt)"
        fi
    fi

    [ -n "${ENS_DIR:-}" ] && zk_leader_kill "$r1"

    # 3. kill -9 of the leading jobmanager: the standby becomes leader
    start_flink jm2 jobmanager -D "rest.port=$r2"
    wait_for "$STEP_TIMEOUT" jm2_up
    sleep 2
    last="$(ckpt "$r1" 'd["latest"]["completed"]["id"]')"
    pid1="$(cat "$DIR/jm1.pid")"
    { kill -9 "$pid1"; wait "$pid1"; } 2>/dev/null
    before="$(max_n)"
    t0=$SECONDS
    echo "INFO kill -9 of jobmanager 1 (pid $pid1): last completed checkpoint $last, output up to n=$before"
    if wait_for "$STEP_TIMEOUT" jm_ready "$r2" && leader2="$(zk_rest_leader)" && [ "${leader2##*:}" = "$r2" ]; then
        pass jobmanager_kill_new_leader "standby $leader2 leader after $((SECONDS - t0)) s"
    else
        fail jobmanager_kill_new_leader "ZooKeeper's rest leader is '${leader2:-}', not port $r2 (see $DIR/jm2)"
    fi

    # 4. the job is restored from the latest checkpoint, its keyed state continues
    RESTORED=""
    if ! wait_for "$STEP_TIMEOUT" restored_ok "$r2"; then
        fail job_restored_from_checkpoint "job $JOB not RUNNING from a restored checkpoint on the new leader (state $(job_state "$r2"))"
    elif [ "$RESTORED" -lt "${last:-0}" ]; then
        fail job_restored_from_checkpoint "restored checkpoint $RESTORED < $last, the last completed before the kill"
    elif ! wait_for 30 out_grows "$((before + 20))"; then
        fail job_restored_from_checkpoint "no new output after the restore (n stays at $(max_n))"
    else
        local bad
        bad="$(awk '$3 != int($1 / 3) + 1 || $2 != $1 % 3' "$DIR/job.out" | head -3)"
        if [ -n "$bad" ]; then
            fail job_restored_from_checkpoint "keyed state lost: lines 'n key count' with count != n/3+1: $(tr '\n' ';' <<<"$bad")"
        else
            pass job_restored_from_checkpoint "checkpoint $RESTORED (last before the kill $last), running after $((SECONDS - t0)) s, state continued to n=$(max_n)"
        fi
    fi
    zkcli "$ADDR" ls -R "/flink/$CLUSTER_ID" >"$DIR/zk-tree-after.txt"

    # 6. the dead leader's latch node went with its session, the new leader's is the only one
    local l1 l2
    l1="$(grep '/leader/latch/' "$DIR/zk-tree-before.txt" 2>/dev/null | sed 's|.*/||')"
    l2="$(grep '/leader/latch/' "$DIR/zk-tree-after.txt" | sed 's|.*/||')"
    if [ "$(wc -w <<<"$l1")" -eq 1 ] && [ "$(wc -w <<<"$l2")" -eq 1 ] && [ "$l1" != "$l2" ]; then
        pass old_leader_latch_released "latch ${l1##*-latch-} -> ${l2##*-latch-}"
    else
        fail old_leader_latch_released "latch children before the kill: '$(echo $l1)', after: '$(echo $l2)'"
    fi

    # 7. cancelling the job removes its execution plan, checkpoints and leader node from ZooKeeper
    if [ -n "$JOB" ] && FLINK_CONF_DIR="$DIR/conf" FLINK_LOG_DIR="$DIR/client" timeout 120 \
        "$FLINK_HOME/bin/flink" cancel "$JOB" >"$DIR/cancel.out" 2>&1 \
        && wait_for 30 job_gone_from_zk; then
        pass job_cancel_cleans_zk "no node of $JOB left under /flink/$CLUSTER_ID"
    else
        fail job_cancel_cleans_zk "job ${JOB:-?} state $(job_state "$r2"), its nodes: $(zkcli "$ADDR" ls -R "/flink/$CLUSTER_ID" | grep -c "${JOB:-none}") (see $DIR/cancel.out)"
    fi
    zkcli "$ADDR" ls -R "/flink/$CLUSTER_ID" >"$DIR/zk-tree-end.txt"

    # 5. no ZooKeeper/Curator errors in the Flink logs
    local errs
    errs="$(grep -h -E ' ERROR ' "$DIR"/jm1/*.log "$DIR"/jm2/*.log "$DIR"/tm/*.log 2>/dev/null | grep -i -E 'zookeeper|curator' | head -5)"
    echo "INFO WARN lines about ZooKeeper/Curator in the Flink logs: $(grep -h -E ' WARN ' "$DIR"/jm1/*.log "$DIR"/jm2/*.log "$DIR"/tm/*.log 2>/dev/null | grep -ci -E 'zookeeper|curator')"
    if [ -z "$errs" ]; then
        pass no_zookeeper_errors_in_logs
    else
        fail no_zookeeper_errors_in_logs "$errs"
    fi
    kill_flink
    if [ -n "${ENS_DIR:-}" ]; then
        # the Flink processes are gone; their sessions expire (6 s), then the nodes must agree
        if wait_for 40 trees_identical; then
            pass ensemble_trees_identical "$(wc -l <"$DIR/zk-tree-s1.txt") znodes under /flink, the same on s1, s2, s3"
        else
            fail ensemble_trees_identical "ls -R /flink differs between the nodes (see $DIR/zk-tree-s{1,2,3}.txt)"
        fi
    fi
    echo "$PASSES passed, $FAILS failed"
    [ "$FAILS" -eq 0 ]
}

norm_tree() { # FILE: an `ls -R` listing with job ids, UUIDs and sequence numbers masked
    grep '^/' "$1" | sed -E 's/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/UUID/g;
        s/[0-9a-f]{32}/JOBID/g; s/-latch-[0-9]+/-latch-N/; s|checkpoints/[0-9]+|checkpoints/N|' | sort -u
}

fail_setup() { echo "FAIL setup: $*"; echo "0 passed, 1 failed"; exit 1; }

fetch_flink || fail_setup "could not fetch Flink $FLINK_VERSION from PyPI (pip download)"
command -v javac >/dev/null 2>&1 || fail_setup "javac not found"
compile_job || fail_setup "FlinkHaJob.java did not compile"

TARGETS=(zookeeper ferrokeeper)
ENSEMBLE=0
if [ "${1:-}" = --ensemble ]; then ENSEMBLE=1; shift; fi
case "${1:-}" in
    --only)
        case "${2:-}" in
            zookeeper|zk) TARGETS=(zookeeper) ;;
            ferrokeeper|fk) TARGETS=(ferrokeeper) ;;
            *) echo "usage: $0 [--only zookeeper|ferrokeeper | HOST:PORT]" >&2; exit 2 ;;
        esac ;;
    ?*:*)
        # suite contract: the server is running already
        d="$COMPAT_WORK/flink-${COMPAT_TARGET:-${1##*:}}"
        rm -rf "$d"
        run_checks "$1" "$d"
        exit $? ;;
    "") ;;
    *) echo "usage: $0 [--only zookeeper|ferrokeeper | HOST:PORT]" >&2; exit 2 ;;
esac

if [[ " ${TARGETS[*]} " == *" ferrokeeper "* ]] && [ ! -x "$FERROKEEPER_BIN" ]; then
    fail_setup "Ferrokeeper binary not found: $FERROKEEPER_BIN (set FERROKEEPER_BIN)"
fi
export FERROKEEPER_BIN
WORK_PREFIX=flink-
[ "$ENSEMBLE" = 1 ] && WORK_PREFIX=flink-ens-

# run_target TARGET DIR : a fresh server (or 3-node ensemble) of TARGET, the checks, stop.
run_target() {
    local target="$1" dir="$2" port addr formed sid
    if [ "$ENSEMBLE" = 0 ]; then
        port="$(free_ports 1)"
        echo "== Flink $FLINK_VERSION HA on $target (127.0.0.1:$port), logs in ${dir#"$REPO_ROOT"/}"
        if ! start_server "$target" "$port" "$dir/server"; then
            echo "FAIL $target.server_start: see $dir/server/server.log"
            return 1
        fi
        (PASSES=0 FAILS=0 COMPAT_RESULT_FILE="$dir/result" run_checks "127.0.0.1:$port" "$dir") | tee "$dir/suite.log" | sed "s/^/[$target] /"
        stop_server "$dir/server"
        return 0
    fi
    ens_setup "$dir/ens" "$target"
    ENS_DIRS+=("$dir/ens")
    addr="$(ens_connect_string "$dir/ens")"
    echo "== Flink $FLINK_VERSION HA on a 3-node $target ensemble ($addr), logs in ${dir#"$REPO_ROOT"/}"
    for sid in 3 2 1; do # highest sid first: it leads
        node_start "$dir/ens/s$sid" || { echo "FAIL $target.ensemble_start: sid $sid did not start"; stop_ensembles; return 1; }
    done
    if ! formed="$(ens_wait_formed "$dir/ens" "${ENSEMBLE_FORM_TIMEOUT:-90}")"; then
        echo "FAIL $target.ensemble_start: $formed (see $dir/ens/s*/server.log)"
        stop_ensembles
        return 1
    fi
    echo "   $formed"
    (ENS_DIR="$dir/ens" PASSES=0 FAILS=0 COMPAT_RESULT_FILE="$dir/result" run_checks "$addr" "$dir") | tee "$dir/suite.log" | sed "s/^/[$target] /"
    stop_ensembles
}

declare -A P F S
total_p=0 total_f=0
t_all=$(date +%s)
for target in "${TARGETS[@]}"; do
    dir="$COMPAT_WORK/$WORK_PREFIX$target"
    rm -rf "$dir"
    mkdir -p "$dir"
    t0=$(date +%s)
    if ! run_target "$target" "$dir"; then
        P[$target]=0; F[$target]=1
    else
        line="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$dir/suite.log" | tail -1)"
        if [ -z "$line" ]; then
            echo "FAIL $target.suite: no summary (see $dir/suite.log)"
            P[$target]=0; F[$target]=1
        else
            P[$target]="${line%% passed*}"
            F[$target]="$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")"
        fi
    fi
    S[$target]=$(( $(date +%s) - t0 ))
    total_p=$((total_p + P[$target])); total_f=$((total_f + F[$target]))
done

echo
for target in "${TARGETS[@]}"; do
    printf '%-12s %s passed, %s failed (%s s)\n' "$target:" "${P[$target]}" "${F[$target]}" "${S[$target]}"
done
if [ ${#TARGETS[@]} -eq 2 ]; then
    zr="$COMPAT_WORK/${WORK_PREFIX}zookeeper/result" fr="$COMPAT_WORK/${WORK_PREFIX}ferrokeeper/result"
    if [ -f "$zr" ] && [ -f "$fr" ]; then
        d="$(join -a1 -a2 -e MISSING -o 0,1.2,2.2 <(sort "$zr") <(sort "$fr") | awk '$2 != $3')"
        [ -n "$d" ] && { echo "checks differing (name zookeeper ferrokeeper):"; sed 's/^/  /' <<<"$d"; }
    fi
    # The znodes Flink made, at the three points, with ids, UUIDs and sequence numbers masked.
    same=1
    for point in before after end; do
        a="$COMPAT_WORK/${WORK_PREFIX}zookeeper/zk-tree-$point.txt" b="$COMPAT_WORK/${WORK_PREFIX}ferrokeeper/zk-tree-$point.txt"
        if ! grep -qs "^/flink/$CLUSTER_ID/leader" "$a" || ! grep -qs "^/flink/$CLUSTER_ID/leader" "$b" || ! diff <(norm_tree "$a") <(norm_tree "$b") >"$COMPAT_WORK/${WORK_PREFIX}tree-$point.diff"; then
            same=0
            echo "FAIL same_zk_tree: the trees $point differ (see $COMPAT_WORK/${WORK_PREFIX}tree-$point.diff)"
        fi
    done
    if [ "$same" -eq 1 ]; then
        echo "PASS same_zk_tree: Flink's znodes before the kill, after the restore and after the cancel are the same on both servers"
    else
        total_f=$((total_f + 1))
    fi
    if [ "${P[zookeeper]}" -eq "${P[ferrokeeper]}" ]; then
        echo "PASS same_pass_count: ${P[zookeeper]} on both servers"
    else
        echo "FAIL same_pass_count: zookeeper ${P[zookeeper]}, ferrokeeper ${P[ferrokeeper]}"
        total_f=$((total_f + 1))
    fi
fi
echo "flink suite$([ "$ENSEMBLE" = 1 ] && echo " on ensembles"): $(( $(date +%s) - t_all )) s"
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
