#!/usr/bin/env bash
# compat-tests/kafka/restart-server.sh KIND PORT DIR - stop the server started by lib.sh in DIR
# (SIGTERM) and start the same kind again on the same port and data dir (KafkaSuite's
# server_restart check). The previous log is kept as DIR/server.log.N.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
kind="$1" port="$2" dir="$3"
stop_server "$dir"
n=1
while [ -e "$dir/server.log.$n" ]; do n=$((n + 1)); done
mv "$dir/server.log" "$dir/server.log.$n"
start_server "$kind" "$port" "$dir"
