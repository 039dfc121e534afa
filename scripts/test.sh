#!/usr/bin/env bash
# The project's test command: installs what the tests need, builds once (release), runs the
# unit and integration tests, a bounded fuzz smoke, and the compatibility suites against
# Apache ZooKeeper 3.8 and Ferrokeeper side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n==== %s ====\n' "$*"; }

need_pkgs=()
# iptables: the ensemble and fault suites cut links with it (a fresh machine lacks it).
for p in zookeeper libzookeeper-java zookeeper-bin libclang-dev clang python3-venv iptables; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  step "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

step "build (release)"
cargo build --release --locked
export FERROKEEPER_BIN="${CARGO_TARGET_DIR:-$root/target}/release/ferrokeeper"

step "format and lints"
cargo fmt --check
cargo clippy --release --locked --all-targets -- -D warnings

step "cargo test (release)"
cargo test --release --locked 2>&1 | tee /tmp/ferrokeeper-cargo-test.log

if [ -x scripts/fuzz-smoke.sh ] && [ "${SKIP_FUZZ:-0}" != 1 ]; then
  step "fuzz smoke"
  FUZZ_SECONDS="${FUZZ_SECONDS:-30}" scripts/fuzz-smoke.sh
fi

if [ -x compat-tests/run-all.sh ]; then
  step "compatibility suites: Apache ZooKeeper 3.8 vs Ferrokeeper"
  compat-tests/run-all.sh
fi

if [ -x compat-tests/ensemble/run.sh ]; then
  step "ensembles: all-Java reference, 3 Ferrokeeper, mixed (Ferrokeeper follower / leader), rolling replacement"
  t0=$(date +%s)
  compat-tests/ensemble/run.sh
  echo "ensemble suite: $(( $(date +%s) - t0 )) s"
fi

if [ -x compat-tests/ops/ensemble.sh ]; then
  step "operations per role: a leader's and a follower's words, AdminServer and metrics against ZooKeeper 3.8's"
  compat-tests/ops/ensemble.sh
fi

if [ -x compat-tests/observers/run.sh ]; then
  step "observers: 3 participants + an observer, Java and Ferrokeeper in every mix (the all-Java one is the reference)"
  t0=$(date +%s)
  compat-tests/observers/run.sh
  echo "observers suite: $(( $(date +%s) - t0 )) s"
fi
if [ -x compat-tests/reconfig/run.sh ]; then
  step "reconfig: Ferrokeeper servers join a Java ensemble by reconfig, a Java leader is removed, then the membership becomes all Ferrokeeper (the all-Java run is the reference)"
  t0=$(date +%s)
  compat-tests/reconfig/run.sh
  echo "reconfig suite: $(( $(date +%s) - t0 )) s"
fi

if [ -x compat-tests/run-ensemble.sh ]; then
  step "client suites (Java, kazoo, zookeeper-client) against 3-node Java and Ferrokeeper ensembles"
  t0=$(date +%s)
  compat-tests/run-ensemble.sh
  echo "client suites on ensembles: $(( $(date +%s) - t0 )) s"
fi

if [ -x compat-tests/kafka/run.sh ]; then
  step "Kafka: two Kafka 0.9.0.1 brokers and Kafka 3.x's request patterns on Apache ZooKeeper 3.8 and on Ferrokeeper"
  t0=$(date +%s)
  compat-tests/kafka/run.sh
  echo "kafka suite: $(( $(date +%s) - t0 )) s"
fi

if [ -x compat-tests/kafka/run.sh ]; then
  step "Kafka on 3-node ensembles (all-Java reference, Ferrokeeper): kill -9 of the ZooKeeper leader under produce load"
  t0=$(date +%s)
  compat-tests/kafka/run.sh --ensemble
  echo "kafka ensemble suite: $(( $(date +%s) - t0 )) s"
fi

