#!/usr/bin/env bash
# Build the tokenmill Dataflow image and flex templates; launch curate, tokenizer training and pack from them.
#
#   PROJECT=my-project REGION=europe-west4 BUCKET=gs://my-bucket deploy/dataflow/launch.sh build
#   ... launch.sh run gs://my-bucket/out 'web=warc:gs://my-bucket/cc/*.warc.gz;c4=jsonl:gs://my-bucket/c4/*.json.gz' \
#       [NAME=VALUE ...]                      (more template parameters, e.g. langs=en,de keep_rejected=true)
#   ... launch.sh tokenizer gs://my-bucket/out/curated gs://my-bucket/out/tokenizer.json [vocab_size=32768 ...]
#   ... launch.sh pack gs://my-bucket/out/curated gs://my-bucket/out/tokenizer.json gs://my-bucket/out/tokens \
#       [seq_len=2048 mixture=web=0.7,c4=0.3 packing=bos-bestfit ...]
#
# build:     the image (deploy/dataflow/Dockerfile, pushed to Artifact Registry) and the template specs
#            (flex_template*.json with that image, copied to BUCKET/templates/{curate,tokenizer,pack}.json).
# run:       curate on Dataflow from the curate template; its workers run the same image.
# tokenizer: the tokenizer's sample drawn on Dataflow, the merges learned on the launcher.
# pack:      tokenize and pack every curated shard, then write the mixed shards (two Dataflow jobs in turn).
# IMAGE overrides the image name; DRY_RUN=1 prints the commands instead of running them.
set -euo pipefail

if [[ ! "${1:-}" =~ ^(build|run|tokenizer|pack)$ ]]; then
  sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/pyproject.toml")"
: "${PROJECT:?set PROJECT to the Google Cloud project}"
: "${REGION:?set REGION, e.g. europe-west4}"
: "${BUCKET:?set BUCKET to a gs:// bucket for the template, staging and temporary files}"
IMAGE="${IMAGE:-$REGION-docker.pkg.dev/$PROJECT/tokenmill/tokenmill:$version}"
templates="$BUCKET/templates"

run() {
  if [[ "${DRY_RUN:-}" == 1 ]]; then printf '%q ' "$@"; echo; else "$@"; fi
}

build() {
  run docker build -f "$here/Dockerfile" -t "$IMAGE" "$repo"
  run docker push "$IMAGE"
  local job source spec
  for job in curate tokenizer pack; do
    source="$here/flex_template_$job.json"
    [[ "$job" == curate ]] && source="$here/flex_template.json"
    spec="$(mktemp -t tokenmill-template.XXXXXX.json)"
    python3 - "$source" "$IMAGE" "$spec" <<'PY'
import json, sys
source, image, target = sys.argv[1:]
spec = json.load(open(source))
spec["image"] = image
json.dump(spec, open(target, "w"), indent=2)
PY
    echo "template spec: $spec"
    run gcloud storage cp "$spec" "$templates/$job.json"
  done
}

launch() {
  local job="$1" params="$2"
  shift 2
  # '^~^' makes '~' the separator between parameters, so values may hold commas.
  params="^~^$params~sdk_container_image=$IMAGE"
  for extra in "$@"; do params="$params~$extra"; done
  run gcloud dataflow flex-template run "tokenmill-$job-$(date -u +%Y%m%d-%H%M%S)" \
    --project "$PROJECT" --region "$REGION" \
    --template-file-gcs-location "$templates/$job.json" \
    --staging-location "$BUCKET/staging" --temp-location "$BUCKET/tmp" \
    --parameters "$params"
}

case "${1:-}" in
  build) build ;;
  run) launch curate "output=${2:?run: give OUTPUT (gs://...) and SOURCES}~sources=${3:?run: give SOURCES}" "${@:4}" ;;
  tokenizer) launch tokenizer "job=tokenizer~input=${2:?tokenizer: give CURATED and OUTPUT}~output=${3:?tokenizer: give OUTPUT}" \
               "${@:4}" ;;
  pack) launch pack "job=pack~curated=${2:?pack: give CURATED, TOKENIZER and OUTPUT}~tokenizer=${3:?pack: give TOKENIZER}~output=${4:?pack: give OUTPUT}" \
          "${@:5}" ;;
esac
