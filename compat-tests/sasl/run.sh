#!/usr/bin/env bash
# compat-tests/sasl/run.sh - SASL DIGEST-MD5 on the client port, Apache ZooKeeper 3.8 and
# Ferrokeeper in one run, each started with the same zoo.cfg lines and the same JAAS file
# (alice's password in it is `${sasl.alice.password}`, a -D system property every JVM that
# loads the file is given: the JDK expands each ${prop} of a file when it loads it):
#   * the official Java client (SaslCheck.java): bob, alice, super and a wrong password,
#     sasl:bob ACLs, `auth` ACLs of a SASL user, whoAmI, NOAUTH for others, AuthFailed;
#   * kazoo 2.11 with pure-sasl (a venv under compat-tests/work/sasl-venv): the same ACLs;
#   * kazoo 2.11's own SASL tests (test_sasl.py's DIGEST-MD5 classes, via kazoo/run.sh);
#   * `ferrokeeper cli` logging in from the JAAS file, as zkCli.sh with CLIENT_JVMFLAGS;
#   * a raw wire client: the challenge, a garbage token, tokens over the JDK's 4096-byte
#     limit and over jute.maxbuffer, with another session unaffected;
#   * then zookeeper.sessionRequireClientSASLAuth=true: requests before a login refused
#     with SESSIONCLOSEDREQUIRESASLAUTH, a raw DIGEST-MD5 login (rspauth checked) served.
# Last line "N passed, M failed"; exit status 1 when M > 0.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
COMPAT_DIR="$(cd "$HERE/.." && pwd)"
# shellcheck source=../lib.sh
source "$COMPAT_DIR/lib.sh"

ZK_SASL_PORT="${SASL_ZK_PORT:-22110}"
FK_SASL_PORT="${SASL_FK_PORT:-22111}"
WORK="$COMPAT_WORK/sasl"
VENV="${SASL_VENV:-$COMPAT_WORK/sasl-venv}"
CLASSES="$COMPAT_WORK/sasl-classes"
rm -rf "$WORK"
mkdir -p "$WORK" "$CLASSES"

# ZooKeeper's own server section, and one client section per test user.
JAAS="$WORK/jaas.conf"
cat >"$JAAS" <<'JAAS_EOF'
/* The server's DIGEST-MD5 users, as ZooKeeper's documentation writes them. */
Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_super="adminsecret"
    user_bob="bobsecret"
    user_alice="${sasl.alice.password}"
    user_jaasuser="jaas_password";
};
// Client sections (zookeeper.sasl.clientconfig picks one per session).
Bob { org.apache.zookeeper.server.auth.DigestLoginModule required username="bob" password="bobsecret"; };
Alice { org.apache.zookeeper.server.auth.DigestLoginModule required username="alice" password="alicesecret"; };
Super { org.apache.zookeeper.server.auth.DigestLoginModule required username="super" password="adminsecret"; };
BadBob { org.apache.zookeeper.server.auth.DigestLoginModule required username="bob" password="wrong"; };
JAAS_EOF
# A client's own file whose values name system properties: the JDK's ConfigFile expands
# every ${prop} of a file when it loads it, so an unknown one fails the whole file (a
# server given this file would not start).
CLIENT_JAAS="$WORK/client-jaas.conf"
cat >"$CLIENT_JAAS" <<'JAAS_EOF'
Client { org.apache.zookeeper.server.auth.DigestLoginModule required username="${sasl.bob.name}" password="bob${sasl.bob.suffix}"; };
JAAS_EOF
COMPAT_EXTRA_CFG="authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
SERVER_PROPS+=("-Djava.security.auth.login.config=$JAAS" "-Dzookeeper.superUser=super"
    "-Dsasl.alice.password=alicesecret")

PASSED=0
FAILED=0
fail_setup() { echo "FAIL $1"; FAILED=$((FAILED + 1)); }

