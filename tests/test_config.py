"""Config mistakes get one clear line each naming the file and the key, all of them in one message,
and a non-zero exit."""
import subprocess
import sys
from pathlib import Path

import pytest

import tokenmill.pipeline.stages  # noqa: F401  (adds the checks of formats, stage names and settings)
from tokenmill.pipeline.config import load_config, parse_source_flag
from tokenmill.pipeline.schema import ConfigError

REPO = Path(__file__).resolve().parents[1]
SAMPLE_WARC = REPO / "jobs" / "sample" / "web.warc.gz"


def write(tmp_path, text):
    path = tmp_path / "run.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_valid_config_loads_with_relative_paths_resolved(tmp_path):
    config = load_config(write(tmp_path, """
sources:
  web: {format: warc, paths: ["data/*.warc.gz"], weight: 0.6}
stages:
  langid: {languages: [en, de], threshold: 0.5}
curate: {keep_rejected: true}
"""))
    assert config.sources["web"].paths == [str(tmp_path / "data/*.warc.gz")]
    assert config.sources["web"].weight == 0.6
    assert config.curate.keep_rejected is True


@pytest.mark.parametrize("text, message", [
    ("sources:\n  web: {format: warc, paths: [a], wieght: 1}\n", "run.yaml: sources.web.wieght: unknown key"),
    ("sources:\n  web: {format: warc, paths: a}\n", "run.yaml: sources.web.paths: expected a list, got 'a'"),
    ("sources:\n  web: {format: wrc, paths: [a]}\n", "run.yaml: sources.web.format: unknown format 'wrc'"),
    ("sources:\n  web: {paths: [a]}\n", "run.yaml: sources.web.format: required key is missing"),
    ("curate: {rows_per_shard: lots}\n", "run.yaml: curate.rows_per_shard: expected an integer, got 'lots'"),
    ("stages:\n  langid: {threshold: 2}\n", "run.yaml: stages.langid: threshold: must be between 0 and 1"),
    ("stages:\n  dedupe: {}\n", "run.yaml: stages.dedupe: unknown stage"),
    ("stages:\n  near-dedup: {max_rounds: 0}\n", "run.yaml: stages.near-dedup: max_rounds: must be at least 1"),
    ("stages:\n  near-dedup: {bucket_cap: 1000}\n", "run.yaml: stages.near-dedup.bucket_cap: unknown key"),
    ("train: {steps: many}\n", "run.yaml: train.steps: expected an integer, got 'many'"),
    ("stagess: {}\n", "run.yaml: stagess: unknown key"),
    ("sources: [web]\n", "run.yaml: sources: expected a mapping, got list"),
    ("sources:\n  web: {format: warc\n", "run.yaml: not valid YAML (line"),
])
def test_mistakes_name_the_file_and_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(message.replace("run.yaml", path))


def test_missing_config_file():
    with pytest.raises(ConfigError, match="nope.yaml: config file not found"):
        load_config("nope.yaml")


def test_source_flag_syntax():
    name, source = parse_source_flag("web=warc:data/*.warc.gz")
    assert (name, source.format, source.paths) == ("web", "warc", ["data/*.warc.gz"])
    with pytest.raises(ConfigError, match="expected NAME=FORMAT:GLOB"):
        parse_source_flag("web:data/*.warc.gz")


def run_cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "tokenmill", *args], cwd=cwd, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=120)


@pytest.mark.parametrize("args, message", [
    (["--source", "web=warc:/nonexistent/*.warc.gz"], "'/nonexistent/*.warc.gz' matches no file"),
    (["--source", "web=pdf:/tmp/x"], "sources.web.format: unknown format 'pdf'"),
    (["--stages", "langid,dedupe"], "--stages: unknown stage 'dedupe'"),
    (["--lang-threshold", "1.5"], "stages.langid: threshold: must be between 0 and 1"),
])
def test_cli_errors_are_one_line_without_traceback(tmp_path, args, message):
    base = ["--source", f"web=warc:{SAMPLE_WARC}"] if args[0] != "--source" else []
    result = run_cli("curate", "--output", str(tmp_path / "out"), *base, *args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert message in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.startswith("Error")]) == 1


