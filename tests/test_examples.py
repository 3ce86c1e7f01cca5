"""The recipes in examples/: each config loads and builds its pipeline, and runs on the bundled sample
where the sample fits (a crawl: the FineWeb-like and DCLM-like recipes); the commands of the cluster
example are accepted by their runners."""
import re
import shlex
import shutil

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from conftest import REPO, SAMPLE, assert_config_loads_but_for_user_files
from tokenmill.jobs.cli import cli
from tokenmill.jobs.curate import curate, curate_command, curation_pipeline
from tokenmill.jobs.pack import resolve_phases
from tokenmill.pipeline.config import load_config
from tokenmill.pipeline.pack_config import epoch_cap, pack_config
from tokenmill.transforms.mix import plan_mixture

EXAMPLES = REPO / "examples"
FINEWEB = EXAMPLES / "fineweb" / "fineweb.yaml"


def on_the_sample_crawl(path):
    """The example's config, its one WARC source reading the bundled sample's crawl."""
    config = load_config(str(path))
    config.sources["cc"].paths = [str(SAMPLE / "web.warc.gz")]
    return config


def removal_stages(ledger: dict) -> set[str]:
    return {reason.split("/")[0] for reason in ledger["removed"]["cc"]}


def test_every_example_has_a_readme_and_a_config_that_loads():
    folders = sorted(p for p in EXAMPLES.iterdir() if p.is_dir())
    assert [f.name for f in folders] == ["cluster-runners", "dclm", "fineweb", "pretraining-mix"]
    for folder in folders:
        assert (folder / "README.md").is_file(), folder
        for config in folder.glob("*.yaml"):
            assert_config_loads_but_for_user_files(str(config))


def test_the_fineweb_recipe_runs_on_the_sample_crawl(tmp_path):
    config = on_the_sample_crawl(FINEWEB)
    ledger = curate(config, str(tmp_path / "out"))
    assert ledger["balanced"] and ledger["input"]["cc"] > 0
    assert removal_stages(ledger) <= {"read", "langid", "quality", "near-dedup", "pii"}
    reasons = set(ledger["removed"]["cc"])
    assert any(r.startswith("quality/fineweb_") or r.startswith("quality/c4_") for r in reasons), reasons
    assert ledger["kept"]["cc"] > 0
    columns = set(pq.read_schema(next((tmp_path / "out" / "curated" / "cc").glob("*.parquet"))).names)
    assert {"pii_spans", "pii_email_address", "pii_ip_address", "short_lines", "punctuated_lines"} <= columns
    assert "pii_phone_number" not in columns  # FineWeb masks e-mail and IP addresses only


