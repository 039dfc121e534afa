#!/usr/bin/env bash
# compat-tests/tls/run.sh - TLS on the client port and x509 authentication, Apache
# ZooKeeper 3.8 (NettyServerCnxnFactory) and Ferrokeeper in one run, each started with the
# same zoo.cfg lines and the same stores (certs.sh: openssl and keytool):
#   * main: secureClientPort beside clientPort, PKCS12 stores, ssl.clientAuth unset (need),
#     authProvider.x509, an x509 super user. The Java client (ClientCnxnSocketNetty) and
#     kazoo (use_ssl) connect with client certificates: whoAmI shows the x509 identity
#     (Java's RFC 2253 subject), x509 ACLs hold against another certificate and plaintext
#     clients, `auth` ACLs become x509 ones, the super user reads everything, addAuth x509
#     works with a certificate and fails without; untrusted, expired and missing client
#     certificates, plaintext and garbage on the secure port are refused while a live
#     session goes on; the plaintext port still serves.
#   * unified: client.portUnification=true, JKS stores, ssl.clientAuth=want: TLS and
#     plaintext on the client port, a TLS client without a certificate served as ip only.
#   * none: PEM stores, ssl.clientAuth=none: no certificate asked, no x509 identity;
#     maxClientCnxns=3 counted on each port by itself (3 plain and 3 TLS sessions at once).
# Last line "N passed, M failed"; exit status 1 when M > 0.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
COMPAT_DIR="$(cd "$HERE/.." && pwd)"
# shellcheck source=../lib.sh
source "$COMPAT_DIR/lib.sh"

ZK_PLAIN="${TLS_ZK_PORT:-23201}"
ZK_SECURE="${TLS_ZK_SECURE_PORT:-23202}"
FK_PLAIN="${TLS_FK_PORT:-23203}"
FK_SECURE="${TLS_FK_SECURE_PORT:-23204}"
WORK="$COMPAT_WORK/tls"
CERTS="$WORK/certs"
VENV="${TLS_VENV:-$COMPAT_WORK/tls-venv}"
CLASSES="$COMPAT_WORK/tls-classes"
START=$SECONDS
rm -rf "$WORK"
mkdir -p "$WORK" "$CLASSES"

PASSED=0
FAILED=0
fail_setup() { echo "FAIL $1"; FAILED=$((FAILED + 1)); }

if ! "$HERE/certs.sh" "$CERTS" >/dev/null; then
    cat "$CERTS/certs.log" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

SRC="$HERE/TlsCheck.java"
if [ ! -f "$CLASSES/TlsCheck.class" ] || [ "$SRC" -nt "$CLASSES/TlsCheck.class" ]; then
    if ! javac -nowarn -J-Xmx256m -d "$CLASSES" -cp "$ZK_CLASSPATH" "$SRC" >"$WORK/javac.log" 2>&1; then
        cat "$WORK/javac.log" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
fi

if ! "$VENV/bin/python" -c 'import kazoo' >/dev/null 2>&1; then
    { python3 -m venv "$VENV" \
        && "$VENV/bin/python" -m pip --disable-pip-version-check -q install kazoo==2.11.0; } \
        >"$WORK/venv.log" 2>&1 || { cat "$WORK/venv.log" >&2; fail_setup "kazoo venv"; }
fi

trap stop_all EXIT

# The x509 super user, as a system property (ZooKeeper reads it only there).
SERVER_PROPS+=("-Dzookeeper.X509AuthenticationProvider.superUser=CN=admin,O=Ferrokeeper Tests")

# cfg MODE SECURE_PORT: the zoo.cfg lines of a mode (both servers get the same ones).
cfg() {
    local common="secureClientPort=$2
secureClientPortAddress=127.0.0.1
serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory
authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider"
    case "$1" in
        main) printf '%s\n' "$common" \
            "ssl.keyStore.location=$CERTS/server-store.p12" "ssl.keyStore.password=storepass" \
            "ssl.trustStore.location=$CERTS/trust.p12" "ssl.trustStore.password=storepass" ;;
        unified) printf '%s\n' "$common" "client.portUnification=true" "ssl.clientAuth=want" \
            "ssl.keyStore.location=$CERTS/server-store.jks" "ssl.keyStore.password=storepass" \
            "ssl.trustStore.location=$CERTS/trust.jks" "ssl.trustStore.password=storepass" ;;
        none) printf '%s\n' "$common" "ssl.clientAuth=none" "maxClientCnxns=3" \
            "ssl.keyStore.location=$CERTS/server-store.pem" "ssl.keyStore.type=PEM" \
            "ssl.trustStore.location=$CERTS/trust.pem" ;;
    esac
}

