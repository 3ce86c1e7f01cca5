"""Pass 3 of curation: each staged shard read once, its verdicts applied, curated/ and rejected/ written.

A staged shard's verdicts (`Verdict` records, a few bytes per removed document or cut paragraph)
arrive grouped with it; its rows stream through in input order: removed rows go to `rejected/`
(with `duplicate_of`), paragraph cuts rewrite the text, the quality models' rules apply
(transforms/quality_model.py), the document stages after dedup run, and the rest is written to
`curated/<source>/part-<file>-<n>.parquet` under the folder it is given (the run's staging folder,
published as a whole once the ledger is written), one file per `rows_per_shard` rows. Ledger events
(kept, removed, errors) are the only other output.
"""
from __future__ import annotations

from contextlib import nullcontext
from itertools import islice
from typing import Optional

import apache_beam as beam
import pyarrow as pa

from tokenmill.filters.base import DocumentFilter
from tokenmill.filters.document import Document, Failed, Rejected
from tokenmill.transforms.join import ShardVerdicts, stream_join
from tokenmill.transforms.paragraph_dedup import rewrite
from tokenmill.transforms.quality_model import STAGE as MODEL_STAGE
from tokenmill.transforms.quality_model import ModelStage, Thresholds, TopFractionCuts
from tokenmill.transforms.staging import BATCH, CountedChains
from tokenmill.transforms.write import ShardWriter, document_row, read_rows, row_document

VERDICT, APPLIED = "verdict", "applied"  # what decided a staged document's fate in this pass


class _ApplyVerdictsFn(beam.DoFn):
    def __init__(self, output: str, chains: dict[str, list[DocumentFilter]], paragraph_sources: frozenset,
                 models: Optional[ModelStage], curated: pa.Schema, rejected: Optional[pa.Schema], rows_per_shard: int):
        self.output, self.chains, self.paragraph_sources = output.rstrip("/"), CountedChains(chains), paragraph_sources
        self.models = models
        self.curated, self.rejected, self.rows_per_shard = curated, rejected, rows_per_shard

    def setup(self):
        self.chains.setup()

    def process(self, item, lowest_kept: Thresholds, coders):
        group = ShardVerdicts(item[1], coders)
        source, part, staged = group.shard.source, group.shard.part, group.shard.staged
        if staged is None:
            return
        decided, cuts = {}, {}
        for verdict in group.verdicts():
            if verdict.paragraph is not None:
                cuts.setdefault(verdict.row, set()).add(verdict.paragraph)
            elif verdict.row not in decided or verdict.stage < decided[verdict.row].stage:
                decided[verdict.row] = verdict  # two removals: the same one on every runner
        curated = ShardWriter(f"{self.output}/curated/{source}/part-{part:05d}", self.curated, self.rows_per_shard)
        rejected = (ShardWriter(f"{self.output}/rejected/{source}/part-{part:05d}", self.rejected, self.rows_per_shard)
                    if self.rejected is not None else None)
        with curated, rejected or nullcontext():
            yield from self._applied(source, staged, decided, cuts, lowest_kept, curated, rejected)

    def _applied(self, source: str, staged: str, decided: dict, cuts: dict, lowest_kept: Thresholds,
                 curated: ShardWriter, rejected: Optional[ShardWriter]):
        rows = enumerate(read_rows(staged))
        while batch := [self._decided(source, row, row_document(data), decided, cuts, lowest_kept)
                        for row, data in islice(rows, BATCH)]:
            yield from self._written(source, batch, curated, rejected)

    def _decided(self, source: str, row: int, item, decided: dict, cuts: dict, lowest_kept: Thresholds):
        """A staged row with its verdicts applied, before the document stages after dedup: (item, what
        decided it: None for a row staged as removed in pass 1, VERDICT, or APPLIED for the rest)."""
        if not isinstance(item, Document):
            return item, None
        if row in decided:
            verdict = decided[row]
            return Rejected(item, verdict.stage, verdict.reason, duplicate_of=verdict.duplicate_of), VERDICT
        if source in self.paragraph_sources:
            item = rewrite(item, cuts.get(row, set()))
        if (isinstance(item, Document) and self.models is not None and source in self.models.sources
                and (model := self.models.verdict(item.signals, lowest_kept))):
            item = Rejected(item, MODEL_STAGE, model)
        return item, APPLIED

    def _written(self, source: str, batch: list, curated: ShardWriter, rejected: Optional[ShardWriter]):
        """Run the document stages on `batch`'s documents, write each item where it goes, in order, and
        yield its ledger event (none for a row staged as removed in pass 1)."""
        for (_, decided_by), item in zip(batch, self.chains([item for item, _ in batch])):
            if decided_by == VERDICT:
                yield "removed", source, item.key
            elif decided_by == APPLIED:
                yield ("kept", source, "") if isinstance(item, Document) else (
                    "errors" if isinstance(item, Failed) else "removed", source, item.key)
            if isinstance(item, Document):
                curated.write(document_row(item, self.curated))
            elif isinstance(item, Rejected) and rejected is not None:
                rejected.write(document_row(item.doc, self.rejected, item))


class ApplyVerdicts(beam.PTransform):
    """{"shard": (index, StagedShard), "verdict": (index, Verdict)} → ledger events."""

    def __init__(self, output: str, chains: dict[str, list[DocumentFilter]], paragraph_sources: frozenset,
                 models: Optional[ModelStage], curated: pa.Schema, rejected: Optional[pa.Schema], rows_per_shard: int):
        super().__init__()
        self.models = models
        self.fn = _ApplyVerdictsFn(output, chains, paragraph_sources, models, curated, rejected, rows_per_shard)

    def expand(self, inputs):
        grouped, coders = stream_join("ByShard", [inputs["shard"], inputs["verdict"]], int)
        if self.models is not None and self.models.top_rules:
            lowest_kept = beam.pvalue.AsSingleton(grouped | "TopFractions" >> TopFractionCuts(self.models, coders))
            return grouped | "Apply" >> beam.ParDo(self.fn, lowest_kept, coders)
        return grouped | "Apply" >> beam.ParDo(self.fn, {}, coders)
