#!/usr/bin/env bash
# compat-tests/prometheus/run.sh - a real Prometheus (Debian's `prometheus` package) scrapes
# Ferrokeeper's /metrics (metricsProvider.className = ZooKeeper's PrometheusMetricsProvider)
# every second; through Prometheus's HTTP query API the test checks that znode_count went up
# by exactly the number of znodes it created, that the request latency summaries moved
# under its load, and that ZooKeeper's metric names carry ZooKeeper's types.
#
#   compat-tests/prometheus/run.sh
#
# Starts its own Ferrokeeper ($FERROKEEPER_BIN, default target/release/ferrokeeper) and
# Prometheus, on loopback ports PROM_FK_PORT (26500), +70 (/metrics), +90 (Prometheus).
# Installs prometheus with apt-get if it is missing. Last line: "N passed, M failed".
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

FK_CLIENT_PORT="${PROM_FK_PORT:-26500}"
METRICS_PORT=$((FK_CLIENT_PORT + 70))
PROM_PORT=$((FK_CLIENT_PORT + 90))
WORK="$COMPAT_WORK/prometheus"
PROM_PID=""

cleanup() {
    [ -n "$PROM_PID" ] && kill "$PROM_PID" 2>/dev/null && wait "$PROM_PID" 2>/dev/null
    stop_all
}
trap cleanup EXIT

if ! command -v prometheus >/dev/null 2>&1; then
    echo "installing prometheus (apt-get install -y prometheus)"
    apt-get install -y prometheus >/dev/null 2>&1 ||
        { apt-get update >/dev/null 2>&1 && apt-get install -y prometheus >/dev/null 2>&1; }
fi
if ! command -v prometheus >/dev/null 2>&1; then
    echo "FAIL setup: prometheus is not installed and could not be installed"
    echo "0 passed, 1 failed"
    exit 1
fi
if [ ! -x "$FERROKEEPER_BIN" ]; then
    echo "FAIL setup: Ferrokeeper binary not found: $FERROKEEPER_BIN"
    echo "0 passed, 1 failed"
    exit 1
fi

rm -rf "$WORK"
mkdir -p "$WORK/fk/data" "$WORK/prom"
cat >"$WORK/fk/zoo.cfg" <<CFG
tickTime=2000
dataDir=$WORK/fk/data
clientPort=$FK_CLIENT_PORT
clientPortAddress=127.0.0.1
4lw.commands.whitelist=*
admin.enableServer=false
metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider
metricsProvider.httpHost=127.0.0.1
metricsProvider.httpPort=$METRICS_PORT
CFG
_wait_port_free "$FK_CLIENT_PORT" || { echo "FAIL setup: port $FK_CLIENT_PORT busy"; echo "0 passed, 1 failed"; exit 1; }
"$FERROKEEPER_BIN" server "$WORK/fk/zoo.cfg" >"$WORK/fk/server.log" 2>&1 </dev/null &
echo $! >"$WORK/fk/server.pid"
_COMPAT_STARTED_DIRS+=("$WORK/fk")
if ! wait_ready "$FK_CLIENT_PORT" 60 "$(cat "$WORK/fk/server.pid")"; then
    echo "FAIL setup: Ferrokeeper did not start (see $WORK/fk/server.log)"
    echo "0 passed, 1 failed"
    exit 1
fi

cat >"$WORK/prom/prometheus.yml" <<CFG
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: ferrokeeper
    metrics_path: /metrics
    static_configs:
      - targets: ['127.0.0.1:$METRICS_PORT']
CFG
prometheus --config.file="$WORK/prom/prometheus.yml" --storage.tsdb.path="$WORK/prom/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prom/prometheus.log" 2>&1 </dev/null &
PROM_PID=$!

python3 "$HERE/check.py" "127.0.0.1:$FK_CLIENT_PORT" "http://127.0.0.1:$PROM_PORT"
