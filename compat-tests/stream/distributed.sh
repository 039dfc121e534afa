#!/usr/bin/env bash
# compat-tests/stream/distributed.sh - distributed `ferrokeeper stream` jobs, exactly-once
# under failures: two coordinators (one leads), three workers, a SQL job on two of them
# (the benchmark job, datagen throttled so that the faults land mid-run, checkpoints every
# 100 ms). After each fault the job must go on in a new generation and its file sink, read
# by sqlcheck.py, must equal an embedded run without failure: same rows, none twice.
#   - worker_kill: kill -9 a worker of the job (a standby worker takes its place);
#   - coordinator_kill: kill -9 the leading coordinator, then a job process, so the next
#     generation is the standby's;
#   - rescale: 2 -> 1 -> 2 workers while it runs;
#   - everything: kill -9 every coordinator and worker at once, then start them again;
#   - metrics: the workers of a running job serve its counters on /metrics;
#   - stop_resume: `stream stop` (at a checkpoint): every process ends, the sink holds
#     committed output only and no longer grows; `stream resume` goes on in a new
#     generation to the same rows; stop_drain: `stream stop --drain` ends the job early,
#     every window firing: the sink holds exactly the windows of the events the job read
#     (its last checkpoint's positions), none twice;
#   - ensemble_leader_kill: the metadata on a 3-node Ferrokeeper ensemble whose leader is
#     killed with kill -9 mid-run: the job's sessions move to the other nodes and the job
#     goes on in the same generation;
#   - worker_kill on Apache ZooKeeper 3.8 (only the ZooKeeper protocol is used).
#
#   compat-tests/stream/distributed.sh
# Environment: FERROKEEPER_BIN, DIST_N (events, 3000000), DIST_RATE (events/s, 250000).
# Last line: "N passed, M failed".
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../ensemble/node.sh
source "$HERE/../ensemble/node.sh" # lib.sh, ens_setup, node_start, node_kill, node_mode ...
# shellcheck source=checks.sh
source "$HERE/checks.sh"
# shellcheck source=cluster.sh
source "$HERE/cluster.sh"

N="${DIST_N:-3000000}"
RATE="${DIST_RATE:-250000}"
ZK_PORT=21865
FK_PORT=21866
WORKER_PORT=22400
WORK="$COMPAT_WORK/stream-distributed"
rm -rf "$WORK"
mkdir -p "$WORK"
RUN_DIRS=("$WORK/ens")
trap 'stop_services; stop_all; ens_cleanup' EXIT
require_binary

has_part() { compgen -G "$1/part-*" >/dev/null; }
gen_at_least() { [ "$(status "$1" "$2" gen)" -ge "$3" ] 2>/dev/null; }
members_are() { [ "$(status "$1" "$2" members | wc -w)" = "$3" ]; }

# The answer: the same job embedded, without failure and without the throttle.
for w in tumbling sliding; do
    sql_job "$WORK/clean-$w.sql" "$w" "$WORK/clean-$w" "'connector' = 'datagen', 'rows' = '$N'"
    "$FERROKEEPER_BIN" stream run "$WORK/clean-$w.sql" --p 2 >"$WORK/clean-$w.log" 2>&1 ||
        fail "clean_$w" "$(tail -c 300 "$WORK/clean-$w.log")"
done