# cli_checks MODE SECURE: `ferrokeeper cli` as a TLS client (zookeeper.client.secure and the
# zookeeper.ssl.* stores, as zkCli.sh takes them), PASS/FAIL lines.
cli_checks() {
    local mode="$1" secure="$2" out
    cli() { timeout 30 "$FERROKEEPER_BIN" cli -Dzookeeper.client.secure=true "$@" 2>&1; }
    check() { if [ "$2" = 0 ]; then echo "PASS $1"; else echo "FAIL $1: ${3:0:300}"; fi; }
    case "$mode" in
        main)
            local trust=(-Dzookeeper.ssl.trustStore.location="$CERTS/trust.p12" -Dzookeeper.ssl.trustStore.password=storepass)
            out=$(cli "${trust[@]}" -Dzookeeper.ssl.keyStore.location="$CERTS/bob.p12" \
                -Dzookeeper.ssl.keyStore.password=storepass -server "127.0.0.1:$secure" whoami)
            grep -q 'x509' <<<"$out" && grep -q 'CN=bob,OU=clients,O=Ferrokeeper Tests' <<<"$out"
            check cli-bob-whoami-x509 $? "$out"
            out=$(cli "${trust[@]}" -Dzookeeper.ssl.keyStore.location="$CERTS/bob.p12" \
                -Dzookeeper.ssl.keyStore.password=storepass -server "127.0.0.1:$secure" ls /)
            grep -q 'zookeeper' <<<"$out"
            check cli-bob-ls "$?" "$out"
            out=$(cli "${trust[@]}" -timeout 3000 -server "127.0.0.1:$secure" ls /)
            ! grep -q 'zookeeper' <<<"$out"
            check cli-no-certificate-refused "$?" "$out"
            out=$(cli "${trust[@]}" -Dzookeeper.ssl.keyStore.location="$CERTS/rogue.p12" \
                -Dzookeeper.ssl.keyStore.password=storepass -timeout 3000 -server "127.0.0.1:$secure" ls /)
            ! grep -q 'zookeeper' <<<"$out"
            check cli-untrusted-certificate-refused "$?" "$out"
            out=$(cli -Dzookeeper.ssl.trustStore.location="$CERTS/rogue-ca.pem" \
                -Dzookeeper.ssl.keyStore.location="$CERTS/bob.p12" -Dzookeeper.ssl.keyStore.password=storepass \
                -timeout 3000 -server "127.0.0.1:$secure" ls /)
            ! grep -q 'zookeeper' <<<"$out"
            check cli-untrusted-server-refused "$?" "$out" ;;
        unified)
            out=$(cli -Dzookeeper.ssl.trustStore.location="$CERTS/trust.jks" \
                -Dzookeeper.ssl.trustStore.password=storepass -server "127.0.0.1:$secure" whoami)
            grep -q 'ip' <<<"$out" && ! grep -q 'x509' <<<"$out"
            check cli-jks-trust-no-certificate-ip-only $? "$out" ;;
        none)
            out=$(cli -Dzookeeper.ssl.trustStore.location="$CERTS/trust.pem" \
                -Dzookeeper.ssl.trustStore.type=PEM -server "127.0.0.1:$secure" create /cli-tls data)
            out2=$(cli -Dzookeeper.ssl.trustStore.location="$CERTS/trust.pem" \
                -Dzookeeper.ssl.trustStore.type=PEM -server "127.0.0.1:$secure" get /cli-tls)
            grep -q '^data$' <<<"$out2"
            check cli-pem-trust-create-get "$?" "$out $out2" ;;
    esac
}

# run_mode MODE KIND PLAIN SECURE: one server in one mode, every client against it.
run_mode() {
    local mode="$1" kind="$2" plain="$3" secure="$4" out="$WORK/$2-$1.out" p f
    COMPAT_EXTRA_CFG="$(cfg "$mode" "$secure")"
    if ! start_server "$kind" "$plain" "$WORK/$kind-$mode"; then
        fail_setup "$kind start ($mode)"
        return
    fi
    : >"$out"
    timeout 90 "$JAVA_BIN" -Xmx192m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dorg.slf4j.simpleLogger.defaultLogLevel=off \
        -cp "$CLASSES:$ZK_CLASSPATH" TlsCheck "$mode" "$plain" "$secure" "$CERTS" \
        >>"$out" 2>"$WORK/$kind-$mode-java.err"
    timeout 90 "$VENV/bin/python" "$HERE/tls_check.py" "$mode" "$plain" "$secure" "$CERTS" \
        >>"$out" 2>"$WORK/$kind-$mode-python.err"
    cli_checks "$mode" "$secure" >>"$out"
    stop_server "$WORK/$kind-$mode"
    # The server itself must not have panicked on anything it was sent.
    if grep -q 'panicked' "$WORK/$kind-$mode/server.log"; then
        echo "FAIL $kind $mode: the server panicked" >>"$out"
    fi
    p=$(grep -c '^PASS ' "$out")
    f=$(grep -c '^FAIL ' "$out")
    sed -n "s/^\(PASS\|FAIL\) /\1 $kind /p" "$out"
    if [ "$p" -eq 0 ]; then
        echo "FAIL $kind $mode: no check ran (see $WORK/$kind-$mode-*.err)"
        f=$((f + 1))
    fi
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    cat "$out" >>"$WORK/$kind.out"
}

for mode in main unified none; do
    run_mode "$mode" zookeeper "$ZK_PLAIN" "$ZK_SECURE"
    run_mode "$mode" ferrokeeper "$FK_PLAIN" "$FK_SECURE"
done

# Both servers must give the same verdict on every check.
diff <(grep -o '^\(PASS\|FAIL\) [^:]*' "$WORK/zookeeper.out" 2>/dev/null) \
     <(grep -o '^\(PASS\|FAIL\) [^:]*' "$WORK/ferrokeeper.out" 2>/dev/null) >"$WORK/diff" \
    || { echo "FAIL same verdicts on both servers:"; cat "$WORK/diff"; FAILED=$((FAILED + 1)); }

echo "tls suite took $((SECONDS - START)) s"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