def test_cli_reports_a_malformed_config_file(tmp_path):
    result = run_cli("curate", "--config", write(tmp_path, "sources: {web: {format: warc, paths: [x], weight: heavy}}\n"),
                     "--output", str(tmp_path / "out"))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "sources.web.weight: expected a number, got 'heavy'" in result.stderr


def test_every_command_has_help_and_the_group_has_a_version():
    assert run_cli("--version").stdout.startswith("tokenmill, version ")
    assert "Curate raw shards" in run_cli("curate", "--help").stdout


def test_the_curation_pages_config_example_loads(tmp_path):
    block = (REPO / "docs" / "curation.md").read_text(encoding="utf-8").split("## Config")[1].split("```yaml")[1].split("```")[0]
    (tmp_path / "data").mkdir()
    config = load_config(write(tmp_path, block))
    from tokenmill.pipeline.stages import settings_for

    assert settings_for(config, "quality", "web").rule_sets == ["sanity", "gopher_repetition"]
    assert settings_for(config, "langid", "web").threshold == 0.65


def test_every_mistake_of_a_config_is_in_one_message(tmp_path):
    path = write(tmp_path, """
sources:
  web: {format: pdf, paths: [a], weight: heavy, wieght: 2}
  books: {format: book, paths: [b], stages: [langid, dedupe]}
stages:
  langid: {threshold: 2}
curate: {rows_per_shard: lots}
train: {steps: many}
""")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.problems == [f"{path}: {line}" for line in [
        "sources.web.wieght: unknown key (expected one of: format, options, overrides, paths, stages, weight)",
        "sources.web.weight: expected a number, got 'heavy'",
        "curate.rows_per_shard: expected an integer, got 'lots'",
        "sources.web.format: unknown format 'pdf' (expected one of: book, code, jsonl, latex, mediawiki, parquet, "
        "text, warc, wet)",
        "sources.books.stages: unknown stage 'dedupe' (expected one of: clean-text, url, langid, quality, "
        "decontaminate, exact-dedup, near-dedup, paragraph-dedup, quality-model, toxicity, pii)",
        "stages.langid: threshold: must be between 0 and 1",
        "train.steps: expected an integer, got 'many'",
    ]]
    result = run_cli("curate", "--config", path, "--output", str(tmp_path / "out"))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert all(problem in result.stderr for problem in err.value.problems)


def test_an_unknown_beam_option_is_an_error_naming_it(tmp_path):
    result = run_cli("curate", "--source", f"web=warc:{SAMPLE_WARC}", "--output", str(tmp_path / "out"),
                     "--frobnicate", "3", "--temp_locaton=/tmp")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "--frobnicate: unknown Beam pipeline option" in result.stderr
    assert "--temp_locaton: unknown Beam pipeline option (did you mean --temp_location?)" in result.stderr
    assert not (tmp_path / "out").exists()


def test_beam_options_build_each_view_once_and_every_view_sees_every_change():
    import copy
    import pickle

    from apache_beam.options.pipeline_options import DirectOptions, StandardOptions, TypeOptions

    from tokenmill.pipeline.runner import pipeline_options

    options = pipeline_options("FnApiRunner", 2, ["--no_pipeline_type_check"])
    assert options.view_as(TypeOptions) is options.view_as(TypeOptions)
    assert options.view_as(TypeOptions).pipeline_type_check is False
    assert options.view_as(DirectOptions).direct_num_workers == 2
    options.view_as(StandardOptions).runner = "SparkRunner"
    assert options.get_all_options()["runner"] == "SparkRunner"
    for twin in (copy.deepcopy(options), pickle.loads(pickle.dumps(options))):  # Beam copies; workers unpickle
        twin.view_as(StandardOptions).runner = "FlinkRunner"
        assert twin.get_all_options()["runner"] == "FlinkRunner"
        assert twin.get_all_options()["direct_num_workers"] == 2
    assert options.view_as(StandardOptions).runner == "SparkRunner"


@pytest.mark.parametrize("command", ["tokenmill.jobs.plan", "tokenmill.jobs.train.command"])
def test_train_and_plan_load_their_config_without_beam(command):
    code = (f"import sys, {command}; from tokenmill.pipeline.config import load_config; "
            f"load_config({str(REPO / 'jobs' / 'sample' / 'sample.yaml')!r}); "
            "print(sorted(m for m in ('apache_beam', 'presidio_analyzer') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"
