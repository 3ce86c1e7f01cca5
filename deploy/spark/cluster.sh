#!/usr/bin/env bash
# A standalone Spark 3.5 cluster on this machine: a master and a worker, each a process of its own, from
# the jars and launch scripts that PyPI's pyspark 3.5 package ships (taken as files into a folder of its
# own, apart from the pyspark 4 that reads Parquet in the tests), and beside them Beam's worker pool,
# which starts the SDK workers that run tokenmill's Python.
#
#   deploy/spark/cluster.sh start|stop
#
# Then: tokenmill curate ... --runner SparkRunner --spark_master_url spark://localhost:7077 \
#         --spark_job_server_jar "$(deploy/job-server.sh spark)" \
#         --environment_type EXTERNAL --environment_config localhost:50000
#
# Settings (environment): SPARK_MASTER_PORT (7077), SPARK_MASTER_WEBUI_PORT (8080), SPARK_WORKER_WEBUI_PORT
# (8082), WORKER_POOL_PORT (50000), WORKER_CORES (2), WORKER_MEMORY (2g), PYTHON (python3: the environment
# tokenmill is installed in), TOKENMILL_CACHE (~/.cache/tokenmill: the distribution), SPARK_CLUSTER_DIR
# (logs, work folders and process ids; default $TOKENMILL_CACHE/spark-cluster).
set -euo pipefail
spark_version=3.5.7   # the Spark the job server is assembled with (deploy/spark/pom.xml)
cache=${TOKENMILL_CACHE:-$HOME/.cache/tokenmill}
dist=$cache/spark-$spark_version
state=${SPARK_CLUSTER_DIR:-$cache/spark-cluster}
port=${SPARK_MASTER_PORT:-7077} ui=${SPARK_MASTER_WEBUI_PORT:-8080} worker_ui=${SPARK_WORKER_WEBUI_PORT:-8082}
pool=${WORKER_POOL_PORT:-50000} cores=${WORKER_CORES:-2} memory=${WORKER_MEMORY:-2g}
python=$(command -v "${PYTHON:-python3}")
export SPARK_HOME=$dist/pyspark SPARK_LOG_DIR=$state/log SPARK_PID_DIR=$state/pid SPARK_WORKER_DIR=$state/work
export SPARK_LOCAL_IP=127.0.0.1 SPARK_LOCAL_DIRS=$state/tmp SPARK_IDENT_STRING=tokenmill

install_spark() {
  [[ -x $SPARK_HOME/sbin/spark-daemon.sh ]] && return
  echo "installing Spark $spark_version (pyspark) into $dist" >&2
  "$python" -m pip install -q --no-deps --target "$dist" "pyspark==$spark_version"
  chmod +x "$SPARK_HOME"/bin/* "$SPARK_HOME"/sbin/*
}

wait_for_worker() {
  for _ in $(seq 120); do
    curl -sf "http://localhost:$ui/json/" 2>/dev/null | grep -q '"aliveworkers" *: *[1-9]' && return
    sleep 1
  done
  echo "deploy/spark/cluster.sh: no worker registered with the master at spark://localhost:$port in 120 s; logs in $SPARK_LOG_DIR" >&2
  exit 1
}

daemon() { "$SPARK_HOME/sbin/spark-daemon.sh" "$@" >/dev/null; }

case ${1:-} in
  start)
    command -v java >/dev/null || { echo "deploy/spark/cluster.sh: Java is not installed" >&2; exit 1; }
    install_spark
    mkdir -p "$SPARK_LOG_DIR" "$SPARK_PID_DIR" "$SPARK_WORKER_DIR" "$SPARK_LOCAL_DIRS"
    daemon start org.apache.spark.deploy.master.Master 1 --host localhost --port "$port" --webui-port "$ui"
    daemon start org.apache.spark.deploy.worker.Worker 1 --host localhost --webui-port "$worker_ui" \
      --cores "$cores" --memory "$memory" --work-dir "$SPARK_WORKER_DIR" "spark://localhost:$port"
    PATH=$(dirname "$python"):$PATH nohup "$python" -m apache_beam.runners.worker.worker_pool_main \
      --service_port "$pool" >"$SPARK_LOG_DIR/worker-pool.log" 2>&1 &
    echo $! >"$SPARK_PID_DIR/worker-pool.pid"
    wait_for_worker
    echo "Spark $spark_version: master spark://localhost:$port, a worker of $cores cores, worker pool localhost:$pool"
    ;;
  stop)
    [[ -x $SPARK_HOME/sbin/spark-daemon.sh ]] || exit 0
    daemon stop org.apache.spark.deploy.worker.Worker 1 || true
    daemon stop org.apache.spark.deploy.master.Master 1 || true
    if [[ -f $SPARK_PID_DIR/worker-pool.pid ]]; then
      kill "$(cat "$SPARK_PID_DIR/worker-pool.pid")" 2>/dev/null || true
      rm -f "$SPARK_PID_DIR/worker-pool.pid"
    fi
    ;;
  *) echo "usage: deploy/spark/cluster.sh start|stop" >&2; exit 2 ;;
esac
