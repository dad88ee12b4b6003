#!/usr/bin/env bash
# A three-node RabbitMQ cluster on this machine, for the cluster tests and the benchmark.
#
#   deploy/rabbitmq/cluster.sh start            three nodes, clustered (idempotent)
#   deploy/rabbitmq/cluster.sh stop             stops them and removes their data
#   deploy/rabbitmq/cluster.sh status           the cluster's members as node 1 sees them
#   deploy/rabbitmq/cluster.sh stop-node N      stops node N (1-3), keeping its data
#   deploy/rabbitmq/cluster.sh start-node N     starts node N again; it rejoins the cluster
#   deploy/rabbitmq/cluster.sh urls             the AMQP_URL that lists the three nodes
#   deploy/rabbitmq/cluster.sh queues           each queue's type and members (node 1's view,
#                                               or the first node that runs)
#   deploy/rabbitmq/cluster.sh ctl N ARGS…      rabbitmqctl ARGS… against node N
#
# Nodes hubc1..hubc3@localhost listen on 127.0.0.1:5681..5683 (distribution 25681..25683),
# with their data, logs, configuration and Erlang cookie under $HUB_CLUSTER_DIR
# (/tmp/hub-rabbit-cluster). They never touch the machine's own broker (rabbit@localhost on
# 5672, its /etc/rabbitmq files and /var/lib/rabbitmq): each node has its own configuration
# file, environment file, plugins file and HOME. Quorum queues declared on the cluster get a
# replica on each of the three nodes (their initial group size is the cluster's size).
#
# Each node runs with the hard open-files limit as its soft limit: with the default 1024 a
# node that holds a few hundred quorum queues stops accepting connections.
set -euo pipefail

DIR=${HUB_CLUSTER_DIR:-/tmp/hub-rabbit-cluster}
BIN=${RABBITMQ_BIN:-/usr/lib/rabbitmq/bin}
NODES=(1 2 3)
PORT_BASE=5680
HOST=localhost

node_name() { echo "hubc$1@$HOST"; }
node_port() { echo $((PORT_BASE + $1)); }
node_dir() { echo "$DIR/node$1"; }

die() { echo "cluster.sh: $*" >&2; exit 1; }

# the environment every rabbitmq command of node $1 runs with
node_env() {
  local n=$1 d
  d=$(node_dir "$n")
  echo "HOME=$DIR" \
    "RABBITMQ_NODENAME=$(node_name "$n")" \
    "RABBITMQ_NODE_IP_ADDRESS=127.0.0.1" \
    "RABBITMQ_NODE_PORT=$(node_port "$n")" \
    "RABBITMQ_DIST_PORT=$((20000 + $(node_port "$n")))" \
    "RABBITMQ_CONF_ENV_FILE=$d/rabbitmq-env.conf" \
    "RABBITMQ_CONFIG_FILE=$d/rabbitmq.conf" \
    "RABBITMQ_ADVANCED_CONFIG_FILE=$d/advanced.config" \
    "RABBITMQ_ENABLED_PLUGINS_FILE=$d/enabled_plugins" \
    "RABBITMQ_MNESIA_BASE=$d/mnesia" \
    "RABBITMQ_LOG_BASE=$d/log" \
    "RABBITMQ_PID_FILE=$d/pid" \
    "ERL_EPMD_ADDRESS=127.0.0.1"
}

ctl() {
  local n=$1; shift
  # shellcheck disable=SC2046
  env $(node_env "$n") timeout 120 "$BIN/rabbitmqctl" -n "$(node_name "$n")" "$@"
}

prepare() {
  mkdir -p "$DIR"
  if [ ! -f "$DIR/.erlang.cookie" ]; then
    # the cluster's own cookie (the nodes authenticate each other with it); never the
    # machine broker's
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/.erlang.cookie"
    chmod 400 "$DIR/.erlang.cookie"
  fi
  local n d
  for n in "${NODES[@]}"; do
    d=$(node_dir "$n")
    mkdir -p "$d/mnesia" "$d/log"
    cat >"$d/rabbitmq.conf" <<EOF
listeners.tcp.1 = 127.0.0.1:$(node_port "$n")
loopback_users.guest = true
max_message_size = 16777216
EOF
    echo "[]." >"$d/advanced.config"
    echo "[]." >"$d/enabled_plugins"
    # replaces /etc/rabbitmq/rabbitmq-env.conf (which names the machine's node)
    # (the distribution port on loopback only, as the machine's node)
    cat >"$d/rabbitmq-env.conf" <<'EOF'
SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
EOF
  done
}

# node $1's Erlang VM is running (its pid file names a live process)
node_running() {
  local pid
  pid=$(cat "$(node_dir "$1")/pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

start_node() {
  local n=$1
  if node_running "$n"; then
    return 0
  fi
  rm -f "$(node_dir "$n")/pid"
  # a session of its own (setsid): the node outlives the shell that started it and the
  # process group that shell belonged to
  # shellcheck disable=SC2046
  env $(node_env "$n") setsid sh -c 'ulimit -n "$(ulimit -Hn)" && exec "$0"' \
    "$BIN/rabbitmq-server" >"$(node_dir "$n")/log/start.out" 2>&1 </dev/null &
  # waits for the pid file, then for the node to have started (or to have died)
  ctl "$n" wait --timeout 120 "$(node_dir "$n")/pid" >/dev/null \
    || die "node $n did not start (see $(node_dir "$n")/log)"
}

join() {
  local n=$1 first
  first=$(node_name 1)
  if ctl "$n" cluster_status --formatter json 2>/dev/null | grep -q "\"$first\""; then
    return 0
  fi
  ctl "$n" stop_app >/dev/null
  ctl "$n" join_cluster "$first" >/dev/null
  ctl "$n" start_app >/dev/null
}

start() {
  prepare
  local n
  for n in "${NODES[@]}"; do
    start_node "$n"
  done
  for n in "${NODES[@]:1}"; do
    join "$n"
  done
  ctl 1 await_online_nodes 3 >/dev/null
  echo "cluster up: AMQP_URL=$(urls)"
}

stop_node() {
  local n=$1
  node_running "$n" || return 0
  # with the pid file, stop returns once the VM has exited
  ctl "$n" stop "$(node_dir "$n")/pid" >/dev/null || die "node $n did not stop"
}

stop() {
  local n
  for n in 3 2 1; do
    if [ -d "$(node_dir "$n")" ]; then
      stop_node "$n" || true
    fi
  done
  rm -rf "$DIR"
  echo "cluster stopped"
}

urls() {
  local n out=()
  for n in "${NODES[@]}"; do
    out+=("amqp://guest:guest@127.0.0.1:$(node_port "$n")/%2f")
  done
  (IFS=,; echo "${out[*]}")
}

check_node() {
  case "${1:-}" in
    1|2|3) ;;
    *) die "expected a node number 1-3, got '${1:-}'" ;;
  esac
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) ctl 1 cluster_status ;;
  stop-node) check_node "${2:-}"; stop_node "$2" ;;
  start-node) check_node "${2:-}"; prepare; start_node "$2"; ctl 1 await_online_nodes 3 >/dev/null ;;
  urls) urls ;;
  queues)
    for n in "${NODES[@]}"; do
      if node_running "$n"; then
        ctl "$n" list_queues -q name type members
        exit 0
      fi
    done
    die "no node runs" ;;
  ctl) check_node "${2:-}"; n=$2; shift 2; ctl "$n" "$@" ;;
  *) die "usage: $0 start|stop|status|stop-node N|start-node N|urls|queues|ctl N ARGS…" ;;
esac
