"""Shared fixtures, and the two test tiers.

The default tier (`python -m pytest`) needs nothing beyond the clone and what it installs: it runs
on the bundled sample (jobs/sample/), text it generates and small fixtures it writes. A test that
asks for the `corpus` fixture measures on the real public data of ../shared/corpus (or
$TOKENMILL_CORPUS): it is marked `corpus` and runs only in that tier (`python -m pytest -m corpus`),
where a missing corpus is a failure, not a skip.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "jobs" / "sample"
SAMPLE_STEPS = 30
CORPUS = Path(os.environ.get("TOKENMILL_CORPUS") or REPO.parent / "shared" / "corpus").resolve()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "corpus" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.corpus)


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