if [ -x compat-tests/flink/run.sh ]; then
  step "Flink: a Flink 2.3 session cluster with ZooKeeper HA (jobmanager kill -9, restore from checkpoint) on Apache ZooKeeper 3.8 and on Ferrokeeper"
  t0=$(date +%s)
  compat-tests/flink/run.sh
  echo "flink suite: $(( $(date +%s) - t0 )) s"
fi

if [ -x compat-tests/flink/run.sh ]; then
  step "Flink HA on 3-node ensembles (all-Java reference, Ferrokeeper): kill -9 of the ZooKeeper leader while the job runs"
  t0=$(date +%s)
  compat-tests/flink/run.sh --ensemble
  echo "flink ensemble suite: $(( $(date +%s) - t0 )) s"
fi

if [ -x compat-tests/stream/run.sh ]; then
  step "ferrokeeper stream: the benchmark job against Apache Flink 2.3 (equal checksums per window kind, p=1/2, checkpoints off/on)"
  t0=$(date +%s)
  compat-tests/stream/run.sh
  echo "stream suite: $(( $(date +%s) - t0 )) s"
fi

if [ -x compat-tests/stream/recovery.sh ]; then
  step "ferrokeeper stream: exactly-once under kill -9 (embedded, twice, metadata on Apache ZooKeeper 3.8 and on Ferrokeeper)"
  compat-tests/stream/recovery.sh
fi

if [ -x compat-tests/stream/sql.sh ]; then
  step "ferrokeeper stream run: SQL jobs (the benchmark job in SQL, datagen and file sources, refusals, exactly-once under kill -9)"
  compat-tests/stream/sql.sh
fi

if [ -x compat-tests/faults/run.sh ]; then
  step "faults in network namespaces (partitions, splits, kill -9, SIGSTOP) with a linearizability check"
  t0=$(date +%s)
  # Ferrokeeper's and mixed ensembles (the all-Java run, the checker's own reference, is
  # compat-tests/faults/run.sh --target java).
  compat-tests/faults/run.sh --target ferrokeeper --target mixed
  echo "fault suite: $(( $(date +%s) - t0 )) s"
fi

if [ -x compat-tests/faults/run.sh ]; then
  step "linearizable sync: sync + get sent to a paused old leader, read after it resumes (Ferrokeeper with linearizableSync=true must pass; ZooKeeper 3.8's result is printed, not fatal)"
  t0=$(date +%s)
  compat-tests/faults/run.sh --target ferrokeeper --scenario stop-leader-sync
  compat-tests/faults/run.sh --target java --scenario stop-leader-sync ||
    echo "ZooKeeper 3.8 fails stop-leader-sync, as expected: its sync is not a quorum round (ZOOKEEPER-1675)"
  echo "linearizable sync faults: $(( $(date +%s) - t0 )) s"
fi

if [ -x compat-tests/storage/run.sh ]; then
  step "storage: ZooKeeper 3.8 data -> import -> Ferrokeeper -> export -> ZooKeeper 3.8"
  compat-tests/storage/run.sh 127.0.0.1:0
fi

if [ -x compat-tests/prometheus/run.sh ]; then
  step "a real Prometheus scrapes Ferrokeeper"
  compat-tests/prometheus/run.sh
fi

if [ -x compat-tests/container/run.sh ]; then
  step "container: podman builds docker/Dockerfile, runs the image and docker/compose.yml"
  compat-tests/container/run.sh
fi

if [ -x bench/compare.sh ]; then
  step "benchmark smoke: every workload against both servers"
  bench/compare.sh --smoke
fi

if [ -x bench/ensemble.sh ]; then
  step "ensemble benchmark smoke: 3-node ZooKeeper and Ferrokeeper ensembles, leader failover"
  bench/ensemble.sh --smoke
fi

if [ -x bench/observers.sh ]; then
  step "observer benchmark smoke: ZooKeeper and Ferrokeeper, 3 participants and 3 + 2 observers"
  bench/observers.sh --smoke
fi

awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "\ncargo tests: %d passed, %d failed\n", p, f }' /tmp/ferrokeeper-cargo-test.log
