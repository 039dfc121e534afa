# shellcheck shell=bash
# compat-tests/stream/kill.sh - shared by recovery.sh, sql.sh and kafka.sh.
#
#   kill_at_first_part PID GLOB MAX_MS : waits until a file matches GLOB (a sink part: published
#   only after its checkpoint committed), then kills PID with SIGKILL after a random 0..MAX_MS-1
#   ms and reaps it. Sets KILL_DELAY_MS. Returns 1 if PID ended before it could be killed.
#   kill_when PID MAX_MS CMD... : the same, once CMD succeeds (e.g. a Kafka sink has a message).
#   kill_resumes NAME LOG_PREFIX ARGS... : twice, `stream run ARGS --resume` killed with SIGKILL
#   after a random 0.1-0.9 s (logs LOG_PREFIX.1.log, .2.log).
kill_at_first_part() {
    local pid="$1" glob="$2" max="$3"
    kill_when "$pid" "$max" compgen -G "$glob"
}

kill_when() {
    local pid="$1" max="$2" i=0
    shift 2
    while ! "$@" >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || { wait "$pid"; return 1; }
        sleep 0.01
        i=$((i + 1))
        [ "$i" -gt 3000 ] && break
    done
    KILL_DELAY_MS=$((RANDOM % max))
    sleep "$(printf '0.%03d' "$KILL_DELAY_MS")"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

kill_resumes() {
    local name="$1" log="$2" k pid
    shift 2
    for k in 1 2; do
        "$FERROKEEPER_BIN" stream run "$@" --resume >"$log.$k.log" 2>&1 &
        pid=$!
        sleep "0.$((RANDOM % 9 + 1))"
        kill -9 "$pid" 2>/dev/null && echo "INFO $name: resume $k killed"
        wait "$pid" 2>/dev/null
    done
}
