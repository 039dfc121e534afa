#!/usr/bin/env bash
# compat-tests/kerberos/run.sh - SASL GSSAPI (Kerberos) on the client port, Apache ZooKeeper
# 3.8 and Ferrokeeper in one run, each started with the same zoo.cfg lines, the same JAAS file
# (a Krb5LoginModule Server section: zookeeper/localhost's keytab) and the same krb5.conf, with
# a throwaway MIT KDC on 127.0.0.1 (realm KAZOOTEST.ORG, kdc.sh):
#   * the official Java client (KerberosCheck.java, JAAS Krb5LoginModule with keytabs): sasl:
#     ACLs of alice's principal, bob and anonymous denied, whoAmI of alice and svc/host1;
#   * kazoo 2.11 with pure-sasl over pykerberos (tickets kinit'ed from the keytabs): the same;
#   * kazoo 2.11's own GSSAPI tests (test_sasl.py's TestSASLGSSAPIAuthentication, which kinits
#     `client` from $KRB5_TEST_ENV/client.keytab), through compat-tests/kazoo/run.sh;
#   * a raw wire client: garbage, empty and oversized first tokens answered AUTHFAILED and
#     closed, another session unaffected;
#   * eve of OTHER.ORG, a realm KAZOOTEST.ORG trusts (a cross-realm krbtgt): served, as
#     sasl:eve@OTHER.ORG even with removeRealmFromPrincipal (no DEFAULT rule maps it); asking
#     for authorization id `mallory` (kazoo), alice stays alice but eve becomes mallory;
#   * alice with a keytab of an old key: her login fails at the KDC, the Java client reports
#     AuthFailed and goes on unauthenticated (NOAUTH);
#   * the server's key re-keyed in the KDC (its keytab stale): AuthFailed for both clients;
#   * then zookeeper.kerberos.removeHostFromPrincipal/removeRealmFromPrincipal=true and
#     zookeeper.sessionRequireClientSASLAuth=true, zookeeper.superUser=svc: identities `alice`
#     and `svc` (super: it reads alice's node), an unauthenticated client refused;
#   * last, a server section whose keytab lacks the principal's key: the server does not start.
# Last line "N passed, M failed"; exit status 1 when M > 0.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
COMPAT_DIR="$(cd "$HERE/.." && pwd)"
# shellcheck source=../lib.sh
source "$COMPAT_DIR/lib.sh"
# shellcheck source=kdc.sh
source "$HERE/kdc.sh"

ZK_KRB_PORT="${KRB_ZK_PORT:-22170}"
FK_KRB_PORT="${KRB_FK_PORT:-22171}"
KDC_PORT="${KRB_KDC_PORT:-22178}"
REALM=KAZOOTEST.ORG
# A realm the server's realm trusts: its users authenticate, their names keep the realm.
OTHER_REALM=OTHER.ORG
WORK="$COMPAT_WORK/kerberos"
KDC="$WORK/kdc"
VENV="${COMPAT_VENV:-$COMPAT_DIR/.venv}"
CLASSES="$COMPAT_WORK/kerberos-classes"
rm -rf "$WORK"
mkdir -p "$WORK" "$CLASSES"

PASSED=0
FAILED=0
fail_setup() { echo "FAIL $1"; FAILED=$((FAILED + 1)); }
trap 'stop_all; kdc_stop' EXIT

