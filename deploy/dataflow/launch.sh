#!/usr/bin/env bash
# Build the tokenmill Dataflow image and flex template, and launch `tokenmill curate` from it.
#
#   PROJECT=my-project REGION=europe-west4 BUCKET=gs://my-bucket deploy/dataflow/launch.sh build
#   PROJECT=my-project REGION=europe-west4 BUCKET=gs://my-bucket deploy/dataflow/launch.sh run \
#       gs://my-bucket/out/cc-2024-22 'web=warc:gs://my-bucket/cc/*.warc.gz;c4=jsonl:gs://my-bucket/c4/*.json.gz' \
#       [NAME=VALUE ...]                      (more template parameters, e.g. langs=en,de keep_rejected=true)
#
# build: the image (deploy/dataflow/Dockerfile, pushed to Artifact Registry) and the template spec
#        (flex_template.json with that image, copied to BUCKET/templates/curate.json).
# run:   a Dataflow job from the template; its workers run the same image.
# IMAGE overrides the image name; DRY_RUN=1 prints the commands instead of running them.
set -euo pipefail

if [[ "${1:-}" != build && "${1:-}" != run ]]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/pyproject.toml")"
: "${PROJECT:?set PROJECT to the Google Cloud project}"
: "${REGION:?set REGION, e.g. europe-west4}"
: "${BUCKET:?set BUCKET to a gs:// bucket for the template, staging and temporary files}"
IMAGE="${IMAGE:-$REGION-docker.pkg.dev/$PROJECT/tokenmill/tokenmill:$version}"
template="$BUCKET/templates/curate.json"

run() {
  if [[ "${DRY_RUN:-}" == 1 ]]; then printf '%q ' "$@"; echo; else "$@"; fi
}

build() {
  run docker build -f "$here/Dockerfile" -t "$IMAGE" "$repo"
  run docker push "$IMAGE"
  local spec
  spec="$(mktemp -t tokenmill-template.XXXXXX.json)"
  python3 - "$here/flex_template.json" "$IMAGE" "$spec" <<'PY'
import json, sys
source, image, target = sys.argv[1:]
spec = json.load(open(source))
spec["image"] = image
json.dump(spec, open(target, "w"), indent=2)
PY
  echo "template spec: $spec"
  run gcloud storage cp "$spec" "$template"
}

launch() {
  local output="${1:?run: give OUTPUT (gs://...) and SOURCES}" sources="${2:?run: give SOURCES}"
  shift 2
  # '^~^' makes '~' the separator between parameters, so values may hold commas.
  local params="^~^output=$output~sources=$sources~sdk_container_image=$IMAGE"
  for extra in "$@"; do params="$params~$extra"; done
  run gcloud dataflow flex-template run "tokenmill-curate-$(date -u +%Y%m%d-%H%M%S)" \
    --project "$PROJECT" --region "$REGION" \
    --template-file-gcs-location "$template" \
    --staging-location "$BUCKET/staging" --temp-location "$BUCKET/tmp" \
    --parameters "$params"
}

case "${1:-}" in
  build) build ;;
  run) shift; launch "$@" ;;
esac
