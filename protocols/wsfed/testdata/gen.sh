#!/bin/sh
# Regenerates the fixed test keys (the golden files depend on them: RSA
# PKCS#1 v1.5 signatures are deterministic, so fixed keys give fixed bytes).
# Then: go test ./protocols/wsfed/ -run Golden -update
set -e
cd "$(dirname "$0")"
for name in idp sp; do
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 7300 -subj "/CN=fedgate test $name" \
    -keyout "$name-key.pem" -out "$name-cert.pem" -set_serial 1 2>/dev/null
done
