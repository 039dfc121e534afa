#!/usr/bin/env bash
# compat-tests/quorum-tls/run.sh [--scenario NAME]...
#
# Quorum TLS (sslQuorum, portUnification, ssl.quorum.*) in mixed 3-server ensembles of
# Java ZooKeeper 3.8 and Ferrokeeper on free loopback ports, every server with the same
# zoo.cfg lines (ZooKeeper's own) and stores made by certs.sh (Java: node.p12 and
# trust.jks; Ferrokeeper: node.jks and trust.pem).
#
# Scenarios (default: all):
#   fk-follower  sid 1 Ferrokeeper, sids 2, 3 Java, sslQuorum=true: Java sid 3 leads, the
#                Ferrokeeper server follows; writes through one server are read on all,
#                every server logs TLS handshakes and no plaintext; the leader is killed
#                (Java sid 2 leads, Ferrokeeper follows it), writes again, the old leader
#                rejoins; then sid 1 comes back with a certificate of another CA
#                (untrusted), without sslQuorum (plaintext), with an expired certificate
#                and with one that does not name 127.0.0.1: each time it stays out while
#                the others serve writes; last it comes back with sslQuorumReloadCertFiles
#                and the untrusted certificate in its keystore file, which is then
#                replaced by its own: it joins without a restart and catches up
#   fk-leader    sid 1 Java, sids 2, 3 Ferrokeeper: the same, with Ferrokeeper leading
#                (sid 3, then sid 2 after the kill) a Java and a Ferrokeeper follower, and
#                the Java server as the outsider
#   no-hostname-check  Ferrokeeper, Java, Ferrokeeper, each with a certificate that does
#                not name 127.0.0.1 and ssl.quorum.hostnameVerification=false: forms, writes
#                replicate
#   ensemble-checks  ensemble/run.sh's leader-kill (under write load), catchup-snap,
#                catchup-diff and catchup-trunc on its mixed-fk-leader and mixed-fk-follower
#                topologies, every server with sslQuorum=true (ENSEMBLE_EXTRA_CFG)
#   rolling      Ferrokeeper, Java, Ferrokeeper started plaintext, switched as ZooKeeper's
#                documentation says, one server at a time: portUnification=true, then
#                sslQuorum=true as well, then portUnification removed; writes replicate
#                after every restart, and at the end every server speaks TLS only
#
# Output: `PASS SCENARIO/CHECK (info)` or `FAIL SCENARIO/CHECK: reason` per check, then
# `N passed, M failed`; exit status 0 only when nothing failed.
# Files: compat-tests/work/quorum-tls/{certs,SCENARIO/s1..s3 (zoo.cfg, server.log)},
# ensemble-checks.log (and ensemble/run.sh's own under compat-tests/work/ensemble).
# Environment: FERROKEEPER_BIN (as ensemble/run.sh), ENSEMBLE_PYTHON (a python with kazoo),
# QTLS_OUT_SECONDS (how long an outsider is watched, default 6).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -z "${FERROKEEPER_BIN:-}" ] && [ -x /var/tmp/ferrokeeper-target/release/ferrokeeper ]; then
    FERROKEEPER_BIN=/var/tmp/ferrokeeper-target/release/ferrokeeper
fi
# shellcheck source=../ensemble/node.sh
source "$HERE/../ensemble/node.sh"
export FERROKEEPER_BIN

ALL_SCENARIOS=(fk-follower fk-leader no-hostname-check ensemble-checks rolling)
SCENARIOS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --scenario) SCENARIOS+=("${2:?--scenario NAME}"); shift 2 ;;
        --scenario=*) SCENARIOS+=("${1#*=}"); shift ;;
        -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=("${ALL_SCENARIOS[@]}")
for s in "${SCENARIOS[@]}"; do
    case " ${ALL_SCENARIOS[*]} " in *" $s "*) ;; *) echo "unknown scenario: $s" >&2; exit 2 ;; esac
done

WORK="$COMPAT_WORK/quorum-tls"
CERTS="$WORK/certs"
OUT_SECONDS="${QTLS_OUT_SECONDS:-6}"
rm -rf "$WORK"
mkdir -p "$WORK"
RUN_DIRS=()
trap ens_cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

PYTHON="$(ens_python)" || { echo "no python with kazoo (see ../ensemble/README.md)" >&2; exit 3; }
"$HERE/certs.sh" "$CERTS" >/dev/null || { echo "certs.sh failed: see $CERTS/certs.log" >&2; exit 3; }
[ -x "$FERROKEEPER_BIN" ] || { echo "no ferrokeeper binary at $FERROKEEPER_BIN" >&2; exit 3; }
echo "quorum-tls suite: ${SCENARIOS[*]}; ferrokeeper: $FERROKEEPER_BIN"

