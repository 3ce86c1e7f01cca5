"""Reading shards in Beam: one element per file, spread over workers, progress on the log."""
from __future__ import annotations

import logging
import time

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput

from filters.document import Document, Failed, Rejected
from transforms.formats import READERS, ReadOptions

LOG = logging.getLogger("tokenmill.read")
PROGRESS_EVERY_S = 10.0


class _ReadShardFn(beam.DoFn):
    """(source, format, path) → documents; read-time rejects and failures on tagged outputs."""

    def __init__(self, options: dict[str, ReadOptions]):
        self.options = options
        self.docs = Metrics.counter("read", "documents")
        self.bytes = Metrics.counter("read", "text_bytes")

    def setup(self):
        self._started = time.monotonic()
        self._last_log = self._started
        self._count = 0

    def process(self, shard: tuple[str, str, str]):
        source, fmt, path = shard
        produced = False
        try:
            for result in READERS[fmt](path, source, self.options[source]):
                produced = True
                if isinstance(result, Document):
                    self.docs.inc()
                    self.bytes.inc(len(result.text))
                    self._progress()
                    yield result
                elif isinstance(result, Rejected):
                    yield TaggedOutput("rejected", result)
                else:
                    yield TaggedOutput("failed", result)
        except Exception as err:  # an unexpected reader error costs this file, not the run
            yield TaggedOutput("failed", Failed(source, "read", type(err).__name__, path, str(err)[:500]))
            return
        if not produced:  # an empty file (or one with no record of the wanted kind) is still accounted for
            yield TaggedOutput("failed", Failed(source, "read", "no_documents", path, "the file holds no document"))

    def _progress(self):
        self._count += 1
        now = time.monotonic()
        if now - self._last_log >= PROGRESS_EVERY_S:
            self._last_log = now
            LOG.info("read %d documents (%.0f docs/s)", self._count, self._count / (now - self._started))


class ReadShards(beam.PTransform):
    """[(source, format, path)] → {"kept", "rejected", "failed"}: one file per element, reshuffled
    so that files spread over the workers."""

    def __init__(self, shards: list[tuple[str, str, str]], options: dict[str, ReadOptions]):
        super().__init__()
        self.shards = sorted(shards)
        self.options = options

    def expand(self, pbegin):
        outputs = (
            pbegin
            | "ListShards" >> beam.Create(self.shards)
            | "SpreadShards" >> beam.Reshuffle()
            | "ReadShard" >> beam.ParDo(_ReadShardFn(self.options)).with_outputs("rejected", "failed", main="kept")
        )
        return {"kept": outputs.kept, "rejected": outputs.rejected, "failed": outputs.failed}