if ! kdc_start "$KDC" "$KDC_PORT" "$REALM" "$OTHER_REALM"; then
    cat "$KDC"/*.log >&2
    echo "0 passed, 1 failed"
    exit 1
fi
for p in zookeeper/localhost:zk alice:alice bob:bob svc/host1:svc client:client; do
    kdc_principal "${p%%:*}" "$KDC/${p##*:}.keytab" || fail_setup "principal ${p%%:*}"
done
kdc_principal eve "$KDC/eve.keytab" "$OTHER_REALM" || fail_setup "principal eve@$OTHER_REALM"
# alice's old key only: ktadd gives her a new one (alice.keytab holds both).
cp "$KDC/alice.keytab" "$KDC/alice-old.keytab"
kadmin.local -r "$REALM" -q "ktadd -k $KDC/alice.keytab alice@$REALM" >>"$KDC/kadmin.log" 2>&1 \
    || fail_setup "new key for alice"

# ZooKeeper's own server section, and one client section per test user.
JAAS="$WORK/jaas.conf"
cat >"$JAAS" <<JAAS_EOF
/* The server's Kerberos login, as ZooKeeper's documentation writes it. */
Server {
    com.sun.security.auth.module.Krb5LoginModule required
    useKeyTab=true
    keyTab="$KDC/zk.keytab"
    storeKey=true
    useTicketCache=false
    principal="zookeeper/localhost@$REALM";
};
Alice { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab="$KDC/alice.keytab" storeKey=true useTicketCache=false principal="alice@$REALM"; };
Bob { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab="$KDC/bob.keytab" storeKey=true useTicketCache=false principal="bob@$REALM"; };
// A server section whose keytab lacks the server's principal (zookeeper.sasl.serverconfig).
NoKey { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab="$KDC/alice.keytab" storeKey=true useTicketCache=false principal="zookeeper/localhost@$REALM"; };
StaleAlice { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab="$KDC/alice-old.keytab" storeKey=true useTicketCache=false principal="alice@$REALM"; };
Eve { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab="$KDC/eve.keytab" storeKey=true useTicketCache=false principal="eve@$OTHER_REALM"; };
Svc { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab="$KDC/svc.keytab" storeKey=true useTicketCache=false principal="svc/host1@$REALM"; };
JAAS_EOF
COMPAT_EXTRA_CFG="authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
SERVER_PROPS+=("-Djava.security.auth.login.config=$JAAS" "-Djava.security.krb5.conf=$KDC/krb5.conf")

SRC="$HERE/KerberosCheck.java"
if [ ! -f "$CLASSES/KerberosCheck.class" ] || [ "$SRC" -nt "$CLASSES/KerberosCheck.class" ]; then
    if ! javac -nowarn -J-Xmx256m -d "$CLASSES" -cp "$ZK_CLASSPATH" "$SRC" >"$WORK/javac.log" 2>&1; then
        cat "$WORK/javac.log" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
fi

# kazoo's venv (compat-tests/kazoo/setup.sh) plus pykerberos, pure-sasl's GSSAPI backend
# (built from source against libkrb5-dev).
"$COMPAT_DIR/kazoo/setup.sh" >"$WORK/setup.log" 2>&1 || { cat "$WORK/setup.log" >&2; fail_setup "kazoo venv"; }
if ! "$VENV/bin/python" -c 'import kerberos' >/dev/null 2>&1; then
    "$VENV/bin/python" -m pip --disable-pip-version-check -q install kerberos==1.3.1 \
        >"$WORK/pip.log" 2>&1 || { cat "$WORK/pip.log" >&2; fail_setup "pykerberos"; }
fi

# kinit_all: a ticket cache per user (WORK/NAME.cc) for kazoo; new tickets after a re-key.
kinit_all() {
    local u
    for u in alice@$REALM bob@$REALM eve@$OTHER_REALM; do
        KRB5CCNAME="FILE:$WORK/${u%@*}.cc" kinit -kt "$KDC/${u%@*}.keytab" "$u" >>"$WORK/kinit.log" 2>&1 \
            || echo "FAIL kinit $u"
    done
}

java_check() { # PORT ARGS...
    local port="$1"
    shift
    timeout 90 "$JAVA_BIN" -Xmx192m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dorg.slf4j.simpleLogger.defaultLogLevel=off \
        -Djava.security.auth.login.config="$JAAS" -Djava.security.krb5.conf="$KDC/krb5.conf" \
        -Dzookeeper.sasl.client.canonicalize.hostname=false -Dzookeeper.server.realm="$REALM" \
        -cp "$CLASSES:$ZK_CLASSPATH" KerberosCheck "localhost:$port" "$@"
}

