#!/usr/bin/env bash
# Makes sure the reference spec the generator tests compare ours with is on this machine: RabbitMQ's AMQP 0-9-1
# spec as Debian's amqp-specs package ships it. Installs the package when the file is missing (as root, like
# tools/broker.sh does for rabbitmq-server). COOLAMQP_REFERENCE_SPEC names another copy instead; then nothing is
# installed.
set -euo pipefail

DEBIAN_SPEC=/usr/share/amqp/specs/0-9-1-rabbit/amqp0-9-1.stripped.extended.xml

log() { printf 'reference-spec: %s\n' "$*" >&2; }

if [ -n "${COOLAMQP_REFERENCE_SPEC:-}" ]; then
  if [ ! -f "$COOLAMQP_REFERENCE_SPEC" ]; then
    log "COOLAMQP_REFERENCE_SPEC names $COOLAMQP_REFERENCE_SPEC, which does not exist"
    exit 1
  fi
  exit 0
fi

if [ ! -f "$DEBIAN_SPEC" ]; then
  log "installing amqp-specs from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq amqp-specs >&2
  if [ ! -f "$DEBIAN_SPEC" ]; then
    log "amqp-specs is installed but $DEBIAN_SPEC is not there"
    exit 1
  fi
fi
