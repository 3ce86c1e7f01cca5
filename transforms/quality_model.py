"""The quality-model stage in Beam: score every document, then keep each top-fraction model's best.

A top-fraction rule (DCLM keeps the top 10%) needs the corpus' score distribution, never its
documents: each document's score, rounded to SCORE_DECIMALS, is counted by a combiner (at most
10**SCORE_DECIMALS + 1 counts per model, whatever the corpus size), the counts give the lowest kept
score, and that one number reaches every worker as a side input. The cut is exact and does not
depend on the order documents arrive in.
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import apache_beam as beam
from apache_beam.pvalue import AsSingleton, TaggedOutput

from tokenmill.filters.document import Rejected
from tokenmill.filters.quality_model import ModelRule, QualityModelFilter, signal_name, top_fraction_threshold
from tokenmill.transforms.filter_chain import FAILED, REJECTED, run_chain


class _ScoreBatchFn(beam.DoFn):
    """A batch of documents → each kept, rejected or failed; the models score the batch at once."""

    def __init__(self, doc_filter: QualityModelFilter):
        self.doc_filter = doc_filter

    def setup(self):
        self.doc_filter.setup()

    def process(self, docs):
        try:
            verdicts = self.doc_filter.filter_batch(docs)
        except Exception:  # find the document that fails, scoring one at a time
            for doc in docs:
                yield from self._tagged(run_chain(doc, [self.doc_filter]), doc)
            return
        for doc, verdict in zip(docs, verdicts):
            yield from self._tagged([doc if verdict is None else Rejected(doc, self.doc_filter.stage, verdict)], doc)

    @staticmethod
    def _tagged(results, doc):
        for result in results:
            if isinstance(result, Rejected):
                yield TaggedOutput(REJECTED, result)
            elif result is not doc:
                yield TaggedOutput(FAILED, result)
            else:
                yield result


class ScoreCounts(beam.CombineFn):
    """{model: {score: documents}} over the documents' top-fraction scores."""

    def __init__(self, columns: dict[str, str]):
        self.columns = columns  # model name -> signal column

    def create_accumulator(self):
        return {name: Counter() for name in self.columns}

    def add_input(self, counts, doc):
        for name, column in self.columns.items():
            counts[name][doc.signals[column]] += 1
        return counts

    def merge_accumulators(self, accumulators):
        merged = self.create_accumulator()
        for counts in accumulators:
            for name, counter in counts.items():
                merged[name].update(counter)
        return merged

    def extract_output(self, counts):
        return counts


def cut_top_fractions(doc, thresholds: dict[str, float], rules: Sequence[ModelRule]):
    """Keep `doc` when it reaches every top-fraction model's lowest kept score."""
    for rule in rules:
        if doc.signals[signal_name(rule.name)] < thresholds[rule.name]:
            yield TaggedOutput(REJECTED, Rejected(doc, QualityModelFilter.stage, rule.name))
            return
    yield doc


class QualityModel(beam.PTransform):
    """Documents → {"kept", "rejected", "failed"} by the models' thresholds and top fractions."""

    def __init__(self, rules: Sequence[ModelRule], max_chars: int, batch_size: int = 64):
        super().__init__()
        self.doc_filter = QualityModelFilter(rules, max_chars)
        self.batch_size = batch_size
        self.top_rules = [rule for rule in rules if rule.top_fraction is not None]

    def signal_types(self):
        return self.doc_filter.signal_types()

    def expand(self, docs):
        scored = (docs
                  | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=self.batch_size)
                  | "Score" >> beam.ParDo(_ScoreBatchFn(self.doc_filter)).with_outputs(REJECTED, FAILED, main="kept"))
        if not self.top_rules:
            return {"kept": scored.kept, "rejected": scored[REJECTED], "failed": scored[FAILED]}
        fractions = {rule.name: rule.top_fraction for rule in self.top_rules}
        thresholds = (
            scored.kept
            | "CountScores" >> beam.CombineGlobally(ScoreCounts({r.name: signal_name(r.name) for r in self.top_rules}))
            | "LowestKept" >> beam.Map(lambda counts: {name: top_fraction_threshold(counts[name], fractions[name])
                                                       for name in fractions})
        )
        cut = scored.kept | "KeepTop" >> beam.FlatMap(
            cut_top_fractions, AsSingleton(thresholds), self.top_rules).with_outputs(REJECTED, main="kept")
        rejected = (scored[REJECTED], cut[REJECTED]) | "AllRejected" >> beam.Flatten()
        return {"kept": cut.kept, "rejected": rejected, "failed": scored[FAILED]}
