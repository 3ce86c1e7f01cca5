"""Shared fixtures, and the two test tiers.

The default tier (`python -m pytest`) needs nothing beyond the clone and what it installs: it runs
on the bundled sample (jobs/sample/), text it generates and small fixtures it writes. A test that
asks for the `corpus` fixture measures on the real public data of ../shared/corpus (or
$TOKENMILL_CORPUS): it is marked `corpus` and runs only in that tier (`python -m pytest -m corpus`),
where a missing corpus is a failure, not a skip.
"""
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "jobs" / "sample"
SAMPLE_STEPS = 30
CORPUS = Path(os.environ.get("TOKENMILL_CORPUS") or REPO.parent / "shared" / "corpus").resolve()


# pipeline/preflight.py's lines for what only the user has: their side files, an optional model package
USER_FILE_MISSING = re.compile(r": \S+ is not (a file|a folder with files in it)$|package, which is not installed: ")


def assert_config_loads_but_for_user_files(path: str) -> None:
    """`load_config(path)` finds no mistake but the side files and model packages a documented
    example names and only its user has (a model, a blocklist, an evaluation set)."""
    from tokenmill.pipeline.config import load_config
    from tokenmill.pipeline.schema import ConfigError

    try:
        load_config(path)
    except ConfigError as err:
        assert all(USER_FILE_MISSING.search(problem) for problem in err.problems), err.problems


def output_tree(root: Path, only: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Every file under `root` (under its entries named in `only`, when given) by relative path, but
    the run cards (run.json: their times, command line and runner differ by design): what
    "byte-identical output" compares."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "run.json" and (not only or p.relative_to(root).parts[0] in only)}


@pytest.fixture(params=["c", "python"])
def quality_scan(request, monkeypatch) -> str:
    """The quality rules' word statistics computed by the C scan (filters/quality/_scan.c), or by the
    Python path that computes the same values where the install built no C."""
    from tokenmill.filters.quality import stats

    if request.param == "python":
        monkeypatch.setattr(stats, "_scan", None)
    elif stats._scan is None:
        if shutil.which("cc") or shutil.which("gcc"):
            pytest.fail("filters/quality/_scan.c is not built though a C compiler is here: `pip install -e .` again")
        pytest.skip("no C compiler: the install built no C scan, and the Python path computes the same values")
    return request.param


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "corpus" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.corpus)


@pytest.fixture(scope="session")
def sample_texts() -> list[str]:
    """Real prose of the default tier: the bundled sample's documents (Python's documentation as
    articles, and as web pages read by our WARC reader), each once, of 200 words or more, and no two
    alike (5-word shingle Jaccard at most 0.3), in file order."""
    from tokenmill.filters.document import Document
    from tokenmill.filters.minhash import shingles
    from tokenmill.transforms.formats import READERS, ReadOptions

    with gzip.open(SAMPLE / "docs.jsonl.gz", "rt", encoding="utf-8") as lines:
        texts = [json.loads(line)["text"] for line in lines]
    texts += [doc.text for doc in READERS["warc"](str(SAMPLE / "web.warc.gz"), "web", ReadOptions())
              if isinstance(doc, Document)]
    chosen, seen = [], []
    for text in dict.fromkeys(texts):
        grams = set(shingles(text))
        if len(text.split()) >= 200 and all(len(grams & other) <= 0.3 * len(grams | other) for other in seen):
            chosen.append(text)
            seen.append(grams)
    return chosen


@pytest.fixture(scope="session", params=["sample", pytest.param("corpus", marks=pytest.mark.corpus)])
def text_sources(request):
    """Books, articles, web pages and several scripts (tests/text_sources.py): made from the sample
    and generated in the default tier, cut from ../shared/corpus in the corpus tier."""
    from tests.text_sources import CorpusTexts, SampleTexts

    return SampleTexts() if request.param == "sample" else CorpusTexts(request.getfixturevalue("corpus"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.fail(f"the shared corpus is expected at {CORPUS} (set TOKENMILL_CORPUS, or place "
                    f"shared/corpus beside the repository)")
    return CORPUS


def tokenmill(*args: str, cwd: Path = REPO, timeout: int = 600) -> subprocess.CompletedProcess:
    """The `tokenmill` command in a fresh process; it must succeed."""
    result = subprocess.run([sys.executable, "-m", "tokenmill", *args], capture_output=True, text=True, cwd=cwd,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """`tokenmill run --sample` once for the session (curate with rejects kept, tokenizer, pack, a
    short training run and the report): the output folder and the finished command."""
    out = tmp_path_factory.mktemp("sample") / "out"
    return out, tokenmill("run", "--sample", "--output", str(out), "--steps", str(SAMPLE_STEPS), "--device", "cpu")
