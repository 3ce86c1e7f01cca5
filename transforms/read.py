"""Reading shards in Beam: one element per file, spread over workers, progress on the log.

Each reader instance logs its running totals after every file and every PROGRESS_EVERY_S within a
long one, as one line in PROGRESS_FORMAT. On a terminal `jobs/report/progress.py` turns these lines (from
this process or forwarded from worker processes) into a progress bar; elsewhere they stay log lines.
"""
from __future__ import annotations

import logging
import os
import re
import time

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput

from tokenmill.filters.document import Document, Failed, Rejected
from tokenmill.transforms.formats import READERS, ReadOptions
from tokenmill.transforms.formats.common import with_relative_paths

LOG = logging.getLogger("tokenmill.read")
PROGRESS_EVERY_S = 10.0
PROGRESS_FORMAT = "read %d documents, %d text bytes, %d files, %d file bytes (%.0f docs/s) reader=%s"
PROGRESS_PATTERN = re.compile(r"read (?P<documents>\d+) documents, (?P<text_bytes>\d+) text bytes, "
                              r"(?P<files>\d+) files, (?P<file_bytes>\d+) file bytes \([\d.]+ docs/s\) "
                              r"reader=(?P<reader>[\w:-]+)")


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
        self._text_bytes = 0
        self._files = 0
        self._file_bytes = 0
        self._reader = f"{os.getpid()}-{id(self):x}"

    def process(self, shard: tuple[str, str, str]):
        source, fmt, path = shard
        roots = self.options[source].extra.get("roots", ())
        produced = False
        try:
            for result in READERS[fmt](path, source, self.options[source]):
                produced = True
                if isinstance(result, Rejected):
                    with_relative_paths(result.doc, path, roots)
                if isinstance(result, Document):
                    with_relative_paths(result, path, roots)
                    self.docs.inc()
                    self.bytes.inc(len(result.text))
                    self._count += 1
                    self._text_bytes += len(result.text)
                    if time.monotonic() - self._last_log >= PROGRESS_EVERY_S:
                        self._log_progress()
                    yield result
                elif isinstance(result, Rejected):
                    yield TaggedOutput("rejected", result)
                else:
                    yield TaggedOutput("failed", result)
        except Exception as err:  # an unexpected reader error costs this file, not the run
            yield TaggedOutput("failed", Failed(source, "read", type(err).__name__, path, str(err)[:500]))
            produced = True
        self._file_done(path)
        if not produced:  # an empty file (or one with no record of the wanted kind) is still accounted for
            yield TaggedOutput("failed", Failed(source, "read", "no_documents", path, "the file holds no document"))

    def _file_done(self, path: str):
        self._files += 1
        try:
            matched = FileSystems.match([path])[0].metadata_list
        except IOError:  # gone since it was listed: it counts as done, with no size
            matched = []
        self._file_bytes += matched[0].size_in_bytes if matched else 0
        self._log_progress()

    def _log_progress(self):
        now = time.monotonic()
        self._last_log = now
        LOG.info(PROGRESS_FORMAT, self._count, self._text_bytes, self._files, self._file_bytes,
                 self._count / max(now - self._started, 1e-9), self._reader)


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