# kazoo_tests KIND PORT: kazoo 2.11's GSSAPI tests: each must pass, none be skipped.
KAZOO_KRB_TESTS=(
    "TestSASLGSSAPIAuthentication::test_connect_gssapi_auth"
    "TestSASLGSSAPIAuthentication::test_invalid_gssapi_auth"
)
kazoo_tests() {
    local kind="$1" port="$2" t results="$WORK/$1-kazoo-tests.out"
    KRB5_TEST_ENV="$KDC" KRB5CCNAME="FILE:$WORK/kazoo-tests.cc" \
        KAZOO_PYTEST_ARGS="kazoo/tests/test_sasl.py -k GSSAPI" KAZOO_EXCLUDED_FILE=/dev/null \
        KAZOO_RUN_TIMEOUT=200 timeout 300 "$COMPAT_DIR/kazoo/run.sh" "localhost:$port" >"$results" 2>&1
    for t in "${KAZOO_KRB_TESTS[@]}"; do
        if grep -qx "kazoo/tests/test_sasl.py::$t PASSED" "$results"; then
            echo "PASS kazoo test_sasl.py::$t"
        else
            echo "FAIL kazoo test_sasl.py::$t: $(grep -F "::$t " "$results" | head -1) (see $results)"
        fi
    done
}

# tally KIND OUT: prints OUT's lines prefixed with KIND, adds them up.
tally() {
    local kind="$1" out="$2" p f
    p=$(grep -c '^PASS ' "$out")
    f=$(grep -c '^FAIL ' "$out")
    sed "s/^\(PASS\|FAIL\) /\1 $kind /" "$out"
    [ "$p" -gt 0 ] || { echo "FAIL $kind: no check ran (see $WORK/$kind-*.err)"; f=$((f + 1)); }
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    cat "$out" >>"$WORK/$kind.all"
}

# run_checks KIND PORT: every client against one server (identities with host and realm).
run_checks() {
    local kind="$1" port="$2" out="$WORK/$1.out"
    : >"$out"
    kinit_all >>"$out"
    java_check "$port" acl "alice@$REALM" "svc/host1@$REALM" NOAUTH >>"$out" 2>"$WORK/$kind-java.err"
    java_check "$port" foreign "eve@$OTHER_REALM" >>"$out" 2>>"$WORK/$kind-java.err"
    java_check "$port" stale-client >>"$out" 2>>"$WORK/$kind-java.err"
    timeout 60 "$VENV/bin/python" "$HERE/krb_check.py" acl "localhost:$port" "$WORK" "alice@$REALM" \
        "eve@$OTHER_REALM" >>"$out" 2>"$WORK/$kind-kazoo.err"
    timeout 60 "$VENV/bin/python" "$HERE/krb_check.py" raw "localhost:$port" "$WORK" \
        >>"$out" 2>"$WORK/$kind-raw.err"
    kazoo_tests "$kind" "$port" >>"$out"
    # Last: a new key for zookeeper/localhost in the KDC only. Fresh service tickets are
    # encrypted with it; the server's keytab has only the old one. Then the keytab gets a
    # newer key again (ktadd), for the next server.
    if kdc_rekey "zookeeper/localhost"; then
        kinit_all >>"$out"
        java_check "$port" rekeyed >>"$out" 2>>"$WORK/$kind-java.err"
        timeout 60 "$VENV/bin/python" "$HERE/krb_check.py" rekeyed "localhost:$port" "$WORK" \
            >>"$out" 2>>"$WORK/$kind-kazoo.err"
    else
        echo "FAIL rekey zookeeper/localhost" >>"$out"
    fi
    kadmin.local -r "$REALM" -q "ktadd -k $KDC/zk.keytab zookeeper/localhost@$REALM" >>"$KDC/kadmin.log" 2>&1 \
        || echo "FAIL new server keytab" >>"$out"
    tally "$kind" "$out"
}

if start_zk "$ZK_KRB_PORT" "$WORK/zookeeper"; then
    run_checks zookeeper "$ZK_KRB_PORT"
    stop_server "$WORK/zookeeper"
else
    fail_setup "zookeeper start"
fi
if start_fk "$FK_KRB_PORT" "$WORK/ferrokeeper"; then
    run_checks ferrokeeper "$FK_KRB_PORT"
    stop_server "$WORK/ferrokeeper"