SRC="$HERE/SaslCheck.java"
if [ ! -f "$CLASSES/SaslCheck.class" ] || [ "$SRC" -nt "$CLASSES/SaslCheck.class" ]; then
    if ! javac -nowarn -J-Xmx256m -d "$CLASSES" -cp "$ZK_CLASSPATH" "$SRC" >"$WORK/javac.log" 2>&1; then
        cat "$WORK/javac.log" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
fi

if ! "$VENV/bin/python" -c 'import kazoo, puresasl' >/dev/null 2>&1; then
    { python3 -m venv "$VENV" \
        && "$VENV/bin/python" -m pip --disable-pip-version-check -q install \
            kazoo==2.11.0 pure-sasl==0.6.2; } >"$WORK/venv.log" 2>&1 \
        || { cat "$WORK/venv.log" >&2; fail_setup "kazoo venv"; }
fi

trap stop_all EXIT

# kazoo_tests KIND PORT: kazoo 2.11's own SASL tests (test_sasl.py, DIGEST-MD5 through a JAAS
# Server section holding jaasuser, as kazoo's harness configures ZooKeeper; the GSSAPI class
# needs a KDC), through compat-tests/kazoo/run.sh: each must pass, none be skipped.
KAZOO_SASL_TESTS=(
    "TestLegacySASLDigestAuthentication::test_connect_sasl_auth"
    "TestLegacySASLDigestAuthentication::test_invalid_sasl_auth"
    "TestSASLDigestAuthentication::test_connect_sasl_auth"
    "TestSASLDigestAuthentication::test_invalid_sasl_auth"
)
kazoo_tests() {
    local kind="$1" port="$2" t results="$WORK/$1-kazoo-tests.out"
    KAZOO_PYTEST_ARGS="kazoo/tests/test_sasl.py -k Digest" KAZOO_EXCLUDED_FILE=/dev/null \
        KAZOO_RUN_TIMEOUT=300 timeout 400 "$COMPAT_DIR/kazoo/run.sh" "127.0.0.1:$port" >"$results" 2>&1
    for t in "${KAZOO_SASL_TESTS[@]}"; do
        if grep -qx "kazoo/tests/test_sasl.py::$t PASSED" "$results"; then
            echo "PASS kazoo test_sasl.py::$t"
        else
            echo "FAIL kazoo test_sasl.py::$t: $(grep -F "::$t " "$results" | head -1) (see $results)"
        fi
    done
}

# cli_checks PORT: `ferrokeeper cli` logs in as zkCli.sh does, from the JAAS file named in
# CLIENT_JVMFLAGS (section zookeeper.sasl.clientconfig): whoami shows sasl:bob, also from a
# section whose values name system properties (${sasl.bob.name}); a wrong password fails
# the connect.
cli_checks() {
    local who rc
    who="$(CLIENT_JVMFLAGS="-Djava.security.auth.login.config=$JAAS -Dzookeeper.sasl.clientconfig=Bob -Dsasl.alice.password=alicesecret" \
        timeout 30 "$FERROKEEPER_BIN" cli -server "127.0.0.1:$1" whoami 2>&1)"
    if grep -qx "sasl: bob" <<<"$who"; then echo "PASS cli-whoami-bob"; else echo "FAIL cli-whoami-bob: $who"; fi
    who="$(timeout 30 "$FERROKEEPER_BIN" cli -Djava.security.auth.login.config="$CLIENT_JAAS" \
        -Dsasl.bob.name=bob -Dsasl.bob.suffix=secret \
        -server "127.0.0.1:$1" whoami 2>&1)"
    if grep -qx "sasl: bob" <<<"$who"; then echo "PASS cli-jaas-system-properties"; else echo "FAIL cli-jaas-system-properties: $who"; fi
    timeout 30 "$FERROKEEPER_BIN" cli -Djava.security.auth.login.config="$JAAS" -Dsasl.alice.password=alicesecret \
        -Dzookeeper.sasl.clientconfig=BadBob -timeout 5000 -server "127.0.0.1:$1" ls / >/dev/null 2>&1
    rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then echo "PASS cli-wrong-password-refused"
    else echo "FAIL cli-wrong-password-refused: exit $rc"; fi
}

