#!/usr/bin/env bash
# compat-tests/stream/pipeline.sh - the §5 pipeline (examples/log-pipeline) end to end:
# web-server log lines -> Kafka 0.9.0.1 (two brokers) -> four SQL jobs -> ClickHouse
# (ReplicatedMergeTree on two replicas), PostgreSQL, a Kafka topic, CSV files, each read back
# by its own client and checked against the results recomputed from the log. The ClickHouse
# job is killed with kill -9 mid-run and resumed. Run twice: the metadata of Kafka,
# ClickHouse and the jobs on Ferrokeeper, then on Apache ZooKeeper 3.8 (the same files).
#
#   compat-tests/stream/pipeline.sh
# Environment: FERROKEEPER_BIN, PIPELINE_N (log lines, default 200000). Last line: "N passed, M failed".
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
RUN="$REPO_ROOT/examples/log-pipeline/run.sh"
passes=0 fails=0
for server in ferrokeeper zookeeper; do
    base=21880
    [ "$server" = zookeeper ] && base=21890
    out="$COMPAT_WORK/stream-pipeline-$server.out"
    echo "== the pipeline on $server"
    FERROKEEPER_BIN="$FERROKEEPER_BIN" SERVER="$server" KILL=1 N="${PIPELINE_N:-200000}" \
        BASE_PORT="$base" WORK="$COMPAT_WORK/stream-pipeline-$server" bash "$RUN" 2>&1 | tee "$out" |
        sed -e "s/^PASS /PASS $server: /" -e "s/^FAIL /FAIL $server: /"
    read -r p f <<<"$(tail -1 "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p')"
    [ -n "${p:-}" ] || { p=0 f=1; echo "FAIL $server: the run printed no summary"; }
    passes=$((passes + p)) fails=$((fails + f))
done
echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
