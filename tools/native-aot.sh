#!/usr/bin/env bash
# Makes sure Native AOT can link here (tools/CoolAmqp.AotSample, published by the package tests): Debian's clang and
# zlib1g-dev, installed when missing (as root, like tools/broker.sh does for rabbitmq-server).
set -euo pipefail

if ! command -v clang > /dev/null || [ ! -f /usr/include/zlib.h ]; then
  printf 'native-aot: installing clang and zlib1g-dev from Debian'"'"'s packages\n' >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq clang zlib1g-dev >&2
fi
