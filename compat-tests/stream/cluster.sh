# shellcheck shell=bash
# compat-tests/stream/cluster.sh - distributed jobs' services for distributed.sh and kafka.sh.
# Needs WORK (logs go there as NAME.log) and WORKER_PORT (worker i listens from
# WORKER_PORT + 20*i, 16 ports; its /metrics on WORKER_PORT + 20*i + 17).
#
#   start NAME ZK           # a coordinator (c*) or a worker (w1, w2, ...), pid in PIDS[NAME]
#   stop_services           # kill -9 of every one started
#   status JOB ZK KEY       # gen (number), members (names), done (true|false), or a top key
#   member JOB ZK K         # the K-th (1-based) worker of the job's generation
#   is_done JOB ZK
#   wait_for SECS CMD...    # until CMD succeeds; 1 after SECS
declare -A PIDS

stop_services() {
    local n
    for n in "${!PIDS[@]}"; do kill -9 "${PIDS[$n]}" 2>/dev/null; done
    for n in "${!PIDS[@]}"; do wait "${PIDS[$n]}" 2>/dev/null; done
    PIDS=()
}

# start NAME ZK: a coordinator (c*) or a worker (w1 w2 w3, each with 16 ports).
start() {
    local name="$1" zk="$2" i
    case "$name" in
        c*) "$FERROKEEPER_BIN" stream coordinator --zk "$zk" >>"$WORK/$name.log" 2>&1 & ;;
        w*) i="${name#w}"
            "$FERROKEEPER_BIN" stream worker --zk "$zk" --id "$name" \
                --listen "127.0.0.1:$((WORKER_PORT + 20 * i))" --ports 16 \
                --metrics-port "$(metrics_port "$name")" --progress-secs 1 >>"$WORK/$name.log" 2>&1 & ;;
    esac
    PIDS[$name]=$!
}

# metrics_port wI: where worker wI serves its job processes' counters
metrics_port() { echo $((WORKER_PORT + 20 * ${1#w} + 17)); }

# status JOB ZK KEY: a field of `stream status` (generation: its number; members: names)
status() {
    "$FERROKEEPER_BIN" stream status "$1" --zk "$2" 2>/dev/null | python3 -c 'import json,sys
d=json.loads(sys.stdin.read())
g=d.get("generation") or {}
k=sys.argv[1]
print({"gen": g.get("gen", 0), "members": " ".join(m["worker"] for m in g.get("members", [])),
       "done": str(d.get("done")).lower()}.get(k, d.get(k)))' "$3" 2>/dev/null
}

# wait_for SECS CMD...: until CMD succeeds
wait_for() {
    local until=$((SECONDS + $1))
    shift
    while ! "$@"; do
        [ "$SECONDS" -ge "$until" ] && return 1
        sleep 0.1
    done
}
is_done() { [ "$(status "$1" "$2" done)" = true ]; }
member() { status "$1" "$2" members | cut -d' ' -f"$3"; }
