"""Shared fixtures, and the two test tiers.

The default tier (`python -m pytest`) needs nothing beyond the clone and what it installs. A test
that asks for the `corpus` fixture measures on the real public data of ../shared/corpus (or
$TOKENMILL_CORPUS): it is marked `corpus` and runs only in that tier (`python -m pytest -m corpus`),
where a missing corpus is a failure, not a skip.
"""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
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