# run_case NAME ZK WINDOW FAULT: submits the job on 2 workers, waits for its first
# committed output, runs FAULT (a function given the job's name and ZK), waits for the job
# to end and compares its sink with the clean run. The fault must have moved the job to a
# new generation; with MOVES=0, the job must have ridden it out in the same generation.
run_case() {
    local name="$1" zk="$2" w="$3" fault="$4" sink="$WORK/$1.out" gen
    sql_job "$WORK/$name.sql" "$w" "$sink" "'connector' = 'datagen', 'rows' = '$N', 'rows-per-second' = '$RATE'"
    if ! "$FERROKEEPER_BIN" stream submit "$WORK/$name.sql" --zk "$zk" --workers 2 \
        --checkpoint-ms 100 --state-dir "$WORK/$name.state" >"$WORK/$name.submit" 2>&1; then
        fail "$name" "submit: $(cat "$WORK/$name.submit")"; return
    fi
    if ! wait_for 60 has_part "$sink"; then
        fail "$name" "no committed output within 60 s"; return
    fi
    gen="$(status "$name" "$zk" gen)"
    local why
    # In this shell, not a subshell: the services a fault restarts must land in PIDS, or
    # nothing would stop them.
    if ! "$fault" "$name" "$zk" >"$WORK/$name.fault"; then
        fail "$name" "fault: $(cat "$WORK/$name.fault")"; return
    fi
    if ! wait_for 120 is_done "$name" "$zk"; then
        fail "$name" "not done within 120 s (generation $(status "$name" "$zk" gen))"; return
    fi
    local last
    last="$(status "$name" "$zk" gen)"
    if [ "${MOVES:-1}" = 1 ] && [ "$last" -le "$gen" ]; then
        fail "$name" "still generation $gen: the fault did not move the job"
    elif [ "${MOVES:-1}" = 0 ] && [ "$last" != "$gen" ]; then
        fail "$name" "generation $gen -> $last: the job restarted instead of riding through"
    elif why="$("${CHECK[@]}" same "$WORK/clean-$w" "$sink")"; then
        pass "$name" "generations $gen -> $last, $(sink_fields "$sink" | cut -d' ' -f1) rows as without failure"
    else
        fail "$name" "generations $gen -> $last: $why"
    fi
}


fault_worker_kill() {
    local victim
    victim="$(member "$1" "$2" 1)"
    [ -n "$victim" ] || { echo "no member"; return 1; }
    kill -9 "${PIDS[$victim]}"; wait "${PIDS[$victim]}" 2>/dev/null
    echo "killed $victim" >&2
    # Back, so that the next case has three workers again.
    start "$victim" "$2"
}

fault_coordinator_kill() {
    local leader="" c gen member1
    for c in c1 c2; do grep -q "leading" "$WORK/$c.log" 2>/dev/null && leader=$c; done
    [ -n "$leader" ] || { echo "no leading coordinator in the logs"; return 1; }
    kill -9 "${PIDS[$leader]}"; wait "${PIDS[$leader]}" 2>/dev/null
    : >"$WORK/$leader.log"
    # A job process fails: only the standby, once it leads, can start the next generation.
    gen="$(status "$1" "$2" gen)"
    member1="$(member "$1" "$2" 1)"
    pkill -9 -f "gen-run --zk $2 --job $1 --gen $gen --worker $member1 " || { echo "no process of $member1"; return 1; }
    wait_for 30 gen_at_least "$1" "$2" $((gen + 1)) || { echo "no new generation after the leader died"; return 1; }
    start "$leader" "$2"
}

fault_rescale() {
    local gen
    gen="$(status "$1" "$2" gen)"
    "$FERROKEEPER_BIN" stream rescale "$1" --zk "$2" --workers 1 >/dev/null || { echo "rescale to 1 failed"; return 1; }
    wait_for 30 members_are "$1" "$2" 1 || { echo "not on 1 worker"; return 1; }
    sleep 1.5
    "$FERROKEEPER_BIN" stream rescale "$1" --zk "$2" --workers 2 >/dev/null || { echo "rescale to 2 failed"; return 1; }
    wait_for 30 members_are "$1" "$2" 2 || { echo "not back on 2 workers"; return 1; }
    echo "rescaled 2 -> 1 -> 2 from generation $gen" >&2
}

fault_everything() {
    local n
    stop_services
    sleep 1
    for n in c1 c2 w1 w2 w3; do start "$n" "$2"; done
}

