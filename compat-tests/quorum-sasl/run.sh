#!/usr/bin/env bash
# compat-tests/quorum-sasl/run.sh [--scenario NAME]...
#
# Quorum SASL (DIGEST-MD5: quorum.auth.enableSasl, learnerRequireSasl, serverRequireSasl)
# in mixed 3-server ensembles of Java ZooKeeper 3.8 and Ferrokeeper on free loopback
# ports. Every server gets the same zoo.cfg lines (ZooKeeper's own) and the same JAAS file
# (QuorumServer with user_NAME="pw", QuorumLearner with username/password), Java through
# -Djava.security.auth.login.config on its command line, Ferrokeeper the same -D argument.
#
# Scenarios (default: all):
#   wire         a Java learner dials a fake peer (wire.py): its first QuorumAuthPacket
#                is the bytes the unit tests pin, and its DIGEST-MD5 response has the
#                digest-uri zookeeper-quorum/zk-quorum-sasl-md5 and authzid the user
#   fk-follower  sid 1 Ferrokeeper, sids 2, 3 Java, all three flags on: Java sid 3 leads,
#                Ferrokeeper follows; writes through each server are read on all; every
#                server logs SASL success as learner and as server; the leader is killed,
#                a new one leads, writes, the old one rejoins; then sid 1 comes back with
#                a wrong QuorumLearner password and stays out while the others serve
#                writes
#   fk-leader    sid 1 Java, sids 2, 3 Ferrokeeper: the same with Ferrokeeper leading a
#                Java follower, and the Java server as the wrong-password outsider
#   rolling      Ferrokeeper, Java, Ferrokeeper with enableSasl=true only, then
#                learnerRequireSasl=true, then serverRequireSasl=true, one server at a
#                time (ZooKeeper's documented rolling switch): writes replicate after
#                every restart, and at the end every server logs SASL success
#
# Output: `PASS SCENARIO/CHECK (info)` or `FAIL SCENARIO/CHECK: reason` per check, then
# `N passed, M failed`; exit status 0 only when nothing failed.
# Files: compat-tests/work/quorum-sasl/{jaas*.conf,SCENARIO/s1..s3 (zoo.cfg, props, server.log)}.
# Environment: FERROKEEPER_BIN (as ensemble/run.sh), ENSEMBLE_PYTHON (a python with kazoo),
# QSASL_OUT_SECONDS (how long an outsider is watched, default 6).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -z "${FERROKEEPER_BIN:-}" ] && [ -x /var/tmp/ferrokeeper-target/release/ferrokeeper ]; then
    FERROKEEPER_BIN=/var/tmp/ferrokeeper-target/release/ferrokeeper
fi
# shellcheck source=../ensemble/node.sh
source "$HERE/../ensemble/node.sh"
export FERROKEEPER_BIN

ALL_SCENARIOS=(wire fk-follower fk-leader rolling)
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

WORK="$COMPAT_WORK/quorum-sasl"
OUT_SECONDS="${QSASL_OUT_SECONDS:-6}"
ZK_PY="$HERE/../quorum-tls/zk.py"
rm -rf "$WORK"
mkdir -p "$WORK"
RUN_DIRS=()
trap ens_cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

PYTHON="$(ens_python)" || { echo "no python with kazoo (see ../ensemble/README.md)" >&2; exit 3; }
[ -x "$FERROKEEPER_BIN" ] || { echo "no ferrokeeper binary at $FERROKEEPER_BIN" >&2; exit 3; }
echo "quorum-sasl suite: ${SCENARIOS[*]}; ferrokeeper: $FERROKEEPER_BIN"

# The JAAS files, in ZooKeeper's documented shape; the password comes from a system
# property in the good one (${quorum.pw}, -Dquorum.pw=...), as JAAS files often do.
cat >"$WORK/jaas.conf" <<'EOF_JAAS'
QuorumServer {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_zkquorum="${quorum.pw}"
       user_other="otherpw";
};
QuorumLearner {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       username="zkquorum"
       password="${quorum.pw}";
};
EOF_JAAS
sed 's/password="${quorum.pw}"/password="not-the-password"/' "$WORK/jaas.conf" >"$WORK/jaas-wrong.conf"

PASSED=0
FAILED=0
pass() { # CHECK [INFO]
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
        cat >"$n/base.cfg" <<EOF_CFG
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
EOF_CFG
    done
}

