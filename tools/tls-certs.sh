#!/usr/bin/env bash
# Writes throwaway TLS certificates for CoolAmqp's TLS tests into DIR (created when missing).
#
#   tools/tls-certs.sh DIR
#
# What DIR gets (PEM unless said otherwise; every key unencrypted, EC P-256, which is quick to make):
#   ca.pem ca.key                   the CA the tests trust
#   server.pem server.key           CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1, signed by ca
#   other.pem other.key             CN=other.invalid, SAN DNS:other.invalid, signed by ca (a name mismatch)
#   expired.pem expired.key         like server, signed by ca, valid only in 2020 (expired)
#   client.pem client.key           CN=coolamqp-client (a user name for EXTERNAL), signed by ca
#   client.p12                      the same client certificate and key as PKCS#12, password: coolamqp
#   rogue-ca.pem rogue-ca.key       a second CA nobody trusts
#   rogue-server.pem rogue-server.key  like server, signed by rogue-ca
#   rogue-client.pem rogue-client.key  like client, signed by rogue-ca (a client certificate the broker refuses)
#
# Idempotent: a DIR that holds a complete set (the stamp file .complete) is left alone. Everything is readable by
# every user (the rabbitmq user reads the server's files), which is fine for throwaway test keys only.
set -euo pipefail

DIR=${1:?usage: tls-certs.sh DIR}
STAMP_VERSION=1
if [ -f "$DIR/.complete" ] && [ "$(cat "$DIR/.complete")" = "$STAMP_VERSION" ]; then
  exit 0
fi

command -v openssl >/dev/null 2>&1 || { echo "tls-certs: openssl is missing (apt-get install openssl)" >&2; exit 1; }

# Built in a scratch dir next to DIR and moved into place, so a half-written set is never taken for a whole one.
mkdir -p "$(dirname "$DIR")"
WORK=$(mktemp -d "$DIR.tmp.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }

ca() {
  local name=$1 cn=$2
  key "$name"
  openssl req -x509 -new -key "$name.key" -subj "/O=CoolAmqp tests/CN=$cn" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$name.pem" 2>/dev/null
}

# leaf NAME CA CN EXTENSIONS: a certificate for CN signed by CA, valid for a year from now.
leaf() {
  local name=$1 issuer=$2 cn=$3 ext=$4
  key "$name"
  openssl req -new -key "$name.key" -subj "/O=CoolAmqp tests/CN=$cn" -out "$name.csr" 2>/dev/null
  printf '%b\n' "$ext" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" -set_serial "0x$(openssl rand -hex 8)" \
    -days 365 -sha256 -extfile "$name.ext" -out "$name.pem" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

SERVER_EXT='basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1'
CLIENT_EXT='basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth'

ca ca "CoolAmqp test CA"
leaf server ca localhost "$SERVER_EXT"
leaf other ca other.invalid 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:other.invalid'
leaf client ca coolamqp-client "$CLIENT_EXT"
openssl pkcs12 -export -in client.pem -inkey client.key -name coolamqp-client -passout pass:coolamqp -out client.p12

# The expired certificate: openssl 3.0's x509 has no -not_after, but `openssl ca` takes explicit dates.
key expired
openssl req -new -key expired.key -subj "/O=CoolAmqp tests/CN=localhost" -out expired.csr 2>/dev/null
mkdir -p ca-db
: > ca-db/index.txt
printf '%s\n' "$SERVER_EXT" | sed 's/\\n/\n/g' > expired.ext
cat > ca-db/ca.conf <<CONF
[ ca ]
default_ca = test_ca
[ test_ca ]
database = $WORK/ca-db/index.txt
new_certs_dir = $WORK/ca-db
serial = $WORK/ca-db/serial
default_md = sha256
policy = any
unique_subject = no
[ any ]
organizationName = optional
commonName = supplied
CONF
openssl rand -hex 8 > ca-db/serial
openssl ca -batch -config ca-db/ca.conf -cert ca.pem -keyfile ca.key -in expired.csr -out expired.pem -notext \
  -startdate 20200101000000Z -enddate 20200102000000Z -extfile expired.ext 2>/dev/null
rm -rf ca-db expired.csr expired.ext

ca rogue-ca "CoolAmqp rogue CA"
leaf rogue-server rogue-ca localhost "$SERVER_EXT"
leaf rogue-client rogue-ca coolamqp-client "$CLIENT_EXT"

chmod 644 ./*
echo "$STAMP_VERSION" > .complete
chmod 755 "$WORK"
rm -rf "$DIR"
mv "$WORK" "$DIR"
trap - EXIT
