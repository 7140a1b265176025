#!/usr/bin/env bash
# Makes sure Mono can run the netstandard2.0 build (tools/CoolAmqp.MonoSample, run by the package tests): Debian's
# mono-devel, installed when missing (as root, like tools/broker.sh does for rabbitmq-server). mono-runtime alone is
# not enough: a program that references a netstandard2.0 library needs Mono's Facades/netstandard.dll, which only
# mono-devel ships (without it: BadImageFormatException, could not load 'netstandard, Version=2.0.0.0').
set -euo pipefail

FACADE=/usr/lib/mono/4.5/Facades/netstandard.dll

if ! command -v mono > /dev/null || [ ! -f "$FACADE" ]; then
  printf 'mono: installing mono-devel from Debian'"'"'s packages\n' >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq mono-devel >&2
  [ -f "$FACADE" ] || { printf 'mono: mono-devel is installed but %s is not there\n' "$FACADE" >&2; exit 1; }
fi
