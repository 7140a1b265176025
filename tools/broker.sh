#!/usr/bin/env bash
# Starts and stops private RabbitMQ nodes for CoolAmqp's tests, demo and benchmarks.
#
#   tools/broker.sh start [NAME [PORT]]   start one node (default coolamqp, 5672); prints its amqp:// URI
#   tools/broker.sh cluster N             start N nodes (coolamqp1..N on 5681..) joined into one cluster; prints their URIs
#   tools/broker.sh stop [NAME|cluster|all]  stop what this script started (default: all) and wait until it is gone
#   tools/broker.sh env [NAME]            print the environment lines (COOLAMQP_BROKER=..., COOLAMQP_NODE=...)
#   tools/broker.sh env-cluster           print COOLAMQP_CLUSTER=uri1,uri2,... and COOLAMQP_CLUSTER_NODES=node1,node2,...
#   tools/broker.sh tls                   start the TLS node coolamqp-tls: plain AMQP on 5674, AMQP over TLS on 5671
#                                         (peer verification, TLS 1.2 and 1.3, SASL EXTERNAL), test certificates from
#                                         tools/tls-certs.sh under $COOLAMQP_BROKER_STATE/certs; prints its amqps:// URI
#   tools/broker.sh env-tls               print COOLAMQP_TLS_BROKER, COOLAMQP_TLS_PLAIN_BROKER, COOLAMQP_TLS_NODE, COOLAMQP_TLS_CERTS
#   tools/broker.sh install               install rabbitmq-server when it is missing (start and cluster do it too)
#
# If COOLAMQP_BROKER is already set, start uses that broker and starts nothing; likewise cluster with COOLAMQP_CLUSTER.
# COOLAMQP_NODE_NAME and COOLAMQP_PORT change the single node's default name and port (to run beside another node);
# COOLAMQP_CLUSTER_NAME (default coolamqp) and COOLAMQP_CLUSTER_PORT (default 5681) the cluster's name prefix and
# first port. Every node's Erlang distribution port is its AMQP port + 20000, so the single node (5672, dist 25672)
# and a cluster (5681.., dist 25681..) run side by side.
# Each node runs as the rabbitmq user from a temp dir owned by it (the server refuses to run as root
# and fails with eacces on a dir it does not own). State lives under $COOLAMQP_BROKER_STATE.
set -euo pipefail

STATE=${COOLAMQP_BROKER_STATE:-/tmp/coolamqp-broker-state}
HOST_SHORT=$(hostname -s 2>/dev/null || hostname)
CLUSTER_NAME=${COOLAMQP_CLUSTER_NAME:-coolamqp}
CLUSTER_PORT=${COOLAMQP_CLUSTER_PORT:-5681}
# The cluster's member list: one node directory name a line.
CLUSTER_FILE="$STATE/cluster-$CLUSTER_NAME.members"

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

node_of() { cat "$STATE/$1/node" 2>/dev/null || echo "$1@$HOST_SHORT"; }

running() { [ -f "$STATE/$1/uri" ] && ctl "$(node_of "$1")" status >/dev/null 2>&1; }

# Whether epmd lists the node (cheap: no Erlang VM, unlike every rabbitmqctl call, which costs a second of CPU).
# Without epmd on the PATH it answers "yes", and await_node falls back to retrying await_startup.
registered() {
  command -v epmd >/dev/null 2>&1 || return 0
  epmd -names 2>/dev/null | grep -q "^name $1 at port "
}