# configure NODE MODE [JAAS] : zoo.cfg = base + the quorum SASL lines of MODE (off,
# enable, learner, all), the JAAS file (jaas.conf by default) as -D arguments.
configure() {
    local n="$1" mode="$2" jaas="${3:-$WORK/jaas.conf}"
    cp "$n/base.cfg" "$n/zoo.cfg"
    printf '%s\n' "-Djava.security.auth.login.config=$jaas" "-Dquorum.pw=s3cret-quorum" >"$n/props"
    {
        case "$mode" in
            off) ;;
            enable) echo "quorum.auth.enableSasl=true" ;;
            learner) printf 'quorum.auth.enableSasl=true\nquorum.auth.learnerRequireSasl=true\n' ;;
            all)
                printf 'quorum.auth.enableSasl=true\nquorum.auth.learnerRequireSasl=true\n'
                printf 'quorum.auth.serverRequireSasl=true\n'
                printf 'quorum.auth.learner.saslLoginContext=QuorumLearner\n'
                printf 'quorum.auth.server.saslLoginContext=QuorumServer\nquorum.cnxn.threads.size=20\n'
                ;;
        esac
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

leader_of() { # DIR SIDS...
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

# replicated DIR KEY VALUE SIDS... : write /qsasl/KEY=VALUE through the first SID, read
# it on every SID.
replicated() {
    local dir="$1" key="$2" value="$3" sid got
    shift 3
    "$PYTHON" "$ZK_PY" write "$(hosts "$dir" "$1")" "/qsasl/$key" "$value" 2>&1 \
        || { echo "the write through s$1 failed"; return 1; }
    for sid in "$@"; do
        got="$("$PYTHON" "$ZK_PY" read "$(hosts "$dir" "$sid")" "/qsasl/$key" 2>&1)"
        [ "$got" = "$value" ] || { echo "s$sid read '$got' for /qsasl/$key"; return 1; }
    done
}

kinds_of() { # DIR
    local s out=""
    for s in 1 2 3; do out+=" s$s=$(cat "$1/s$s/kind")"; done
    echo "${out# }"
}

this_run_log() { awk '/^==== start/{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$1/server.log"; }

# sasl_ok DIR SIDS... : every SID's current run logged a successful exchange as a
# learner ("Successfully completed the authentication using SASL. server addr", Java's
# SaslQuorumAuthLearner line and Ferrokeeper's) and as a server ("Successfully
# authenticated learner", SaslQuorumServerCallbackHandler's and Ferrokeeper's).
sasl_ok() {
    local dir="$1" sid log
    shift
    for sid in "$@"; do
        log="$(this_run_log "$dir/s$sid")"
        grep -q "Successfully completed the authentication using SASL. server addr" <<<"$log" \
            || { echo "s$sid logged no SASL success as a learner"; return 1; }
        grep -q "Successfully authenticated learner" <<<"$log" \
            || { echo "s$sid logged no SASL success as a server"; return 1; }
    done
}

# stays_out DIR SID OTHERS... : for OUT_SECONDS SID runs and never serves, while a write
# through the others replicates among them.
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

restart() { # DIR SID MODE [JAAS]
    node_stop "$1/s$2" 10
    configure "$1/s$2" "$3" "${4:-}"
    node_start "$1/s$2"
}

# ------------------------------------------------------------------ wire
scenario_wire() {
    local name=wire dir="$WORK/wire" t0=$SECONDS got first resp
    setup "$dir" zookeeper zookeeper zookeeper
    echo "== $name: a Java learner's first QuorumAuthPacket and DIGEST-MD5 response"
    # s2's election port is wire.py's; s1 (the smaller sid) dials it first thing.
    local port
    port="$(sed -n 's/^server\.2=127\.0\.0\.1:[0-9]*:\([0-9]*\)$/\1/p' "$dir/s1/base.cfg")"
    "$PYTHON" "$HERE/wire.py" "$port" "$dir/wire.out" >"$dir/wire.log" 2>&1 &
    local probe=$!
    sleep 0.5
    configure "$dir/s1" all
    node_start "$dir/s1"
    wait "$probe"
    node_stop "$dir/s1" 10
    first="$(sed -n 1p "$dir/wire.out" 2>/dev/null)"
    resp="$(sed -n 2p "$dir/wire.out" 2>/dev/null)"
    # magic -0xa0dbcafecafe1234L, status IN_PROGRESS (0), token length 0: what
    # src/quorum/transport/sasl/tests.rs pins as JAVA_FIRST_PACKET.
    if [ "$first" = 5f2435013501edcc0000000000000000 ]; then
        pass "$name/first-packet" "$first"
    else
        fail "$name/first-packet" "got '${first:-nothing}' (see $dir/wire.log)"
    fi
    got=""
    grep -q 'digest-uri="zookeeper-quorum/zk-quorum-sasl-md5"' <<<"$resp" || got+=" no digest-uri;"
    grep -q 'realm="zk-quorum-sasl-md5"' <<<"$resp" || got+=" no realm;"
    grep -q 'authzid="zkquorum"' <<<"$resp" || got+=" no authzid;"
    grep -q 'username="zkquorum"' <<<"$resp" || got+=" no username;"
    grep -q 'qop=auth' <<<"$resp" || got+=" no qop;"
    if [ -z "$got" ]; then pass "$name/response" "$resp"; else fail "$name/response" "${got# } in '$resp'"; fi
    echo "TIME $name $((SECONDS - t0))s"
}

# ------------------------------------------------------------------ fk-follower, fk-leader
scenario_outsiders() { # NAME K1 K2 K3
    local name="$1" dir="$WORK/$1" t0=$SECONDS why line leader newl sid others
    setup "$dir" "$2" "$3" "$4"
    echo "== $name: $(kinds_of "$dir"), enableSasl, learnerRequireSasl, serverRequireSasl"
    for sid in 3 2 1; do configure "$dir/s$sid" all; node_start "$dir/s$sid"; done
    if ! line="$(wait_serving "$dir" 60 1 2 3)"; then
        fail "$name/form" "$line"
        return
    fi
    leader="$(leader_of "$dir" 1 2 3)"
    pass "$name/form" "$line, leader s$leader $(cat "$dir/s$leader/kind"), $((SECONDS - t0))s"
    for sid in 1 2 3; do
        if why="$(replicated "$dir" "first-$sid" "one-$sid" "$sid" 1 2 3)"; then
            pass "$name/replicate-via-s$sid" "written through s$sid $(cat "$dir/s$sid/kind"), read on s1 s2 s3"
        else
            fail "$name/replicate-via-s$sid" "$why"
        fi
    done
    if why="$(sasl_ok "$dir" 1 2 3)"; then pass "$name/sasl-logged" "every server, as learner and server"; else fail "$name/sasl-logged" "$why"; fi

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

    # sid 1 with a wrong QuorumLearner password stays out.
    restart "$dir" 1 all "$WORK/jaas-wrong.conf"
    if why="$(stays_out "$dir" 1 2 3)"; then
        pass "$name/wrong-password-outsider" "s1 $(cat "$dir/s1/kind") stayed out ${OUT_SECONDS}s, s2 s3 served writes"
    else
        fail "$name/wrong-password-outsider" "$why"
    fi
    # ... and joins with the right one, catching up.
    restart "$dir" 1 all
    if line="$(wait_serving "$dir" 40 1 2 3)" && why="$(replicated "$dir" after-outsider four 2 1 3)"; then
        pass "$name/outsider-rejoins" "$line"
    else
        fail "$name/outsider-rejoins" "${why:-$line}"
    fi
    for sid in 1 2 3; do node_stop "$dir/s$sid" 10; done
    echo "TIME $name $((SECONDS - t0))s"
}

# ------------------------------------------------------------------ rolling
scenario_rolling() {
    local name=rolling dir="$WORK/rolling" t0=$SECONDS why line sid mode n=0 ok=1
    setup "$dir" ferrokeeper zookeeper ferrokeeper
    echo "== $name: $(kinds_of "$dir"), enableSasl -> learnerRequireSasl -> serverRequireSasl"
    for sid in 3 2 1; do configure "$dir/s$sid" enable; node_start "$dir/s$sid"; done
    if ! line="$(wait_serving "$dir" 60 1 2 3)"; then
        fail "$name/form" "$line"
        return
    fi
    pass "$name/form" "enableSasl=true only: $line"
    for mode in learner all; do
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
        if why="$(sasl_ok "$dir" 1 2 3)"; then pass "$name/sasl-logged"; else fail "$name/sasl-logged" "$why"; fi
    fi
    for sid in 1 2 3; do node_stop "$dir/s$sid" 10; done
    echo "TIME $name $((SECONDS - t0))s"
}

for s in "${SCENARIOS[@]}"; do
    case "$s" in
        wire) scenario_wire ;;
        fk-follower) scenario_outsiders fk-follower ferrokeeper zookeeper zookeeper ;;
        fk-leader) scenario_outsiders fk-leader zookeeper ferrokeeper ferrokeeper ;;
        rolling) scenario_rolling ;;
    esac
done
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
