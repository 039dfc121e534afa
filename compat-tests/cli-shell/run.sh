#!/usr/bin/env bash
# compat-tests/cli-shell/run.sh ADDR TARGET
#
# Runs script.txt (zkCli commands; @R stands for the session's root znode) once through
# `ferrokeeper cli` (root /cs-ferrokeeper-cli) and once through Debian's zkCli.sh (root
# /cs-zkcli) against the server at ADDR, then dumps both resulting trees (relative paths,
# data, dataVersion, cversion, aclVersion, numChildren, ACLs; ephemerals are gone once each
# session closed) and compares them.  With TARGET=zookeeper this shows that `ferrokeeper cli`
# does the same as zkCli against Apache ZooKeeper 3.8.
#
# One check per znode of either tree (`PASS cli-shell/PATH` or `FAIL cli-shell/PATH`), plus
# one for the set of paths.  Last line: `N passed, M failed`.
set -uo pipefail

ADDR="${1:-}"
TARGET="${2:-unknown}"
if [ -z "$ADDR" ] || [[ "$ADDR" != *:* ]]; then
    echo "usage: $0 HOST:PORT TARGET" >&2
    exit 2
fi
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
COMPAT_DIR="$(cd "$HERE/.." && pwd)"
REPO_ROOT="$(cd "$COMPAT_DIR/.." && pwd)"
WORK="${COMPAT_WORK:-$COMPAT_DIR/work}/cli-shell-$TARGET"
FERROKEEPER_BIN="${FERROKEEPER_BIN:-${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/ferrokeeper}"
ZKCLI="${ZKCLI:-/usr/share/zookeeper/bin/zkCli.sh}"
for tool in "$FERROKEEPER_BIN" "$ZKCLI"; do
    if [ ! -x "$tool" ]; then
        echo "cli-shell: $tool not found (set FERROKEEPER_BIN / ZKCLI)" >&2
        exit 3
    fi
done
rm -rf "$WORK"
mkdir -p "$WORK"

FK_ROOT=/cs-ferrokeeper-cli
ZK_ROOT=/cs-zkcli
fk() { "$FERROKEEPER_BIN" cli -server "$ADDR" "$@"; }

# Start from empty roots (a rerun against the same server).
fk deleteall "$FK_ROOT" >/dev/null 2>&1
fk deleteall "$ZK_ROOT" >/dev/null 2>&1

sed "s#@R#$FK_ROOT#g" "$HERE/script.txt" >"$WORK/fk.script"
sed "s#@R#$ZK_ROOT#g" "$HERE/script.txt" >"$WORK/zk.script"
timeout 120 "$FERROKEEPER_BIN" cli -server "$ADDR" <"$WORK/fk.script" >"$WORK/fk.out" 2>&1
echo "ferrokeeper cli session: exit $? (transcript $WORK/fk.out)"
timeout 180 "$ZKCLI" -server "$ADDR" <"$WORK/zk.script" >"$WORK/zk.out" 2>&1
echo "zkCli.sh session: exit $? (transcript $WORK/zk.out)"
# Both sessions are closed: give the server a moment to drop their ephemerals.
sleep 1

# dump ROOT OUTDIR: one file per znode (relative path), with data, counters and ACLs.
dump() {
    local root="$1" out="$2" p rel f
    mkdir -p "$out"
    fk ls -R "$root" >"$out.paths" 2>&1 || { echo "ls -R $root failed: $(cat "$out.paths")"; return; }
    while IFS= read -r p; do
        rel="${p#"$root"}"
        [ -n "$rel" ] || rel=/
        f="$out/$(printf '%s' "$rel" | sed 's#/#%#g')"
        {
            echo "path $rel"
            fk get -s "$p" 2>&1 | grep -vE '^(cZxid|ctime|mZxid|mtime|pZxid|ephemeralOwner) = '
            echo "acl:"
            fk getAcl "$p" 2>&1
        } >"$f"
        echo "$rel" >>"$out.rel"
    done <"$out.paths"
}
dump "$FK_ROOT" "$WORK/tree-fk"
dump "$ZK_ROOT" "$WORK/tree-zk"

passed=0
failed=0
check() { # NAME OK [DETAIL]
    if [ "$2" = 1 ]; then
        echo "PASS cli-shell/$1"; passed=$((passed + 1))
    else
        echo "FAIL cli-shell/$1"; [ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/    /'
        failed=$((failed + 1))
    fi
}

fk_rel="$(sort "$WORK/tree-fk.rel" 2>/dev/null)"
zk_rel="$(sort "$WORK/tree-zk.rel" 2>/dev/null)"
if [ -n "$zk_rel" ] && [ "$fk_rel" = "$zk_rel" ]; then
    check paths 1
else
    check paths 0 "$(diff <(echo "$zk_rel") <(echo "$fk_rel") | head -40)"
fi
for rel in $(printf '%s\n%s\n' "$fk_rel" "$zk_rel" | sort -u); do
    f="$(printf '%s' "$rel" | sed 's#/#%#g')"
    if [ -f "$WORK/tree-fk/$f" ] && [ -f "$WORK/tree-zk/$f" ] \
        && d="$(diff "$WORK/tree-zk/$f" "$WORK/tree-fk/$f")"; then
        check "${rel#/}" 1
    else
        check "${rel#/}" 0 "${d:-missing on one side} (< zkCli.sh, > ferrokeeper cli)"
    fi
    d=""
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