# Writes the node's config and starts its server in the background; does not wait. EXTRA_CONF (lines added to
# rabbitmq.conf) and PLUGINS (an Erlang list's elements) are optional.
launch_node() {
  local name=$1 port=$2 extra_conf=${3:-} plugins=${4:-}
  local node="$name@$HOST_SHORT"
  local dir="$STATE/$name"
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
  [ -z "$extra_conf" ] || printf '%s\n' "$extra_conf" >> "$dir/rabbitmq.conf"
  echo "[$plugins]." > "$dir/enabled_plugins"
  echo "$node" > "$dir/node"
  chown -R rabbitmq:rabbitmq "$dir"
  chmod 755 "$STATE"
  local dist=$((port + 20000))
  log "starting $node on port $port, dist port $dist (dir $dir)"
  (
    cd "$dir"
    env RABBITMQ_NODENAME="$node" RABBITMQ_NODE_PORT="$port" RABBITMQ_DIST_PORT="$dist" \
      RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log" \
      RABBITMQ_CONFIG_FILE="$dir/rabbitmq" RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
      RABBITMQ_PID_FILE="$dir/pid" \
      setsid nohup rabbitmq-server > "$dir/log/stdout.log" 2>&1 < /dev/null &
    # setsid makes the launcher a session leader: stop_node ends what is left of its session by this id.
    echo $! > "$dir/launcher"
  )
}