PASSED=0
FAILED=0
pass() { # CHECK [INFO]: INFO in parentheses unless it comes with its own
    case "${2:-}" in "") echo "PASS $1" ;; "("*) echo "PASS $1 $2" ;; *) echo "PASS $1 ($2)" ;; esac
    PASSED=$((PASSED + 1))
}
fail() { echo "FAIL $1: $2"; FAILED=$((FAILED + 1)); }

# setup DIR K1 K2 K3 : node directories with their base config (ports, server lines).
setup() {
    local dir="$1" sid i ports servers=""
    shift
    local kinds=("$@")
    rm -rf "$dir"
    mkdir -p "$dir"
    RUN_DIRS+=("$dir")
    mapfile -t ports < <(free_ports 9)
    for sid in 1 2 3; do
        i=$(((sid - 1) * 3))
        servers+="server.$sid=127.0.0.1:${ports[$((i + 1))]}:${ports[$((i + 2))]}"$'\n'
    done
    for sid in 1 2 3; do
        local n="$dir/s$sid"
        mkdir -p "$n/data"
        echo "$sid" >"$n/myid"
        cp "$n/myid" "$n/data/myid"
        echo "${kinds[$((sid - 1))]}" >"$n/kind"
        echo "${ports[$(((sid - 1) * 3))]}" >"$n/client_port"
        cat >"$n/base.cfg" <<EOF
tickTime=500
initLimit=20
syncLimit=10
dataDir=$n/data
clientPort=${ports[$(((sid - 1) * 3))]}
clientPortAddress=127.0.0.1
maxClientCnxns=0
4lw.commands.whitelist=*
admin.enableServer=false
${servers}
EOF
    done
}

# configure NODE MODE [KEYS [LINES]] : zoo.cfg = base + the quorum TLS lines of MODE (plain,
# unified, unified-tls, tls) with the keystore KEYS (node, the default; rogue, expired,
# misnamed: see certs.sh; reloadable: NODE/quorum.p12 with sslQuorumReloadCertFiles=true),
# then LINES.
configure() {
    local n="$1" mode="$2" keys="${3:-node}" lines="${4:-}" ks ts
    cp "$n/base.cfg" "$n/zoo.cfg"
    [ "$mode" = plain ] && return 0
    if [ "$(cat "$n/kind")" = zookeeper ]; then
        ks="$CERTS/$keys.p12" ts="$CERTS/trust.jks"
    else
        ks="$CERTS/$keys.p12" ts="$CERTS/trust.pem"
        case "$keys" in node|misnamed) ks="$CERTS/$keys.jks" ;; esac
    fi
    {
        case "$mode" in
            unified) echo "portUnification=true" ;;
            unified-tls) printf 'sslQuorum=true\nportUnification=true\n' ;;
            tls) echo "sslQuorum=true" ;;
        esac
        if [ "$keys" = reloadable ]; then
            ks="$n/quorum.p12"
            echo "sslQuorumReloadCertFiles=true"
        fi
        echo "ssl.quorum.keyStore.location=$ks"
        echo "ssl.quorum.keyStore.password=storepass"
        echo "ssl.quorum.trustStore.location=$ts"
        echo "ssl.quorum.trustStore.password=storepass"
        [ -n "$lines" ] && printf '%s\n' "$lines"
    } >>"$n/zoo.cfg"
}

# serving DIR SIDS... : one line "sid=mode ..." ; status 0 when every SID serves and
# exactly one leads.
serving() {
    local dir="$1" sid m leaders=0 ok=0 line=""
    shift
    for sid in "$@"; do
        m="$(node_mode "$dir/s$sid")"
        line+=" s$sid=${m:-none}"
        case "$m" in leader) leaders=$((leaders + 1)) ;; follower) ;; *) ok=1 ;; esac
    done
    echo "${line# }"
    [ $ok = 0 ] && [ $leaders = 1 ]
}

wait_serving() { # DIR TIMEOUT SIDS...
    local dir="$1" t="$2" deadline=$((SECONDS + $2)) line
    shift 2
    while :; do
        line="$(serving "$dir" "$@")" && { echo "$line"; return 0; }
        [ $SECONDS -ge $deadline ] && { echo "not serving after ${t}s: $line"; return 1; }
        sleep 0.5
    done
}

