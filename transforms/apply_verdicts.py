"""Pass 3 of curation: each staged shard read once, its verdicts applied, curated/ and rejected/ written.

A staged shard's verdicts (a few bytes per removed document or cut paragraph) arrive grouped with
it; its rows stream through in input order: removed rows go to `rejected/` (with `duplicate_of`),
paragraph cuts rewrite the text, the quality models' rules apply (transforms/quality_model.py), the
document stages after dedup run, and the rest is written to
`curated/<source>/part-<file>-<n>.parquet` under the folder it is given (the run's staging folder,
published as a whole once the ledger is written), one file per `rows_per_shard` rows. Ledger events
(kept, removed, errors) are the only other output.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Optional

import apache_beam as beam
import pyarrow as pa

from tokenmill.filters.base import DocumentFilter
from tokenmill.filters.document import Document, Failed, Rejected
from tokenmill.transforms.join import CUT, FAIL
from tokenmill.transforms.paragraph_dedup import rewrite
from tokenmill.transforms.quality_model import STAGE as MODEL_STAGE
from tokenmill.transforms.quality_model import ModelStage, Thresholds, TopFractionCuts
from tokenmill.transforms.staging import CountedChains
from tokenmill.transforms.write import ShardWriter, document_row, read_rows, row_document


class _ApplyVerdictsFn(beam.DoFn):
    def __init__(self, output: str, chains: dict[str, list[DocumentFilter]], paragraph_sources: frozenset,
                 models: Optional[ModelStage], curated: pa.Schema, rejected: Optional[pa.Schema], rows_per_shard: int):
        self.output, self.chains, self.paragraph_sources = output.rstrip("/"), CountedChains(chains), paragraph_sources
        self.models = models
        self.curated, self.rejected, self.rows_per_shard = curated, rejected, rows_per_shard

    def setup(self):
        self.chains.setup()

    def process(self, item, lowest_kept: Thresholds):
        _, grouped = item
        (source, part, staged), = grouped["shard"]
        if staged is None:
            return
        decided, cuts = {}, {}
        for row, kind, stage, reason, detail in grouped["verdict"]:
            if kind == CUT:
                cuts.setdefault(row, set()).add(detail)
            elif kind == FAIL or row not in decided:  # a failure outranks a removal
                decided[row] = (kind, stage, reason, detail)
        curated = ShardWriter(f"{self.output}/curated/{source}/part-{part:05d}", self.curated, self.rows_per_shard)
        rejected = (ShardWriter(f"{self.output}/rejected/{source}/part-{part:05d}", self.rejected, self.rows_per_shard)
                    if self.rejected is not None else None)
        with curated, rejected or nullcontext():
            yield from self._applied(source, staged, decided, cuts, lowest_kept, curated, rejected)

    def _applied(self, source: str, staged: str, decided: dict, cuts: dict, lowest_kept: Thresholds,
                 curated: ShardWriter, rejected: Optional[ShardWriter]):
        rated = self.models is not None and source in self.models.sources
        for row, data in enumerate(read_rows(staged)):
            item = row_document(data)
            if isinstance(item, Document) and row in decided:
                kind, stage, reason, detail = decided[row]
                item = (Failed(source, stage, reason, item.id, detail) if kind == FAIL
                        else Rejected(item, stage, reason, duplicate_of=detail))
                yield ("errors" if kind == FAIL else "removed", source, item.key)
            elif isinstance(item, Document):
                if source in self.paragraph_sources:
                    item = rewrite(item, cuts.get(row, set()))
                if isinstance(item, Document) and rated and (model := self.models.verdict(item.signals, lowest_kept)):
                    item = Rejected(item, MODEL_STAGE, model)
                if isinstance(item, Document):
                    item = self.chains(item)
                yield ("kept", source, "") if isinstance(item, Document) else (
                    "errors" if isinstance(item, Failed) else "removed", source, item.key)
            if isinstance(item, Document):
                curated.write(document_row(item, self.curated))
            elif isinstance(item, Rejected) and rejected is not None:
                rejected.write(document_row(item.doc, self.rejected, item))


class ApplyVerdicts(beam.PTransform):
    """{"shard": (index, (source, part, staged path)), "verdict": (index, verdict)} → ledger events."""

    def __init__(self, output: str, chains: dict[str, list[DocumentFilter]], paragraph_sources: frozenset,
                 models: Optional[ModelStage], curated: pa.Schema, rejected: Optional[pa.Schema], rows_per_shard: int):
        super().__init__()
        self.models = models
        self.fn = _ApplyVerdictsFn(output, chains, paragraph_sources, models, curated, rejected, rows_per_shard)

    def expand(self, inputs):
        grouped = inputs | "ByShard" >> beam.CoGroupByKey()
        if self.models is not None and self.models.top_rules:
            lowest_kept = beam.pvalue.AsSingleton(grouped | "TopFractions" >> TopFractionCuts(self.models))
            return grouped | "Apply" >> beam.ParDo(self.fn, lowest_kept)
        return grouped | "Apply" >> beam.ParDo(self.fn, {})
