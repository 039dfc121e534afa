#!/usr/bin/env bash
# compat-tests/kerberos/kdc.sh - a throwaway MIT KDC on loopback for the kerberos suite.
# Source it, then: kdc_start DIR PORT REALM OTHER_REALM (writes DIR/krb5.conf, DIR/kdc.conf,
# creates both realms' databases with `kdb5_util create -s`, starts one krb5kdc serving both
# on 127.0.0.1:PORT over UDP and TCP, OTHER_REALM's users trusted by REALM through a shared
# cross-realm krbtgt), kdc_principal NAME KEYTAB [REALM] (a principal with a random key, added
# to KEYTAB), kdc_rekey NAME (a new random key in the KDC only: keytabs holding the old one
# are stale), kdc_stop.
# KRB5_CONFIG and KRB5_KDC_PROFILE point at DIR's files for everything started afterwards.

KDC_DIR=""
KDC_REALM=""

kdc_start() {
    local dir="$1" port="$2" realm="$3" other="$4" i r
    KDC_DIR="$dir"
    KDC_REALM="$realm"
    mkdir -p "$dir/db"
    # No DNS anywhere: the realm and its KDC are named here, and principals' hosts are taken
    # as written (rdns=false, no canonicalization), so zookeeper/localhost stays that.
    cat >"$dir/krb5.conf" <<KRB5_EOF
[libdefaults]
    default_realm = $realm
    dns_lookup_kdc = false
    dns_lookup_realm = false
    rdns = false
    dns_canonicalize_hostname = false
    ignore_acceptor_hostname = false
    udp_preference_limit = 1
    ticket_lifetime = 1h
    forwardable = false
[realms]
    $realm = {
        kdc = 127.0.0.1:$port
    }
    $other = {
        kdc = 127.0.0.1:$port
    }
# Directly, not through a common parent realm.
[capaths]
    $other = {
        $realm = .
    }
[domain_realm]
    localhost = $realm
KRB5_EOF
    cat >"$dir/kdc.conf" <<KDC_EOF
[kdcdefaults]
    kdc_listen = 127.0.0.1:$port
    kdc_tcp_listen = 127.0.0.1:$port
[realms]
    $realm = {
        database_name = $dir/db/principal
        key_stash_file = $dir/db/stash
        acl_file = $dir/db/kadm5.acl
        max_life = 1h
        max_renewable_life = 0
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }
    $other = {
        database_name = $dir/db/other
        key_stash_file = $dir/db/other-stash
        acl_file = $dir/db/kadm5.acl
        max_life = 1h
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }
[logging]
    kdc = FILE:$dir/kdc.log
    default = FILE:$dir/kdc.log
KDC_EOF
    : >"$dir/db/kadm5.acl"
    export KRB5_CONFIG="$dir/krb5.conf" KRB5_KDC_PROFILE="$dir/kdc.conf"
    # Replay caches of the servers under test stay in the work dir.
    export KRB5RCACHEDIR="$dir"
    for r in "$realm" "$other"; do
        kdb5_util -r "$r" create -s -P "master-$RANDOM$RANDOM" >>"$dir/kdb5_util.log" 2>&1 || return 1
    done
    # The trust: the same krbtgt/REALM@OTHER key in both databases.
    local cross="cross-$RANDOM$RANDOM$RANDOM"
    for r in "$realm" "$other"; do
        kadmin.local -r "$r" -q "addprinc -pw $cross krbtgt/$realm@$other" >>"$dir/kadmin.log" 2>&1 || return 1
    done
    krb5kdc -r "$realm" -r "$other" -P "$dir/krb5kdc.pid" >>"$dir/kdc.log" 2>&1 || return 1
    for i in $(seq 1 50); do
        if timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "krb5kdc does not listen on 127.0.0.1:$port (see $dir/kdc.log)" >&2
    return 1
}

kdc_principal() {
    local realm="${3:-$KDC_REALM}"
    kadmin.local -r "$realm" -q "addprinc -randkey $1@$realm" >>"$KDC_DIR/kadmin.log" 2>&1 \
        && kadmin.local -r "$realm" -q "ktadd -k $2 $1@$realm" >>"$KDC_DIR/kadmin.log" 2>&1
}

kdc_rekey() {
    kadmin.local -r "$KDC_REALM" -q "cpw -randkey $1@$KDC_REALM" >>"$KDC_DIR/kadmin.log" 2>&1
}

kdc_stop() {
    local pid
    [ -n "$KDC_DIR" ] && [ -f "$KDC_DIR/krb5kdc.pid" ] || return 0
    pid="$(cat "$KDC_DIR/krb5kdc.pid")"
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    rm -f "$KDC_DIR/krb5kdc.pid"
}
