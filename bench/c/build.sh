#!/usr/bin/env bash
# Builds the librabbitmq-c driver of the end-to-end runner into bench/c/bin/coolamqp-bench-c.
# Installs Debian's librabbitmq-dev when its header is missing (needs root and the package mirror).
# Prints the binary's path on success; the runner treats any failure as "client unavailable".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out="$here/bin"
src="$here/coolamqp-bench-c.c"
bin="$out/coolamqp-bench-c"

has_header() { [ -f /usr/include/rabbitmq-c/amqp.h ] || [ -f /usr/include/amqp.h ]; }

if ! has_header; then
  echo "build.sh: installing librabbitmq-dev" >&2
  export DEBIAN_FRONTEND=noninteractive
  # A stale package index is the usual reason the install fails; refresh it only then.
  if ! apt-get install -y -qq librabbitmq-dev >&2; then
    apt-get update -qq >&2
    apt-get install -y -qq librabbitmq-dev >&2
  fi
fi

# Rebuild only when the source is newer than the binary, so every runner start does not pay for cc.
if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ] || [ "$0" -nt "$bin" ]; then
  mkdir -p "$out"
  cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -o "$bin.tmp" "$src" -lrabbitmq
  mv "$bin.tmp" "$bin"
fi
echo "$bin"