leader_of() { # DIR SIDS... -> the sid whose mode is leader
    local dir="$1" sid
    shift
    for sid in "$@"; do
        [ "$(node_mode "$dir/s$sid")" = leader ] && { echo "$sid"; return 0; }
    done
    return 1
}

hosts() { # DIR SIDS... -> 127.0.0.1:P,...
    local dir="$1" sid out=""
    shift
    for sid in "$@"; do out+="${out:+,}127.0.0.1:$(cat "$dir/s$sid/client_port")"; done
    echo "$out"
}

# replicated DIR KEY VALUE SIDS... : write /qtls/KEY=VALUE through the first SID, read it
# on every SID. Prints what went wrong.
replicated() {
    local dir="$1" key="$2" value="$3" sid got
    shift 3
    "$PYTHON" "$HERE/zk.py" write "$(hosts "$dir" "$1")" "/qtls/$key" "$value" 2>&1 \
        || { echo "the write through s$1 failed"; return 1; }
    for sid in "$@"; do
        got="$("$PYTHON" "$HERE/zk.py" read "$(hosts "$dir" "$sid")" "/qtls/$key" 2>&1)"
        [ "$got" = "$value" ] || { echo "s$sid read '$got' for /qtls/$key"; return 1; }
    done
}

kinds_of() { # DIR -> "s1=kind s2=kind s3=kind"
    local s out=""
    for s in 1 2 3; do out+=" s$s=$(cat "$1/s$s/kind")"; done
    echo "${out# }"
}

