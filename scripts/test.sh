#!/usr/bin/env bash
# The project's test command: installs what the tests need, builds once (release), runs the
# unit and integration tests, a bounded fuzz smoke, and the compatibility suites against
# Apache ZooKeeper 3.8 and Ferrokeeper side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n==== %s ====\n' "$*"; }

# suite SCRIPT LABEL TITLE [ARGS...]: when SCRIPT exists, runs it with ARGS under a step
# heading and prints how long it took ("LABEL: N s"), each suite's share of the CI budget.
suite() {
  local script="$1" label="$2" title="$3" t0
  shift 3
  [ -x "$script" ] || return 0
  step "$title"
  t0=$(date +%s)
  "$script" "$@"
  echo "$label: $(( $(date +%s) - t0 )) s"
}

need_pkgs=()
# iptables: the ensemble and fault suites cut links with it (a fresh machine lacks it).
# kcat, postgresql and clickhouse: a Kafka reader and the databases of the stream suites' sinks.
# openssl, libnetty-java (NettyServerCnxnFactory and ClientCnxnSocketNetty) and the JDK's
# keytool (openjdk-17-jre-headless): the tls suite's stores and its Java server and client.
# libkrb5-dev: MIT krb5's GSS-API headers (the libgssapi crate's bindings, kazoo's pykerberos);
# krb5-kdc, krb5-admin-server (kadmin.local) and krb5-user (kinit): the kerberos suite's KDC.
for p in zookeeper libzookeeper-java zookeeper-bin libclang-dev clang python3-venv iptables kcat postgresql \
         clickhouse-server clickhouse-client openssl libnetty-java openjdk-17-jre-headless \
         libkrb5-dev krb5-kdc krb5-admin-server krb5-user; do
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

suite compat-tests/run-all.sh "run-all suite" \
  "compatibility suites: Apache ZooKeeper 3.8 vs Ferrokeeper"

suite compat-tests/sasl/run.sh "sasl suite" \
  "SASL DIGEST-MD5 on the client port: Java client, kazoo, kazoo's own test_sasl.py and raw tokens against ZooKeeper 3.8 and Ferrokeeper"

suite compat-tests/kerberos/run.sh "kerberos suite" \
  "SASL GSSAPI (Kerberos) on the client port with a loopback MIT KDC: Java client, kazoo, kazoo's GSSAPI tests and raw tokens against ZooKeeper 3.8 and Ferrokeeper"

suite compat-tests/tls/run.sh "tls suite" \
  "TLS on the client port and x509 authentication: Java client (Netty), kazoo and raw TLS against ZooKeeper 3.8 and Ferrokeeper"

suite compat-tests/ensemble/run.sh "ensemble suite" \
  "ensembles: all-Java reference, 3 Ferrokeeper, mixed (Ferrokeeper follower / leader), rolling replacement"

suite compat-tests/quorum-tls/run.sh "quorum-tls suite" \
  "quorum TLS: mixed Java/Ferrokeeper ensembles with sslQuorum, untrusted and plaintext outsiders, the portUnification rolling switch"

suite compat-tests/quorum-sasl/run.sh "quorum-sasl suite" \
  "quorum SASL (DIGEST-MD5): mixed Java/Ferrokeeper ensembles with quorum.auth.*, wrong-password outsiders, the rolling switch"

suite compat-tests/ops/ensemble.sh "ops ensemble suite" \
  "operations per role: a leader's and a follower's words, AdminServer and metrics against ZooKeeper 3.8's"

suite compat-tests/observers/run.sh "observers suite" \
  "observers: 3 participants + an observer, Java and Ferrokeeper in every mix (the all-Java one is the reference)"
suite compat-tests/reconfig/run.sh "reconfig suite" \
  "reconfig: Ferrokeeper servers join a Java ensemble by reconfig, a Java leader is removed, then the membership becomes all Ferrokeeper (the all-Java run is the reference)"

suite compat-tests/run-ensemble.sh "client suites on ensembles" \
  "client suites (Java, kazoo, zookeeper-client) against 3-node Java and Ferrokeeper ensembles"

