"""Side files — evaluation sets, URL blocklists, word lists, models — on an object store (memfs://,
tests/memfs.py, where `open()` and `os.listdir` cannot reach), read through Beam's file systems, each
loaded once per process however many sources name it, and checked when the config loads."""
import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.memfs import MemoryFileSystem
from tokenmill.filters import decontaminate as decontaminate_module
from tokenmill.filters.decontaminate import Decontaminate
from tokenmill.filters.document import Document
from tokenmill.filters.langid import LanguageFilter, bundled_model_path
from tokenmill.filters.side_files import LOCAL, local_path
from tokenmill.filters.toxicity import ToxicityFilter
from tokenmill.filters.url_filter import UrlFilter
from tokenmill.jobs.curate import curate
from tokenmill.pipeline.config import Config, SourceConfig, load_config
from tokenmill.pipeline.schema import ConfigError
from tokenmill.transforms.side_files import BEAM_FILES

QUESTION = ("Which of the following best describes the primary function of mitochondria in eukaryotic cells "
            "during aerobic respiration and energy production?")
PROSE = ("The council met on Tuesday to discuss the new bridge. Residents said the primary concern was traffic "
         "during the morning, and the mayor promised a study of the options before any vote. ") * 3


@pytest.fixture
def bucket(request):
    """memfs://<test name>/: evaluation sets in three formats, a UT1 category, an LDNOOBW-style list."""
    root = f"memfs://{request.node.name.replace('[', '-').replace(']', '')}"
    table = pa.BufferOutputStream()
    pq.write_table(pa.table({"question": ["Natalia sold clips to 48 of her friends in April and then half as "
                                          "many in May"], "answer": ["72"]}), table)
    MemoryFileSystem.objects.update({
        f"{root}/evals/mmlu.jsonl": (json.dumps({"question": QUESTION, "answer": 0}) + "\n").encode(),
        f"{root}/evals/gsm8k.parquet": table.getvalue().to_pybytes(),
        f"{root}/evals/lambada.txt.gz": gzip.compress(b"the last word of this passage must be predicted by the "
                                                      b"model\n"),
        f"{root}/ut1/adult/domains": b"# UT1\nbadsite.com\n",
        f"{root}/ut1/adult/urls": b"goodhost.net/private\n",
        f"{root}/words/en": b"darn\nheck\n",
    })
    yield root
    for path in [p for p in MemoryFileSystem.objects if p.startswith(root + "/")]:
        del MemoryFileSystem.objects[path]


def test_the_filters_read_their_files_from_an_object_store(bucket):
    sets = {name: f"{bucket}/evals/{file}" for name, file in
            (("mmlu", "mmlu.jsonl"), ("gsm8k", "gsm8k.parquet"), ("lambada", "lambada.txt.gz"))}
    with pytest.raises(OSError):  # what a filter meets without the pipeline's file systems
        Decontaminate(sets).setup()
    decontaminate = Decontaminate(sets, files=BEAM_FILES)
    assert decontaminate.match("Quiz: " + QUESTION.upper())[0] == "mmlu"
    assert decontaminate.match("so natalia sold clips to 48 of her friends in april and then half")[0] == "gsm8k"
    assert decontaminate.match("The last word of this passage, must be predicted by the model!")[0] == "lambada"
    assert decontaminate.match(PROSE) is None

    urls = UrlFilter({"adult": f"{bucket}/ut1/adult"}, files=BEAM_FILES)
    pages = ("https://www.badsite.com/a", "https://goodhost.net/private/x", "https://goodhost.net/")
    assert [urls(Document("x", "s", "t", url)) for url in pages] == ["adult", "adult", None]

    toxicity = ToxicityFilter(lists=f"{bucket}/words", files=BEAM_FILES)
    assert toxicity.languages == {"en"}
    assert toxicity.word_score("well darn it, heck, what a day", "en") == (2, round(2 / 7, 6))


def test_a_remote_model_is_copied_once_per_process(bucket, monkeypatch):
    remote = f"{bucket}/models/lid.176.ftz"
    MemoryFileSystem.objects[remote] = bundled_model_path().read_bytes()
    opened = []
    real_open = MemoryFileSystem.open
    monkeypatch.setattr(MemoryFileSystem, "open", lambda self, path, *a, **k: opened.append(path) or real_open(
        self, path, *a, **k))
    first, second = (LanguageFilter(["en"], 0.5, remote, files=BEAM_FILES) for _ in range(2))
    docs = [Document("a", "s", PROSE), Document("b", "s", "Der Rat traf sich am Dienstag, um die neue Brücke zu "
                                                          "besprechen, und die Anwohner sprachen über den Verkehr.")]
    assert first.filter_batch(docs) == [None, "unwanted_language"] and docs[1].lang == "de"
    assert second.filter_batch([Document("c", "s", PROSE)]) == [None]
    assert opened == [remote]
    copy = local_path(remote, BEAM_FILES)
    assert open(copy, "rb").read() == MemoryFileSystem.objects[remote] and local_path(copy, LOCAL) == copy