# metrics_check JOB ZK: each worker of the running job serves its process's counters on
# /metrics (records read, a committed checkpoint; its file is rewritten every 0.5 s) and logs
# progress lines.
serves_counters() {
    local text records epoch
    text="$(curl -sf "http://127.0.0.1:$(metrics_port "$2")/metrics")" || return 1
    records="$(echo "$text" | sed -n "s/^ferrokeeper_stream_records_total{job=\"$1\",worker=\"$2\"} //p")"
    epoch="$(echo "$text" | sed -n "s/^ferrokeeper_stream_checkpoint_epoch{job=\"$1\",worker=\"$2\"} //p")"
    [ "${records:-0}" -gt 0 ] && [ "${epoch:--1}" -ge 0 ] && grep -q '^progress: ' "$WORK/$2.log"
}
metrics_check() {
    local job="$1" w n=0
    for w in $(status "$job" "$2" members); do
        wait_for 10 serves_counters "$job" "$w" ||
            { fail metrics "$w: $(curl -sf "http://127.0.0.1:$(metrics_port "$w")/metrics" | grep -c "job=\"$job\"") series of $job, $(grep -c '^progress: ' "$WORK/$w.log") progress lines"; return; }
        n=$((n + 1))
    done
    [ "$n" = 2 ] && pass metrics "both workers of $job serve its counters (records, checkpoint epoch) and log its progress" ||
        fail metrics "$n workers of $job answered"
}

# stop_resume: stop at a checkpoint, check that it stays stopped, resume to the end.
stop_resume_case() {
    local name=stop_resume zk="$1" sink="$WORK/stop_resume.out" gen out at before after
    sql_job "$WORK/$name.sql" tumbling "$sink" "'connector' = 'datagen', 'rows' = '$N', 'rows-per-second' = '$RATE'"
    "$FERROKEEPER_BIN" stream submit "$WORK/$name.sql" --zk "$zk" --workers 2 \
        --checkpoint-ms 100 --state-dir "$WORK/$name.state" >"$WORK/$name.submit" 2>&1 ||
        { fail "$name" "submit: $(cat "$WORK/$name.submit")"; return; }
    wait_for 60 has_part "$sink" || { fail "$name" "no committed output within 60 s"; return; }
    gen="$(status "$name" "$zk" gen)"
    metrics_check "$name" "$zk"
    out="$("$FERROKEEPER_BIN" stream stop "$name" --zk "$zk" --timeout-secs 60 2>&1)" ||
        { fail "$name" "stop: $out"; return; }
    at="$(echo "$out" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["stopped_at"])')"
    before="$(sink_fields "$sink")"
    sleep 1.5
    after="$(sink_fields "$sink")"
    if [ "$before" != "$after" ] || [ "$(status "$name" "$zk" stopped_at)" != "$at" ] || is_done "$name" "$zk"; then
        fail "$name" "not stopped at $at: sink $before then $after, status $(status "$name" "$zk" stopped_at)"; return
    fi
    [ "$(echo "$after" | cut -d' ' -f3)" = 0 ] || { fail "$name" "rows twice after the stop: $after"; return; }
    if "$FERROKEEPER_BIN" stream submit "$WORK/$name.sql" --zk "$zk" --workers 2 \
        --state-dir "$WORK/$name.state" >/dev/null 2>&1; then
        fail "$name" "a stopped job was submitted again over its state"; return
    fi
    "$FERROKEEPER_BIN" stream resume "$name" --zk "$zk" >"$WORK/$name.resume" 2>&1 ||
        { fail "$name" "resume: $(cat "$WORK/$name.resume")"; return; }
    wait_for 120 is_done "$name" "$zk" || { fail "$name" "not done within 120 s of the resume"; return; }
    local last why
    last="$(status "$name" "$zk" gen)"
    if [ "$last" -le "$gen" ]; then
        fail "$name" "still generation $gen after the resume"
    elif why="$("${CHECK[@]}" same "$WORK/clean-tumbling" "$sink")"; then
        pass "$name" "stopped at epoch $at with $(echo "$after" | cut -d' ' -f1) rows; generations $gen -> $last, the rows of a run without the stop"
    else
        fail "$name" "generations $gen -> $last: $why"
    fi
}

# stop_drain: `stream stop --drain` ends the job where its sources stand.
stop_drain_case() {
    local name=stop_drain zk="$1" sink="$WORK/stop_drain.out" out why
    sql_job "$WORK/$name.sql" tumbling "$sink" "'connector' = 'datagen', 'rows' = '$N', 'rows-per-second' = '$RATE'"
    "$FERROKEEPER_BIN" stream submit "$WORK/$name.sql" --zk "$zk" --workers 2 \
        --checkpoint-ms 100 --state-dir "$WORK/$name.state" >"$WORK/$name.submit" 2>&1 ||
        { fail "$name" "submit: $(cat "$WORK/$name.submit")"; return; }
    wait_for 60 has_part "$sink" || { fail "$name" "no committed output within 60 s"; return; }
    out="$("$FERROKEEPER_BIN" stream stop "$name" --zk "$zk" --drain --timeout-secs 60 2>&1)" ||
        { fail "$name" "stop --drain: $out"; return; }
    if ! is_done "$name" "$zk"; then
        fail "$name" "not done after the drain"
    elif [ "$(status "$name" "$zk" stop_requested)" != None ]; then
        fail "$name" "the drain request stayed"
    elif why="$("${CHECK[@]}" read "$N" "$(status "$name" "$zk" positions)" "$sink")"; then
        pass "$name" "$why"
    else
        fail "$name" "$why"
    fi
}

ens_leader_is_not() {
    local s
    for s in 1 2 3; do
        [ "$s" != "$1" ] && [ "$(node_mode "$WORK/ens/s$s")" = leader ] && return 0
    done
    return 1
}

fault_ensemble_leader_kill() {
    local s leader=""
    for s in 1 2 3; do [ "$(node_mode "$WORK/ens/s$s")" = leader ] && leader=$s; done
    [ -n "$leader" ] || { echo "no leader in the ensemble"; return 1; }
    node_kill "$WORK/ens/s$leader"
    wait_for 30 ens_leader_is_not "$leader" || { echo "no new leader after s$leader"; return 1; }
    echo "killed the ensemble's leader s$leader" >&2
    node_start "$WORK/ens/s$leader"
}

# services ZK: two coordinators and three workers on the ensemble at ZK
services() {
    local n
    for n in c1 c2 w1 w2 w3; do start "$n" "$1"; done
}

start_fk "$FK_PORT" "$WORK/fk" >/dev/null || { fail setup "Ferrokeeper did not start"; }
FK="127.0.0.1:$FK_PORT"
services "$FK"
run_case worker_kill "$FK" tumbling fault_worker_kill
run_case coordinator_kill "$FK" tumbling fault_coordinator_kill
run_case rescale "$FK" sliding fault_rescale
run_case everything "$FK" tumbling fault_everything
stop_resume_case "$FK"
stop_drain_case "$FK"
stop_services

ens_setup "$WORK/ens" ferrokeeper
for s in 1 2 3; do node_start "$WORK/ens/s$s"; done
if formed="$(ens_wait_formed "$WORK/ens" 60)"; then
    ENS="$(ens_connect_string "$WORK/ens")"
    services "$ENS"
    MOVES=0 run_case ensemble_leader_kill "$ENS" tumbling fault_ensemble_leader_kill
    stop_services
else
    fail ensemble_leader_kill "$formed"
fi

start_zk "$ZK_PORT" "$WORK/zk" >/dev/null || { fail setup "ZooKeeper did not start"; }
ZK="127.0.0.1:$ZK_PORT"
services "$ZK"
run_case zookeeper_worker_kill "$ZK" tumbling fault_worker_kill
stop_services

echo "$PASSES passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