suite compat-tests/kafka/run.sh "kafka suite" \
  "Kafka: two Kafka 0.9.0.1 brokers and Kafka 3.x's request patterns on Apache ZooKeeper 3.8 and on Ferrokeeper"

suite compat-tests/kafka/run.sh "kafka ensemble suite" \
  "Kafka on 3-node ensembles (all-Java reference, Ferrokeeper): kill -9 of the ZooKeeper leader under produce load" --ensemble

suite compat-tests/flink/run.sh "flink suite" \
  "Flink: a Flink 2.3 session cluster with ZooKeeper HA (jobmanager kill -9, restore from checkpoint) on Apache ZooKeeper 3.8 and on Ferrokeeper"

suite compat-tests/flink/run.sh "flink ensemble suite" \
  "Flink HA on 3-node ensembles (all-Java reference, Ferrokeeper): kill -9 of the ZooKeeper leader while the job runs" --ensemble

suite compat-tests/stream/run.sh "stream suite" \
  "ferrokeeper stream: the benchmark job against Apache Flink 2.3 (equal checksums per window kind, p=1/2, checkpoints off/on)"

suite compat-tests/stream/recovery.sh "stream recovery suite" \
  "ferrokeeper stream: exactly-once under kill -9 (embedded, twice, metadata on Apache ZooKeeper 3.8 and on Ferrokeeper)"

suite compat-tests/stream/api.sh "stream api suite" \
  "ferrokeeper stream: a job of the public Rust API (examples/keyed_process.rs, a keyed process function's state and timers) against its direct answer, exactly-once under kill -9 and rescale, metadata embedded, on Apache ZooKeeper 3.8 and on Ferrokeeper"

suite compat-tests/stream/sql.sh "stream sql suite" \
  "ferrokeeper stream run: SQL jobs (the benchmark job in SQL, datagen and file sources, refusals, exactly-once under kill -9)"

suite compat-tests/stream/socket.sh "stream socket suite" \
  "ferrokeeper stream: the socket source (TCP lines through a spool) equal to stream bench, and exactly-once under kill -9 mid-connection"

suite compat-tests/stream/kafka.sh "stream kafka suite" \
  "ferrokeeper stream: Kafka 0.9.0.1 (broker on Ferrokeeper) as a source (equal to stream bench) and an exactly-once sink under kill -9 (read back by kcat)"

suite compat-tests/stream/postgres.sh "stream postgres suite" \
  "ferrokeeper stream: a PostgreSQL sink (jdbc connector), the known answer and exactly-once under kill -9, read back by psql"

suite compat-tests/stream/pipeline.sh "stream pipeline suite" \
  "ferrokeeper stream: the §5 pipeline (examples/log-pipeline): logs -> Kafka 0.9 -> SQL jobs -> ClickHouse (replicated), PostgreSQL, Kafka, files, each read back and checked; on Ferrokeeper and Apache ZooKeeper 3.8"

suite compat-tests/stream/distributed.sh "stream distributed suite" \
  "ferrokeeper stream: distributed jobs (2 coordinators, 3 workers), exactly-once under kill -9 of a worker, the leading coordinator, everything; rescale 2 -> 1 -> 2; on Ferrokeeper and Apache ZooKeeper 3.8"

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

suite compat-tests/storage/run.sh "storage suite" \
  "storage: ZooKeeper 3.8 data -> import -> Ferrokeeper -> export -> ZooKeeper 3.8" 127.0.0.1:0

suite compat-tests/prometheus/run.sh "prometheus suite" \
  "a real Prometheus scrapes Ferrokeeper"

suite compat-tests/container/run.sh "container suite" \
  "container: podman builds docker/Dockerfile, runs the image and docker/compose.yml"

suite bench/compare.sh "bench compare suite" \
  "benchmark smoke: every workload against both servers" --smoke

suite bench/ensemble.sh "bench ensemble suite" \
  "ensemble benchmark smoke: 3-node ZooKeeper and Ferrokeeper ensembles, leader failover" --smoke

suite bench/observers.sh "bench observers suite" \
  "observer benchmark smoke: ZooKeeper and Ferrokeeper, 3 participants and 3 + 2 observers" --smoke

awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "\ncargo tests: %d passed, %d failed\n", p, f }' /tmp/ferrokeeper-cargo-test.log
