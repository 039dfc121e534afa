#!/usr/bin/env bash
# Starts a standalone Ferrokeeper on the embedded defaults (127.0.0.1:2181, data in ./data),
# building it first. RocksDB's bindings need libclang at build time, which a fresh Debian
# machine lacks: it is installed here when missing. Arguments go to `ferrokeeper server`.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for p in libclang-dev clang; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} (needed to build RocksDB)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/ferrokeeper-target}"
exec cargo run --release --locked -- server "$@"