def test_the_dclm_recipe_runs_with_a_classifier_trained_on_the_sample(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the recipe names its model models/quality.bin, where its README trains it
    model = tmp_path / "models" / "quality.bin"
    model.parent.mkdir()
    trained = CliRunner().invoke(cli, ["classifier", "train", "--positive", f"docs=jsonl:{SAMPLE / 'docs.jsonl.gz'}",
                                       "--negative", f"web=warc:{SAMPLE / 'web.warc.gz'}", "--output", str(model)])
    assert trained.exit_code == 0, trained.output
    config = on_the_sample_crawl(EXAMPLES / "dclm" / "dclm.yaml")
    models = config.stages["quality-model"]["models"]
    assert models["dclm"] == {"path": "models/quality.bin", "label": "__label__hq", "top_fraction": 0.1}
    ledger = curate(config, str(tmp_path / "out"))
    assert ledger["balanced"]
    removed = ledger["removed"]["cc"]
    assert removal_stages(ledger) <= {"read", "langid", "quality", "exact-dedup", "near-dedup", "quality-model"}
    reached = ledger["kept"]["cc"] + removed.get("quality-model/dclm", 0)
    assert reached >= 5 and ledger["kept"]["cc"] <= max(1, round(0.1 * reached)) + 1  # the best-scored tenth
    kept = pq.read_table(tmp_path / "out" / "curated" / "cc").column("quality_model_dclm").to_pylist()
    assert kept and all(0.0 <= score <= 1.0 for score in kept)


def tree_for(config_file, tmp_path):
    """A copy of the example's config beside a data/ tree with a file where each source's glob looks
    (only their names matter: the pipeline is built, not run)."""
    for name in ("web/CC-MAIN-0.warc.gz", "books/pg84.txt", "wiki/enwiki-20240601-pages-articles1.xml.bz2",
                 "code/tokenmill/cli.py", "arxiv/2401.00001.tar.gz"):
        (tmp_path / "data" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / name).write_bytes(b"")
    shutil.copy(config_file, tmp_path / config_file.name)
    return load_config(str(tmp_path / config_file.name))


def test_the_pretraining_mix_builds_its_pipeline_and_plans_its_phases_within_the_epoch_caps(tmp_path):
    config = tree_for(EXAMPLES / "pretraining-mix" / "mix.yaml", tmp_path)
    _, plan = curation_pipeline(config, str(tmp_path / "out"))
    assert sorted(plan.stages) == ["books", "code", "papers", "web", "wiki"]
    assert "langid" not in plan.stages["code"] and "toxicity" not in plan.stages["code"]
    assert plan.stages["books"] == plan.stages["web"]  # every default stage; the rule sets differ by format
    assert len({shard.source for shard in plan.inputs}) == 5
    pack = pack_config(config.pack, config.origin)
    phases, origin = resolve_phases(config, pack, None)
    assert origin == "pack.phases" and [until for until, _ in phases] == [0.8, 1.0]
    available = {"web": 60_000, "books": 9_000, "wiki": 6_000, "code": 12_000, "papers": 5_000}  # rows per source
    caps = {source: epoch_cap(source, pack.epochs) for source in available}
    plans = plan_mixture(phases, available, caps, None, pack.seq_len + 1)
    used = {source: sum(p.rows.get(source, 0) for p in plans) for source in available}
    assert all(used[s] <= available[s] * caps[s] for s in available)
    late = plans[-1].rows
    assert late["books"] / sum(late.values()) == pytest.approx(0.2, abs=0.01)


CLUSTER_README = EXAMPLES / "cluster-runners" / "README.md"


def cluster_commands() -> list[list[str]]:
    """Each `tokenmill curate` command of the cluster example's README, as its arguments."""
    text = CLUSTER_README.read_text(encoding="utf-8")
    blocks = re.findall(r"^ {4}(tokenmill curate .*?)(?<!\\)$", text, flags=re.M | re.S)
    return [shlex.split(block.replace("\\\n", " "))[2:] for block in blocks]


@pytest.mark.parametrize("args", cluster_commands(), ids=lambda args: args[args.index("--runner") + 1])
def test_the_cluster_examples_commands_are_accepted_by_their_runners(args, tmp_path):
    ctx = curate_command.make_context("curate", list(args))
    extra = list(ctx.args)
    for flag in ("--flink_job_server_jar", "--spark_job_server_jar"):
        if flag in extra:  # the jar is used as given: only its path matters here
            jar = tmp_path / "job-server.jar"
            jar.write_bytes(b"")
            extra[extra.index(flag) + 1] = str(jar)
    assert ctx.params["config_path"] == "fineweb-cluster.yaml"
    pipeline, _ = curation_pipeline(on_the_sample_crawl(FINEWEB), ctx.params["output"], runner=ctx.params["runner"],
                                    beam_args=extra)
    names = {t.unique_name for t in pipeline.to_runner_api().components.transforms.values()}
    assert any(name.startswith("Apply/") for name in names)


def test_the_cluster_example_has_a_command_for_each_runner():
    assert sorted(args[args.index("--runner") + 1] for args in cluster_commands()) == [
        "DataflowRunner", "FlinkRunner", "SparkRunner"]
