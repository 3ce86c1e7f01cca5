#!/usr/bin/env bash
# Beam's Flink or Spark job server, fetched from Maven Central once and cached; prints the jar's path,
# to give the runner as --flink_job_server_jar or --spark_job_server_jar.
#
#   deploy/job-server.sh flink|spark
#
# First the jar Beam publishes (org.apache.beam:beam-runners-flink-1.19-job-server:VERSION or
# beam-runners-spark-3-job-server:VERSION) through `mvn dependency:copy`; where Maven Central does not
# serve it, the same program assembled by deploy/<engine>/pom.xml from the runner's own jars (a jar whose
# manifest names the job server's main class and every dependency under lib/).
# BEAM_JOB_SERVER_VERSION (default below) must be a release whose jars Maven Central serves: the newest
# one served here whole is 2.62.0 (README, "Flink and Spark"). TOKENMILL_CACHE moves the cache.
set -euo pipefail
engine=${1:?usage: deploy/job-server.sh flink|spark}
version=${BEAM_JOB_SERVER_VERSION:-2.62.0}
cache=${TOKENMILL_CACHE:-$HOME/.cache/tokenmill}/job-servers
case $engine in
  flink) artifact=beam-runners-flink-1.19-job-server ;;
  spark) artifact=beam-runners-spark-3-job-server ;;
  *) echo "deploy/job-server.sh: unknown engine '$engine' (flink or spark)" >&2; exit 2 ;;
esac
jar=$cache/$artifact-$version.jar
for tool in java mvn; do
  command -v $tool >/dev/null || { echo "deploy/job-server.sh: '$tool' is not installed (Java 17 and Maven fetch and run the job server)" >&2; exit 1; }
done
if [[ ! -s $jar ]]; then
  mkdir -p "$cache"
  here=$(cd "$(dirname "$0")" && pwd)
  echo "fetching $artifact:$version into $cache" >&2
  mvn -q -B -Dstyle.color=never dependency:copy -Dartifact=org.apache.beam:$artifact:$version -DoutputDirectory="$cache" >/dev/null 2>&1 \
    || mvn -q -B -Dstyle.color=never -f "$here/$engine/pom.xml" package -Dbeam.version="$version" -Doutput.dir="$cache" >&2 \
    || { echo "deploy/job-server.sh: Maven could not fetch $artifact:$version nor the runner it is made of" >&2; exit 1; }
fi
echo "$jar"