def test_every_source_shares_one_index_per_process(bucket, monkeypatch, tmp_path):
    """Two sources run decontamination against the same set: the index is built once, not once per
    source's chain (nor per DoFn instance)."""
    builds = []
    real_build = decontaminate_module.NgramIndex.build.__func__
    monkeypatch.setattr(decontaminate_module.NgramIndex, "build",
                        classmethod(lambda cls, name, *args: builds.append(name) or real_build(cls, name, *args)))
    for name in ("a", "b"):
        (tmp_path / f"{name}.jsonl").write_text(
            json.dumps({"id": f"{name}-leak", "text": PROSE + QUESTION}) + "\n"
            + json.dumps({"id": f"{name}-clean", "text": PROSE + name}) + "\n")
    config = Config(sources={name: SourceConfig("jsonl", [str(tmp_path / f"{name}.jsonl")]) for name in ("a", "b")},
                    stages={"decontaminate": {"sets": {"mmlu": f"{bucket}/evals/mmlu.jsonl"}},
                            "url": {"lists": {"adult": f"{bucket}/ut1/adult"}}})
    ledger = curate(config, str(tmp_path / "out"), ["url", "decontaminate"])
    assert ledger["removed"] == {"a": {"decontaminate/mmlu": 1}, "b": {"decontaminate/mmlu": 1}}
    assert builds == ["mmlu"]
    first, second = (Decontaminate({"mmlu": f"{bucket}/evals/mmlu.jsonl"}, files=BEAM_FILES) for _ in range(2))
    first.setup()
    second.setup()
    assert builds == ["mmlu"] and first._indexes[0] is second._indexes[0]
    other_settings = Decontaminate({"mmlu": f"{bucket}/evals/mmlu.jsonl"}, n=10, files=BEAM_FILES)
    other_settings.setup()
    assert builds == ["mmlu", "mmlu"]  # an index is shaped by its settings: another n-gram length, another index


def test_remote_side_files_are_checked_when_the_config_loads(bucket, tmp_path):
    (tmp_path / "docs.jsonl").write_text(json.dumps({"text": PROSE}) + "\n")
    good = (f"sources:\n  web: {{format: jsonl, paths: [docs.jsonl]}}\n"
            f"stages:\n  decontaminate: {{sets: {{mmlu: {bucket}/evals/mmlu.jsonl}}}}\n"
            f"  url: {{lists: {{adult: {bucket}/ut1/adult}}}}\n  toxicity: {{lists: {bucket}/words}}\n")
    (tmp_path / "good.yaml").write_text(good)
    assert load_config(str(tmp_path / "good.yaml")).stages["url"]["lists"]["adult"] == f"{bucket}/ut1/adult"
    MemoryFileSystem.objects[f"{bucket}/evals/broken.jsonl"] = b"not json\n"
    MemoryFileSystem.objects[f"{bucket}/ut1/empty/README"] = b"no lists here\n"
    bad = (f"sources:\n  web: {{format: jsonl, paths: [docs.jsonl], "
           f"overrides: {{toxicity: {{lists: {bucket}/none}}}}}}\n"
           f"stages:\n  decontaminate: {{sets: {{mmlu: {bucket}/evals/missing.jsonl, "
           f"arc: {bucket}/evals/broken.jsonl}}}}\n"
           f"  url: {{lists: {{adult: {bucket}/ut1/empty}}}}\n"
           f"  quality-model: {{models: {{edu: {{kind: hf, path: {bucket}/models/edu}}}}}}\n")
    (tmp_path / "bad.yaml").write_text(bad)
    with pytest.raises(ConfigError) as raised:
        load_config(str(tmp_path / "bad.yaml"))
    where = f"{tmp_path / 'bad.yaml'}"
    assert set(raised.value.problems) == {
        f"{where}: stages.decontaminate.sets.mmlu: {bucket}/evals/missing.jsonl is not a file",
        f"{where}: stages.url.lists.adult: {bucket}/ut1/empty holds no UT1 list (domains or urls)",
        f"{where}: stages.quality-model.models.edu.path: {bucket}/models/edu is not a folder with files in it",
        f"{where}: sources.web.overrides.toxicity.lists: {bucket}/none is not a folder with files in it",
    } | {p for p in raised.value.problems if p.startswith(f"{where}: stages.decontaminate.sets.arc: ")}
    assert any("broken.jsonl:1: not JSON" in p for p in raised.value.problems)