# Waits until a launched node has booted; writes its uri file.
await_node() {
  local name=$1 port=$2 uri=${3:-amqp://guest:guest@127.0.0.1:$2/}
  local node="$name@$HOST_SHORT"
  local dir="$STATE/$name"
  local deadline=$((SECONDS + 120)) started=0
  # await_startup fails at once while the Erlang VM is not yet reachable: wait for the node to register first.
  while [ $SECONDS -lt $deadline ] && ! registered "$name"; do sleep 0.2; done
  while [ $SECONDS -lt $deadline ]; do
    if timeout 60 rabbitmqctl -q -n "$node" await_startup >/dev/null 2>&1; then started=1; break; fi
    sleep 1
  done
  if [ $started -ne 1 ]; then
    log "$node did not start; its log follows"
    tail -n 50 "$dir/log/"*.log >&2 || true
    return 1
  fi
  echo "$uri" > "$dir/uri"
  log "$node is ready"
}

start_node() {
  local name=$1 port=$2
  if running "$name"; then
    log "$(node_of "$name") already running"
  else
    launch_node "$name" "$port"
    await_node "$name" "$port" || { stop_node "$name"; exit 1; }
  fi
  cat "$STATE/$name/uri"
}

# Whether a process lives.
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# Stops a node and waits until its Erlang VM and every process of its sessions are gone (killed if they linger).
stop_node() {
  local name=$1
  local dir="$STATE/$name"
  [ -d "$dir" ] || return 0
  local node pid launcher sessions
  node=$(node_of "$name")
  pid=$(cat "$dir/pid" 2>/dev/null || true)
  launcher=$(cat "$dir/launcher" 2>/dev/null || true)
  # The VM runs in a session of its own (su makes one); its helpers (epmd aside, which is shared) live there too.
  sessions=$launcher
  if alive "$pid"; then sessions="$sessions,$(ps -o sid= -p "$pid" | tr -d ' ')"; fi
  sessions=${sessions#,}
  log "stopping $node"
  if alive "$pid"; then
    # With the pid file, rabbitmqctl stop waits for that process to end.
    timeout 60 rabbitmqctl -q -n "$node" stop "$dir/pid" >/dev/null 2>&1 || log "$node did not stop in time"
    local deadline=$((SECONDS + 10))
    while alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    if alive "$pid"; then
      log "killing $node (pid $pid)"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  elif registered "$name"; then
    timeout 60 rabbitmqctl -q -n "$node" stop >/dev/null 2>&1 || true
  fi
  if [ -n "$sessions" ]; then
    local deadline=$((SECONDS + 10)) left
    while left=$(ps -o pid= -s "$sessions" 2>/dev/null | tr -s ' \n' ' '); [ -n "${left// /}" ] && [ $SECONDS -lt $deadline ]; do
      sleep 0.2
    done
    for p in $left; do kill -KILL "$p" 2>/dev/null || true; done
  fi
  rm -rf "$dir"
  log "$node stopped"
}

# Stops the named nodes in parallel; waits for all.
stop_nodes() {
  local pids=()
  for name in "$@"; do stop_node "$name" & pids+=($!); done
  local status=0
  for p in "${pids[@]}"; do wait "$p" || status=1; done
  return $status
}

cluster_members() { [ -f "$CLUSTER_FILE" ] && cat "$CLUSTER_FILE"; }

cluster_running() {
  local name
  [ -f "$CLUSTER_FILE" ] || return 1
  for name in $(cluster_members); do running "$name" || return 1; done
}

# Starts n nodes at once, waits for all, then joins the others to the first (a join needs the node's app stopped).
start_cluster() {
  local n=$1 i name first names=() pids=()
  for i in $(seq 1 "$n"); do names+=("$CLUSTER_NAME$i"); done
  first="${names[0]}@$HOST_SHORT"
  if cluster_running && [ "$(cluster_members | wc -l)" -eq "$n" ]; then
    log "cluster ${names[*]} already running"
  else
    if [ -f "$CLUSTER_FILE" ]; then stop_nodes $(cluster_members); fi
    mkdir -p "$STATE"
    printf '%s\n' "${names[@]}" > "$CLUSTER_FILE"
    local began=$SECONDS
    for i in $(seq 1 "$n"); do launch_node "${names[$((i - 1))]}" $((CLUSTER_PORT + i - 1)); done
    for i in $(seq 1 "$n"); do await_node "${names[$((i - 1))]}" $((CLUSTER_PORT + i - 1)) & pids+=($!); done
    local failed=0
    for p in "${pids[@]}"; do wait "$p" || failed=1; done
    if [ $failed -ne 0 ]; then stop_nodes "${names[@]}"; rm -f "$CLUSTER_FILE"; exit 1; fi
    log "${names[*]} booted in $((SECONDS - began)) s; joining them to $first"
    # Joins go one at a time (each changes the cluster's membership); stopping and starting the apps need not.
    pids=()
    for name in "${names[@]:1}"; do ctl "$name@$HOST_SHORT" stop_app & pids+=($!); done
    for p in "${pids[@]}"; do wait "$p"; done
    log "stop_app done at $((SECONDS - began)) s"
    for name in "${names[@]:1}"; do
      # join_cluster logs errors about tables of nodes whose app is stopped; they mean nothing unless it fails.
      local out
      if ! out=$(ctl "$name@$HOST_SHORT" join_cluster "$first" 2>&1); then
        log "$name could not join $first: $out"
        stop_nodes "${names[@]}"
        rm -f "$CLUSTER_FILE"
        exit 1
      fi
    done
    log "joined at $((SECONDS - began)) s"
    pids=()
    for name in "${names[@]:1}"; do ctl "$name@$HOST_SHORT" start_app & pids+=($!); done
    for p in "${pids[@]}"; do wait "$p"; done
    local members
    members=$(ctl "$first" eval 'length(rabbit_nodes:all_running()).')
    if [ "$members" != "$n" ]; then
      log "the cluster has $members running nodes, not $n"
      stop_nodes "${names[@]}"
      rm -f "$CLUSTER_FILE"
      exit 1
    fi
    log "cluster of $n ready in $((SECONDS - began)) s"
  fi
  for name in "${names[@]}"; do cat "$STATE/$name/uri"; done
}

TLS_NAME=${COOLAMQP_TLS_NAME:-coolamqp-tls}
TLS_PORT=${COOLAMQP_TLS_PORT:-5671}
TLS_PLAIN_PORT=${COOLAMQP_TLS_PLAIN_PORT:-5674}
TLS_CERTS="$STATE/certs"
# The user EXTERNAL logs in as: the client certificate's common name (tools/tls-certs.sh).
TLS_CLIENT_USER=coolamqp-client

# The TLS node: a plain listener (to test a TLS client against it) and a TLS one that asks for a client
# certificate without requiring it, so one node serves PLAIN over TLS and EXTERNAL with a certificate.
start_tls_node() {
  local name=$TLS_NAME node="$TLS_NAME@$HOST_SHORT"
  "$(dirname "$0")/tls-certs.sh" "$TLS_CERTS"
  if running "$name"; then
    log "$node already running"
  else
    local conf
    conf=$(cat <<CONF
listeners.ssl.1 = 127.0.0.1:$TLS_PORT
listeners.ssl.2 = ::1:$TLS_PORT
ssl_options.cacertfile = $TLS_CERTS/ca.pem
ssl_options.certfile = $TLS_CERTS/server.pem
ssl_options.keyfile = $TLS_CERTS/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = false
ssl_options.versions.1 = tlsv1.3
ssl_options.versions.2 = tlsv1.2
auth_mechanisms.1 = PLAIN
auth_mechanisms.2 = AMQPLAIN
auth_mechanisms.3 = EXTERNAL
ssl_cert_login_from = common_name
CONF
)
    launch_node "$name" "$TLS_PLAIN_PORT" "$conf" rabbitmq_auth_mechanism_ssl
    if ! await_node "$name" "$TLS_PLAIN_PORT" "amqps://guest:guest@localhost:$TLS_PORT/" \
      || ! ctl "$node" add_user "$TLS_CLIENT_USER" "$(openssl rand -hex 16)" >/dev/null \
      || ! ctl "$node" clear_password "$TLS_CLIENT_USER" >/dev/null \
      || ! ctl "$node" set_permissions -p / "$TLS_CLIENT_USER" '.*' '.*' '.*' >/dev/null; then
      stop_node "$name"
      exit 1
    fi
    echo "amqp://guest:guest@localhost:$TLS_PLAIN_PORT/" > "$STATE/$name/plain-uri"
  fi
  cat "$STATE/$name/uri"
}

cmd=${1:-start}
case "$cmd" in
  install)
    ensure_installed
    ;;
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
    if [ -n "${COOLAMQP_CLUSTER:-}" ]; then
      log "using COOLAMQP_CLUSTER"
      echo "$COOLAMQP_CLUSTER" | tr ',' '\n'
      exit 0
    fi
    ensure_installed
    start_cluster "$n"
    ;;
  stop)
    target=${2:-all}
    case "$target" in
      all)
        names=()
        # Node dirs only (each has its node file): the certificates' dir stays.
        for d in "$STATE"/*/; do [ -f "$d/node" ] && names+=("$(basename "$d")"); done
        [ ${#names[@]} -eq 0 ] || stop_nodes "${names[@]}"
        rm -f "$STATE"/cluster-*.members
        ;;
      cluster)
        if [ -f "$CLUSTER_FILE" ]; then stop_nodes $(cluster_members); fi
        rm -f "$CLUSTER_FILE"
        ;;
      *)
        stop_node "$target"
        ;;
    esac
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
  env-cluster)
    if [ -n "${COOLAMQP_CLUSTER:-}" ]; then
      echo "COOLAMQP_CLUSTER=$COOLAMQP_CLUSTER"
      [ -z "${COOLAMQP_CLUSTER_NODES:-}" ] || echo "COOLAMQP_CLUSTER_NODES=$COOLAMQP_CLUSTER_NODES"
    else
      [ -f "$CLUSTER_FILE" ] || { log "no cluster $CLUSTER_NAME under $STATE (tools/broker.sh cluster N starts one)"; exit 1; }
      uris=() nodes=()
      for name in $(cluster_members); do
        uris+=("$(cat "$STATE/$name/uri")")
        nodes+=("$(cat "$STATE/$name/node")")
      done
      (IFS=,; echo "COOLAMQP_CLUSTER=${uris[*]}"; echo "COOLAMQP_CLUSTER_NODES=${nodes[*]}")
    fi
    ;;
  tls)
    ensure_installed
    start_tls_node
    ;;
  env-tls)
    [ -f "$STATE/$TLS_NAME/plain-uri" ] || { log "no TLS node $TLS_NAME under $STATE (tools/broker.sh tls starts it)"; exit 1; }
    echo "COOLAMQP_TLS_BROKER=$(cat "$STATE/$TLS_NAME/uri")"
    echo "COOLAMQP_TLS_PLAIN_BROKER=$(cat "$STATE/$TLS_NAME/plain-uri")"
    echo "COOLAMQP_TLS_NODE=$(cat "$STATE/$TLS_NAME/node")"
    echo "COOLAMQP_TLS_CERTS=$TLS_CERTS"
    ;;
  *)
    echo "usage: $0 start [NAME [PORT]] | cluster N | tls | stop [NAME|cluster|all] | env [NAME] | env-cluster | env-tls | install" >&2
    exit 2
    ;;
esac