# run_checks KIND PORT: every client against one server; tallies its PASS/FAIL lines.
run_checks() {
    local kind="$1" port="$2" out="$WORK/$1.out"
    : >"$out"
    # Each client is bounded: against a server without SASL kazoo would retry forever.
    timeout 60 "$JAVA_BIN" -Xmx192m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dorg.slf4j.simpleLogger.defaultLogLevel=off \
        -Djava.security.auth.login.config="$JAAS" -Dsasl.alice.password=alicesecret \
        -cp "$CLASSES:$ZK_CLASSPATH" SaslCheck "127.0.0.1:$port" >>"$out" 2>"$WORK/$kind-java.err"
    timeout 60 "$VENV/bin/python" "$HERE/sasl_check.py" kazoo "127.0.0.1:$port" >>"$out" 2>"$WORK/$kind-kazoo.err"
    timeout 60 "$VENV/bin/python" "$HERE/sasl_check.py" raw "127.0.0.1:$port" >>"$out" 2>"$WORK/$kind-raw.err"
    kazoo_tests "$kind" "$port" >>"$out"
    cli_checks "$port" >>"$out"
    local p f
    p=$(grep -c '^PASS ' "$out")
    f=$(grep -c '^FAIL ' "$out")
    sed "s/^\(PASS\|FAIL\) /\1 $kind /" "$out"
    if [ "$p" -eq 0 ]; then
        echo "FAIL $kind: no check ran (see $WORK/$kind-*.err)"
        f=$((f + 1))
    fi
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
}

if start_zk "$ZK_SASL_PORT" "$WORK/zookeeper"; then
    run_checks zookeeper "$ZK_SASL_PORT"
    stop_server "$WORK/zookeeper"
else
    fail_setup "zookeeper start"
fi
if start_fk "$FK_SASL_PORT" "$WORK/ferrokeeper"; then
    run_checks ferrokeeper "$FK_SASL_PORT"
    stop_server "$WORK/ferrokeeper"
else
    fail_setup "ferrokeeper start"
fi

# Then both again with zookeeper.sessionRequireClientSASLAuth=true: nothing but auth and
# sasl before a SASL login, SESSIONCLOSEDREQUIRESASLAUTH instead of AUTHFAILED.
run_required() {
    local kind="$1" port="$2" out="$WORK/$1-required.out" p f
    timeout 60 "$VENV/bin/python" "$HERE/sasl_check.py" required "127.0.0.1:$port" >"$out" \
        2>"$WORK/$kind-required.err"
    p=$(grep -c '^PASS ' "$out")
    f=$(grep -c '^FAIL ' "$out")
    sed "s/^\(PASS\|FAIL\) /\1 $kind /" "$out"
    [ "$p" -gt 0 ] || { echo "FAIL $kind: no required check ran"; f=$((f + 1)); }
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    cat "$out" >>"$WORK/$kind.out"
}
SERVER_PROPS+=("-Dzookeeper.sessionRequireClientSASLAuth=true")
if start_zk "$ZK_SASL_PORT" "$WORK/zookeeper-required"; then
    run_required zookeeper "$ZK_SASL_PORT"
    stop_server "$WORK/zookeeper-required"
else
    fail_setup "zookeeper start (sessionRequireClientSASLAuth)"
fi
if start_fk "$FK_SASL_PORT" "$WORK/ferrokeeper-required"; then
    run_required ferrokeeper "$FK_SASL_PORT"
    stop_server "$WORK/ferrokeeper-required"
else
    fail_setup "ferrokeeper start (sessionRequireClientSASLAuth)"
fi

# Both servers must give the same verdict on every check.
diff <(grep -o '^\(PASS\|FAIL\) [^:]*' "$WORK/zookeeper.out" 2>/dev/null) \
     <(grep -o '^\(PASS\|FAIL\) [^:]*' "$WORK/ferrokeeper.out" 2>/dev/null) >"$WORK/diff" \
    || { echo "FAIL same verdicts on both servers:"; cat "$WORK/diff"; FAILED=$((FAILED + 1)); }

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
