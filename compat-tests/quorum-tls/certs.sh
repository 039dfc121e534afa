#!/usr/bin/env bash
# compat-tests/quorum-tls/certs.sh DIR - the quorum stores of the quorum-tls suite, made
# with openssl and keytool (every password "storepass"):
#   node.{p12,jks,pem}   the ensemble's key + chain (SAN IP:127.0.0.1, DNS:localhost;
#                        serverAuth and clientAuth: each server dials and accepts)
#   trust.{jks,p12,pem}  the ensemble's CA alone
#   rogue.p12            a key + chain of the same shape from another CA (an outsider)
#   expired.p12          the ensemble CA's, expired in 2021
#   misnamed.{p12,jks}   the ensemble CA's, for DNS:zk.invalid only (fails hostname checks)
set -eu
DIR="$1"
PASS=storepass
mkdir -p "$DIR"
cd "$DIR"
exec 3>"$DIR/certs.log"

ca() { # NAME SUBJECT
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" -days 3650 \
        -subj "$2" -addext "basicConstraints=critical,CA:true" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" >&3 2>&1
}

node() { # NAME CA [SAN]
    openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" \
        -subj "/O=Ferrokeeper Tests/OU=quorum/CN=localhost" >&3 2>&1
    cat >"$1.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=${3:-IP:127.0.0.1,DNS:localhost}
EXT
    openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 825 \
        -sha256 -extfile "$1.ext" -out "$1.crt" >&3 2>&1
    p12 "$1" "$2"
}

p12() { # NAME CA: NAME.key + NAME.crt + the CA as NAME.p12
    openssl pkcs12 -export -in "$1.crt" -inkey "$1.key" -certfile "$2.pem" -name "$1" \
        -passout "pass:$PASS" -out "$1.p12" >&3 2>&1
}

ca ca "/O=Ferrokeeper Tests/CN=Quorum CA"
ca rogue-ca "/O=Rogue/CN=Rogue CA"
node node ca
node rogue rogue-ca
node misnamed ca DNS:zk.invalid
keytool -importkeystore -srckeystore misnamed.p12 -srcstoretype PKCS12 -srcstorepass "$PASS" \
    -destkeystore misnamed.jks -deststoretype JKS -deststorepass "$PASS" -noprompt >&3 2>&1

# An expired one: `openssl ca` takes explicit validity dates.
mkdir -p ca-db
: >ca-db/index.txt
echo 01 >ca-db/serial
cat >ca-db/ca.cnf <<CNF
[ ca ]
default_ca = quorum
[ quorum ]
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
[ node ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
CNF
openssl req -newkey rsa:2048 -nodes -keyout expired.key -out expired.csr \
    -subj "/O=Ferrokeeper Tests/OU=quorum/CN=localhost" >&3 2>&1
openssl ca -batch -config ca-db/ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr \
    -startdate 20200101000000Z -enddate 20210101000000Z -extensions node \
    -out expired.crt >&3 2>&1
p12 expired ca
keytool -importkeystore -srckeystore node.p12 -srcstoretype PKCS12 -srcstorepass "$PASS" \
    -destkeystore node.jks -deststoretype JKS -deststorepass "$PASS" -noprompt >&3 2>&1
cat node.key node.crt ca.pem >node.pem
cp ca.pem trust.pem
for t in JKS PKCS12; do
    ext=$(echo "$t" | tr 'A-Z' 'a-z' | sed 's/pkcs12/p12/')
    keytool -importcert -alias ca -file ca.pem -keystore "trust.$ext" -storetype "$t" \
        -storepass "$PASS" -noprompt >&3 2>&1
done
echo ok