else
    fail_setup "ferrokeeper start"
fi

# Then both with the host and realm removed from identities, and SASL required.
SERVER_PROPS+=("-Dzookeeper.kerberos.removeHostFromPrincipal=true"
    "-Dzookeeper.kerberos.removeRealmFromPrincipal=true"
    "-Dzookeeper.sessionRequireClientSASLAuth=true" "-Dzookeeper.superUser=svc")
run_stripped() {
    local kind="$1" port="$2" out="$WORK/$1-stripped.out"
    : >"$out"
    kinit_all >>"$out"
    java_check "$port" required alice >>"$out" 2>"$WORK/$kind-stripped-java.err"
    # No DEFAULT rule maps another realm's name: ZooKeeper keeps the name the client sent,
    # realm and all, whatever removeRealmFromPrincipal says.
    java_check "$port" foreign "eve@$OTHER_REALM" 2>>"$WORK/$kind-stripped-java.err" \
        | sed 's/^\(PASS\|FAIL\) java-/\1 java-stripped-/' >>"$out"
    # Svc's identity without its host, and super; alice's node guarded by sasl:alice.
    java_check "$port" acl alice svc OK 2>>"$WORK/$kind-stripped-java.err" \
        | grep -E '^(PASS|FAIL) java-(alice|svc)' | sed 's/^\(PASS\|FAIL\) java-/\1 java-stripped-/' >>"$out"
    tally "$kind" "$out"
}
if start_zk "$ZK_KRB_PORT" "$WORK/zookeeper-stripped"; then
    run_stripped zookeeper "$ZK_KRB_PORT"
    stop_server "$WORK/zookeeper-stripped"
else
    fail_setup "zookeeper start (stripped, required)"
fi
if start_fk "$FK_KRB_PORT" "$WORK/ferrokeeper-stripped"; then
    run_stripped ferrokeeper "$FK_KRB_PORT"
    stop_server "$WORK/ferrokeeper-stripped"
else
    fail_setup "ferrokeeper start (stripped, required)"
fi

# Last, a server section whose keytab has no key for its principal: no server starts (the
# Java server's Kerberos login fails; Ferrokeeper cannot acquire its credential).
SERVER_PROPS+=("-Dzookeeper.sasl.serverconfig=NoKey")
for kind in zookeeper ferrokeeper; do
    port="$ZK_KRB_PORT"
    [ "$kind" = ferrokeeper ] && port="$FK_KRB_PORT"
    # Each says why in its log.
    why="Could not configure server because SASL configuration did not allow"
    [ "$kind" = ferrokeeper ] && why="cannot acquire the service credential for zookeeper/localhost"
    if start_server "$kind" "$port" "$WORK/$kind-nokey" 2>/dev/null; then
        echo "FAIL no-key-server-refuses-to-start: it started" >>"$WORK/$kind.all"
        echo "FAIL $kind no-key-server-refuses-to-start: it started"
        stop_server "$WORK/$kind-nokey"
        FAILED=$((FAILED + 1))
    elif ! grep -qF "$why" "$WORK/$kind-nokey/server.log"; then
        echo "FAIL no-key-server-refuses-to-start: not for its key" >>"$WORK/$kind.all"
        echo "FAIL $kind no-key-server-refuses-to-start: not for its key (see $WORK/$kind-nokey/server.log)"
        FAILED=$((FAILED + 1))
    else
        echo "PASS no-key-server-refuses-to-start" >>"$WORK/$kind.all"
        echo "PASS $kind no-key-server-refuses-to-start"
        PASSED=$((PASSED + 1))
    fi
done

# Both servers must give the same verdict on every check.
diff <(grep -o '^\(PASS\|FAIL\) [^:]*' "$WORK/zookeeper.all" 2>/dev/null) \
     <(grep -o '^\(PASS\|FAIL\) [^:]*' "$WORK/ferrokeeper.all" 2>/dev/null) >"$WORK/diff" \
    || { echo "FAIL same verdicts on both servers:"; cat "$WORK/diff"; FAILED=$((FAILED + 1)); }

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
