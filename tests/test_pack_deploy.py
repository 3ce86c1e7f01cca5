"""deploy/dataflow for the tokenizer and pack: the entry point's jobs, their template specs and the launch script."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import pack_corpus
from tests.test_deploy import DATAFLOW, LAUNCH_IMAGE, REPO, launch, load_entry_point
from tokenmill.jobs.pack import pack_command
from tokenmill.jobs.tokenizer import train_command
from tokenmill.transforms.tokenize import train_bpe


def test_the_entry_point_turns_template_parameters_into_pack_and_tokenizer_flags():
    main = load_entry_point()
    assert main.template_argv(["--job=pack", "--curated=gs://b/out/curated", "--tokenizer=gs://b/out/tokenizer.json",
                               "--output=gs://b/out/tokens", "--seq_len=1024", "--mixture=web=0.7,c4=0.3",
                               "--packing=bos-bestfit", "--project=p", "--temp_location=gs://b/tmp"]) == [
        "pack", "--curated", "gs://b/out/curated", "--tokenizer", "gs://b/out/tokenizer.json",
        "--output", "gs://b/out/tokens", "--seq-len", "1024", "--mixture", "web=0.7,c4=0.3",
        "--packing", "bos-bestfit", "--project=p", "--temp_location=gs://b/tmp", "--runner", "DataflowRunner"]
    assert main.template_argv(["--job=tokenizer", "--input=gs://b/c", "--output=gs://b/t.json", "--vocab_size=8192",
                               "--runner=FnApiRunner"]) == [
        "tokenizer", "train", "--input", "gs://b/c", "--output", "gs://b/t.json", "--vocab-size", "8192",
        "--runner", "FnApiRunner"]
    with pytest.raises(SystemExit, match="--job=zip: expected one of curate, tokenizer, pack"):
        main.template_argv(["--job=zip"])


@pytest.mark.parametrize("job, command, required, examples", [
    ("pack", pack_command, ["job", "curated", "tokenizer", "output"],
     {"job": "pack", "curated": "gs://b/out/curated", "tokenizer": "gs://b/out/tokenizer.json",
      "output": "gs://b/out/tokens", "seq_len": "2048", "total_tokens": "1000000000",
      "mixture": "web=0.6,books=0.15,wiki-en=0.25", "packing": "bos-bestfit"}),
    ("tokenizer", train_command, ["job", "input", "output"],
     {"job": "tokenizer", "input": "gs://b/out/curated", "output": "gs://b/out/tokenizer.json",
      "vocab_size": "32768", "sample_bytes": "100000000", "mixture": "web=0.6,books=0.4"}),
])
def test_the_template_specs_declare_what_the_entry_point_accepts(job, command, required, examples):
    spec = json.loads((DATAFLOW / f"flex_template_{job}.json").read_text())
    main = load_entry_point()
    params = {p["name"]: p for p in spec["metadata"]["parameters"]}
    assert spec["sdkInfo"] == {"language": "PYTHON"}
    assert set(params) == (main.JOBS[job].flags - {"runner"}) | {"job"}
    assert [n for n, p in params.items() if not p.get("isOptional")] == required
    cli_flags = {option.lstrip("-") for p in command.params for option in p.opts}
    assert {flag.replace("_", "-") for flag in main.JOBS[job].flags} <= cli_flags
    for name, value in examples.items():
        for regex in params[name].get("regexes", []):
            assert re.fullmatch(regex, value), (name, value)
    assert not re.fullmatch(params["output"]["regexes"][0], "/local/out")


def test_the_entry_point_packs(tmp_path):
    curated = pack_corpus.write_curated(tmp_path / "curated", {"web": pack_corpus.generated(120, seed=6)}, parts=2)
    train_bpe(pack_corpus.generated(50, seed=7), vocab_size=300).save(str(tmp_path / "tokenizer.json"))
    result = subprocess.run([sys.executable, str(DATAFLOW / "main.py"), "--job=pack", f"--curated={curated}",
                             f"--tokenizer={tmp_path / 'tokenizer.json'}", f"--output={tmp_path / 'tokens'}",
                             "--seq_len=31", "--runner=FnApiRunner"],
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((tmp_path / "tokens" / "manifest.json").read_text())
    assert manifest["seq_len"] == 31 and manifest["sources"]["web"]["documents"] == 120


def test_the_launch_script_builds_every_template_and_launches_tokenizer_and_pack(tmp_path):
    image = LAUNCH_IMAGE
    build = launch(tmp_path, "build").stdout
    specs = re.findall(r"template spec: (\S+)", build)
    for spec_path, job, source in zip(specs, ("curate", "tokenizer", "pack"),
                                      ("flex_template.json", "flex_template_tokenizer.json", "flex_template_pack.json")):
        spec = json.loads(Path(spec_path).read_text())
        assert spec["image"] == image
        assert spec["metadata"] == json.loads((DATAFLOW / source).read_text())["metadata"]
        assert f"gcloud storage cp {spec_path} gs://b/templates/{job}.json" in build
    tokenizer = launch(tmp_path, "tokenizer", "gs://b/out/curated", "gs://b/out/tokenizer.json", "vocab_size=8192").stdout
    assert "--template-file-gcs-location gs://b/templates/tokenizer.json" in tokenizer
    assert (f"job=tokenizer~input=gs://b/out/curated~output=gs://b/out/tokenizer.json~sdk_container_image={image}"
            "~vocab_size=8192") in tokenizer
    packed = launch(tmp_path, "pack", "gs://b/out/curated", "gs://b/out/tokenizer.json", "gs://b/out/tokens",
                    "mixture=web=0.7,c4=0.3").stdout
    assert "gcloud dataflow flex-template run tokenmill-pack-" in packed
    assert "--template-file-gcs-location gs://b/templates/pack.json" in packed
    assert ("job=pack~curated=gs://b/out/curated~tokenizer=gs://b/out/tokenizer.json~output=gs://b/out/tokens"
            f"~sdk_container_image={image}~mixture=web=0.7\\,c4=0.3") in packed
    missing = launch(tmp_path, "pack", "gs://b/out/curated", check=False)
    assert missing.returncode != 0 and "pack: give TOKENIZER" in missing.stderr