# This start's part of a node's log.
this_run_log() { awk '/^==== start/{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$1/server.log"; }

# tls_only DIR SIDS... : every SID's current run logged a TLS handshake (dialing: "SSL
# handshake complete with", accepting: "Accepted TLS connection from", the lines both
# servers write) and neither accepted nor blocked a plaintext quorum connection.
tls_only() {
    local dir="$1" sid log
    shift
    for sid in "$@"; do
        log="$(this_run_log "$dir/s$sid")"
        grep -qE "SSL handshake complete with|Accepted TLS connection from" <<<"$log" \
            || { echo "s$sid logged no TLS handshake"; return 1; }
        if grep -qE "Accepted plaintext connection|Blocked insecure connection" <<<"$log"; then
            echo "s$sid saw a plaintext quorum connection"
            return 1
        fi
    done
}

# stays_out DIR SID OTHERS... : for OUT_SECONDS SID is running and never serves, while a
# write through the others replicates among them.
stays_out() {
    local dir="$1" sid="$2" deadline m why
    shift 2
    deadline=$((SECONDS + OUT_SECONDS))
    why="$(replicated "$dir" "while-s$sid-out-$RANDOM" v "$@")" || { echo "$why"; return 1; }
    while [ $SECONDS -lt $deadline ]; do
        node_running "$dir/s$sid" || { echo "s$sid died"; return 1; }
        m="$(node_mode "$dir/s$sid")"
        [ -z "$m" ] || { echo "s$sid serves as $m"; return 1; }
        sleep 0.5
    done
    why="$(serving "$dir" "$@")" || { echo "the others stopped serving: $why"; return 1; }
}

restart() { # DIR SID MODE [KEYS [LINES]]
    node_stop "$1/s$2" 10
    configure "$1/s$2" "$3" "${4:-node}" "${5:-}"
    node_start "$1/s$2"
}

# ------------------------------------------------------------------ fk-follower, fk-leader
scenario_outsiders() { # NAME K1 K2 K3
    local name="$1" dir="$WORK/$1" t0=$SECONDS why line leader newl sid others
    setup "$dir" "$2" "$3" "$4"
    echo "== $name: $(kinds_of "$dir"), sslQuorum=true"
    for sid in 3 2 1; do configure "$dir/s$sid" tls; node_start "$dir/s$sid"; done
    if ! line="$(wait_serving "$dir" 60 1 2 3)"; then
        fail "$name/form" "$line"
        return
    fi
    leader="$(leader_of "$dir" 1 2 3)"
    pass "$name/form" "$line, leader s$leader $(cat "$dir/s$leader/kind"), $((SECONDS - t0))s"
    if why="$(replicated "$dir" first one 1 1 2 3)"; then
        pass "$name/replicate" "written through s1, read on s1 s2 s3"
    else
        fail "$name/replicate" "$why"
    fi
    if why="$(tls_only "$dir" 1 2 3)"; then pass "$name/tls-only"; else fail "$name/tls-only" "$why"; fi

    node_kill "$dir/s$leader"
    others=()
    for sid in 1 2 3; do [ "$sid" = "$leader" ] || others+=("$sid"); done
    if line="$(wait_serving "$dir" 40 "${others[@]}")"; then
        newl="$(leader_of "$dir" "${others[@]}")"
        pass "$name/leader-kill" "s$leader killed: $line, leader s$newl $(cat "$dir/s$newl/kind")"
        if why="$(replicated "$dir" after-kill two "${others[@]}")"; then
            pass "$name/replicate-after-kill"
        else
            fail "$name/replicate-after-kill" "$why"
        fi
    else
        fail "$name/leader-kill" "$line"
    fi
    node_start "$dir/s$leader"
    if line="$(wait_serving "$dir" 40 1 2 3)" && why="$(replicated "$dir" after-rejoin three 1 2 3)"; then
        pass "$name/rejoin" "s$leader back: $line"
    else
        fail "$name/rejoin" "${why:-$line}"
        return
    fi

    # sid 1 as an outsider: a certificate of another CA, plaintext, an expired
    # certificate, one that does not name 127.0.0.1.
    local keys what
    for keys in rogue plain expired misnamed; do
        case "$keys" in
            rogue) what="untrusted-outsider:with a rogue CA's certificate" ;;
            plain) what="plaintext-outsider:without sslQuorum" ;;
            expired) what="expired-outsider:with an expired certificate" ;;
            misnamed) what="misnamed-outsider:with a certificate for zk.invalid only" ;;
        esac
        if [ "$keys" = plain ]; then restart "$dir" 1 plain; else restart "$dir" 1 tls "$keys"; fi
        if why="$(stays_out "$dir" 1 2 3)"; then
            pass "$name/${what%%:*}" "s1 $(cat "$dir/s1/kind") ${what#*:} stayed out ${OUT_SECONDS}s"
        else
            fail "$name/${what%%:*}" "$why"
        fi
    done

    # sslQuorumReloadCertFiles: s1 starts with the rogue certificate in its keystore file,
    # which is then replaced by its own; it joins without a restart and catches up.
    cp "$CERTS/rogue.p12" "$dir/s1/quorum.p12"
    restart "$dir" 1 tls reloadable
    sleep 3
    if [ -n "$(node_mode "$dir/s1")" ]; then
        fail "$name/reload" "s1 serves with the rogue certificate"
    else
        cp "$CERTS/node.p12" "$dir/s1/quorum.p12.new"
        mv "$dir/s1/quorum.p12.new" "$dir/s1/quorum.p12"
        local t1=$SECONDS got
        if line="$(wait_serving "$dir" 40 1 2 3)" \
            && why="$(replicated "$dir" after-reload four 2 1 3)"; then
            # What was written while it was out reached it too.
            got="$("$PYTHON" "$HERE/zk.py" read "$(hosts "$dir" 1)" /qtls/after-rejoin 2>&1)"
            if [ "$got" = three ]; then
                pass "$name/reload" "s1 joined $((SECONDS - t1))s after its keystore file was replaced: $line"
            else
                fail "$name/reload" "s1 read '$got' for /qtls/after-rejoin"
            fi
        else
            fail "$name/reload" "${why:-$line}"
        fi
    fi
    for sid in 1 2 3; do node_stop "$dir/s$sid" 10; done
    echo "TIME $name $((SECONDS - t0))s"
}

# ------------------------------------------------------------------ no-hostname-check
scenario_no_hostname_check() {
    local name=no-hostname-check dir="$WORK/no-hostname-check" t0=$SECONDS why line sid
    setup "$dir" ferrokeeper zookeeper ferrokeeper
    echo "== $name: $(kinds_of "$dir"), certificates for zk.invalid, ssl.quorum.hostnameVerification=false"
    for sid in 3 2 1; do
        configure "$dir/s$sid" tls misnamed "ssl.quorum.hostnameVerification=false"
        node_start "$dir/s$sid"
    done
    if ! line="$(wait_serving "$dir" 60 1 2 3)"; then
        fail "$name/form" "$line"
        return
    fi
    pass "$name/form" "$line"
    if why="$(replicated "$dir" nohost five 2 1 2 3)"; then pass "$name/replicate"; else fail "$name/replicate" "$why"; fi
    if why="$(tls_only "$dir" 1 2 3)"; then pass "$name/tls-only"; else fail "$name/tls-only" "$why"; fi
    for sid in 1 2 3; do node_stop "$dir/s$sid" 10; done
    echo "TIME $name $((SECONDS - t0))s"
}

