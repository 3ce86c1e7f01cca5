"""Checks of a curated output folder that both test tiers make (tests/test_curate_sample.py on the
bundled sample, tests/test_curate_e2e.py on real crawl data)."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

COLUMNS = ("id", "source", "text", "url", "lang", "lang_score", "meta", "char_count", "words_per_char")


def assert_ledger_balances(out: Path, stdout: str, sources: set[str]) -> dict:
    """Every source's input is kept + removed + errors, the ledger says so and the command printed it;
    returns the ledger."""
    ledger = json.loads((out / "ledger.json").read_text())
    assert set(ledger["input"]) == sources
    for source, n in ledger["input"].items():
        assert n == ledger["kept"][source] + sum(ledger["removed"][source].values()) + sum(
            ledger["errors"][source].values()), source
    assert ledger["balanced"] is True and "ledger balanced" in stdout
    return ledger


def assert_kept_in_language(out: Path, language: str = "en", threshold: float = 0.65) -> None:
    """Kept rows are in `language` above `threshold`, ids unique, every base column present."""
    table = pq.read_table(out / "curated").to_pydict()
    assert set(table["lang"]) == {language} and min(table["lang_score"]) >= threshold
    assert len(set(table["id"])) == len(table["id"])
    for column in COLUMNS:
        assert column in table


def assert_rejected_match_the_ledger(out: Path) -> dict:
    """rejected/ holds one row per removal the ledger counts, by source and stage/reason, and every
    duplicate names the document it copies (at least one duplicate); returns the ledger."""
    ledger = json.loads((out / "ledger.json").read_text())
    rejected = pq.read_table(out / "rejected").to_pydict()
    counted: dict[str, dict[str, int]] = {}
    for source, stage, reason in zip(rejected["source"], rejected["stage"], rejected["reason"]):
        counted.setdefault(source, {}).setdefault(f"{stage}/{reason}", 0)
        counted[source][f"{stage}/{reason}"] += 1
    assert counted == {s: r for s, r in ledger["removed"].items() if r}
    duplicates = [d for d, r in zip(rejected["duplicate_of"], rejected["reason"]) if r == "duplicate"]
    assert duplicates and all(duplicates)
    return ledger
