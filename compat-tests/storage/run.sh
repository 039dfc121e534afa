#!/usr/bin/env bash
# compat-tests/storage/run.sh [HOST:PORT] [TARGETNAME]
# The storage suite: moving data between Apache ZooKeeper 3.8 and Ferrokeeper data dirs.
# It starts and stops its own servers (ports STORAGE_PORT_BASE+1..+4, default 25201-25204),
# so the HOST:PORT server run-all.sh hands it is ignored; run it once, not per target.
#   zk_workload        ZooKeeper 3.8 (snapCount=20) runs StorageWorkload (every node kind,
#                      ACLs, multi, deletes, sequential nodes); several snapshots and logs
#   import             ferrokeeper snapshot import ZK_DIR FK_DIR
#   dump               ferrokeeper snapshot dump FK_DIR lists as many znodes as ZooKeeper had
#   fk_serves_import   Ferrokeeper started on the imported dir: every path's data, Stat, ACL
#   export_zk_starts   ferrokeeper snapshot export FK_DIR (after Ferrokeeper ran on it);
#                      ZooKeeper 3.8 starts on it and shows the same data, Stat, ACL
#   compact_zk_starts  export --compact of the imported dir (one snapshot written by
#                      Ferrokeeper's serializer): ZooKeeper 3.8 shows the same state and logs
#                      no digest mismatch
# The last line is "N passed, M failed"; exit status 0 only when M == 0.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
COMPAT_DIR="$(cd "$HERE/.." && pwd)"
if [ -z "${FERROKEEPER_BIN:-}" ] && [ -n "${CARGO_TARGET_DIR:-}" ]; then
    FERROKEEPER_BIN="$CARGO_TARGET_DIR/release/ferrokeeper"
fi
# shellcheck source=../lib.sh
source "$COMPAT_DIR/lib.sh"
trap stop_all EXIT

BASE="${STORAGE_PORT_BASE:-25200}"
W="$COMPAT_WORK/storage"
rm -rf "$W"
mkdir -p "$W/classes"
PASSED=0 FAILED=0
result() { # NAME OK|reason
    if [ "$2" = ok ]; then
        echo "PASS $1"; PASSED=$((PASSED + 1)); r=PASS
    else
        echo "FAIL $1: $2"; FAILED=$((FAILED + 1)); r=FAIL
    fi
    [ -n "${COMPAT_RESULT_FILE:-}" ] && echo "$1 $r" >>"$COMPAT_RESULT_FILE"
}
finish() {
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
    exit
}
client() { # workload|dump PORT [small]
    "$JAVA_BIN" -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dorg.slf4j.simpleLogger.defaultLogLevel=error \
        -cp "$W/classes:$ZK_CLASSPATH" StorageWorkload "$1" "127.0.0.1:$2" "${@:3}"
}
same_state() { # NAME DUMPFILE
    if cmp -s "$W/zk.dump" "$2"; then
        result "$1" ok
    else
        diff "$W/zk.dump" "$2" | cut -c1-200 | head -20
        result "$1" "state differs from ZooKeeper's ($(diff "$W/zk.dump" "$2" | grep -c '^[<>]') lines, see $2)"
    fi
}
no_digest_mismatch() { # NAME SERVERDIR
    if grep -qiE "digests? (are )?not matching|digest mismatch" "$2/server.log"; then
        result "$1" "ZooKeeper reports a digest mismatch: $(grep -iE 'not matching|mismatch' "$2/server.log" | head -1)"
    else
        result "$1" ok
    fi
}

if ! javac -nowarn -J-Xmx256m -d "$W/classes" -cp "$ZK_CLASSPATH" "$HERE/StorageWorkload.java" >"$W/javac.log" 2>&1; then
    cat "$W/javac.log"
    result compile "javac failed"
    finish
fi
if [ ! -x "$FERROKEEPER_BIN" ]; then
    result setup "no ferrokeeper binary at $FERROKEEPER_BIN (set FERROKEEPER_BIN)"
    finish
fi
FK="$FERROKEEPER_BIN"

# --- ZooKeeper 3.8 writes the data ------------------------------------------------------
ZK_PROPS=("${SERVER_PROPS[@]}")
SERVER_PROPS+=("-Dzookeeper.snapCount=20" "-Dzookeeper.preAllocSize=64")
if start_zk $((BASE + 1)) "$W/zk" && client workload $((BASE + 1)) >"$W/workload.out" 2>&1 &&
    client dump $((BASE + 1)) >"$W/zk.dump" 2>"$W/zk.dump.err"; then
    stop_server "$W/zk"
    snaps=$(find "$W/zk/data/version-2" -name 'snapshot.*' | wc -l)
    logs=$(find "$W/zk/data/version-2" -name 'log.*' | wc -l)
    if [ "$snaps" -ge 3 ] && [ "$logs" -ge 3 ] && [ -s "$W/zk.dump" ]; then
        result zk_workload ok
    else
        result zk_workload "expected several files, got $snaps snapshots and $logs logs"
    fi
else
    cat "$W/workload.out" "$W/zk.dump.err" 2>/dev/null | tail -5
    stop_server "$W/zk"
    result zk_workload "ZooKeeper or the workload failed (see $W/zk/server.log)"
    finish
fi
SERVER_PROPS=("${ZK_PROPS[@]}")

# --- import into Ferrokeeper -------------------------------------------------------------
if "$FK" snapshot import "$W/zk/data" "$W/fk/data" >"$W/import.out" 2>&1; then
    cat "$W/import.out"
    result import ok
else
    cat "$W/import.out"
    result import "ferrokeeper snapshot import failed"
    finish
fi
cp -a "$W/fk/data" "$W/imported"

"$FK" snapshot dump "$W/fk/data" >"$W/fk.toolkit" 2>&1
count=$(sed -nE 's/^ZNode Details \(count=([0-9]+)\):$/\1/p' "$W/fk.toolkit")
want=$(wc -l <"$W/zk.dump")
if [ "$count" = "$want" ]; then
    result dump ok
else
    result dump "dump lists '${count}' znodes, ZooKeeper had $want"
fi

if start_fk $((BASE + 2)) "$W/fk"; then
    client dump $((BASE + 2)) >"$W/fk.dump" 2>"$W/fk.dump.err"
    stop_server "$W/fk"
    same_state fk_serves_import "$W/fk.dump"
else
    stop_server "$W/fk"
    result fk_serves_import "Ferrokeeper did not start on the imported dir (see $W/fk/server.log)"
fi

# --- export back to ZooKeeper ------------------------------------------------------------
export_and_check() { # NAME FK_DATA_DIR PORT [--compact]
    local name="$1" src="$2" port="$3" dir="$W/$1"
    if ! "$FK" snapshot export "${@:4}" "$src" "$dir/data" >"$W/$name.out" 2>&1; then
        cat "$W/$name.out"
        result "$name" "ferrokeeper snapshot export failed"
        return
    fi
    cat "$W/$name.out"
    if start_zk "$port" "$dir"; then
        client dump "$port" >"$W/$name.dump" 2>"$W/$name.dump.err"
        stop_server "$dir"
        same_state "$name" "$W/$name.dump"
        no_digest_mismatch "${name}_digest" "$dir"
    else
        stop_server "$dir"
        result "$name" "ZooKeeper 3.8 did not start on the export (see $dir/server.log)"
    fi
}
export_and_check export_zk_starts "$W/fk/data" $((BASE + 3))
export_and_check compact_zk_starts "$W/imported" $((BASE + 4)) --compact

finish