# ------------------------------------------------------------------ ensemble-checks
scenario_ensemble_checks() {
    local name=ensemble-checks t0=$SECONDS out="$WORK/ensemble-checks.log" line st rest
    local label check info topo n=0 log
    local extra="sslQuorum=true
ssl.quorum.keyStore.location=$CERTS/node.p12
ssl.quorum.keyStore.password=storepass
ssl.quorum.trustStore.location=$CERTS/trust.jks
ssl.quorum.trustStore.password=storepass"
    echo "== $name: ensemble/run.sh's checks on mixed-fk-leader and mixed-fk-follower, sslQuorum=true"
    ENSEMBLE_EXTRA_CFG="$extra" ENSEMBLE_PYTHON="$PYTHON" COMPAT_RESULT_FILE="" \
        "$HERE/../ensemble/run.sh" --only ferrokeeper \
        --topology mixed-fk-leader --topology mixed-fk-follower \
        --check leader-kill --check catchup-snap --check catchup-diff --check catchup-trunc \
        >"$out" 2>&1
    while read -r line; do
        # "PASS mixed-fk-leader/ferrokeeper catchup-snap (1.9s) info" or "FAIL ... check: why"
        st="${line%% *}" rest="${line#* }"
        label="${rest%% *}" rest="${rest#* }"
        check="${rest%%[ :]*}" info="${rest#"$check"}"
        info="${info#:}"
        topo="${label%/*}"
        n=$((n + 1))
        if [ "$st" = PASS ]; then pass "$name/$topo/$check" "${info# }"; else fail "$name/$topo/$check" "${info# }"; fi
    done < <(grep -E '^(PASS|FAIL) ' "$out")
    [ $n -gt 0 ] || fail "$name" "ensemble/run.sh gave no result: see $out"
    # Every server of those runs spoke TLS and saw no plaintext quorum connection.
    for log in "$COMPAT_WORK"/ensemble/mixed-fk-{leader,follower}-ferrokeeper/s?/server.log; do
        if ! grep -qE "SSL handshake complete with|Accepted TLS connection from" "$log" \
            || grep -qE "Accepted plaintext connection|Blocked insecure connection" "$log"; then
            fail "$name/tls-only" "$log: no TLS handshake, or a plaintext connection"
            log=""
            break
        fi
    done
    [ -n "$log" ] && pass "$name/tls-only" "every server's log"
    echo "TIME $name $((SECONDS - t0))s"
}

# ------------------------------------------------------------------ rolling
scenario_rolling() {
    local name=rolling dir="$WORK/rolling" t0=$SECONDS why line sid mode n=0 ok=1
    setup "$dir" ferrokeeper zookeeper ferrokeeper
    echo "== $name: $(kinds_of "$dir"), plaintext -> portUnification -> sslQuorum -> TLS only"
    for sid in 3 2 1; do configure "$dir/s$sid" plain; node_start "$dir/s$sid"; done
    if ! line="$(wait_serving "$dir" 60 1 2 3)"; then
        fail "$name/form" "$line"
        return
    fi
    pass "$name/form" "$line"
    for mode in unified unified-tls tls; do
        for sid in 1 2 3; do
            n=$((n + 1))
            restart "$dir" "$sid" "$mode"
            if ! line="$(wait_serving "$dir" 40 1 2 3)"; then
                fail "$name/$mode" "after s$sid restarted: $line"
                ok=0
                break 2
            fi
            if ! why="$(replicated "$dir" "step$n" "v$n" "$sid" 1 2 3)"; then
                fail "$name/$mode" "after s$sid restarted: $why"
                ok=0
                break 2
            fi
        done
        pass "$name/$mode" "every server restarted with it, writes replicate: $line"
    done
    if [ $ok = 1 ]; then
        if why="$(tls_only "$dir" 1 2 3)"; then pass "$name/tls-only"; else fail "$name/tls-only" "$why"; fi
    fi
    for sid in 1 2 3; do node_stop "$dir/s$sid" 10; done
    echo "TIME $name $((SECONDS - t0))s"
}

for s in "${SCENARIOS[@]}"; do
    case "$s" in
        fk-follower) scenario_outsiders fk-follower ferrokeeper zookeeper zookeeper ;;
        fk-leader) scenario_outsiders fk-leader zookeeper ferrokeeper ferrokeeper ;;
        no-hostname-check) scenario_no_hostname_check ;;
        ensemble-checks) scenario_ensemble_checks ;;
        rolling) scenario_rolling ;;
    esac
done
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
