#!/usr/bin/env bash
# Starts and stops private RabbitMQ nodes for CoolAmqp's tests, demo and benchmarks.
#
#   tools/broker.sh start [NAME [PORT]]   start one node (default coolamqp, 5672); prints its amqp:// URI
#   tools/broker.sh cluster N             start N nodes (coolamqp1..N on 5681..) joined into one cluster
#   tools/broker.sh stop [NAME|all]       stop what this script started (default: all)
#   tools/broker.sh env [NAME]            print the environment lines (COOLAMQP_BROKER=..., COOLAMQP_NODE=...)
#
# If COOLAMQP_BROKER is already set, that broker is used and nothing is started.
# COOLAMQP_NODE_NAME and COOLAMQP_PORT change the default node name and port (to run beside another node).
# Each node runs as the rabbitmq user from a temp dir owned by it (the server refuses to run as root
# and fails with eacces on a dir it does not own). State lives under $COOLAMQP_BROKER_STATE.
set -euo pipefail

STATE=${COOLAMQP_BROKER_STATE:-/tmp/coolamqp-broker-state}
HOST_SHORT=$(hostname -s 2>/dev/null || hostname)

log() { printf 'broker: %s\n' "$*" >&2; }

ensure_installed() {
  if command -v rabbitmq-server >/dev/null 2>&1 && command -v rabbitmqctl >/dev/null 2>&1; then
    return
  fi
  log "installing rabbitmq-server from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq rabbitmq-server >&2
  # The package tries to start its own service; on machines without an init system it does not, and we
  # only want our private nodes anyway.
  rabbitmqctl stop >/dev/null 2>&1 || true
}

ctl() { local node=$1; shift; rabbitmqctl -q -n "$node" "$@"; }

start_node() {
  local name=$1 port=$2
  local node="$name@$HOST_SHORT"
  local dir="$STATE/$name"
  if [ -f "$dir/uri" ] && ctl "$node" status >/dev/null 2>&1; then
    log "$node already running"
    cat "$dir/uri"
    return
  fi
  rm -rf "$dir"
  mkdir -p "$dir/mnesia" "$dir/log"
  cat > "$dir/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$port
listeners.tcp.2 = ::1:$port
loopback_users = none
log.console = false
log.file.level = warning
heartbeat = 60
CONF
  echo "[]." > "$dir/enabled_plugins"
  chown -R rabbitmq:rabbitmq "$dir"
  chmod 755 "$STATE"
  local dist=$((port + 20000))
  log "starting $node on port $port (dir $dir)"
  (
    cd "$dir"
    env RABBITMQ_NODENAME="$node" RABBITMQ_NODE_PORT="$port" RABBITMQ_DIST_PORT="$dist" \
      RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log" \
      RABBITMQ_CONFIG_FILE="$dir/rabbitmq" RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
      RABBITMQ_PID_FILE="$dir/pid" \
      setsid nohup rabbitmq-server > "$dir/log/stdout.log" 2>&1 < /dev/null &
  )
  # await_startup fails at once while the Erlang VM is not yet reachable, so retry until it succeeds.
  local deadline=$((SECONDS + 120)) started=0
  while [ $SECONDS -lt $deadline ]; do
    if timeout 60 rabbitmqctl -q -n "$node" await_startup >/dev/null 2>&1; then started=1; break; fi
    sleep 1
  done
  if [ $started -ne 1 ]; then
    log "$node did not start; its log follows"
    tail -n 50 "$dir/log/"*.log >&2 || true
    exit 1
  fi
  local uri="amqp://guest:guest@127.0.0.1:$port/"
  echo "$uri" > "$dir/uri"
  echo "$node" > "$dir/node"
  log "$node is ready"
  echo "$uri"
}

stop_node() {
  local name=$1
  local dir="$STATE/$name"
  [ -d "$dir" ] || return 0
  local node
  node=$(cat "$dir/node" 2>/dev/null || echo "$name@$HOST_SHORT")
  log "stopping $node"
  timeout 60 rabbitmqctl -q -n "$node" stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

cmd=${1:-start}
case "$cmd" in
  start)
    if [ -n "${COOLAMQP_BROKER:-}" ]; then
      log "using COOLAMQP_BROKER"
      echo "$COOLAMQP_BROKER"
      exit 0
    fi
    ensure_installed
    start_node "${2:-${COOLAMQP_NODE_NAME:-coolamqp}}" "${3:-${COOLAMQP_PORT:-5672}}"
    ;;
  cluster)
    n=${2:?usage: broker.sh cluster N}
    ensure_installed
    for i in $(seq 1 "$n"); do start_node "coolamqp$i" $((5680 + i)) >/dev/null; done
    for i in $(seq 2 "$n"); do
      node="coolamqp$i@$HOST_SHORT"
      ctl "$node" stop_app
      ctl "$node" join_cluster "coolamqp1@$HOST_SHORT"
      ctl "$node" start_app
    done
    for i in $(seq 1 "$n"); do cat "$STATE/coolamqp$i/uri"; done
    ;;
  stop)
    target=${2:-all}
    if [ "$target" = all ]; then
      for d in "$STATE"/*/; do [ -d "$d" ] && stop_node "$(basename "$d")"; done
    else
      stop_node "$target"
    fi
    ;;
  env)
    name=${2:-${COOLAMQP_NODE_NAME:-coolamqp}}
    if [ -n "${COOLAMQP_BROKER:-}" ]; then
      echo "COOLAMQP_BROKER=$COOLAMQP_BROKER"
    else
      echo "COOLAMQP_BROKER=$(cat "$STATE/$name/uri")"
      echo "COOLAMQP_NODE=$(cat "$STATE/$name/node")"
    fi
    ;;
  *)
    echo "usage: $0 start [NAME [PORT]] | cluster N | stop [NAME|all] | env [NAME]" >&2
    exit 2
    ;;
esac
