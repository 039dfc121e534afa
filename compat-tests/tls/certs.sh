#!/usr/bin/env bash
# compat-tests/tls/certs.sh DIR - the stores the tls suite gives both servers and clients,
# made with openssl and keytool:
#   ca.pem                     the test CA
#   server.{p12,jks,pem}       key + chain for 127.0.0.1 / localhost (keystores)
#   trust.{p12,jks,pem}        the CA alone (truststores; keytool marks it trusted)
#   alice, bob, admin          client certificates of the CA (PEM pairs, PKCS12 for Java);
#                              alice's subject has the characters RFC 2253 escapes and an
#                              emailAddress, which Java writes as an OID and hex
#   expired                    a client certificate of the CA that expired in 2021
#   rogue                      a client certificate of another CA
# Every store's password is "storepass".
set -eu
DIR="$1"
PASS=storepass
mkdir -p "$DIR"
cd "$DIR"
exec 3>"$DIR/certs.log"

new_ca() { # NAME SUBJECT
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" -days 3650 \
        -subj "$2" -addext "basicConstraints=critical,CA:true" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" >&3 2>&1
}

# leaf NAME SUBJECT CA EXT: a key and a certificate signed by CA.
leaf() {
    openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" >&3 2>&1
    printf '%s\n' "$4" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial \
        -days 825 -sha256 -extfile "$1.ext" -out "$1.pem" >&3 2>&1
}

# pkcs12 NAME: NAME.key + NAME.pem (+ the CA) as NAME.p12, alias NAME.
pkcs12() {
    openssl pkcs12 -export -in "$1.pem" -inkey "$1.key" -certfile ca.pem -name "$1" \
        -passout "pass:$PASS" -out "$1.p12" >&3 2>&1
}

new_ca ca "/O=Ferrokeeper Tests/CN=Test CA"
new_ca rogue-ca "/O=Rogue/CN=Rogue CA"

CLIENT_EXT="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
leaf server "/O=Ferrokeeper Tests/CN=localhost" ca "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:localhost,IP:127.0.0.1"
leaf alice "/C=US/ST=Test State/O=Ferrokeeper, Inc./OU=clients/CN=alice/emailAddress=alice@example.com" ca "$CLIENT_EXT"
leaf bob "/O=Ferrokeeper Tests/OU=clients/CN=bob" ca "$CLIENT_EXT"
leaf admin "/O=Ferrokeeper Tests/CN=admin" ca "$CLIENT_EXT"
leaf rogue "/O=Ferrokeeper Tests/OU=clients/CN=rogue" rogue-ca "$CLIENT_EXT"

# An expired certificate of the CA: `openssl ca` takes explicit validity dates.
mkdir -p ca-db
: >ca-db/index.txt
echo 01 >ca-db/serial
cat >ca-db/ca.cnf <<EOF
[ ca ]
default_ca = test
[ test ]
database = $DIR/ca-db/index.txt
serial = $DIR/ca-db/serial
new_certs_dir = $DIR/ca-db
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[ any ]
organizationName = optional
organizationalUnitName = optional
commonName = supplied
[ client ]
$(printf '%s\n' "$CLIENT_EXT" | sed 's/=/ = /')
EOF
openssl req -newkey rsa:2048 -nodes -keyout expired.key -out expired.csr \
    -subj "/O=Ferrokeeper Tests/OU=clients/CN=expired" >&3 2>&1
openssl ca -batch -config ca-db/ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr \
    -startdate 20200101000000Z -enddate 20210101000000Z -extensions client \
    -out expired.pem >&3 2>&1

for n in server alice bob admin expired; do pkcs12 "$n"; done
openssl pkcs12 -export -in rogue.pem -inkey rogue.key -certfile rogue-ca.pem -name rogue \
    -passout "pass:$PASS" -out rogue.p12 >&3 2>&1

# The server's keystores in the three formats, and the truststores.
cat server.key server.pem ca.pem >server-store.pem
mv server.p12 server-store.p12
keytool -importkeystore -srckeystore server-store.p12 -srcstoretype PKCS12 \
    -srcstorepass "$PASS" -destkeystore server-store.jks -deststoretype JKS \
    -deststorepass "$PASS" -noprompt >&3 2>&1
cp ca.pem trust.pem
keytool -importcert -alias ca -file ca.pem -keystore trust.p12 -storetype PKCS12 \
    -storepass "$PASS" -noprompt >&3 2>&1
keytool -importcert -alias ca -file ca.pem -keystore trust.jks -storetype JKS \
    -storepass "$PASS" -noprompt >&3 2>&1
echo ok
