"""Shared fixtures: the real corpus beside the repo (../shared/corpus), never copied into it."""
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = (REPO.parent / "shared" / "corpus").resolve()


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.fail(f"the shared corpus is expected at {CORPUS} (../shared/corpus beside the repo)")
    return CORPUS
