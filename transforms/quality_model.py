"""The quality-model stage across the three passes of curation (pipeline/curate.py).

Pass 1 scores every document of the stage's sources, in batches, into its `quality_model_<name>`
columns of the staged shard (a document the models cannot read, oversized or binary, is removed
there). The stage sits after dedup, as DCLM (Li et al. 2024) filters its deduplicated pool, so its
rules apply in pass 3, to the documents dedup kept: first each model's `threshold`, then each
`top_fraction`, whose lowest kept score comes from the scores of the documents that reach it.
Those scores never travel with their documents: each staged shard's score columns are read with its
verdicts and counted per rounded score (at most 10**SCORE_DECIMALS + 1 counts per model, whatever
the corpus size), the counts are combined, and the cut reaches every worker as one side input. The
cut is exact and does not depend on the order documents arrive in. A paragraph-dedup rewrite is
not scored again: the score is the staged text's.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from typing import Iterator, Optional, Sequence

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from tokenmill.filters.document import Document, Failed, Rejected
from tokenmill.filters.quality_model import (ModelRule, QualityModelFilter, below_threshold, signal_name,
                                             top_fraction_threshold)
from tokenmill.transforms.filter_chain import run_chain
from tokenmill.transforms.join import CUT
from tokenmill.transforms.side_files import BEAM_FILES

STAGE = QualityModelFilter.stage
Thresholds = dict[str, float]   # top-fraction model -> its lowest kept score


@dataclass(frozen=True)
class ModelStage:
    """The stage's models and the sources it covers."""

    rules: tuple[ModelRule, ...]
    sources: frozenset
    batch_size: int = 64
    max_chars: int = 0

    @cached_property
    def top_rules(self) -> list[ModelRule]:
        return [rule for rule in self.rules if rule.top_fraction is not None]

    def scorer(self) -> QualityModelFilter:
        """The models, scoring only (`batch_size` texts per forward pass of a Hugging Face model), read
        through Beam's file systems: their rules wait for pass 3."""
        return QualityModelFilter([dataclasses.replace(rule, threshold=None) for rule in self.rules],
                                  self.max_chars, self.batch_size, BEAM_FILES)

    def verdict(self, signals: dict, cuts: Thresholds) -> Optional[str]:
        """The model that removes a document with these scores, or None to keep it."""
        return below_threshold(self.rules, signals) or next(
            (rule.name for rule in self.top_rules if signals[signal_name(rule.name)] < cuts[rule.name]), None)


def score_batch(scorer: QualityModelFilter, docs: Sequence[Document]) -> list[Document | Rejected | Failed]:
    """Each document with its scores, or removed as unreadable by the models; should the batch call
    fail, the documents are scored one at a time so that only the one that fails is lost."""
    try:
        verdicts = scorer.filter_batch(docs)
    except Exception:
        return [next(iter(run_chain(doc, [scorer]))) for doc in docs]
    return [doc if verdict is None else Rejected(doc, STAGE, verdict) for doc, verdict in zip(docs, verdicts)]


def survivor_score_counts(item, stage: ModelStage) -> Iterator[dict[str, Counter]]:
    """(shard index, {"shard": [...], "verdict": [...]}) → the scores of its documents that reach the
    stage (staged, not removed by dedup, above every fixed threshold), counted per top-fraction model."""
    _, grouped = item
    (source, _, staged), = grouped["shard"]
    if staged is None or source not in stage.sources:
        return
    removed = {row for row, kind, *_ in grouped["verdict"] if kind != CUT}
    columns = [signal_name(rule.name) for rule in stage.rules]
    with FileSystems.open(staged) as handle:
        table = pq.read_table(handle, columns=["stage", *columns]).to_pydict()
    counts = {rule.name: Counter() for rule in stage.top_rules}
    for row, (removed_by, *scores) in enumerate(zip(table["stage"], *(table[c] for c in columns))):
        signals = dict(zip(columns, scores))
        if removed_by is None and row not in removed and below_threshold(stage.rules, signals) is None:
            for rule in stage.top_rules:
                counts[rule.name][signals[signal_name(rule.name)]] += 1
    yield counts


class ScoreCounts(beam.CombineFn):
    """{model: Counter(score → documents)}, merged."""

    def create_accumulator(self):
        return {}

    def add_input(self, merged, counts):
        for name, counter in counts.items():
            merged.setdefault(name, Counter()).update(counter)
        return merged

    def merge_accumulators(self, accumulators):
        merged = {}
        for counts in accumulators:
            self.add_input(merged, counts)
        return merged

    def extract_output(self, merged):
        return merged


class TopFractionCuts(beam.PTransform):
    """The grouped staged shards and verdicts of pass 3 → one {model: lowest kept score} mapping."""

    def __init__(self, stage: ModelStage):
        super().__init__()
        self.stage = stage

    def expand(self, grouped):
        fractions = {rule.name: rule.top_fraction for rule in self.stage.top_rules}
        return (grouped
                | "CountScores" >> beam.FlatMap(survivor_score_counts, self.stage)
                | "AllScores" >> beam.CombineGlobally(ScoreCounts())
                | "LowestKept" >> beam.Map(lambda counts: {
                    name: top_fraction_threshold(counts.get(name, {}), fraction)
                    for name, fraction in fractions.items()}))
