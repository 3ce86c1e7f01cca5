#!/usr/bin/env bash
# A standalone Flink cluster on this machine: a JobManager and a TaskManager, each a process of its own,
# from the Flink distribution that PyPI's apache-flink package ships (taken as files into a folder of its
# own: the package pins an old apache-beam), and beside them Beam's worker pool, which starts the SDK
# workers that run tokenmill's Python (--environment_type EXTERNAL --environment_config localhost:POOL).
#
#   deploy/flink/cluster.sh start|stop
#
# Then: tokenmill curate ... --runner FlinkRunner --flink_master localhost:8081 --parallelism 2 \
#         --flink_job_server_jar "$(deploy/job-server.sh flink)" \
#         --environment_type EXTERNAL --environment_config localhost:50000
#
# Settings (environment): FLINK_REST_PORT (8081), FLINK_RPC_PORT (6123), WORKER_POOL_PORT (50000),
# TASK_SLOTS (2), PYTHON (python3: the environment tokenmill is installed in, whose SDK workers the pool
# starts), TOKENMILL_CACHE (~/.cache/tokenmill: the distribution), FLINK_CLUSTER_DIR (its configuration,
# logs and process ids; default $TOKENMILL_CACHE/flink-cluster).
set -euo pipefail
flink_version=1.19.0   # the Flink of Beam's beam-runners-flink-1.19 (deploy/flink/pom.xml)
cache=${TOKENMILL_CACHE:-$HOME/.cache/tokenmill}
dist=$cache/flink-$flink_version
state=${FLINK_CLUSTER_DIR:-$cache/flink-cluster}
rest=${FLINK_REST_PORT:-8081} rpc=${FLINK_RPC_PORT:-6123} pool=${WORKER_POOL_PORT:-50000} slots=${TASK_SLOTS:-2}
python=$(command -v "${PYTHON:-python3}")
export FLINK_CONF_DIR=$state/conf FLINK_LOG_DIR=$state/log FLINK_PID_DIR=$state/pid

install_flink() {
  [[ -x $dist/pyflink/bin/jobmanager.sh ]] && return
  echo "installing Flink $flink_version (apache-flink, apache-flink-libraries) into $dist" >&2
  "$python" -m pip install -q --no-deps --target "$dist" "apache-flink==$flink_version" "apache-flink-libraries==$flink_version"
  chmod +x "$dist"/pyflink/bin/*
}

write_config() {
  mkdir -p "$FLINK_CONF_DIR" "$FLINK_LOG_DIR" "$FLINK_PID_DIR" "$state/tmp"
  cp "$dist"/pyflink/conf/log4j*.properties "$FLINK_CONF_DIR"/
  cat > "$FLINK_CONF_DIR/config.yaml" <<YAML
jobmanager:
  bind-host: localhost
  rpc: {address: localhost, port: $rpc}
  memory: {process: {size: 1024m}}
taskmanager:
  bind-host: localhost
  host: localhost
  numberOfTaskSlots: $slots
  # Beam chains a batch job's many operators into each slot; Flink's default network memory (a tenth)
  # is short of the buffers they ask for ("Insufficient number of network buffers").
  memory: {process: {size: 2560m}, network: {min: 384m, max: 384m}}
rest: {address: localhost, bind-address: localhost, port: $rest}
parallelism: {default: $slots}
io: {tmp: {dirs: $state/tmp}}
# A busy machine (or a long GC pause) kept the TaskManager from answering within Flink's 10 s and the
# whole job failed ("not responding after a rpcTimeout of 10000 ms"): wait longer, and retry a failed task.
pekko: {ask: {timeout: 120 s}}
heartbeat: {timeout: 300000}
restart-strategy: {type: fixed-delay, fixed-delay: {attempts: 3, delay: 10 s}}
YAML
}

wait_for_taskmanager() {
  for _ in $(seq 120); do
    curl -sf "http://localhost:$rest/taskmanagers" 2>/dev/null | grep -q '"id"' && return
    sleep 1
  done
  echo "deploy/flink/cluster.sh: no TaskManager registered with the JobManager at localhost:$rest in 120 s; logs in $FLINK_LOG_DIR" >&2
  exit 1
}

case ${1:-} in
  start)
    command -v java >/dev/null || { echo "deploy/flink/cluster.sh: Java is not installed" >&2; exit 1; }
    install_flink
    write_config
    "$dist/pyflink/bin/jobmanager.sh" start >/dev/null
    "$dist/pyflink/bin/taskmanager.sh" start >/dev/null
    PATH=$(dirname "$python"):$PATH nohup "$python" -m apache_beam.runners.worker.worker_pool_main \
      --service_port "$pool" >"$FLINK_LOG_DIR/worker-pool.log" 2>&1 &
    echo $! >"$FLINK_PID_DIR/worker-pool.pid"
    wait_for_taskmanager
    echo "Flink $flink_version: JobManager localhost:$rest, $slots task slots, worker pool localhost:$pool"
    ;;
  stop)
    [[ -x $dist/pyflink/bin/jobmanager.sh ]] || exit 0
    "$dist/pyflink/bin/taskmanager.sh" stop >/dev/null || true
    "$dist/pyflink/bin/jobmanager.sh" stop >/dev/null || true
    if [[ -f $FLINK_PID_DIR/worker-pool.pid ]]; then
      kill "$(cat "$FLINK_PID_DIR/worker-pool.pid")" 2>/dev/null || true
      rm -f "$FLINK_PID_DIR/worker-pool.pid"
    fi
    ;;
  *) echo "usage: deploy/flink/cluster.sh start|stop" >&2; exit 2 ;;
esac
